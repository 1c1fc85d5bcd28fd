"""The client: one connection to a tuneport server, its studies, and the background thread
(heartbeats and non-blocking reports)."""

from __future__ import annotations

import atexit
import dataclasses
import json
import logging
import multiprocessing.util
import os
import platform
import re
import socket
import sys
import threading
import time
import uuid
import warnings
import weakref
from collections import deque
from collections.abc import Mapping, Sequence
from types import TracebackType
from enum import Enum
from typing import Any

import zmq

from . import _private
from ._distributions import DistributionLike, distribution_to_wire, remember_categorical
from ._enums import direction_name
from ._errors import (
    ClientClosedError,
    InvalidArgumentError,
    LeaseLostError,
    MessageTooLargeError,
    TimeoutError,
    TuneportError,
    UnavailableError,
    UnsupportedVersionError,
)
from ._failover import Endpoints, FailoverChannel
from ._optuna_objects import check_on_load, translate
from ._protocol import (
    DEFAULT_OUTAGE_BUDGET_S,
    PROTOCOL_VERSIONS,
    RELEARN_LOOK_S,
    CurveKeys,
    _endpoint_hint,
    check_endpoint,
    encode,
    json_attrs,
    make_request,
    parse_reply,
    unpack_request,
)
from ._study import _METRIC_NAMES_ATTR, Direction, Study, StudySummary
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
        self._context_holders = 1
        """Who still holds sockets of ``_context``: the open client, and once it closes, a request
        under way in another thread and the background thread still in a request. The last to let
        go (``_let_go_context``) terminates it: ``term`` waits for every socket to be closed."""
        self._context_lock = threading.Lock()
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

    def _hold_context(self) -> None:
        with self._context_lock:
            self._context_holders += 1

    def _let_go_context(self) -> None:
        """One holder of ``_context``'s sockets let go of them (``_context_holders``); the last terminates it."""
        with self._context_lock:
            self._context_holders -= 1
            last = self._context_holders == 0
        if last:
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
            job.trial._deliver_error(self._drop_error, quiet=True, step=job.message.get("step"))
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
                job.trial._deliver_error(err, step=job.message.get("step"))
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
                job.trial._deliver_error(err)
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


def connect(
    endpoint: str | Sequence[str],
    *,
    timeout: float = 10.0,
    retries: int = 3,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_S,
    outage_budget_s: float = DEFAULT_OUTAGE_BUDGET_S,
    heartbeat: bool = True,
    heartbeat_interval_s: float | None = None,
    client_info: Mapping[str, Any] | None = None,
    curve: CurveKeys | None = None,
) -> Client:
    """Connects to a server and runs the ``hello`` handshake (protocol version negotiation).

    - ``endpoint``: ``tcp://host:port`` (also ``ipc://path``); anything else raises
      InvalidArgumentError at once, with a hint. Several endpoints (``["tcp://a:5555",
      "tcp://b:5555"]``: servers sharing one PostgreSQL database) make the client fail over
      between them and follow redirects to each study's owner (docs/SCALING.md).
    - ``connect_timeout``: how long the handshake waits for something that accepted the connection
      (a ZeroMQ handshake, then the ``hello`` reply) before a TimeoutError asking whether a tuneport
      server runs there. A server that is not up yet (nothing accepts the connection) is waited for
      up to ``outage_budget_s``, as a lost one is later, with a warning after ``connect_timeout``;
      then TimeoutError names the endpoint and the wait. With several endpoints, each is tried in
      turn for ``connect_timeout``, cycling until one answers or ``outage_budget_s`` is spent (each
      tried once at least); then TimeoutError names them all. A ``hello`` answered UNAVAILABLE
      (a server over its memory ceiling) is resent with backoff up to ``retries`` times, as any request.
    - ``UNAVAILABLE`` replies are resent with the same id after at least the server's hint
      (``retry_after_ms``/``retry_after_s``), with backoff, ``retries`` times; a full server disk
      (``reason == "storage_full"``) is waited out like a lost connection, up to ``outage_budget_s``
      from the first refusal of a request in it (a refused heartbeat starts no clock; one warning per
      outage, told from the next by the server's ``full_since``), then UnavailableError (``err.reason``).
    - ``timeout``/``retries``: while connected, each request waits ``timeout`` seconds for its
      reply and is resent (same id) up to ``retries`` times on silence (Lazy Pirate).
    - ``outage_budget_s``: when the connection is lost (a restart, a crash), a request waits up
      to this long for the server to come back and resends as soon as it does; then it raises
      TimeoutError, and later requests give up after a last 1 s look. ``math.inf`` waits forever.
      It bounds the wait for a full server disk too (see above).
    - ``curve`` (see ``CurveKeys.from_files``): every socket, the heartbeat's too, encrypts and
      authenticates with CURVE; a refused key raises UnauthenticatedError.

    @raises InvalidArgumentError, TimeoutError, UnauthenticatedError, UnavailableError, UnsupportedVersionError."""
    return Client(
        endpoint,
        timeout=timeout,
        retries=retries,
        connect_timeout=connect_timeout,
        outage_budget_s=outage_budget_s,
        heartbeat=heartbeat,
        heartbeat_interval_s=heartbeat_interval_s,
        client_info=client_info,
        curve=curve,
    )


#: Clients that ``create_study``/``load_study`` opened, one per endpoint (closed at exit as every client is).
_shared_clients: dict[str, Client] = {}
_shared_lock = threading.Lock()

#: The server ``create_study``/``load_study`` use when no ``storage`` is given.
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"


def _storage_endpoints(given: str | Sequence[str]) -> list[str]:
    """The endpoints ``storage`` (or ``$TUNEPORT_ENDPOINT``) names: one, a list, or a comma-separated
    string of them (``tcp://a:5555,tcp://b:5555``, as the scaling recipes' ``$TUNEPORT_ENDPOINTS``);
    a list was refused as "not a string". @raises InvalidArgumentError."""
    listed = re.split(r",\s*(?=(?:tcp|ipc|inproc)://)", given) if isinstance(given, str) else given
    if isinstance(listed, (bytes, bytearray)) or not isinstance(listed, Sequence) or len(listed) == 0:
        return [check_endpoint(given)]
    return [check_endpoint(e) for e in listed]


def _shared_client(storage: str | Sequence[str] | Client | None, *, may_start_private: bool = False) -> Client:
    """The client for ``storage``; with none given, the default endpoint's, or this process's
    private server's once one runs. ``may_start_private`` (``create_study``): when no storage,
    no ``$TUNEPORT_ENDPOINT`` and nothing listens at the default endpoint, starts the private
    server (``_private.py``: Optuna's in-memory storage, as a server for this process)."""
    if isinstance(storage, Client):
        return storage
    _refuse_optuna_storage(storage)
    if storage is None and "TUNEPORT_ENDPOINT" not in os.environ:
        endpoints = [_default_or_private_endpoint(may_start_private)]
    else:
        endpoints = _storage_endpoints(storage if storage is not None else os.environ["TUNEPORT_ENDPOINT"])
    key = ",".join(endpoints)
    with _shared_lock:
        client = _shared_clients.get(key)
        if client is None or client.closed or client._pid != os.getpid():  # a forked child connects anew
            client = connect(endpoints[0] if len(endpoints) == 1 else endpoints)  # closed at exit (_close_at_exit)
            _shared_clients[key] = client
        return client


def _refuse_optuna_storage(storage: object) -> None:
    """An Optuna storage object (``InMemoryStorage()``, ``RDBStorage(url, heartbeat_interval=...)``,
    ``JournalStorage(...)``) is refused with what to pass instead, not as "not a string".
    @raises InvalidArgumentError."""
    cls = type(storage)
    if not cls.__module__.startswith("optuna.storages"):
        return
    # optuna.storages.get_storage(url) wraps an RDBStorage in a _CachedStorage
    backend = getattr(storage, "_backend", storage) if cls.__name__ == "_CachedStorage" else storage
    url = getattr(backend, "url", None)
    if cls.__name__ == "InMemoryStorage":
        hint = (
            "leave storage out: without one, create_study uses a private server for this process (or the one at "
            "$TUNEPORT_ENDPOINT), as Optuna keeps the study in memory"
        )
    elif isinstance(url, str):
        hint = (
            f"{_endpoint_hint(url).removeprefix('that is an Optuna storage URL; ')} (for its url {url!r}); the heartbeat "
            "and RetryFailedTrialCallback settings are create_study's "
            "lease_ttl_s=... and max_retries=..."
        )
    else:
        hint = (
            "a tuneport study lives on a server, which any number of processes share: start one "
            "(`npx tuneport serve --storage tuneport.db --bind tcp://127.0.0.1:5555`) and pass storage='tcp://127.0.0.1:5555'"
        )
    name = type(backend).__name__
    raise InvalidArgumentError(f"storage={name}(...) is an Optuna storage: {hint}", {"storage": name})


def _default_or_private_endpoint(may_start_private: bool) -> str:
    running = _private.private_server()
    if running is not None:
        return running.endpoint
    if not (may_start_private and _private.nothing_listens(DEFAULT_ENDPOINT)):
        return DEFAULT_ENDPOINT
    server = _private.start_private_server()
    atexit.register(_stop_private_server)
    log.warning(
        "No tuneport server at %s: started a private one for this process (%s), as Optuna keeps a study in memory "
        "without storage. Its studies end when this process exits. To keep them or share them between processes, "
        "run `npx tuneport serve` and pass storage=%r (or set TUNEPORT_ENDPOINT).",
        DEFAULT_ENDPOINT, server.endpoint, DEFAULT_ENDPOINT,
    )  # fmt: skip
    return server.endpoint


def _stop_private_server() -> None:
    """At exit: closes the private server's client (its queued reports go first), then the server."""
    running = _private.private_server()
    if running is None:
        return
    with _shared_lock:
        client = _shared_clients.pop(running.endpoint, None)
    if client is not None:
        client.close()
    _private.stop_private_server()


def _rebuild_study(endpoints: list[str], name: str) -> Study:
    """A pickled Study in this process (``Study.__reduce__``): loaded through the shared client of
    its endpoint (one per process, closed at exit), or a client of its own for several endpoints."""
    client = _shared_client(endpoints[0]) if len(endpoints) == 1 else connect(endpoints)
    return client.load_study(name)


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


def create_study(
    *,
    storage: str | Sequence[str] | Client | None = None,
    sampler: Any = None,
    pruner: Any = None,
    study_name: str | None = None,
    direction: Direction | None = None,
    load_if_exists: bool = False,
    directions: Sequence[Direction] | None = None,
    reference_point: Sequence[float] | None = None,
    strategy: str | Mapping[str, Any] | None = None,
    scheduler: str | Mapping[str, Any] | None = None,
    space: Mapping[str, DistributionLike] | None = None,
    seed: int | None = None,
    max_trials: int | None = None,
    user_attrs: Mapping[str, Any] | None = None,
    max_resource: float | None = None,
    lease_ttl_s: float | None = None,
    max_retries: int | None = None,
    retry_on_fail: bool | None = None,
    keep_intermediate: bool | None = None,
) -> Study:
    """Optuna's ``optuna.create_study`` (same argument order), against a tuneport server:
    ``storage`` is the server's endpoint (default: ``$TUNEPORT_ENDPOINT``, else
    tcp://127.0.0.1:5555), several of them (a list, or one string with commas: servers sharing one
    PostgreSQL database, between which the client fails over), or a ``Client``. With neither ``storage`` nor ``$TUNEPORT_ENDPOINT``
    and no server at the default endpoint, a private server is started for this process (with a
    warning): like Optuna's in-memory storage, its studies end with the process, and the
    ``load_study``/``get_all_study_names`` calls without ``storage`` that follow use it. Without
    ``study_name`` a unique name is made up (as Optuna does). One client per endpoint is opened
    on first use and closed at exit. The rest is
    ``Client.create_study``. ``sampler``/``pruner`` (Optuna's objects, or ``tuneport.samplers``/
    ``tuneport.pruners`` ones) run as the strategy and scheduler of their algorithm with the
    options they were given, and a seed derived from the sampler's random state (``seed`` wins);
    one that cannot run as given (no counterpart of its class or of a setting it was given) is
    refused with the ``strategy=``/``scheduler=`` to pass instead, as is ``sampler`` with
    ``strategy`` (``pruner`` with ``scheduler``). A sampler's ``constraints_func`` goes to the
    study's ``optimize`` and ``tell``. A study has no scheduler unless given one.
    ``lease_ttl_s``, ``max_retries`` and ``retry_on_fail`` are what Optuna's
    ``RDBStorage(heartbeat_interval=..., failed_trial_callback=RetryFailedTrialCallback(max_retry=n))``
    sets up: a trial whose worker stops renewing its lease is failed after ``lease_ttl_s`` and its
    params re-queued at most ``max_retries`` times (``retry_on_fail``: also after a FAIL);
    ``keep_intermediate`` is its ``inherit_intermediate_values=True``.
    @raises InvalidArgumentError, AlreadyExistsError."""
    runs = translate(
        sampler,
        pruner,
        strategy=strategy,
        scheduler=scheduler,
        seed=seed,
        max_resource=max_resource,
        multi_objective=isinstance(directions, (list, tuple)) and len(directions) > 1,
    )
    client = _shared_client(storage, may_start_private=True)
    name = study_name if study_name is not None else f"no-name-{uuid.uuid4()}"

    def create(seed: int | None) -> Study:
        return client.create_study(
            name,
            direction=direction,
            directions=directions,
            reference_point=reference_point,
            strategy=runs.strategy,
            scheduler=runs.scheduler,
            space=space,
            load_if_exists=load_if_exists,
            seed=seed,
            max_trials=max_trials,
            user_attrs=user_attrs,
            max_resource=runs.max_resource,
            lease_ttl_s=lease_ttl_s,
            max_retries=max_retries,
            retry_on_fail=retry_on_fail,
            keep_intermediate=keep_intermediate,
        )

    study: Study | None = None
    try:
        study = create(runs.seed)
    except InvalidArgumentError as err:
        # Optuna's recipe gives each worker its own TPESampler(seed=rank) with load_if_exists:
        # a seed derived from the sampler is not a setting to compare with the stored study's.
        # Asked again without it (outside this handler, so that a refusal does not carry this
        # one), the study loads, or the refusal names only what does differ.
        differences = (err.data or {}).get("differences") or []
        if not (load_if_exists and seed is None and runs.seed is not None and "seed" in {d.get("field") for d in differences}):
            raise
    if study is None:
        study = create(None)
    study._constraints_func = runs.constraints_func
    if runs.note:
        log.info("%s", runs.note)
    if study._created:  # Optuna's INFO lines
        log.info("A new study created on %s with name: %s", client.endpoint, study.name)
    else:
        log.info("Using an existing study with name '%s' instead of creating a new one.", study.name)
    return study


def load_study(*, study_name: str | None, storage: str | Sequence[str] | Client | None = None, sampler: Any = None, pruner: Any = None) -> Study:
    """Optuna's ``optuna.load_study``: the existing study ``study_name`` on the server at
    ``storage`` (as in ``create_study``); ``study_name=None`` loads the server's only study, as
    Optuna does. @raises NotFoundError; ValueError when ``study_name`` is None and the server
    does not hold exactly one study. A loaded study keeps the strategy and scheduler it was
    created with, which the server runs for every worker: ``sampler``/``pruner`` (Optuna's
    objects, or tuneport's) that stand for them are accepted (their seed has no use), others
    load the study with a UserWarning naming what it runs and ``Study.update`` to change it for
    every worker. A sampler's ``constraints_func`` goes to the study's ``optimize`` and ``tell``."""
    client = _shared_client(storage)
    if study_name is None:
        names = [s.name for s in client.list_studies()]
        if len(names) != 1:
            raise ValueError(
                f"Could not determine the study name since the server at {client.endpoint} does not hold exactly "
                f"1 study. Specify `study_name` from {names[:20]}{' ...' if len(names) > 20 else ''}."
            )
        study_name = names[0]
        log.info("Study name was omitted: loading '%s', the only study on the server.", study_name)
    study = client.load_study(study_name)
    if sampler is not None or pruner is not None:
        check_on_load(study, sampler, pruner)
    return study


def delete_study(*, study_name: str, storage: str | Sequence[str] | Client | None = None) -> None:
    """Optuna's ``optuna.delete_study``: deletes the study and its trials. @raises NotFoundError."""
    _shared_client(storage).delete_study(study_name)


def get_all_study_names(storage: str | Sequence[str] | Client | None = None) -> list[str]:
    """Optuna's ``optuna.get_all_study_names``: every study's name on the server."""
    return [s.name for s in _shared_client(storage).list_studies()]


def get_all_study_summaries(storage: str | Sequence[str] | Client | None = None, include_best_trial: bool = True) -> list[StudySummary]:
    """Optuna's ``optuna.get_all_study_summaries``: a ``StudySummary`` per study (counts per state,
    best trial, configuration); ``include_best_trial=False`` leaves ``best_trial`` None, as Optuna."""
    summaries = _shared_client(storage).list_studies()
    return summaries if include_best_trial else [dataclasses.replace(s, best_trial=None) for s in summaries]


def copy_study(
    *, from_study_name: str, from_storage: str | Sequence[str] | Client | None, to_storage: str | Sequence[str] | Client | None, to_study_name: str | None = None
) -> None:
    """Optuna's ``optuna.copy_study``: a new study ``to_study_name`` (default: the same name) on
    the server at ``to_storage`` with the settings (directions, declared space, strategy,
    scheduler, seed, lease and retry policy, budget per trial), user attributes and trials of
    ``from_study_name`` at ``from_storage``. Finished trials are recorded with ``add_trial``
    (new numbers in the same order), WAITING ones enqueued; RUNNING ones are left out, with a
    warning (a copy cannot hold a trial some worker is still running). ``max_trials`` is not
    copied: recorded trials do not count against it.
    @raises NotFoundError (a KeyError, as Optuna's) when the source is missing,
    AlreadyExistsError when the destination exists."""
    source = _shared_client(from_storage).load_study(from_study_name)
    summary = source.summary()
    retry = summary.retry
    target = _shared_client(to_storage).create_study(
        to_study_name if to_study_name is not None else from_study_name,
        directions=list(summary.directions or [summary.direction]),
        reference_point=summary.reference_point,
        strategy=summary.strategy or None,
        scheduler=summary.scheduler,
        space=summary.space or None,
        seed=summary.seed,
        user_attrs={**summary.user_attrs, **({_METRIC_NAMES_ATTR: summary.metric_names} if summary.metric_names else {})} or None,
        lease_ttl_s=summary.lease_ttl_s or None,
        max_retries=retry.get("max_retries"),
        retry_on_fail=retry.get("retry_on_fail"),
        max_resource=summary.max_resource,
    )
    running = []
    for trial in source.trials:
        if trial.state.is_finished():
            target.add_trial(trial)
        elif trial.state == "WAITING":
            target.enqueue(trial.params, user_attrs=trial.user_attrs or None)
        else:
            running.append(trial.number)
    if running:
        log.warning("copy_study: %d RUNNING trial(s) of '%s' not copied: %s", len(running), from_study_name, running)


__all__ = ["Client", "connect", "copy_study", "create_study", "delete_study", "get_all_study_names", "get_all_study_summaries", "load_study"]


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
