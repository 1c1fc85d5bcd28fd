"""``client.close()`` waits ``timeout`` seconds in all, not ``timeout`` for each thing it waits for.

close() first waits for a call under way in another thread on a trial whose non-blocking reports
were put aside behind it (to queue them once it ends), then for the queued reports to be sent, then
for the background thread to exit. Each wait had the whole ``timeout``: with a call that does not
end and a report the thread does not get to, close took ``2 x timeout`` (and up to ``timeout + 1``
more for the thread). Now the three share one deadline.

The waits are not timed: the test records the timeouts close() passes to the lock of the trial's
turn, to the queue's condition and to the thread's join, and checks that they add up to no more
than ``timeout`` (plus the thread's exit grace). The call under way is held by ``TurnHeld``; the
background thread sleeps in its polling wait (REPORT_POLL_S raised to 60 s), so the queued report
is still unsent when close() comes to it. Real ``tuneport serve``."""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, TurnHeld, background_asleep
from tuneport import _background, _client

TIMEOUT_S = 1.0


class _Recorded:
    """Wraps a lock or condition: the timeouts that ``closer`` passes to its waits are appended to ``waits``."""

    def __init__(self, inner: Any, closer: threading.Thread, waits: list[tuple[str, float]], bound: float = math.inf) -> None:
        self._inner, self._closer, self._waits, self._bound = inner, closer, waits, bound

    def _note(self, what: str, timeout: float | None) -> None:
        if threading.current_thread() is self._closer:
            self._waits.append((what, math.inf if timeout is None or timeout < 0 else float(timeout)))
            # Past ``bound`` already: fail now, out of close(), rather than after the waits it goes on with.
            total = sum(t for _, t in self._waits)
            assert total <= self._bound, f"close() could wait {total:g}s: {self._waits}"

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if blocking:
            self._note("turn", timeout)
        return bool(self._inner.acquire(blocking, timeout))

    def wait(self, timeout: float | None = None) -> bool:
        self._note("queue", timeout)
        return bool(self._inner.wait(timeout))

    def wait_for(self, predicate: Any, timeout: float | None = None) -> bool:
        self._note("queue", timeout)
        return bool(self._inner.wait_for(predicate, timeout))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> Any:
        return self._inner.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)


def _record_join(thread: threading.Thread, waits: list[tuple[str, float]]) -> None:
    """The timeouts passed to ``thread.join`` are appended to ``waits``."""
    join = thread.join

    def recorded_join(timeout: float | None = None) -> None:
        waits.append(("thread", math.inf if timeout is None else timeout))
        join(timeout)

    thread.join = recorded_join  # type: ignore[method-assign]


def test_close_waits_for_the_call_under_way_and_the_queue_within_one_timeout(
    server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = tp.connect(server.endpoint, heartbeat=False, timeout=TIMEOUT_S, retries=0)
    held: TurnHeld | None = None
    try:
        trial = client.create_study(name).ask()
        background = background_asleep(trial, monkeypatch)
        thread = background._thread  # noqa: SLF001
        assert trial.report(1.0, 1, wait=False) is None  # queued; the polling thread does not see it before close
        held = TurnHeld(trial)  # a call under way in another thread, which close() waits for in vain
        assert trial.report(2.0, 2, wait=False) is None  # put aside behind it

        waits: list[tuple[str, float]] = []
        closer = threading.current_thread()
        trial._order = _Recorded(trial._order, closer, waits)  # type: ignore[assignment]  # noqa: SLF001
        background._cond = _Recorded(background._cond, closer, waits)  # type: ignore[assignment]  # noqa: SLF001
        _record_join(thread, waits)
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            client.close()
        kinds = [what for what, _ in waits]
        assert "turn" in kinds and "thread" in kinds, waits
        total = sum(timeout for _, timeout in waits)
        assert total <= TIMEOUT_S + _client.STOP_GRACE_S + 1e-6, (
            f"close(timeout={TIMEOUT_S:g}) could wait {total:g}s: {waits}"
        )
        # What it could not send in that time it names: the report put aside and the one still queued.
        warned = " ".join(r.getMessage() for r in caplog.records if "not sent" in r.getMessage())
        assert f"trial {trial.number} of '{name}'" in warned and "steps 2" in warned and "steps 1" in warned, warned
    finally:
        if held is not None:
            held.release()
        client.close()


def test_close_queueing_a_report_put_aside_into_a_full_queue_waits_for_room_within_its_timeout(
    server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """close() queues the reports put aside behind a call that has ended without queueing them (one
    Ctrl-C'd while it waited for room, or one whose turn close() took first). With the queue full (the
    server slow or away) it waited for room without end: until the report at the head had waited out
    an outage (the outage budget, past ``timeout``; for ever with ``outage_budget_s=math.inf``). Now
    until its deadline, and the report is dropped with a warning that names it.

    MAX_PENDING_REPORTS is 1 here, and the background thread sleeps in its poll: the queue stays full."""
    monkeypatch.setattr(_background, "MAX_PENDING_REPORTS", 1)
    client = tp.connect(server.endpoint, heartbeat=False, timeout=TIMEOUT_S, retries=0)
    try:
        trial = client.create_study(name).ask()
        background = background_asleep(trial, monkeypatch)
        thread = background._thread  # noqa: SLF001
        assert trial.report(1.0, 1, wait=False) is None  # queued: the queue is full
        held = TurnHeld(trial)
        assert trial.report(2.0, 2, wait=False) is None  # put aside behind the call under way
        held.release()  # which ends without queueing it
        assert trial._beside and held.error is None  # noqa: SLF001

        waits: list[tuple[str, float]] = []
        closer = threading.current_thread()
        bound = TIMEOUT_S + _client.STOP_GRACE_S + 1e-3
        background._cond = _Recorded(background._cond, closer, waits, bound)  # type: ignore[assignment]  # noqa: SLF001
        _record_join(thread, waits)
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            client.close()
        total = sum(timeout for _, timeout in waits)
        assert total <= bound, f"close(timeout={TIMEOUT_S:g}) could wait {total:g}s: {waits}"
        warned = " ".join(r.getMessage() for r in caplog.records if "not sent" in r.getMessage())
        assert f"trial {trial.number} of '{name}'" in warned and "steps 2" in warned and "steps 1" in warned, warned
    finally:
        client.close()
