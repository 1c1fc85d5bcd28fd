"""The client's background thread (``_Background``): heartbeats for the open trials, and the
non-blocking reports (``Trial.report(..., wait=False)``) in the order they were queued."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import ClientClosedError, LeaseLostError, TimeoutError, TuneportError, UnavailableError
from ._failover import FailoverChannel
from ._protocol import make_request, parse_reply

if TYPE_CHECKING:
    from ._client import Client
    from ._trial import Trial

log = logging.getLogger("tuneport")


class _PendingReport:
    """A report queued by ``Trial.report(..., wait=False)``: its request (id fixed when queued,
    so every resend is the same request and the server applies it once) and its trial."""

    __slots__ = ("abandoned", "message", "seq", "trial")

    def __init__(self, trial: Trial, message: dict[str, Any], seq: int) -> None:
        self.trial = trial
        self.message = message
        self.seq = seq
        self.abandoned = False
        """Dropped by ``_Background.abandon``: not sent (or, in flight, neither awaited nor delivered)."""


#: How many non-blocking reports may wait to be sent before ``report(..., wait=False)`` waits
#: for room (back-pressure when the server is slower than the training loop).
MAX_PENDING_REPORTS = 10_000

#: While non-blocking reports keep coming (one sent in the last ``REPORT_LINGER_S``), the
#: background thread looks at its queue every ``REPORT_POLL_S`` instead of being woken by each
#: ``report(..., wait=False)``: waking an idle thread cost the training loop about 40 µs per call
#: here (a futex wake that must interrupt another CPU), polling costs the background thread a
#: wake-up per period and delays a report by at most the period.
REPORT_POLL_S = 0.005
REPORT_LINGER_S = 0.5

#: How long ``client.close()`` waits at least for its background thread to exit, past its deadline
#: (``timeout``) when that was spent: an idle thread ends at once once told.
STOP_GRACE_S = 0.1


class _CutAtClose(Exception):
    """A report in flight that ``_Background.stop`` ended at close's deadline, unanswered."""


def _named(jobs: Sequence[_PendingReport]) -> str:
    """The trials and steps of ``jobs``, for a warning: "trial 3 of 's': steps 4, 5"."""
    steps: dict[tuple[str, int], list[str]] = {}
    for job in jobs:
        step = job.message.get("step")
        steps.setdefault((job.trial.study.name, job.trial.number), []).append(f"{step:g}" if isinstance(step, (int, float)) else "?")
    return "; ".join(f"trial {n} of '{study}': steps {', '.join(s[:10])}{', ...' if len(s) > 10 else ''}" for (study, n), s in steps.items())


class _Background:
    """The client's background thread, on its own socket: it sends the non-blocking reports, in
    the order they were queued, and renews the leases of the client's open trials every
    ``min(interval, shortest ttl / 3)`` seconds.

    Neither starves the other: before each report it sends the heartbeat if one is due (so a
    long queue of reports delays a heartbeat by at most one report's round trip), and a heartbeat
    is one request per period, after which the queue is served again. A LEASE_LOST answer (to a
    heartbeat or a report) marks the trial so that its next ``report`` or ``complete`` raises
    LeaseLostError at once. With ``heartbeat=False`` the thread only sends reports."""

    def __init__(self, client: Client, interval: float, *, timeout: float, heartbeat: bool) -> None:
        self._client = client
        self._interval = interval
        self._timeout = timeout
        self._heartbeats = heartbeat
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._queue: deque[_PendingReport] = deque()
        self._sending: _PendingReport | None = None
        """The report the thread is sending now (it stays first in the queue until answered)."""
        self._queued = 0
        """Sequence number of the last report queued."""
        self._done = 0
        """Sequence number of the last report answered (or given up on)."""
        self._wake = False
        self._polling = False
        """True while the thread looks at the queue every REPORT_POLL_S (no wake-up needed)."""
        self._thread = threading.Thread(target=self._run, name="tuneport-background", daemon=True)
        self._started = False
        self._planned_period = interval
        self._exited = False
        self._term_context = False
        self._dropped_through = 0
        """Reports queued up to this sequence number when one timed out waiting out an outage of the
        server: each is failed with ``_drop_error`` at once instead of waiting out the outage again."""
        self._drop_error: TuneportError | None = None
        self._closing_until: float | None = None
        """``close``'s deadline (monotonic) while it queues the reports put aside: how long a report
        waits for room at most (``closing``)."""
        self._channel: FailoverChannel | None = None
        """The thread's own channel, once it made it (``_run``)."""
        self._cut_at: float | None = None
        """When ``stop`` ends the thread's request under way (close's deadline, then at once)."""

    def start(self) -> None:
        with self._cond:
            if not self._started:
                self._started = True
                self._thread.start()

    def wake(self) -> None:
        with self._cond:
            self._wake = True
            self._cond.notify_all()

    def note_lease(self, ttl_s: float) -> None:
        """Wakes the thread only when a new lease needs renewing sooner than it planned to:
        a wake-up per ask would cost a thread switch on the hot path."""
        if self._heartbeats and ttl_s / 3 < self._planned_period:
            self.wake()

    # ------------------------------------------------------------------ reports

    def submit(self, trial: Trial, message: dict[str, Any], *, deadline: float | None = None) -> int:
        """Queues a report and returns its sequence number (see ``wait_for``). Waits for room when
        MAX_PENDING_REPORTS are queued: until ``deadline`` (monotonic) at most when given (a trial's
        last word after Ctrl-C), once ``close`` began until its deadline at most. @raises
        ClientClosedError once the client is closed, or when close's deadline came first;
        TimeoutError, nothing queued, when ``deadline`` came first."""
        if not self._started:
            self.start()
        with self._cond:
            while len(self._queue) >= MAX_PENDING_REPORTS and not self._stop.is_set():
                until, now = self._closing_until, time.monotonic()
                if until is not None and now >= until:
                    # close() queueing a report put aside (``_queue_put_aside``) waited for room for as
                    # long as the report at the head waited out an outage (for ever with an infinite
                    # outage budget), past its timeout: dropped now, and named (``_drop_beside``).
                    raise ClientClosedError("the client is closing, and its queue had no room for this report in time")
                if deadline is not None and now >= deadline:
                    # A trial told FAIL after Ctrl-C, queueing the reports put aside behind another
                    # thread's call, waited here as long (for ever with an infinite outage budget).
                    raise TimeoutError(
                        f"the queue of non-blocking reports had no room in time ({len(self._queue)} waiting to be sent: "
                        "the server is slow or away)",
                        {"queued": len(self._queue)},
                    )
                ends = [t - now for t in (until, deadline) if t is not None]
                self._cond.wait(max(0.0, min([1.0, *ends])))
            if self._stop.is_set():
                raise ClientClosedError("the client is closed")
            self._queued += 1
            self._queue.append(_PendingReport(trial, message, self._queued))
            if len(self._queue) == 1 and not self._polling:
                self._cond.notify_all()
            return self._queued

    def wait_for(self, seq: int, timeout: float | None = None) -> bool:
        """Waits until every report up to ``seq`` was answered, or the client is closed (``closed``:
        those not sent never will be, and the call that waits is refused); False when ``timeout`` ran
        out. Without the latter, a call after close (a with-block's FAIL once close ended its call)
        waited for the report still in flight, which close leaves to the thread: as long as the
        server stayed away, for ever with an infinite outage budget (tests/test_close_beside_request.py)."""
        if threading.current_thread() is self._thread:
            return True
        client = self._client
        with self._cond:
            return self._cond.wait_for(lambda: self._done >= seq or not self._thread.is_alive() or client._closed, timeout)

    def closed(self) -> None:
        """The client is closed (its channel too): ``wait_for`` ends."""
        with self._cond:
            self._cond.notify_all()

    def answered(self) -> int:
        """Sequence number of the last report answered (or given up on)."""
        with self._cond:
            return self._done

    def pending(self) -> int:
        """Reports queued and not yet answered, those abandoned left out."""
        with self._cond:
            return sum(1 for job in self._queue if not job.abandoned)

    def abandon(self, trial: Trial) -> int:
        """Drops every queued report of ``trial`` (a trial that Ctrl-C ends while the server does not
        answer): those not sent yet never will be, the one in flight (if any) is neither waited
        for by ``stop`` nor delivered. Returns how many were never sent."""
        with self._cond:
            jobs = [job for job in self._queue if job.trial is trial and not job.abandoned]
            for job in jobs:
                job.abandoned = True
            unsent = sum(1 for job in jobs if job is not self._sending)
            self._cond.notify_all()
            return unsent

    def closing(self, deadline: float | None) -> None:
        """While ``close`` queues the reports put aside: a report waiting for room in the queue waits
        until ``deadline`` (monotonic) at most. None: no longer (``stop`` ends such waits next)."""
        with self._cond:
            self._closing_until = deadline

    def _last_wanted(self) -> int:
        """Sequence number of the last queued report that is not abandoned (0: none)."""
        with self._cond:
            return next((job.seq for job in reversed(self._queue) if not job.abandoned), 0)

    def on_thread(self) -> bool:
        """True when called from the background thread itself (a logging handler or a callback it runs)."""
        return threading.current_thread() is self._thread

    def stop(self, deadline: float | None = None) -> bool:
        """Stops the thread, first waiting until ``deadline`` (monotonic; None: not at all) for the
        queued reports to be sent, those queued meanwhile included. The queue is looked at a last
        time and the thread stopped in one hold of its lock: a report queued before is waited for,
        or named in the warning if the deadline came first; one made after raises ClientClosedError
        (queued between a look and the stop, it was dropped without a word). Waits for the thread to
        exit until the deadline, STOP_GRACE_S at least. False when the thread is still in a request
        then (a report waiting out an outage of the server, up to its outage budget): it ends when
        that request does, and closing the client does not wait for it (a Ctrl-C'd script exits
        instead of waiting out the outage).

        Called from the thread itself, it waits for nothing (the thread would wait for itself: the
        whole deadline, then ``join`` raised RuntimeError) and returns False: the thread ends once
        the handler or callback that called it returns. Interrupted while it waits (Ctrl-C), the
        thread is stopped all the same and the reports not sent are named: a second call (the exit's
        ``close``) waits for nothing but the thread's exit grace, and names nothing again."""
        own = self.on_thread()
        drained, interrupted = True, True
        again, sending, unsent, flying = True, None, [], None
        try:
            with self._cond:
                again = self._stop.is_set()  # stopped already (an interrupted close): its reports were named then
                try:
                    # The report in flight gets until the deadline, then is dropped (``_run``): it went on up
                    # to its outage budget, for ever with an infinite one, and the ZeroMQ context with it.
                    # Cut here, ``_stop`` is set below however this ends: ``_run`` waits for it once cut.
                    self._cut(time.monotonic() if deadline is None or own else deadline)
                    if self._started and deadline is not None and not own and not again:
                        self._cond.notify_all()  # a polling thread (REPORT_POLL_S) looks at its queue now
                        drained = self._cond.wait_for(
                            lambda: self._done >= self._last_wanted() or not self._thread.is_alive(),
                            max(0.0, deadline - time.monotonic()),
                        )
                    interrupted = False
                finally:
                    # In the same hold of the lock as the last look, even when interrupted (Ctrl-C).
                    self._stop.set()
                    self._cond.notify_all()
                    sending = self._sending
                    # Those behind a report that waited out an outage were named as dropped then (``_send_report``).
                    dropped = self._dropped_through if self._drop_error is not None else 0
                    unsent = [job for job in self._queue if job is not sending and not job.abandoned and job.seq > dropped]
                    flying = sending if sending is not None and sending.seq > dropped else None  # given up on: not in flight
        finally:
            self._cut(time.monotonic())  # what is still under way ends now (a heartbeat; a report after Ctrl-C)
            if not again:
                # Called on the thread (a callback in its send), the report it is sending was cut above at
                # once: named too (it was dropped without a word).
                self._warn_unsent(unsent, flying, in_flight=interrupted or not drained or own)
        if self._started and not own:
            # After a drain that ran out, the thread is waiting out an outage: do not wait for it
            # again (a script's exit took 17.6 s with a 10 s timeout). Nor for an abandoned report
            # still in flight (Ctrl-C while the server does not answer).
            busy = again or not drained or (sending is not None and sending.abandoned)
            left = 0.0 if busy or deadline is None else deadline - time.monotonic()
            self._thread.join(max(STOP_GRACE_S, left))
            return not self._thread.is_alive()
        return not (self._started and own)

    @staticmethod
    def _warn_unsent(unsent: list[_PendingReport], sending: _PendingReport | None, *, in_flight: bool) -> None:
        """``stop``'s warnings: the reports it leaves unsent, and the one still in flight."""
        if unsent:
            log.warning("client closed with %d non-blocking report(s) not sent (%s)", len(unsent), _named(unsent))
        if in_flight and sending is not None and not sending.abandoned:
            log.warning(
                "client closed with a non-blocking report still in flight (%s): dropped at close's deadline, unanswered "
                "(the server may have stored it or not)",
                _named([sending]),
            )

    def _cut(self, at: float) -> None:
        """The thread's requests under way end at ``at`` (monotonic) with ClientClosedError."""
        with self._cond:
            self._cut_at = at
            channel = self._channel
        if channel is not None:
            channel.stop_at(at)

    def term_context_when_done(self) -> bool:
        """The client closed while the thread is still in a request: the thread lets go of the
        client's ZeroMQ context when it ends (``Client._let_go_context``: ``term`` waits for its
        socket). False when it has ended already (the caller lets go of it)."""
        with self._cond:
            if self._exited:
                return False
            self._term_context = True
            return True

    # ------------------------------------------------------------------ the thread

    def _period(self, trials: list[Trial]) -> float:
        ttl = min((t.lease.ttl_s for t in trials), default=self._interval * 3)
        return max(0.05, min(self._interval, ttl / 3))

    def _run(self) -> None:
        client = self._client
        # The client's failover window and outage budget, which reports need; heartbeats ask for
        # one short attempt per call (retries=0, outage budget = their timeout).
        channel = FailoverChannel(
            client._context,
            client._endpoints,
            timeout=self._timeout,
            retries=0,
            curve=client._curve,
            failover_s=client._channel.failover_s,
            outage_budget_s=client._channel.outage_budget_s,
        )
        with self._cond:
            self._channel = channel
            if self._cut_at is not None:
                channel.stop_at(self._cut_at)  # ``stop`` came first
        last = time.monotonic()
        active_until = 0.0  # poll the queue until then (a report was sent recently)
        try:
            while not self._stop.is_set():
                trials = client.open_trials() if self._heartbeats else []
                self._planned_period = self._period(trials)
                now = time.monotonic()
                beat_due = self._heartbeats and now >= last + self._planned_period
                with self._cond:
                    job = self._queue[0] if self._queue else None
                    if job is None and not beat_due:
                        wait = last + self._planned_period - now if self._heartbeats else None
                        self._polling = now < active_until
                        if self._polling:
                            wait = REPORT_POLL_S if wait is None else min(wait, REPORT_POLL_S)
                        if not self._wake and not self._stop.is_set():
                            self._cond.wait(wait)
                        self._wake = False
                        continue
                if beat_due:
                    last = now
                    if trials:
                        self._beat(channel, trials)
                if job is not None:
                    with self._cond:
                        if self._stop.is_set():
                            break  # ``stop`` named it among those not sent: not sent after all
                        self._sending = job
                    try:
                        self._send_report(channel, job)
                    except _CutAtClose:
                        # Left in flight for ``stop``, which names it dropped (at the same deadline).
                        with self._cond:
                            self._cond.wait_for(self._stop.is_set)
                        break
                    active_until = time.monotonic() + REPORT_LINGER_S
                    with self._cond:
                        self._sending = None
                        self._queue.popleft()
                        self._done = job.seq
                        self._cond.notify_all()
        finally:
            with self._cond:
                # Whatever is still queued is dropped: release anyone waiting for it.
                self._done = self._queued
                self._queue.clear()
                self._cond.notify_all()
            channel.close()
            with self._cond:
                self._exited = True
                term = self._term_context
            if term:
                client._let_go_context()

    def _send_report(self, channel: FailoverChannel, job: _PendingReport) -> None:
        """Sends one queued report (resends carry the same request id: applied once) and hands
        its decision or error to the trial, which delivers it at its next report/should_prune().
        @raises _CutAtClose when ``stop`` cut it at close's deadline, unanswered (nothing delivered)."""
        client = self._client
        if job.abandoned:
            return
        if job.seq <= self._dropped_through and self._drop_error is not None:
            job.trial._deliver_error(self._drop_error, quiet=True, step=job.message.get("step"), loaded=_loaded_of(job.message))
            return
        try:
            if job.trial.lease_lost:
                raise LeaseLostError(
                    f"trial {job.trial.number} of '{job.trial.study.name}' lost its lease", {"study": job.trial.study.name, "trial": job.trial.number}
                )
            result = client._request(job.message, channel=channel)
        except TuneportError as err:
            if isinstance(err, ClientClosedError) and self._cut_at is not None:
                raise _CutAtClose from err
            if not job.abandoned:
                job.trial._deliver_error(err, step=job.message.get("step"), loaded=_loaded_of(job.message))
            full = isinstance(err, UnavailableError) and err.reason == "storage_full"
            if isinstance(err, TimeoutError) or full:
                # The server stayed away (or its disk full) for the whole outage budget: the reports
                # queued behind this one fail now, with one warning, instead of each waiting out the
                # outage (40 queued reports took 47 s with a 2 s budget). Reports queued from now on are sent.
                with self._cond:
                    self._dropped_through = self._queued
                    self._drop_error = err
                    # Once ``stop`` looked at the queue, its warning named them: not counted again here.
                    behind = 0 if self._stop.is_set() else sum(1 for j in self._queue if j.seq > job.seq and not j.abandoned)
                if behind:
                    why = "'s disk stayed full" if full else " is unreachable"
                    log.warning("the server%s: %d queued non-blocking report(s) dropped", why, behind)
            return
        except Exception as err:  # noqa: BLE001 - not an answer (a bug, a ZeroMQ error): the trial's, not the thread's
            # Escaping, it ended this thread: heartbeats and every later report stopped without a word.
            if not job.abandoned:
                job.trial._deliver_error(err, loaded=_loaded_of(job.message))
            return
        if not job.abandoned:
            job.trial._deliver(result, step=job.message.get("step"))

    def _beat(self, channel: FailoverChannel, trials: list[Trial]) -> None:
        by_key = {(t.study.name, t.number): t for t in trials}
        leases = [{"study": t.study.name, "trial": t.number, "token": t.lease.token} for t in trials]
        try:
            reply = channel.request(
                make_request("heartbeat", {"leases": leases}, version=self._client.protocol_version),
                retries=0,
                outage_budget_s=self._timeout,
            )
            result = parse_reply(reply)
        except TuneportError as err:
            if isinstance(err, ClientClosedError):
                return  # stopped by close (``stop``): the thread ends
            if isinstance(err, UnavailableError) and err.reason == "storage_full":
                # Not a lost lease: the server gives running leases back the time its disk was full
                # (docs/DURABILITY.md). Announced once per outage, by whichever request met it first.
                self._client._storage.refused(
                    "heartbeat", self._client._channel.outage_budget_s, self._planned_period, full_since=(err.data or {}).get("full_since"), waits=False
                )
                log.info("heartbeat refused (%d leases): the server's disk is full", len(leases))
                return
            log.warning("heartbeat failed (%d leases): %s", len(leases), err)
            return
        # Answered: the disk has room (the server refuses every heartbeat while it is full, lease-ops.ts
        # `heartbeat`). A worker whose only requests are heartbeats met a second outage as the first.
        self._client._storage.answered()
        for entry in result.get("leases", []):
            if entry.get("ok"):
                continue
            trial = by_key.get((entry.get("study"), entry.get("trial")))
            if trial is None:
                continue
            code = entry.get("code")
            message = str(entry.get("message", ""))
            if code == "UNAVAILABLE":
                continue  # its study is being taken over by another server: renew it there next time
            if code == "LEASE_LOST":
                # ``checkpoints_needed`` (a reaped PBT member's files a live recipient still needs) goes
                # with it: the report it then refuses locally hands it to the clean-up (_torch_pbt.py).
                extra = entry.get("data") if isinstance(entry.get("data"), dict) else {}
                if trial._mark_lost(LeaseLostError(message, {**extra, "study": trial.study.name, "trial": trial.number})):
                    log.warning("trial %d of '%s' lost its lease: %s", trial.number, trial.study.name, message)
            else:
                # NOT_FOUND / FAILED_PRECONDITION: finished or deleted elsewhere; stop renewing it.
                self._client._forget(trial)


def _loaded_of(message: Mapping[str, Any]) -> Any:
    """The ``pbt_loaded`` marker a queued report carried (``Trial._with_loaded``), or None."""
    data = message.get("data")
    return data.get("pbt_loaded") if isinstance(data, Mapping) else None


__all__ = ["MAX_PENDING_REPORTS", "REPORT_LINGER_S", "REPORT_POLL_S", "STOP_GRACE_S"]
