"""``client.close()`` called where it used to misbehave: on the background thread itself, after a
Ctrl-C inside its wait, and after an outage dropped the reports queued behind the one that waited it
out.

1. From the background thread (a logging handler that one of its warnings runs), close waited for
   the thread to send the queue (itself: the whole timeout) and then ``join`` raised RuntimeError
   ("cannot join current thread"). Now it waits for nothing, and the thread stops and terminates
   the ZeroMQ context as it exits.
2. A KeyboardInterrupt inside close's wait (for the queue, or for a call under way that reports
   were put aside behind) left the thread running and the client open: the exit's close waited the
   whole timeout again. Now the interrupted close stops the thread
   and names what it leaves; the second close waits for nothing but the thread's exit grace and
   names nothing again.
3. Reports dropped behind one that waited out an outage were warned about as dropped, then named
   again in close's "not sent" warning (or, close first, counted again as dropped once the outage
   budget ran out). Now each is named once.

No sleeps: the Ctrl-C is raised by a wrapped condition, the background thread is held by a wrapped
``_send_report`` or a logging handler, and the tests wait with ``until``. Real ``tuneport serve``."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, TurnHeld, background_asleep, in_thread, until
from test_close_deadline import _Recorded
from tuneport import _client

TIMEOUT_S = 1.0


class _OnRecord(logging.Handler):
    """Runs ``action`` (once) on the first record of logger ``tuneport`` that contains ``text`` and
    is emitted by the background thread; what it raised is kept in ``errors``."""

    def __init__(self, text: str, action: Callable[[], object]) -> None:
        super().__init__(logging.WARNING)
        self.text, self.action = text, action
        self.errors: list[BaseException] = []
        self.done = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.done.is_set() or threading.current_thread().name != "tuneport-background" or self.text not in record.getMessage():
            return
        try:
            self.action()
        except BaseException as err:  # noqa: BLE001 - logging would swallow it
            self.errors.append(err)
        finally:
            self.done.set()


def _with_handler(handler: logging.Handler) -> Callable[[], None]:
    logger = logging.getLogger("tuneport")
    logger.addHandler(handler)
    return lambda: logger.removeHandler(handler)


def _warned(caplog: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if text in r.getMessage()]


def test_close_from_the_background_thread_neither_waits_for_itself_nor_raises(tmp_path: Path, name: str) -> None:
    srv = ServerProcess(tmp_path / "own.db").start()
    client = tp.connect(srv.endpoint, timeout=TIMEOUT_S, retries=0, outage_budget_s=TIMEOUT_S, heartbeat_interval_s=0.2)
    handler = _OnRecord("heartbeat failed", client.close)  # a user's handler that closes on trouble
    remove = _with_handler(handler)
    try:
        client.create_study(name).ask()  # an open trial: the thread renews its lease
        background = client._background  # noqa: SLF001
        assert background is not None
        srv.kill()  # the next heartbeat fails, and its warning runs the handler on the background thread
        until(handler.done.is_set, "the background thread ran the handler")
        assert handler.errors == []  # was RuntimeError: cannot join current thread
        assert client.closed
        until(lambda: not background._thread.is_alive(), "the background thread ended")  # noqa: SLF001
        until(lambda: client._context.closed, "the thread terminated the ZeroMQ context as it ended")  # noqa: SLF001
    finally:
        remove()
        client.close()
        srv.kill()


def test_close_from_the_background_thread_while_another_thread_closes_returns_at_once(
    server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A deadline that a loaded machine's answer to step 1 meets: the report in flight at close's
    # deadline is dropped (named "still in flight"), and it is not what this test is about.
    client = tp.connect(server.endpoint, heartbeat=False, timeout=10 * TIMEOUT_S, retries=0)
    send = _client._Background._send_report  # noqa: SLF001
    errors: list[BaseException] = []

    def closing_send(self: _client._Background, channel: Any, job: _client._PendingReport) -> None:
        if job.message.get("step") == 1:  # a callback on the thread that closes the client, as the main thread does
            try:
                client.close()
            except BaseException as err:  # noqa: BLE001
                errors.append(err)
        send(self, channel, job)

    try:
        trial = client.create_study(name).ask()
        background_asleep(trial, monkeypatch)  # step 1 below waits for close to wake the thread
        monkeypatch.setattr(_client._Background, "_send_report", closing_send)  # noqa: SLF001
        trial.report(1.0, 1, wait=False)
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            client.close()  # wakes the thread, which closes too while this close waits for it
        assert errors == []
        # It did not wait for this close (which waited for it, then named step 1 as still in flight).
        assert _warned(caplog, "not sent") == [] and _warned(caplog, "still in flight") == [], caplog.text
        with tp.connect(server.endpoint, heartbeat=False) as other:
            assert dict(other.load_study(name).trial(trial.number).intermediate_values) == {0: 0.5, 1: 1.0}
    finally:
        client.close()


class _Interrupting(_Recorded):
    """A recorded lock or condition (the queue's, a trial's turn) whose first wait of ``closer`` raises
    KeyboardInterrupt (Ctrl-C while close waits); every timeout ``closer`` passes is kept in ``waits``."""

    def __init__(self, inner: Any, closer: threading.Thread) -> None:
        self.waits: list[tuple[str, float]] = []
        super().__init__(inner, closer, self.waits)
        self.interrupted = False

    def _note(self, what: str, timeout: float | None) -> None:
        super()._note(what, timeout)
        if threading.current_thread() is self._closer and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt


def test_a_close_interrupted_in_its_wait_leaves_a_second_close_nothing_to_wait_for_or_send(
    server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    let_go = threading.Event()
    send = _client._Background._send_report  # noqa: SLF001

    def held_send(self: _client._Background, channel: Any, job: _client._PendingReport) -> None:
        if job.message.get("step") == 1:
            let_go.wait(60)  # a server slow to answer: the report of step 1 is in flight meanwhile
        send(self, channel, job)

    monkeypatch.setattr(_client._Background, "_send_report", held_send)  # noqa: SLF001
    client = tp.connect(server.endpoint, heartbeat=False, timeout=TIMEOUT_S, retries=0)
    try:
        trial = client.create_study(name).ask()
        background = client._background  # noqa: SLF001
        assert background is not None
        trial.report(1.0, 1, wait=False)
        until(lambda: in_thread(background._thread, "held_send") and background._sending is not None, "step 1 is in flight")  # noqa: SLF001
        trial.report(2.0, 2, wait=False)  # queued behind it
        cond = _Interrupting(background._cond, threading.current_thread())  # noqa: SLF001
        background._cond = cond  # type: ignore[assignment]  # noqa: SLF001
        joins: list[float] = []
        join = background._thread.join  # noqa: SLF001

        def recorded_join(timeout: float | None = None) -> None:
            joins.append(math.inf if timeout is None else timeout)
            join(timeout)

        background._thread.join = recorded_join  # type: ignore[method-assign]  # noqa: SLF001
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            with pytest.raises(KeyboardInterrupt):
                client.close()
            assert cond.interrupted
            cond.waits.clear()
            joins.clear()
            client.close()  # the exit's close
        assert client.closed
        # It waited for nothing but the thread's exit (was: the queue again, the whole timeout).
        assert all(t == 0 for _, t in cond.waits), cond.waits
        assert sum(joins) <= _client.STOP_GRACE_S + 1e-6, joins
        # Named once: the queued report as not sent, the one in flight as such.
        assert len(_warned(caplog, "not sent")) == 1 and "steps 2" in _warned(caplog, "not sent")[0], caplog.text
        assert len(_warned(caplog, "still in flight")) == 1 and "steps 1" in _warned(caplog, "still in flight")[0], caplog.text
        let_go.set()
        until(lambda: not background._thread.is_alive(), "the background thread ended")  # noqa: SLF001
        with tp.connect(server.endpoint, heartbeat=False) as other:
            stored = dict(other.load_study(name).trial(trial.number).intermediate_values)
        # Neither: the one in flight (not sent yet, held above) was cut by the interrupted close at
        # once, where it went on after close (and was sent once let go); the queued one never.
        assert stored == {}
    finally:
        let_go.set()
        client.close()


def test_a_close_interrupted_waiting_for_a_call_under_way_leaves_a_second_close_nothing_to_wait_for(
    server: ServerProcess, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = tp.connect(server.endpoint, heartbeat=False, timeout=TIMEOUT_S, retries=0)
    held: TurnHeld | None = None
    try:
        trial = client.create_study(name).ask()
        held = TurnHeld(trial)  # a call under way in another thread, which close waits for
        assert trial.report(2.0, 2, wait=False) is None  # put aside behind it
        turn = _Interrupting(trial._order, threading.current_thread())  # noqa: SLF001
        trial._order = turn  # type: ignore[assignment]  # noqa: SLF001
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            with pytest.raises(KeyboardInterrupt):
                client.close()
            turn.waits.clear()
            client.close()  # the exit's close
        assert client.closed
        assert all(t == 0 for _, t in turn.waits), turn.waits  # was: the call under way again, the whole timeout
        dropped = _warned(caplog, "put aside")
        assert len(dropped) == 1 and "steps 2" in dropped[0], caplog.text
    finally:
        if held is not None:
            held.release()
        client.close()


def _three_reports_in_an_outage(srv: ServerProcess, client: tp.Client, name: str, monkeypatch: pytest.MonkeyPatch) -> _client._Background:
    """Kills ``srv`` and makes three non-blocking reports (steps 1, 2, 3) of a trial of ``client``, all
    queued before the background thread wakes to send the first; the client's ``_Background``."""
    trial = client.create_study(name).ask()
    background = background_asleep(trial, monkeypatch)
    srv.kill()
    for step in (1, 2, 3):
        trial.report(float(step), step, wait=False)
    background.wake()
    return background


def test_reports_dropped_behind_an_outage_are_not_named_again_by_close(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    srv = ServerProcess(tmp_path / "own.db").start()
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=TIMEOUT_S, retries=0, outage_budget_s=TIMEOUT_S)
    let_go = threading.Event()
    # The thread warns that the reports behind the one that waited out the outage are dropped, and
    # is held there (in the handler) while close looks at its queue.
    handler = _OnRecord("queued non-blocking report(s) dropped", lambda: let_go.wait(60))
    remove = _with_handler(handler)
    try:
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            background = _three_reports_in_an_outage(srv, client, name, monkeypatch)
            until(lambda: in_thread(background._thread, "emit"), "the thread warned that steps 2 and 3 are dropped")  # noqa: SLF001
            client.close()
            let_go.set()
            until(handler.done.is_set, "the handler returned")
        assert handler.errors == []
        dropped = _warned(caplog, "queued non-blocking report(s) dropped")
        assert len(dropped) == 1 and ": 2 queued" in dropped[0], dropped
        assert _warned(caplog, "not sent") == [] and _warned(caplog, "still in flight") == [], caplog.text
        until(lambda: not background._thread.is_alive(), "the background thread ended")  # noqa: SLF001
    finally:
        let_go.set()
        remove()
        client.close()
        srv.kill()


def test_reports_named_by_close_during_an_outage_are_not_counted_again_when_it_ends(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    srv = ServerProcess(tmp_path / "own.db").start()
    # The outage budget outlasts close's timeout: close names the queue, then the report in flight gives up.
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=TIMEOUT_S, retries=0, outage_budget_s=6 * TIMEOUT_S)
    try:
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            background = _three_reports_in_an_outage(srv, client, name, monkeypatch)
            until(lambda: background._sending is not None, "step 1 is in flight")  # noqa: SLF001
            client.close()
            until(lambda: not background._thread.is_alive(), "the report in flight gave up and the thread ended")  # noqa: SLF001
        unsent = _warned(caplog, "not sent")
        assert len(unsent) == 1 and "steps 2, 3" in unsent[0], caplog.text
        assert _warned(caplog, "queued non-blocking report(s) dropped") == [], caplog.text
    finally:
        client.close()
        srv.kill()


def test_close_from_the_background_thread_does_not_drop_its_report_in_flight_unnamed(
    server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A callback on the background thread (here, in the send of step 1) closes the client, the only
    close. The report the thread is sending was cut at once by the close (it has no deadline) and
    dropped without a word: neither stored nor named in close's warnings."""
    client = tp.connect(server.endpoint, heartbeat=False, timeout=TIMEOUT_S, retries=0)
    send = _client._Background._send_report  # noqa: SLF001

    def closing_send(self: _client._Background, channel: Any, job: _client._PendingReport) -> None:
        if job.message.get("step") == 1:
            client.close()
        send(self, channel, job)

    try:
        trial = client.create_study(name).ask()
        background = background_asleep(trial, monkeypatch)
        monkeypatch.setattr(_client._Background, "_send_report", closing_send)  # noqa: SLF001
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            trial.report(1.0, 1, wait=False)
            with background._cond:  # noqa: SLF001
                background._cond.notify_all()  # the polling thread looks at its queue now  # noqa: SLF001
            until(lambda: not background._thread.is_alive(), "the background thread ended")  # noqa: SLF001
        with tp.connect(server.endpoint, heartbeat=False) as other:
            stored = dict(other.load_study(name).trial(trial.number).intermediate_values)
        assert stored == {0: 0.5, 1: 1.0} or _warned(caplog, "steps 1"), (stored, caplog.text)
    finally:
        client.close()
