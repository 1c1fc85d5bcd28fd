"""The client: one connection to a tuneport server, its studies, and the heartbeat thread."""

from __future__ import annotations

import logging
import os
import platform
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

import zmq

from ._distributions import DistributionLike, distribution_to_wire
from ._errors import (
    LeaseLostError,
    MessageTooLargeError,
    TuneportError,
    UnavailableError,
    UnsupportedVersionError,
)
from ._protocol import PROTOCOL_VERSIONS, Channel, CurveKeys, encode, make_request, parse_reply
from ._study import Direction, Study, StudySummary
from ._trial import Trial

log = logging.getLogger("tuneport")

__version__ = "0.1.0"

#: Heartbeat interval when the server's hello does not name one.
DEFAULT_HEARTBEAT_INTERVAL_S = 10.0


class Client:
    """A connection to one server. Thread-safe; close it (or use ``with``) to stop the heartbeat
    thread. ``timeout`` is per attempt, ``retries`` the number of resends after silence."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        heartbeat: bool = True,
        heartbeat_interval_s: float | None = None,
        versions: tuple[int, ...] = PROTOCOL_VERSIONS,
        client_info: Mapping[str, Any] | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._curve = curve
        self._context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._channel = Channel(self._context, endpoint, timeout=timeout, retries=retries, curve=curve)
        self._version = 1
        self.limits: dict[str, Any] = {}
        self._trials_lock = threading.Lock()
        self._trials: dict[tuple[str, int], Trial] = {}
        self._heartbeat: _Heartbeat | None = None
        self._closed = False
        try:
            hello = self._hello(versions, client_info)
        except BaseException:
            self._channel.close()
            self._context.term()
            raise
        self.protocol_version: int = int(hello["version"])
        self._version = self.protocol_version
        self.server: dict[str, Any] = dict(hello.get("server") or {})
        self.limits = dict(hello.get("limits") or {})
        self.ops: list[str] = list(hello.get("ops") or [])
        interval = heartbeat_interval_s or float(self.limits.get("heartbeat_interval_s") or DEFAULT_HEARTBEAT_INTERVAL_S)
        if heartbeat:
            self._heartbeat = _Heartbeat(self, interval, timeout=min(timeout, 5.0))
            self._heartbeat.start()

    def _hello(self, versions: tuple[int, ...], client_info: Mapping[str, Any] | None) -> dict[str, Any]:
        info = {
            "name": "tuneport-python",
            "version": __version__,
            "python": platform.python_version(),
            "host": socket.gethostname(),
            "pid": os.getpid(),
            **(client_info or {}),
        }
        result = self._call("hello", {"versions": list(versions), "client": info})
        if int(result.get("version", -1)) not in versions:
            raise UnsupportedVersionError(
                f"server chose protocol version {result.get('version')!r}, not one of {list(versions)}"
            )
        return dict(result)

    # ------------------------------------------------------------------ requests

    def _call(self, op: str, args: Mapping[str, Any]) -> Any:
        """One request; returns its ``result``. UNAVAILABLE is retried with the same id (backing off),
        silence by the channel's Lazy Pirate loop. @raises TuneportError subclasses."""
        message = make_request(op, args, version=self._version)
        limit = self.limits.get("max_message_bytes")
        size = len(encode(message)) if isinstance(limit, int) else 0
        if isinstance(limit, int) and size > limit:
            raise MessageTooLargeError(
                f"{op} request of {size} bytes exceeds the server's limit of {limit}",
                {"max_message_bytes": limit},
            )
        delay = 0.1
        for attempt in range(self._channel.retries + 1):
            try:
                return parse_reply(self._channel.request(message))
            except UnavailableError:
                if attempt == self._channel.retries:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

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
        strategy: str | Mapping[str, Any] | None = None,
        scheduler: str | Mapping[str, Any] | None = None,
        space: Mapping[str, DistributionLike] | None = None,
        load_if_exists: bool = False,
        seed: int | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        lease_ttl_s: float | None = None,
        max_retries: int | None = None,
        retry_on_fail: bool | None = None,
        max_resource: float | None = None,
    ) -> Study:
        """Creates a study (or, with ``load_if_exists``, loads the one of that name, whose direction
        and declared space must then match). ``strategy``/``scheduler`` are a name or
        ``{"name", "options"}``. ``max_resource`` is the study's budget: how far one trial trains
        at most (epochs, steps); ``asha``, ``hyperband`` and ``bohb`` use it as their
        ``max_resource``. @raises AlreadyExistsError, InvalidArgumentError."""
        retry: dict[str, Any] = {}
        if max_retries is not None:
            retry["max_retries"] = max_retries
        if retry_on_fail is not None:
            retry["retry_on_fail"] = retry_on_fail
        result = self._call(
            "create_study",
            {
                "name": name,
                "direction": direction,
                "strategy": dict(strategy) if isinstance(strategy, Mapping) else strategy,
                "scheduler": dict(scheduler) if isinstance(scheduler, Mapping) else scheduler,
                "space": {k: distribution_to_wire(d) for k, d in space.items()} if space is not None else None,
                "load_if_exists": load_if_exists or None,
                "seed": seed,
                "user_attrs": dict(user_attrs) if user_attrs is not None else None,
                "lease_ttl_s": lease_ttl_s,
                "retry": retry or None,
                "max_resource": max_resource,
            },
        )
        return Study(self, result["study"])

    def load_study(self, name: str) -> Study:
        """The existing study ``name``. @raises NotFoundError."""
        return Study(self, self._call("get_study", {"study": name})["study"])

    def list_studies(self) -> list[StudySummary]:
        return [StudySummary.from_wire(s) for s in self._call("list_studies", {})["studies"]]

    def delete_study(self, name: str) -> None:
        """Deletes a study and its trials. @raises NotFoundError."""
        self._call("delete_study", {"study": name})

    # ------------------------------------------------------------------ open trials

    def _track(self, trial: Trial) -> None:
        with self._trials_lock:
            self._trials[(trial.study.name, trial.number)] = trial
        if self._heartbeat is not None:
            self._heartbeat.note_lease(trial.lease.ttl_s)

    def _forget(self, trial: Trial) -> None:
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

    def close(self) -> None:
        """Stops the heartbeat thread and closes the sockets. Open trials are not told: their
        leases run out on the server. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._heartbeat is not None:
            self._heartbeat.stop()
        self._channel.close()
        self._context.term()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client({self.endpoint!r}, protocol={self.protocol_version}, closed={self._closed})"


class _Heartbeat:
    """Renews the leases of the client's open trials from a daemon thread on its own socket,
    every ``min(interval, shortest ttl / 3)`` seconds. A LEASE_LOST answer marks the trial so
    that its next ``report`` or ``complete`` raises LeaseLostError at once."""

    def __init__(self, client: Client, interval: float, *, timeout: float) -> None:
        self._client = client
        self._interval = interval
        self._timeout = timeout
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tuneport-heartbeat", daemon=True)
        self._planned_period = interval

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def note_lease(self, ttl_s: float) -> None:
        """Wakes the thread only when a new lease needs renewing sooner than it planned to:
        a wake-up per ask would cost a thread switch on the hot path."""
        if ttl_s / 3 < self._planned_period:
            self.wake()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _period(self, trials: list[Trial]) -> float:
        ttl = min((t.lease.ttl_s for t in trials), default=self._interval * 3)
        return max(0.05, min(self._interval, ttl / 3))

    def _run(self) -> None:
        channel = Channel(self._client._context, self._client.endpoint, timeout=self._timeout, retries=0, curve=self._client._curve)
        last = time.monotonic()
        try:
            while not self._stop.is_set():
                trials = self._client.open_trials()
                self._planned_period = self._period(trials)
                due = last + self._planned_period
                now = time.monotonic()
                if now < due:
                    self._wake.wait(due - now)
                    self._wake.clear()
                    continue
                last = now
                if trials:
                    self._beat(channel, trials)
        finally:
            channel.close()

    def _beat(self, channel: Channel, trials: list[Trial]) -> None:
        by_key = {(t.study.name, t.number): t for t in trials}
        leases = [{"study": t.study.name, "trial": t.number, "token": t.lease.token} for t in trials]
        try:
            reply = channel.request(make_request("heartbeat", {"leases": leases}, version=self._client.protocol_version))
            result = parse_reply(reply)
        except TuneportError as err:
            log.warning("heartbeat failed (%d leases): %s", len(leases), err)
            return
        for entry in result.get("leases", []):
            if entry.get("ok"):
                continue
            trial = by_key.get((entry.get("study"), entry.get("trial")))
            if trial is None:
                continue
            code = entry.get("code")
            message = str(entry.get("message", ""))
            if code == "LEASE_LOST":
                trial._mark_lost(LeaseLostError(message, {"study": trial.study.name, "trial": trial.number}))
                log.warning("trial %d of '%s' lost its lease: %s", trial.number, trial.study.name, message)
            else:
                # NOT_FOUND / FAILED_PRECONDITION: finished or deleted elsewhere; stop renewing it.
                self._client._forget(trial)


def connect(
    endpoint: str,
    *,
    timeout: float = 10.0,
    retries: int = 3,
    heartbeat: bool = True,
    heartbeat_interval_s: float | None = None,
    client_info: Mapping[str, Any] | None = None,
    curve: CurveKeys | None = None,
) -> Client:
    """Connects to a server and runs the ``hello`` handshake (protocol version negotiation).
    With ``curve`` (see ``CurveKeys.from_files``) every socket, the heartbeat's too, encrypts
    and authenticates with CURVE; a server that refuses the key is indistinguishable from a
    silent one, so that shows as a TimeoutError mentioning the keys.
    @raises TimeoutError when the server does not answer, UnsupportedVersionError."""
    return Client(
        endpoint,
        timeout=timeout,
        retries=retries,
        heartbeat=heartbeat,
        heartbeat_interval_s=heartbeat_interval_s,
        client_info=client_info,
        curve=curve,
    )


__all__ = ["Client", "connect"]
