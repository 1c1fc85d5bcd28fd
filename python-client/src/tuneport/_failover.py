"""Several servers: failover between endpoints and the redirect to a study's owner.

Servers that share one PostgreSQL database each own some studies (docs/SCALING.md). A request
for a study that another server owns is answered ``UNAVAILABLE`` with
``data = {"reason": "moved", "endpoint": ...}``: the client resends the *same* request (same id, so
nothing happens twice) to that endpoint. A server that stays silent for a whole attempt is
*suspect* for a while: the client moves on to the next endpoint it knows, and a redirect that
points at a suspect server (its owner just died, and no one has taken the study over yet) is
retried after a short back-off until a live server takes the study over or the failover window
ends.

``Endpoints`` is the shared state (the endpoints, the current one, the suspects); a
``FailoverChannel`` sends requests over it with the same interface as ``Channel``. While a client
knows one endpoint only, a request is exactly one ``Channel`` request (its Lazy Pirate retries and
its outage budget for a restarting server); failover starts once a second endpoint is known.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

import zmq

from ._errors import ClientClosedError, TimeoutError
from ._protocol import CLOSED_LOOK_S, DEFAULT_OUTAGE_BUDGET_S, GAVE_UP_GRACE_S, Channel, CurveKeys, check_endpoint, encode

log = logging.getLogger("tuneport")

#: Redirects followed in a row before a request waits (a stale owner row can point in a circle).
MAX_HOPS = 8

#: How often a request waiting its turn on a channel looks whether the server was given up on meanwhile.
TURN_POLL_S = 0.05

#: With several endpoints, how long a request's first look at one it has no connection to waits for
#: one (each pass over the endpoints doubles it, up to the request's timeout): the request moves on
#: to the next endpoint and cycles over them until one connects or the outage budget is spent.
PROBE_S = 0.25


def _unreachable(err: TimeoutError) -> bool:
    """True when ``Channel.request`` gave up for want of a connection (``Channel._unreachable_error``),
    not for a connected server's silence."""
    return isinstance(err.data, Mapping) and "unreachable_s" in err.data


class Endpoints:
    """The servers a client knows, the one it talks to now, and those that were silent lately.
    Thread-safe; shared by a client's request channel and its heartbeat thread."""

    def __init__(self, endpoints: str | Sequence[str], *, suspect_s: float = 10.0) -> None:
        listed = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        if not listed or not all(isinstance(e, str) and e for e in listed):
            raise ValueError("endpoints must be a non-empty endpoint string or list of them")
        listed = [check_endpoint(e) for e in listed]
        self._all: list[str] = list(dict.fromkeys(listed))
        self._current = self._all[0]
        self._suspect: dict[str, float] = {}
        self._given_up: dict[str, float] = {}
        """Endpoints a request of this client waited a whole outage budget for, on any of its
        channels, with no reply from them since, and when a request last gave up on each: the next
        request on any channel looks once more (GAVE_UP_GRACE_S) instead of waiting a budget again,
        and one made before that moment (it waited its turn meanwhile) fails at once."""
        self._all_silent_at = -math.inf
        """When a request of this client last found every endpoint silent (several endpoints:
        ``FailoverChannel.request`` gave up), with no reply from any since: a request made before
        that moment (it waited its turn meanwhile) fails at once, and one made after tries each
        endpoint once more instead of its whole ``retries``."""
        self._lock = threading.Lock()
        self.suspect_s = suspect_s

    @property
    def all(self) -> list[str]:
        """Every endpoint known: those given, then those learnt from redirects."""
        with self._lock:
            return list(self._all)

    @property
    def current(self) -> str:
        with self._lock:
            return self._current

    def is_suspect(self, endpoint: str) -> bool:
        with self._lock:
            return self._suspect.get(endpoint, 0.0) > time.monotonic()

    def pick(self, looked: Set[str] = frozenset()) -> str:
        """The current endpoint unless it is suspect; else the next one that is not (or, when all
        are, the one whose suspicion ends first). ``looked``: those a request found unreachable (a
        short look each, ``FailoverChannel.request``); when the pick is one of them, a suspect one
        not among them comes first (it is made current). Skipped until its suspicion ended
        (suspect_s), the others were looked at again and again meanwhile, with every server gone: a
        2 s outage budget was 90 s of looks at a gone server. Only a suspect one: a live server that
        redirects to an unreachable owner (not in ``looked``) is no reason to stop looking at it."""
        with self._lock:
            now = time.monotonic()
            picked = self._pick(now)
            if picked in looked:
                unseen = [e for e in self._all if e not in looked and self._suspect.get(e, 0.0) > now]
                if unseen:
                    self._current = picked = unseen[0]
            return picked

    def _pick(self, now: float) -> str:
        """``pick`` without ``looked``, the lock held."""
        if self._suspect.get(self._current, 0.0) <= now:
            return self._current
        start = self._all.index(self._current) if self._current in self._all else 0
        ring = self._all[start + 1 :] + self._all[: start + 1]
        fresh = [e for e in ring if self._suspect.get(e, 0.0) <= now]
        self._current = fresh[0] if fresh else min(ring, key=lambda e: self._suspect.get(e, 0.0))
        return self._current

    def moved(self, endpoint: str) -> None:
        """A server said the study lives at ``endpoint``: talk to it from now on."""
        with self._lock:
            if endpoint not in self._all:
                self._all.append(endpoint)
            self._current = endpoint

    def silent(self, endpoint: str) -> None:
        """``endpoint`` did not answer a whole attempt: avoid it for ``suspect_s`` seconds."""
        with self._lock:
            self._suspect[endpoint] = time.monotonic() + self.suspect_s

    def answered(self, endpoint: str) -> None:
        with self._lock:
            self._suspect.pop(endpoint, None)
            self._all_silent_at = -math.inf

    def all_silent(self) -> None:
        """A request gave up on every endpoint (see ``_all_silent_at``)."""
        with self._lock:
            self._all_silent_at = time.monotonic()

    def all_silent_after(self, since: float) -> bool:
        """True when a request gave up on every endpoint after ``since`` (monotonic; -inf: ever), with no reply since."""
        with self._lock:
            return self._all_silent_at > since

    def given_up(self, endpoint: str) -> bool:
        return endpoint in self._given_up

    def given_up_after(self, endpoint: str, since: float) -> bool:
        """True when a request gave up on ``endpoint`` after ``since`` (monotonic), with no reply since."""
        with self._lock:
            return self._given_up.get(endpoint, -math.inf) > since

    def give_up(self, endpoint: str, gave_up: bool) -> None:
        """A request to ``endpoint`` waited out its outage budget, or its look once more (True), or
        got a reply (False)."""
        if gave_up or endpoint in self._given_up:
            with self._lock:
                if gave_up:
                    self._given_up[endpoint] = time.monotonic()
                else:
                    self._given_up.pop(endpoint, None)

    def rotate(self) -> None:
        """Moves on to the next endpoint (a server said it is busy or stopping)."""
        with self._lock:
            if len(self._all) > 1 and self._current in self._all:
                self._current = self._all[(self._all.index(self._current) + 1) % len(self._all)]


def redirect_of(reply: Any) -> Mapping[str, Any] | None:
    """The ``data`` of an ``UNAVAILABLE``/``moved`` reply, else None."""
    if not isinstance(reply, dict) or reply.get("ok") is not False:
        return None
    error = reply.get("error")
    if not isinstance(error, dict) or error.get("code") != "UNAVAILABLE":
        return None
    data = error.get("data")
    return data if isinstance(data, dict) and data.get("reason") == "moved" else None


def _pause(moved: Mapping[str, Any], delay: float) -> float:
    """How long to wait before asking again for a study with no live owner: the back-off ``delay``,
    or the server's ``retry_after_s`` hint when longer (at most 2 s)."""
    hint = moved.get("retry_after_s")
    if isinstance(hint, (int, float)) and not isinstance(hint, bool) and math.isfinite(hint) and hint > delay:
        return min(float(hint), 2.0)
    return delay


def _log_changing_hands(message: Mapping[str, Any], moved: Mapping[str, Any], pause: float, told: bool) -> None:
    """Says (once a request, at INFO) that the study has no live owner and the request is asked again."""
    if not told:
        log.info("study %r has no live owner now (changing hands); asking again in %gs (%s)", moved.get("study"), pause, message.get("op"))


def _code(reply: Any) -> str | None:
    """The error code of an error reply, else None."""
    if not isinstance(reply, dict) or reply.get("ok") is not False:
        return None
    error = reply.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


class FailoverChannel:
    """Requests over several endpoints (see the module docstring), one at a time. ``timeout`` is per
    attempt; ``retries`` is the number of silent attempts tolerated (across endpoints) before
    TimeoutError; ``failover_s`` bounds the time spent waiting for a study to be taken over."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoints: Endpoints,
        *,
        timeout: float,
        retries: int,
        curve: CurveKeys | None = None,
        failover_s: float | None = None,
        outage_budget_s: float = DEFAULT_OUTAGE_BUDGET_S,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self._context = context
        self.endpoints = endpoints
        self.timeout = timeout
        self.retries = retries
        self.failover_s = timeout * (1 + retries) if failover_s is None else failover_s
        self._curve = curve
        self.outage_budget_s = outage_budget_s
        self._channels: dict[str, Channel] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._handoff = threading.RLock()
        """Taken by ``close`` and by a request as it lets go of ``_lock`` (re-entrant: a signal handler's ``close()``
        runs on the thread that holds it there): the one closes the sockets, or leaves them (and ``_when_closed``) to the request under way."""
        self._when_closed: Callable[[], None] | None = None
        """``close``'s callback, when a request under way closes the sockets: called once they are."""
        self._stop_at: float | None = None  # ``stop_at``'s (close's deadline)

    def _channel(self, endpoint: str, timeout: float) -> Channel:
        ch = self._channels.get(endpoint)
        if ch is None:
            ch = self._channels[endpoint] = Channel(
                self._context, endpoint, timeout=timeout, retries=0, curve=self._curve, outage_budget_s=self.outage_budget_s
            )
            ch.stop_at(self._stop_at)
            if self._closed and self._stop_at is None:
                ch.stop()  # made just after ``close`` stopped the others
        return ch

    def request(
        self,
        message: Mapping[str, Any],
        *,
        timeout: float | None = None,
        retries: int | None = None,
        outage_budget_s: float | None = None,
        payload: bytes | None = None,
        handshake_wait: float | None = None,
        failover_s: float | None = None,
        turn_s: float | None = None,
    ) -> Any:
        """Sends ``message`` (encoded once: ``payload`` when given; the same bytes, the same id, each time) until a server that serves its
        study answers. Returns the reply map; an ``UNAVAILABLE`` reply comes back only when the
        failover window ended (``failover_s``, the channel's by default: a hurried request's is its budget). @raises TimeoutError after ``1 + retries`` silent attempts (with one
        endpoint: as ``Channel.request``, outage budget and ``handshake_wait`` included; with several,
        a silent attempt is one of ``timeout`` on a connected server, those without a connection are
        short looks (PROBE_S, doubling each pass) that share ``outage_budget_s``, and ``handshake_wait``
        (``connect``'s hello) cycles over them within the outage budget: ``_first_contact``); at
        once, with ``data["dropped"]``, when a server closed the connection on the request each time
        it was resent (``Channel._dropped_error``). ``turn_s`` (a hurried last word): @raises
        TimeoutError, nothing sent, when another request still holds the channel after that long."""
        wait = self.timeout if timeout is None else timeout
        window = self.failover_s if failover_s is None else failover_s
        silences_allowed = self.retries if retries is None else retries
        if payload is None:
            payload = encode(message)
        made = time.monotonic()  # before its turn: the threads of optimize(n_jobs) share this channel
        self._take_turn(message, made, handshake_wait is None, turn_s)
        try:
            if self._closed:
                raise ClientClosedError("the client is closed")  # its turn came after close: not sent
            if handshake_wait is not None and len(self.endpoints.all) > 1:
                return self._first_contact(message, wait, self.outage_budget_s if outage_budget_s is None else outage_budget_s, payload)
            started = time.monotonic()
            silences = hops = 0
            # Several endpoints share one outage budget: while none can be reached, each is looked at
            # in turn for a short while (PROBE_S, doubling each pass), until one connects or the
            # budget is spent. Each look used to wait the whole timeout (or the budget, when shorter),
            # 1 + retries looks whatever the budget: with every server gone, 4 x 2 s for a 2 s budget.
            budget = self.outage_budget_s if outage_budget_s is None else outage_budget_s
            grace = False
            whole_budget = budget >= self.outage_budget_s  # not a heartbeat's short look, nor a hurried last word
            if len(self.endpoints.all) > 1 and handshake_wait is None and self.endpoints.all_silent_after(-math.inf):
                # Every server was found silent and none answered since: each is looked at once more.
                silences_allowed = min(silences_allowed, len(self.endpoints.all) - 1)
                grace = budget > GAVE_UP_GRACE_S
                budget = min(budget, GAVE_UP_GRACE_S)
            probe = min(wait, PROBE_S)
            looked: set[str] = set()
            looks = 0
            unreachable_since: float | None = None
            delay = 0.05
            told = False  # logged that the study has no live owner (once a request)
            while True:
                if self._stopped():
                    raise ClientClosedError("the client is closed")
                endpoint = self.endpoints.pick(looked)
                if len(self.endpoints.all) == 1:
                    # One server known: its channel's own retries and outage budget, unchanged, but
                    # shared with the client's other channel: after the background thread's report
                    # waited the budget out, the with-block's tell waited a second budget.
                    channel = self._channel(endpoint, wait)
                    given_up = self.endpoints.given_up(endpoint)
                    if channel.gave_up and not given_up:
                        # The server answered the other channel since this one gave up on it: a new
                        # outage. Counting itself given up still, a restart shorter than the budget
                        # failed this channel's request in a second, and marked the server given up
                        # for the other channel too.
                        channel.end_grace()
                    one_budget = outage_budget_s
                    if handshake_wait is None and given_up:
                        one_budget = min(self.outage_budget_s if one_budget is None else one_budget, GAVE_UP_GRACE_S)
                    try:
                        reply = channel.request(
                            message,
                            timeout=wait,
                            retries=silences_allowed,
                            outage_budget_s=one_budget,
                            payload=payload,
                            handshake_wait=handshake_wait,
                        )
                    except TimeoutError:
                        if channel.gave_up:
                            self.endpoints.give_up(endpoint, True)
                        raise
                    self.endpoints.give_up(endpoint, False)
                    moved = redirect_of(reply)
                    target = moved.get("endpoint") if moved is not None else None
                    if isinstance(target, str) and target and target != endpoint and hops < MAX_HOPS:
                        self.endpoints.moved(target)
                        hops += 1
                        continue
                    if moved is not None and target == "":
                        # No live owner (a takeover in progress, an import writing it): ask here again
                        # within the failover window. Returned at once, the caller's 3 quick retries
                        # (0.7 s) gave up long before the old owner's commit ended.
                        pause = _pause(moved, delay)
                        if time.monotonic() - started + pause <= window:
                            _log_changing_hands(message, moved, pause, told)
                            told = True
                            self.sleep(pause)
                            delay = min(delay * 2, 1.0)
                            continue
                    return reply
                tried_at = time.monotonic()
                # At most what is left of the budget, but a short look at least (every endpoint gets one).
                left = budget - (tried_at - unreachable_since) if unreachable_since is not None else budget
                look = min(probe, max(left, PROBE_S))
                try:
                    reply = self._channel(endpoint, wait).request(message, timeout=wait, retries=0, outage_budget_s=look, payload=payload)
                except TimeoutError as err:  # silent for a whole attempt, or no connection within the look
                    if isinstance(err.data, Mapping) and "dropped" in err.data:
                        # The server closed the connection on this request each time, alive: another would
                        # redirect it back or drop it too. As is, for the client's _relearn (data.dropped).
                        raise
                    if not _unreachable(err) or look >= wait:
                        self.endpoints.silent(endpoint)
                    else:
                        # On to the next, not suspect for suspect_s after a short look: a redirect's
                        # owner whose first connection takes longer (a slow link) is looked at again.
                        self.endpoints.rotate()
                    if _unreachable(err):
                        if unreachable_since is None:
                            unreachable_since = tried_at
                        looked.add(endpoint)
                        looks += 1
                        if looks % len(self.endpoints.all) == 0:
                            probe = min(wait, probe * 2)  # each pass looks longer: a slow link's handshake
                        if len(looked) >= len(self.endpoints.all) and time.monotonic() - unreachable_since >= budget:
                            if whole_budget:
                                self.endpoints.all_silent()
                            raise self._unreachable_error(message, budget, grace)
                        continue
                    silences += 1
                    if silences > silences_allowed:
                        if silences >= len(self.endpoints.all):
                            self.endpoints.all_silent()  # not a heartbeat's short look at one of them
                        tried = ", ".join(self.endpoints.all)
                        hint = " (CURVE keys not accepted by the server?)" if self._curve is not None else ""
                        raise TimeoutError(
                            f"no reply to {message.get('op')!r} from {tried} after {silences} attempt(s) of {wait:g}s{hint}",
                            {"op": message.get("op"), "id": message.get("id"), "attempts": silences},
                        ) from err
                    continue
                self.endpoints.answered(endpoint)
                moved = redirect_of(reply)
                if moved is None:
                    if isinstance(reply, dict) and reply.get("ok") is False and (reply.get("error") or {}).get("code") == "UNAVAILABLE":
                        self.endpoints.rotate()  # busy or stopping: the caller's next try goes elsewhere
                    return reply
                target = moved.get("endpoint")
                if isinstance(target, str) and target and target != endpoint and not self.endpoints.is_suspect(target) and hops < MAX_HOPS:
                    self.endpoints.moved(target)
                    hops += 1
                    continue
                # The owner is silent (dying) or unknown: a live server takes the study over once its
                # ownership lease runs out. Wait for that, within the failover window.
                pause = _pause(moved, delay)
                if time.monotonic() - started + pause > window:
                    return reply
                if target == "":
                    _log_changing_hands(message, moved, pause, told)
                    told = True
                self.sleep(pause)
                delay = min(delay * 2, 1.0)
                hops = 0
        finally:
            self._let_go()

    def _stopped(self) -> bool:
        """A request under way ends: closed without a stop time, or its stop time (``stop_at``) came."""
        return self._closed if self._stop_at is None else time.monotonic() >= self._stop_at

    def sleep(self, seconds: float) -> None:
        """A backoff between a request's sends, ending at the stop time. @raises ClientClosedError once stopped."""
        until = time.monotonic() + seconds
        while not self._stopped():
            now = time.monotonic()
            if now >= until:
                return
            time.sleep(max(0.0, min(until - now, CLOSED_LOOK_S, math.inf if self._stop_at is None else self._stop_at - now)))
        raise ClientClosedError("the client was closed while this request waited to be sent again")

    def stop_at(self, at: float | None) -> None:
        """Requests under way raise ClientClosedError at ``at`` (close's deadline); None takes it back."""
        with self._handoff:
            self._stop_at = at
            for ch in list(self._channels.values()):
                ch.stop_at(at)

    def _let_go(self) -> None:
        """Ends a request's turn (``_lock``); once closed, closes the sockets and tells ``close``'s callback."""
        thens: list[Callable[[], None]] = []
        with self._handoff:
            self._lock.release()  # first: interrupted later (Ctrl-C), no call waits its turn for ever
            # The turn is taken again for what a close() left to it: a signal handler's close() landing
            # here finds the turn free, or leaves its callback to the loop (kept when interrupted).
            while self._closed and (self._channels or self._when_closed is not None) and self._lock.acquire(blocking=False):
                try:
                    self._close_sockets()
                    then, self._when_closed = self._when_closed, None
                    thens.extend([then] if then is not None else [])
                finally:
                    self._lock.release()
        for then in thens:
            then()

    def _unreachable_error(self, message: Mapping[str, Any], budget: float, grace: bool) -> TimeoutError:
        """No endpoint could be reached within ``budget`` (``grace``: a look once more, every one having been found unreachable)."""
        endpoints = self.endpoints.all
        knob = " (they were already unreachable)" if grace else " (outage_budget_s)" if budget == self.outage_budget_s else ""
        return TimeoutError(
            f"no connection to any tuneport server of {', '.join(endpoints)} within {budget:g}s{knob}, each looked at in turn; "
            f"{message.get('op')!r} was not answered. Are the servers still running?",
            {"op": message.get("op"), "id": message.get("id"), "endpoints": endpoints, "outage_budget_s": budget},
        )

    def _take_turn(self, message: Mapping[str, Any], made: float, shared: bool, turn_s: float | None = None) -> None:
        """Takes this channel's lock: one request at a time (the threads of ``optimize(n_jobs)``
        share the client's). ``shared``: @raises TimeoutError at once, with the lock not taken, when
        the only server was given up on since the request was ``made`` (another request waited the
        outage out, or looked once more, in vain, while this one waited its turn): that was its
        outage too. Each such request looked once more in turn (GAVE_UP_GRACE_S), and with it the
        FAIL tell of each thread behind it: n_jobs=4 gave up 7 s after the outage budget. With
        several endpoints, likewise once a request found every one silent (``Endpoints.all_silent``).
        ``turn_s``: @raises TimeoutError, the lock not taken, once the request waited that long for
        its turn. A trial's FAIL after Ctrl-C (``hurry``, 1 s) waited behind another thread's request
        for as long as that one waited out an outage (21.8 s with a 20 s outage budget), not the
        second it is given (tests/test_hurried_turn.py)."""
        given_up = None if turn_s is None else made + turn_s
        while not self._lock.acquire(timeout=TURN_POLL_S):
            if shared:
                self._check_given_up_since(message, made)
            if given_up is not None and time.monotonic() >= given_up:
                op = message.get("op")
                raise TimeoutError(
                    f"{op!r} was not sent: another request of this client held the connection for the {turn_s:g}s "
                    f"{op!r} could wait (a last word after Ctrl-C)",
                    {"op": op, "id": message.get("id")},
                )
        if shared:
            try:
                self._check_given_up_since(message, made)
            except BaseException:
                self._let_go()
                raise

    def _check_given_up_since(self, message: Mapping[str, Any], made: float) -> None:
        endpoints = self.endpoints.all
        if len(endpoints) > 1 and self.endpoints.all_silent_after(made):
            # Several servers: each request that waited its turn through the outage went on to wait
            # its own (1 + retries) attempts, one thread after another.
            op = message.get("op")
            raise TimeoutError(
                f"no tuneport server of {', '.join(endpoints)} answered: another request of this client tried each in vain "
                f"while {op!r} waited its turn; {op!r} was not sent. Are the servers still running?",
                {"op": op, "id": message.get("id"), "endpoints": endpoints},
            )
        if len(endpoints) == 1 and self.endpoints.given_up_after(endpoints[0], made):
            op = message.get("op")
            raise TimeoutError(
                f"the tuneport server at {endpoints[0]} is unreachable: another request of this client waited for it in vain "
                f"while {op!r} waited its turn (outage_budget_s {self.outage_budget_s:g}s); {op!r} was not sent. "
                "Is the server still running?",
                {"op": op, "id": message.get("id"), "endpoint": endpoints[0]},
            )

    def _first_contact(self, message: Mapping[str, Any], wait: float, budget: float, payload: bytes) -> Any:
        """``connect``'s hello to several endpoints (under the lock): tries each in turn, from the
        current one, for ``wait`` (a server not up yet, one that accepts and never completes the
        ZeroMQ handshake, one that does not answer), and cycles over them until one answers or
        ``budget`` (the outage budget) is spent, every endpoint tried once at least; servers
        sharing a database may start in any order, and after them their workers. Returns the
        reply (an ``UNAVAILABLE`` one too: the next call starts at the next endpoint).
        @raises TimeoutError naming every endpoint and why each failed last; UnauthenticatedError."""
        ring = self.endpoints.all
        first = ring.index(self.endpoints.current) if self.endpoints.current in ring else 0
        started = time.monotonic()
        failures: dict[str, str] = {}
        told = False
        tries = 0
        while True:
            if self._closed:
                raise ClientClosedError("the client is closed")
            endpoint = ring[(first + tries) % len(ring)]
            tries += 1
            try:
                reply = self._channel(endpoint, wait).request(
                    message, timeout=wait, retries=0, outage_budget_s=wait, payload=payload, handshake_wait=wait
                )
            except TimeoutError as err:
                # A fresh channel next time: a spent one gives its next request a last look only.
                self._channels.pop(endpoint).close()
                self.endpoints.silent(endpoint)
                failures[endpoint] = err.message
                elapsed = time.monotonic() - started
                if tries >= len(ring) and elapsed >= budget:
                    detail = "; ".join(f"{e}: {m}" for e, m in failures.items())
                    raise TimeoutError(
                        f"no tuneport server answered 'hello' at any of {', '.join(ring)} within {elapsed:.3g}s "
                        f"(outage_budget_s {budget:g}s, connect_timeout {wait:g}s each): is one running there? ({detail})",
                        {"op": message.get("op"), "id": message.get("id"), "endpoints": ring, "errors": failures},
                    ) from err
                if tries == len(ring) and not told:
                    told = True
                    log.warning(
                        "no connection to %s yet; waiting %s for a tuneport server at one of them (outage_budget_s)",
                        ", ".join(ring),
                        "forever" if math.isinf(budget) else f"up to {budget:g}s",
                    )
                continue
            self.endpoints.moved(endpoint)
            self.endpoints.answered(endpoint)
            if _code(reply) == "UNAVAILABLE":
                self.endpoints.rotate()  # busy or stopping: the caller's next try goes elsewhere
            return reply

    def close(self, when_closed: Callable[[], None] | None = None) -> bool:
        """Closes every socket (LINGER 0); later requests raise ClientClosedError. A request under way
        in another thread (waiting out an outage, or for a silent server) is not waited for: at the
        stop time (``stop_at``, close's deadline; without one, at its next look at its socket) it raises
        ClientClosedError, closes the sockets as it ends, then calls ``when_closed``; False then. True
        when the sockets are closed on return (``when_closed`` is not called)."""
        with self._handoff:
            self._closed = True
            if not self._lock.acquire(blocking=False):
                self._when_closed = when_closed
                if self._stop_at is None:
                    for ch in list(self._channels.values()):
                        ch.stop()
                return False
            try:
                self._close_sockets()
            finally:
                self._lock.release()
            return True

    def _close_sockets(self) -> None:
        """With ``_lock`` held (no request uses them)."""
        for ch in self._channels.values():
            ch.close()
        self._channels.clear()


__all__ = ["Endpoints", "FailoverChannel", "redirect_of"]
