"""The ``Client``: one connection to a tuneport server (or several sharing a database), its requests,
its studies, and its close; every client of the process is closed at exit."""

from __future__ import annotations

import atexit
import json
import logging
import multiprocessing.util
import os
import platform
import socket
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Mapping, Sequence
from types import TracebackType
from enum import Enum
from typing import Any

import zmq

from ._distributions import DistributionLike, distribution_to_wire, remember_categorical
from ._enums import direction_name
from ._errors import ClientClosedError, InvalidArgumentError, MessageTooLargeError, TimeoutError, TuneportError, UnsupportedVersionError
from ._background import _Background
from ._failover import Endpoints, FailoverChannel
from ._protocol import (
    DEFAULT_OUTAGE_BUDGET_S,
    PROTOCOL_VERSIONS,
    RELEARN_LOOK_S,
    CurveKeys,
    encode,
    json_attrs,
    make_request,
    parse_reply,
    unpack_request,
)
from ._study import Direction, Study, StudySummary
from ._trial import Trial
from ._unavailable import StorageOutage, backing_off_unavailable

log = logging.getLogger("tuneport")

__version__ = "0.1.0"

#: Heartbeat interval when the server's hello does not name one.
DEFAULT_HEARTBEAT_INTERVAL_S = 10.0


#: How long ``connect`` waits for a server to answer ``hello`` by default (seconds).
DEFAULT_CONNECT_TIMEOUT_S = 3.0


class Client:
    """A connection to one server. Thread-safe; close it (or use ``with``) to send the queued
    non-blocking reports and stop the background thread. See ``connect`` for the timeouts."""

    def __init__(
        self,
        endpoint: str | Sequence[str],
        *,
        timeout: float = 10.0,
        retries: int = 3,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
        outage_budget_s: float = DEFAULT_OUTAGE_BUDGET_S,
        heartbeat: bool = True,
        heartbeat_interval_s: float | None = None,
        versions: tuple[int, ...] = PROTOCOL_VERSIONS,
        client_info: Mapping[str, Any] | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        self._endpoints = Endpoints(endpoint, suspect_s=max(1.0, 3 * timeout))
        if not connect_timeout > 0:
            raise ValueError("connect_timeout must be > 0")
        self._curve = curve
        self._closed = False
        self._close_lock = threading.RLock()
        """Held through ``close``: a second thread's call waits for the first instead of running beside it."""
        self._close_interrupted = False
        """A close was interrupted (Ctrl-C): the next one waits for nothing."""
        self._closing_thread: int | None = None
        """The thread running ``_close`` now (its ident): ``close`` called again on it returns at once."""
        self._pid = os.getpid()
        """The process that opened the client: ZeroMQ sockets do not survive a fork."""
        self._background: _Background | None = None
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._context_holds: list[None] = [None]
        """Who still holds sockets of ``_context`` (one entry each): the open client, and once it closes, a
        request under way in another thread and the background thread still in a request. The last to let
        go (``_let_go_context``) terminates it (``term`` waits for every socket to be closed), once
        (``_context_terms``). Each change one C call: Python 3.9 runs a signal handler between any two
        bytecodes, and one calling the client inside an int's ``+= 1`` lost its change (never 0, never
        terminated; tests/test_context_holds_reentry.py)."""
        self._context_terms: list[None] = [None]
        self._context_lock = threading.RLock()
        """Orders the changes of ``_context_holds`` between threads. Re-entrant: a signal handler that
        calls the client while close holds it (``_hold_context``) runs on that thread, and its request,
        letting go of the channel, can close the sockets that close left to a request under way and call
        close's callback, ``_let_go_context``, there (a plain lock waited for itself for ever:
        tests/test_signal_context_lock.py)."""
        try:
            self._channel = FailoverChannel(
                self._context, self._endpoints, timeout=timeout, retries=retries, curve=curve, outage_budget_s=outage_budget_s
            )
        except BaseException:
            self._context.term()
            raise
        self._version = 1
        self.limits: dict[str, Any] = {}
        self._trials_lock = threading.Lock()
        self._trials: dict[tuple[str, int], Trial] = {}
        self._storage = StorageOutage()
        """The server's full disk, if it is full: one warning and one outage budget for all threads."""
        try:
            hello = self._hello(versions, client_info, connect_timeout)
        except BaseException:
            self._channel.close()
            self._context.term()
            raise
        self.protocol_version: int = int(hello["version"])
        self._version = self.protocol_version
        self._heartbeat_interval_s = heartbeat_interval_s
        self._learn(hello)
        interval = heartbeat_interval_s or float(self.limits.get("heartbeat_interval_s") or DEFAULT_HEARTBEAT_INTERVAL_S)
        self._background = _Background(self, interval, timeout=min(timeout, 5.0), heartbeat=heartbeat)
        if heartbeat:
            self._background.start()
        _close_at_exit(self)

    def _learn(self, hello: Mapping[str, Any]) -> None:
        """What a ``hello`` result says of the server: at connect, and again (``_relearn``) when a
        limit decides a request's fate and may have changed since (a restart, a failover)."""
        self.server: dict[str, Any] = dict(hello.get("server") or {})
        self.limits = dict(hello.get("limits") or {})
        self.ops: list[str] = list(hello.get("ops") or [])
        # The server reads the envelope's ``attempt``: each request says whether it is its id's first
        # send, which spares the server a storage lookup (PROTOCOL.md, "Envelope").
        self._attempts = "attempt" in (hello.get("envelope") or [])
        # Optional op arguments added after protocol 1 that this server reads ("ask.study_created_at"):
        # an older server refuses an argument it does not know, so they go only to one that lists them.
        self._optional_args: frozenset[str] = frozenset(hello.get("optional_args") or [])
        if self._background is not None and self._heartbeat_interval_s is None:
            self._background._interval = float(self.limits.get("heartbeat_interval_s") or DEFAULT_HEARTBEAT_INTERVAL_S)

    def _relearn(self, channel: FailoverChannel | None = None, *, look_s: float | None = None) -> bool:
        """Asks the server (on ``channel``, default the client's) for its ``hello`` again and learns
        its limits anew; False when it does not answer (the limits stay as they were). The limits
        were learnt once, at connect: after a restart or a failover to a server with other ones, a
        request the new server takes was refused here unsent, and one it refuses or drops the
        connection on was sent every time. Asked only when a limit is about to refuse a request or
        a server's refusal says it changed, so a request that fits costs nothing more. ``look_s``:
        how long to wait for a connection when there is none (default: the timeout); a connected
        server still gets the timeout to answer."""
        chan = channel or self._channel
        message = make_request("hello", {"versions": [self.protocol_version], "client": self._client_info}, version=self._version)
        budget = min(chan.timeout, chan.outage_budget_s) if look_s is None else min(look_s, chan.outage_budget_s)
        try:
            result = parse_reply(chan.request(message, timeout=chan.timeout, retries=0, outage_budget_s=budget))
        except TuneportError as err:
            log.info("could not learn the server's limits again (%s); keeping %s", err, self.limits)
            return False
        before = self.limits
        self._learn(result)
        if self.limits != before:
            log.info("the tuneport server at %s has other limits now: %s (were %s)", self.endpoint, self.limits, before)
        return True

    def _hello(self, versions: tuple[int, ...], client_info: Mapping[str, Any] | None, wait: float) -> dict[str, Any]:
        info = {
            "name": "tuneport-python",
            "version": __version__,
            "python": platform.python_version(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **(client_info or {}),
        }
        self._client_info = info
        # One server: a server not up yet (nothing accepts the connection, or a port forward closes it)
        # is waited for up to the outage budget, as a lost one is later, so that a script started
        # before its server (containers in any order, a restart) carries on; something that accepted
        # the connection and is silent (no ZeroMQ handshake, or no reply to hello) is given ``wait``.
        # Several: each is tried in turn for ``wait``, cycling until one answers or the outage budget
        # is spent (FailoverChannel._first_contact). A hello answered UNAVAILABLE (a server over its
        # memory ceiling, or busy) is retried with the same id and back-off, as ``_request`` retries.
        message = make_request("hello", {"versions": list(versions), "client": info}, version=self._version)
        # At least ``wait``: a budget of 0 ("fail at once in an outage") still lets the connection form.
        budget = max(self._channel.outage_budget_s, wait)
        result = backing_off_unavailable(
            lambda: parse_reply(self._channel.request(message, timeout=wait, retries=0, outage_budget_s=budget, handshake_wait=wait)),
            self._channel.retries,
            "hello",
            storage_s=budget,
            outage=self._storage,
        )
        if int(result.get("version", -1)) not in versions:
            raise UnsupportedVersionError(
                f"server chose protocol version {result.get('version')!r}, not one of {list(versions)}"
            )
        return dict(result)

    @property
    def endpoint(self) -> str:
        """The endpoint this client talks to now: with several, the one that answered ``connect``
        (or the last redirect or failover), not necessarily the first one given."""
        return self._endpoints.current

    # ------------------------------------------------------------------ requests

    def _call(self, op: str, args: Mapping[str, Any], *, outage_budget_s: float | None = None, hurry: bool = False) -> Any:
        """One request; returns its ``result``. UNAVAILABLE is retried with the same id (backing off,
        at least the server's retry hint; a full disk for up to the outage budget: _unavailable.py),
        silence by the channel's Lazy Pirate loop. ``hurry`` (a trial's last word after Ctrl-C):
        one attempt, waiting at most ``outage_budget_s`` for the reply too. @raises TuneportError subclasses."""
        return self._request(self._message(op, args), outage_budget_s=outage_budget_s, hurry=hurry)

    def _message(self, op: str, args: Mapping[str, Any]) -> dict[str, Any]:
        """A request for ``_request``, with its id: ``_call``'s, for a caller that may send it again."""
        return make_request(op, args, version=self._version)

    def _request(
        self, message: dict[str, Any], *, channel: FailoverChannel | None = None, outage_budget_s: float | None = None, hurry: bool = False
    ) -> Any:
        """Sends a made request (``_call``) on ``channel`` (default: the client's), with the client's
        timeout, retries and outage budget (``outage_budget_s``: a shorter one for this request;
        ``hurry``: no retries, and the reply waited for no longer than that budget).
        Every resend carries the message's id."""
        op = message["op"]
        self._check_process()
        main = self._channel
        chan = channel or main
        payload = self._encode(message, chan)  # once: the channel sends these bytes on the first attempt
        budget = main.outage_budget_s if outage_budget_s is None else outage_budget_s
        # A hung server (connected, silent) held a Ctrl-C'd script for the whole timeout (10 s).
        timeout, retries = (min(main.timeout, budget), 0) if hurry else (main.timeout, main.retries)
        try:
            return backing_off_unavailable(
                # Hurried, a study changing hands (no live owner) is waited for within the budget only,
                # not the failover window (40 s by default): a Ctrl-C'd trial's FAIL waited that long.
                lambda: parse_reply(
                    chan.request(message, timeout=timeout, retries=retries, outage_budget_s=budget, payload=payload, failover_s=budget if hurry else None,
                                 turn_s=budget if hurry else None)
                ),
                retries,
                op,
                storage_s=0.0 if hurry else budget,  # a full disk is waited out like a lost connection
                outage=self._storage,
                sleep=chan.sleep,  # a close's deadline ends the backoff too
            )
        except MessageTooLargeError as err:
            self._refusal_names_limit(err.data, "max_message_bytes")
            raise
        except InvalidArgumentError as err:
            if isinstance(err.data, Mapping) and err.data.get("reason") == "max_intermediate":
                self._refusal_names_limit(err.data, "max_intermediate")
            raise
        except TimeoutError as err:
            # The server closed the connection on this request each time it was resent: one over twice
            # its max_message_bytes, which a server restarted with a smaller limit does (_dropped_error).
            if "dropped" in (err.data or {}) and self._relearn(chan):
                self._check_size(op, payload, err, " (learnt again after the server closed the connection on it: its limit changed since connect)")
            raise

    def _refusal_names_limit(self, data: Any, key: str) -> None:
        """A server's refusal that names its ``key`` limit (``data[key]``): ``limits`` takes it when
        it differs from what the client knew (the server was restarted, or another one took over)."""
        limit = data.get(key) if isinstance(data, Mapping) else None
        if isinstance(limit, int) and limit != self.limits.get(key):
            self.limits = {**self.limits, key: limit}

    def _encode(self, message: dict[str, Any], channel: FailoverChannel | None = None) -> bytes:
        """``message`` packed as it is sent first. @raises MessageTooLargeError over the server's
        limit (asked again first: it may have changed since connect); TypeError, InvalidArgumentError
        for what cannot be packed (``encode``)."""
        if self._attempts and "attempt" not in message:
            message["attempt"] = 0  # the channel counts the resends (Channel.request)
        payload = encode(message)
        limit = self.limits.get("max_message_bytes")
        if isinstance(limit, int) and len(payload) > limit:
            # A short look only for a server that is away (RELEARN_LOOK_S): then the limit the
            # client knows refuses the request at once. It waited a whole timeout (10 s) for the
            # hello first, to refuse what it already knew it would refuse.
            self._relearn(channel, look_s=RELEARN_LOOK_S)
        self._check_size(message["op"], payload)
        return payload

    def _check_size(self, op: str, payload: bytes, cause: BaseException | None = None, note: str = "") -> None:
        """@raises MessageTooLargeError when ``payload`` is over the server's ``max_message_bytes``."""
        limit = self.limits.get("max_message_bytes")
        if isinstance(limit, int) and len(payload) > limit:
            raise MessageTooLargeError(
                f"{op} request of {len(payload)} bytes exceeds the server's limit of {limit}{note}",
                {"max_message_bytes": limit},
            ) from cause

    def _frozen(self, message: dict[str, Any]) -> dict[str, Any]:
        """A request to send later (a non-blocking report), as it will be sent: packed now, so that
        what cannot be sent raises here, in the caller's thread, as if sent at once, and unpacked
        into a copy of plain values that later changes to what the caller passed do not reach."""
        frozen: dict[str, Any] = unpack_request(self._encode(message))
        return frozen

    def call(self, op: str, **args: Any) -> Any:
        """Sends any protocol op (arguments as keywords) and returns its raw ``result`` map.
        An escape hatch for ops the typed API does not cover (e.g. ``catalogue``)."""
        return self._call(op, args)

    # ------------------------------------------------------------------ studies

    def create_study(
        self,
        name: str,
        *,
        direction: Direction | None = None,
        directions: Sequence[Direction] | None = None,
        reference_point: Sequence[float] | None = None,
        strategy: str | Mapping[str, Any] | None = None,
        scheduler: str | Mapping[str, Any] | None = None,
        space: Mapping[str, DistributionLike] | None = None,
        load_if_exists: bool = False,
        seed: int | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        lease_ttl_s: float | None = None,
        max_retries: int | None = None,
        retry_on_fail: bool | None = None,
        max_trials: int | None = None,
        max_resource: float | None = None,
        keep_intermediate: bool | None = None,
    ) -> Study:
        """Creates a study, or with ``load_if_exists`` loads the one of that name: then every
        setting given here must match the stored study, or InvalidArgumentError lists the
        differences (settings left out are not compared); settings given as the study was created
        that ``update_study`` has changed since load it with a UserWarning naming them (its trials
        follow the stored ones). ``strategy``/``scheduler`` are a name or
        ``{"name", "options"}``. ``max_trials`` caps the trials the server ever starts for the
        study, across all workers; then ``ask`` raises ``StudyStopped`` and loops end.
        ``directions`` (Optuna's name) makes a multi-objective study with one direction per
        objective; ``reference_point`` fixes its hypervolume reference point (objective units).
        ``max_resource`` is the study's budget: how far one trial trains at most (epochs, steps);
        ``asha``, ``hyperband`` and ``bohb`` use it as their ``max_resource``. ``keep_intermediate``
        (Optuna's ``RetryFailedTrialCallback(inherit_intermediate_values=True)``): a retry (see
        ``max_retries``) starts with the failed attempt's intermediate values, for a worker that
        resumes from its checkpoint and reports only later steps.
        @raises AlreadyExistsError, InvalidArgumentError."""
        if isinstance(directions, (str, Enum)):
            raise InvalidArgumentError(
                f"directions is a list with one direction per objective (got {direction_name(directions)!r}); "
                f"for one objective pass direction={direction_name(directions)!r}"
            )
        retry: dict[str, Any] = {}
        if max_retries is not None:
            retry["max_retries"] = max_retries
        if retry_on_fail is not None:
            retry["retry_on_fail"] = retry_on_fail
        if keep_intermediate is not None:
            retry["keep_intermediate"] = keep_intermediate
        result = self._call(
            "create_study",
            {
                "name": name,
                "direction": direction_name(direction),
                "directions": [direction_name(d) for d in directions] if directions is not None else None,
                "reference_point": [float(x) for x in reference_point] if reference_point is not None else None,
                "strategy": dict(strategy) if isinstance(strategy, Mapping) else strategy,
                "scheduler": dict(scheduler) if isinstance(scheduler, Mapping) else scheduler,
                "space": {k: distribution_to_wire(d) for k, d in space.items()} if space is not None else None,
                "load_if_exists": load_if_exists or None,
                "seed": seed,
                "user_attrs": json_attrs(user_attrs) if user_attrs is not None else None,
                "lease_ttl_s": lease_ttl_s,
                "retry": retry or None,
                "max_trials": max_trials,
                "max_resource": max_resource,
            },
        )
        for k, d in (space or {}).items():
            remember_categorical(name, k, d)  # typed as declared when read back (1.0 is not 1)
        study = Study(self, result["study"])
        study._created = bool(result.get("created", True))
        steered = result.get("changed_since_created") or []
        if steered:
            # A worker's script names the settings the study was created with; an agent's
            # update_study since (a widened space) hands it values its code may not handle.
            changes = "; ".join(f"{d.get('field')}: now {_shown(d.get('stored'))}, given {_shown(d.get('given'))}" for d in steered)
            warnings.warn(
                f"study '{name}' was changed with update_study since it was created, and load_if_exists loaded it as it is now, "
                f"not as given here ({changes}): its trials' params follow the stored settings (a wider range, a new "
                f"category this script may not handle); study.summary() shows them",
                UserWarning,
                stacklevel=_user_stacklevel(),
            )
        return study

    def load_study(self, name: str) -> Study:
        """The existing study ``name``. @raises NotFoundError."""
        return Study(self, self._call("get_study", {"study": name})["study"])

    def list_studies(self) -> list[StudySummary]:
        """Every study, page by page (the server ends a page before about 8 MiB of search spaces)."""
        out: list[StudySummary] = []
        cursor: str | None = None
        while True:
            page = self._call("list_studies", {} if cursor is None else {"cursor": cursor})
            out.extend(StudySummary.from_wire(s) for s in page["studies"])
            cursor = page.get("next_cursor")
            if not cursor:
                return out

    def catalogue(self) -> list[dict[str, Any]]:
        """The server's strategies and schedulers: ``{kind, name, description, options}`` each,
        ``options`` being the JSON Schema of the plug-in's options (defaults included)."""
        return [dict(p) for p in self._call("catalogue", {})["plugins"]]

    def delete_study(self, name: str) -> None:
        """Deletes a study and its trials. @raises NotFoundError."""
        self._call("delete_study", {"study": name})

    # ------------------------------------------------------------------ open trials

    def _track(self, trial: Trial) -> None:
        with self._trials_lock:
            self._trials[(trial.study.name, trial.number)] = trial
        if self._background is not None:
            self._background.note_lease(trial.lease.ttl_s)

    def _forget(self, trial: Trial) -> None:
        if self._pid != os.getpid():
            return  # a forked child renews nothing; the lock may be held for ever there (see _check_process)
        with self._trials_lock:
            if self._trials.get((trial.study.name, trial.number)) is trial:
                del self._trials[(trial.study.name, trial.number)]

    def _open_trial(self, study: str, number: int) -> Trial | None:
        with self._trials_lock:
            return self._trials.get((study, number))

    def open_trials(self) -> list[Trial]:
        """Trials asked by this client and not yet told (their leases are being renewed)."""
        with self._trials_lock:
            return list(self._trials.values())

    # ------------------------------------------------------------------ lifecycle

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_process(self) -> None:
        """@raises ClientClosedError in a forked child: the sockets and the background thread are the
        parent's. Called before any lock the background thread takes (its queue's, a trial's): one
        it held at the fork is held for ever in the child, which hung on it."""
        if self._pid != os.getpid():
            raise ClientClosedError(
                f"this client was opened by process {self._pid} and cannot be used in process {os.getpid()} "
                "(a forked child): ZeroMQ sockets do not survive a fork; call tp.connect, tp.load_study or "
                "tp.create_study in the child",
                {"pid": self._pid},
            )

    def _submit_report(self, trial: Trial, message: dict[str, Any], *, deadline: float | None = None) -> int:
        """Queues a non-blocking report on the background thread; its sequence number. ``deadline``
        (monotonic): how long it waits for room in a full queue at most (``_Background.submit``)."""
        # In a forked child no thread serves the queue: the report was dropped without a word.
        self._check_process()
        if self._closed or self._background is None:
            raise ClientClosedError("the client is closed")
        return self._background.submit(trial, message, deadline=deadline)

    def _reports_pending(self, seq: int) -> bool:
        """True while the report with sequence number ``seq`` is queued or in flight."""
        self._check_process()
        return self._background is not None and self._background.answered() < seq

    def _abandon_reports(self, trial: Trial) -> int:
        """Drops ``trial``'s queued non-blocking reports (see ``_Background.abandon``); how many
        were never sent."""
        self._check_process()
        return self._background.abandon(trial) if self._background is not None else 0

    def _wait_reports(self, seq: int, timeout: float | None = None) -> bool:
        """Waits (up to ``timeout``) until the background thread answered every report up to
        ``seq``; False when ``timeout`` ran out first. @raises ClientClosedError in a forked child,
        where no thread answers them (it returned at once, as if they had been answered, or hung on
        a lock the parent's thread held at the fork)."""
        self._check_process()
        if self._background is not None and seq:
            return self._background.wait_for(seq, timeout)
        return True

    def close(self) -> None:
        """Sends the non-blocking reports still queued, stops the background thread and closes the
        sockets, all within one ``timeout`` (the client's), plus STOP_GRACE_S for the thread to exit.
        Reports put aside behind another thread's call on their trial (``report(..., wait=False)``
        while that call runs) are queued first, once that call ends; those it does not end in time
        for, those the queue has no room for by the deadline, and the queued ones not sent by then,
        are dropped with a warning naming their trial and steps. A report made while it closes is
        sent, named so, or refused with ClientClosedError. The report in flight when the deadline
        comes (the server away, or silent) is dropped then, named in the warning, and the thread
        ends; it went on up to its outage budget (for ever with an infinite one, and the ZeroMQ
        context with it). Open trials are not told: their leases run out on the server. A request
        under way in another thread (waiting out an outage, or for a server that does not answer)
        is given the same deadline to be answered, not waited for: it raises ClientClosedError then
        (it got the rest of a one-second wait on its socket, whatever the deadline); close waited
        for it, up to its outage budget, and so did the exit's close of every client. A call that
        waits for its trial's non-blocking reports (a tell, a blocking report) stops waiting once the
        client is closed and raises ClientClosedError. With no deadline (after an interrupted close,
        or on the background thread) each of these ends at once. Idempotent: called by another
        thread while one closes, it waits for that one and returns.

        Called from the client's background thread itself (a logging handler that one of its warnings
        runs, a callback it calls), it waits for nothing: the reports still queued are named as not
        sent and the one the thread is sending as dropped in flight, the thread stops once that handler returns, and it terminates the ZeroMQ context as it
        exits (the sockets of other threads must be closed by then, as for any close). While another
        thread closes the client, it returns at once. Interrupted (Ctrl-C while it waits), the
        background thread is stopped all the same and what was not sent is named: the next
        ``close()`` (the exit's) waits for nothing and sends and names nothing again.

        Called again on the thread that is closing the client (a logging handler that one of close's
        own warnings runs), it returns at once and does nothing: the call under way finishes closing
        (``closed`` is still False meanwhile). It ran a second close inside the first, which closed
        the sockets twice and could terminate the ZeroMQ context under the first."""
        if self._closed or self._closing_thread == threading.get_ident():
            return
        if self._pid != os.getpid():
            # A forked child's copy: its sockets and threads are the parent's; touching them
            # (term() waits for them) would hang the child's exit. Not the lock either: a thread of
            # the parent that held it at the fork holds it for ever here.
            self._closed = True
            return
        # Two threads closing at once (a daemon thread leaving its with-block while the main thread's
        # exit closes every client) both terminated the ZeroMQ context, the second inside the
        # first's zmq_ctx_term: libzmq aborted the process (signaler.cpp assertion) or hung it.
        background = self._background
        if background is not None and background.on_thread():
            # It cannot wait for the thread that closes the client: that one stops it.
            if not self._close_lock.acquire(blocking=False):
                return
            try:
                if not self._closed:
                    self._close()
            finally:
                self._close_lock.release()
            return
        with self._close_lock:
            if not self._closed:
                self._close()

    def _close(self) -> None:
        """``close``, in the one thread that closes."""
        self._closing_thread = threading.get_ident()
        try:
            self._close_once()
        finally:
            self._closing_thread = None

    def _close_once(self) -> None:
        # One deadline for every wait below: each had the whole timeout, and a call under way in
        # another thread then a queue the thread had not sent made close take twice the timeout.
        background = self._background
        # After an interrupted close (Ctrl-C), or on the background thread, it waits for nothing.
        hurry = self._close_interrupted or (background is not None and background.on_thread())
        deadline = time.monotonic() + (0.0 if hurry else self._channel.timeout)
        # A request under way in another thread gets until the deadline to be answered, as the queue does.
        self._channel.stop_at(deadline)
        try:
            if background is not None:
                background.closing(deadline)
            try:
                self._queue_put_aside(deadline)
            finally:
                if background is not None:
                    background.closing(None)  # interrupted (Ctrl-C), the client stays open: no deadline left behind
            ended = background.stop(deadline) if background is not None else True
        except BaseException:
            self._close_interrupted = True
            self._channel.stop_at(None)  # the client stays open: its requests are not cut later (the next close cuts them at once)
            raise
        self._closed = True
        for trial in self.open_trials():
            # Put aside since, or behind a call still under way: never sent, and said so (they were
            # dropped in silence, or raised ClientClosedError out of that call's end).
            trial._drop_beside("the client was closed while the call they waited behind was still under way")
        # Neither a request under way in another thread (waiting out an outage: it ends at its next
        # look) nor the background thread still in one is waited for: each lets go of the context as it ends.
        self._hold_context()
        if self._channel.close(when_closed=self._let_go_context):
            self._let_go_context()
        self._hold_context()
        if ended or self._background is None or not self._background.term_context_when_done():
            self._let_go_context()
        if self._background is not None:
            self._background.closed()  # after the channel: a call waiting for its reports is refused
        self._let_go_context()  # the open client's

    @property
    def _context_holders(self) -> int:
        return len(self._context_holds)

    def _hold_context(self) -> None:
        with self._context_lock:
            self._context_holds.append(None)

    def _let_go_context(self) -> None:
        """One holder of ``_context``'s sockets let go of them (``_context_holds``); the last terminates it."""
        with self._context_lock:
            self._context_holds.pop()
            last = not self._context_holds
        if last:
            try:
                self._context_terms.pop()
            except IndexError:
                return  # a handler's let-go between another's pop and its look: both saw none left
            self._context.term()

    def _queue_put_aside(self, deadline: float) -> None:
        """``close``: queues the reports of open trials put aside behind another thread's call
        (``Trial._beside``), taking each trial's turn once that call ends, until ``deadline`` (monotonic)."""
        for trial in self.open_trials():
            if not trial._beside:
                continue
            if trial._order.acquire(timeout=max(0.0, deadline - time.monotonic())):
                try:
                    trial._submit_beside()
                finally:
                    trial._end_turn()
            # Else: still under way; ``close`` drops them with a warning once the client is closed.

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.endpoint!r}, protocol={self.protocol_version}, closed={self._closed})"


#: Every client of this process, so that one still open at exit is closed then (``_close_at_exit``).
_live_clients: weakref.WeakSet[Client] = weakref.WeakSet()
_live_lock = threading.Lock()
_exit_hook_pid: int | None = None


def _close_at_exit(client: Client) -> None:
    """Closes ``client`` at exit if it is still open, so that its queued non-blocking reports are
    sent first (up to its timeout), as the clients ``create_study``/``load_study`` open are: a
    ``tp.connect()`` client left open lost them all (its background thread is a daemon). Hooked on
    ``atexit`` and on multiprocessing's exit function, which a fork ``Pool`` worker runs before
    ``os._exit`` (atexit hooks do not run there)."""
    global _exit_hook_pid
    with _live_lock:  # not _shared_lock: _shared_client holds it while it connects
        _live_clients.add(client)
        if _exit_hook_pid != os.getpid():
            _exit_hook_pid = os.getpid()
            atexit.register(_close_live_clients)
            multiprocessing.util.Finalize(None, _close_live_clients, exitpriority=100)


def _close_live_clients() -> None:
    with _live_lock:
        clients = list(_live_clients)
    for client in clients:
        if client._pid == os.getpid() and not client.closed:
            client.close()


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside this package: the user's
    line, whether they called ``Client.create_study`` or Optuna's ``tuneport.create_study`` (a fixed
    level named a line of this file for the one or the other)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)  # the caller of this function: level 1 of its warnings.warn
    level = 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == package:
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def _shown(v: Any) -> str:
    """A setting of create_study's ``changed_since_created`` as one short text."""
    return "none" if v is None else json.dumps(v, sort_keys=True, separators=(", ", ": "))


__all__ = ["Client"]
