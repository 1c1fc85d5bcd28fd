"""Waiting out ``UNAVAILABLE`` replies: the same request (the same id) is sent again after a pause.

The server says why it cannot take a request now in ``data.reason`` and, for some reasons, how soon
to ask again (``retry_after_ms``, or ``retry_after_s`` for a study changing hands; protocol/PROTOCOL.md,
"Errors"). Every pause lasts at least that hint. Most reasons (a server over its memory ceiling, too
many requests in flight, one stopping) are resent ``retries`` times with backoff; a full disk
(``reason: "storage_full"``, docs/DURABILITY.md) is an outage the server rides out by itself once
space is freed, so it is waited out like a lost connection: up to the client's ``outage_budget_s``
(30 s by default), counted from the first refusal of a request in the outage (a refused heartbeat
announces it but starts no clock), with one warning per outage; the server's ``full_since`` tells
one outage from the next.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from ._errors import UnavailableError

log = logging.getLogger("tuneport")

#: A server's retry hint is honoured up to this long (seconds): a larger one is taken as this.
MAX_HINT_S = 60.0

#: Refusals for a full disk less than this far apart (seconds) are one outage: one warning, one
#: budget. The server hints 1 s and a waiting request asks again at least every 2 s; heartbeats
#: come further apart (10 s by default), so twice their period counts too (``refused``'s ``every_s``).
OUTAGE_GAP_S = 10.0


def retry_hint_s(data: Mapping[str, Any] | None) -> float:
    """The server's "ask again after" hint of an ``UNAVAILABLE`` reply's ``data`` in seconds
    (``retry_after_ms`` or ``retry_after_s``; at most MAX_HINT_S), 0 when it gives none."""
    if not isinstance(data, Mapping):
        return 0.0
    for key, scale in (("retry_after_ms", 0.001), ("retry_after_s", 1.0)):
        hint = data.get(key)
        if isinstance(hint, (int, float)) and not isinstance(hint, bool) and math.isfinite(hint) and hint > 0:
            return min(float(hint) * scale, MAX_HINT_S)
    return 0.0


class StorageOutage:
    """A client's view of its server's full disk (``storage_full`` refusals), shared by its
    threads: whether it was announced (one warning per outage, not per resend or heartbeat), and
    when the first request refused in it began waiting (the clock every request waits against).
    Thread-safe.

    An outage is told from the next by the server's ``full_since`` (when it found its storage full;
    the same value in every refusal of one outage from one server process, a later one in the next;
    several servers on one PostgreSQL each send their own for the same outage, and a restarted one
    a new one: only a later value is a new outage), and by servers that do not send it by the time
    between refusals (OUTAGE_GAP_S). A reply ends it (``answered``), unless a refusal within
    OUTAGE_GAP_S names it again (the same ``full_since``). Before, a new outage that began
    within OUTAGE_GAP_S of one a request had given up on (no reply in between) was taken for the same
    one, and its first request gave up at its first refusal, the old outage's clock spent."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._since: float | None = None
        """When this client first met the outage (monotonic; None: no outage), heartbeats included."""
        self._clock: float | None = None
        """When a request (not a heartbeat) was first refused in this outage: the outage budget's start."""
        self._server_since: Any = None
        """The outage's ``full_since`` (the server's), when it sends one."""
        self._last = 0.0
        self._every = 0.0

    def refused(self, op: str, budget_s: float, every_s: float = 0.0, *, full_since: Any = None, waits: bool = True) -> float | None:
        """Notes a ``storage_full`` refusal of ``op``; returns when the outage budget's clock started
        (monotonic: the first refusal in this outage of a request that waits, ``waits``), None while
        none did. ``full_since``: the refusal's ``data.full_since``. ``every_s``: how often the caller
        asks again (the heartbeat's period): without ``full_since``, refusals up to twice the longest
        such period apart are the same outage. Heartbeats 10 s apart (the defaults), the only requests
        of a worker in a long training step, were each taken for a new outage: a warning every
        heartbeat and the outage clock started again. A heartbeat (``waits=False``) announces the
        outage but starts no clock: it waits nothing out, and a request that came after a few refused
        heartbeats was left that much less than ``outage_budget_s``."""
        now = time.monotonic()
        known = isinstance(full_since, (int, float)) and not isinstance(full_since, bool)
        with self._lock:
            self._every = max(self._every, every_s)
            gap = max(OUTAGE_GAP_S, 2 * self._every)
            if known and self._server_since is not None:
                # Only a later one is a new outage: two servers' (a failover) taking turns would each
                # start the clock again, and a request going back and forth never gave up. After a
                # reply (``answered``) the same value is still this outage while its refusals keep
                # coming (within the gap): a server that refuses one kind of request and answers the
                # rest (a new study's ownership claim on a full PostgreSQL, heartbeats and reads
                # answered) ended it at each heartbeat, and that create_study never gave up.
                same = full_since <= self._server_since and (self._since is not None or now - self._last <= gap)
            else:
                same = self._since is not None and now - self._last <= gap
            fresh = not same
            if fresh:
                self._clock = None
                self._server_since = None
            if fresh or self._since is None:
                self._since = now
            if known and (self._server_since is None or full_since > self._server_since):
                self._server_since = full_since
            if waits and self._clock is None:
                self._clock = now
            self._last = now
            began = self._clock
        if fresh:
            log.warning(
                "the tuneport server's disk is full (UNAVAILABLE storage_full, %s): waiting up to %gs "
                "(outage_budget_s) for space to be freed, resending with the same request ids",
                op,
                budget_s,
            )
        return began

    def answered(self) -> None:
        """A change or a read was answered: the disk has room again (if it was full), for that
        request at least. The outage's clock and ``full_since`` are kept for a refusal that names the
        same outage soon after (``refused``); without ``full_since`` (older servers) a reply ends it."""
        if self._since is None:
            return
        with self._lock:
            since, self._since = self._since, None
            if self._server_since is None:
                self._clock = None
        if since is not None:
            log.info("the tuneport server's disk has room again after %.1fs: requests go on", time.monotonic() - since)


def backing_off_unavailable(
    send: Callable[[], Any],
    retries: int,
    op: str,
    *,
    storage_s: float,
    outage: StorageOutage | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """``send()`` again (the same request id) while the server answers UNAVAILABLE, waiting 0.1 s,
    then twice as long, up to 2 s, and at least the reply's retry hint each time. A full disk
    (``storage_full``) is resent until it has lasted ``storage_s`` seconds (from its first refusal:
    ``outage``'s, shared by the client's threads, else this request's); any other reason at most
    ``retries`` more times. ``sleep`` waits between sends (a channel's, which a close ends).
    @raises UnavailableError with the last reply's ``data`` (its reason)."""
    delay = 0.1
    resent = 0
    began: float | None = None
    while True:
        try:
            result = send()
        except UnavailableError as err:
            pause = max(delay, retry_hint_s(err.data))
            delay = min(delay * 2, 2.0)
            if err.reason == "storage_full":
                now = time.monotonic()
                if outage is not None:
                    began = outage.refused(op, storage_s, full_since=(err.data or {}).get("full_since"))
                if began is None:
                    began = now
                if now - began + pause > storage_s:
                    raise UnavailableError(
                        f"{err.message} (the server's disk has been full for {now - began:.1f}s; "
                        f"{op} waited up to outage_budget_s={storage_s:g}s, resending with the same request id)",
                        err.data,
                    ) from err
                log.info("%s answered UNAVAILABLE (storage_full); resending in %gs", op, pause)
            else:
                if resent >= retries:
                    raise
                resent += 1
                log.info("%s answered UNAVAILABLE (%s); retrying in %gs", op, err.message, pause)
            sleep(pause)
            continue
        if outage is not None and op != "hello":
            outage.answered()  # a change or a read was answered: the disk has room (hello reads nothing)
        return result
