"""A non-blocking report never waits for another thread's call on the trial to get its answer.

``Trial._order`` (calls on one trial from several threads take turns) was taken by
``report(..., wait=False)`` too: with a validation thread in a blocking ``trial.report`` against a
server that does not answer (stopped with SIGSTOP), the training loop's non-blocking report waited
as long as that call did, through the whole outage budget (31.8 s measured, 0.00 s before the turns).
It now puts its report aside for the other call to queue when it ends, and returns at once.

By order, not by time: the non-blocking report must return while the blocking one is still waiting
and the server still stopped; the server is let go on only after. Real ``tuneport serve``."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, TurnHeld, in_thread, until




def test_a_non_blocking_report_does_not_wait_for_another_threads_blocking_report(tmp_path: Any) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    stopped = False
    try:
        # A long outage budget: the blocking report keeps waiting while the server is stopped.
        with tp.connect(srv.endpoint, heartbeat=False, timeout=2, retries=1, outage_budget_s=600) as client, _resumed(srv):
            study = client.create_study("s")
            trial = study.ask()
            trial.report(0.5, 0, wait=False)
            trial.flush_reports()
            srv.proc.send_signal(signal.SIGSTOP)
            stopped = True
            out: dict[str, Any] = {}

            def validation() -> None:
                try:
                    out["blocking"] = trial.report(1.0, 1)
                except tp.TuneportError as err:
                    out["blocking"] = err

            blocking = threading.Thread(target=validation, daemon=True)
            blocking.start()
            until(lambda: in_thread(blocking, "_call") or not blocking.is_alive(), "the blocking report waits for the server")
            assert blocking.is_alive(), out

            def loop() -> None:
                try:
                    out["nowait"] = trial.report(2.0, 2, wait=False)
                except tp.TuneportError as err:
                    out["nowait"] = err
                # Recorded by this thread the moment the call returned.
                out["blocking_still_waiting"] = blocking.is_alive()
                out["server_still_stopped"] = stopped

            reporter = threading.Thread(target=loop, daemon=True)
            reporter.start()
            reporter.join(60)  # a hang guard only: it returns at once
            assert not reporter.is_alive(), "report(wait=False) waited for the other thread's blocking report"
            assert out["nowait"] is None, out
            assert out["blocking_still_waiting"] and out["server_still_stopped"], out
            srv.proc.send_signal(signal.SIGCONT)
            stopped = False
            blocking.join(120)
            assert not blocking.is_alive()
            assert isinstance(out["blocking"], tp.Decision), out
            # Queued when the blocking report ended (no later call on the trial queues it): sent after it.
            until(lambda: 2 in study.trial(trial.number).intermediate_values, "the report put aside is sent")
            stored = study.trial(trial.number)
            assert stored.intermediate_values == {0: 0.5, 1: 1.0, 2: 2.0}, stored.intermediate_values
            assert trial.intermediate == [(0.0, 0.5), (1.0, 1.0), (2.0, 2.0)]
            trial.complete(3.0)
            assert study.trial(trial.number).state == "COMPLETE"
    finally:
        srv.kill()


@contextlib.contextmanager
def _resumed(srv: ServerProcess) -> Iterator[None]:
    """Lets a stopped server go on before the client closes (which waits for the blocking report)."""
    try:
        yield
    finally:
        assert srv.proc is not None
        srv.proc.send_signal(signal.SIGCONT)


def test_a_report_put_aside_as_the_other_call_ends_is_queued_by_its_own_thread(tmp_path: Any) -> None:
    """The other call ended between the report's look at the turn and putting the report aside:
    nobody would queue it, so the report queues it itself. A profile hook holds the reporting
    thread at that point while the other thread lets the turn go."""
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, heartbeat=False) as client:
            study = client.create_study("s")
            trial = study.ask()
            held = TurnHeld(trial)  # a call under way, which then ends

            def hook(frame: FrameType, event: str, arg: Any) -> None:
                if event == "call" and frame.f_code.co_name == "_report_beside":
                    held.let_go.set()
                    held.ended.wait(60)

            sys.setprofile(hook)
            try:
                assert trial.report(1.0, 1, wait=False) is None  # put aside: the turn was taken when it looked
            finally:
                sys.setprofile(None)
            assert held.ended.is_set()
            until(lambda: 1 in study.trial(trial.number).intermediate_values, "the report put aside is sent")
            assert trial.intermediate == [(1.0, 1.0)]
            trial.complete(2.0)
    finally:
        srv.kill()


def test_a_repeated_step_put_aside_is_a_repeat_as_when_sent_at_once(tmp_path: Any) -> None:
    """A step reported again while the first report of it is still put aside: as when both are
    queued at once, the value is ignored with a warning and the last report is sent again. The
    repeat was looked for only among the steps queued already, so it went with its own value, the
    server refused it (steps must increase) and the next call on the trial raised
    InvalidArgumentError: a loop that repeats a step stopped because another thread was in a call."""
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, heartbeat=False) as client:
            study = client.create_study("s")
            trial = study.ask()
            held = TurnHeld(trial)  # a call under way
            try:
                assert trial.report(1.0, 1, wait=False) is None  # put aside
                with pytest.warns(UserWarning, match="already reported"):
                    assert trial.report(5.0, 1, wait=False) is None  # the same step again: its value ignored
                assert trial.report(2.0, 2, wait=False) is None
                with pytest.warns(UserWarning, match="already reported"):
                    assert trial.report(7.0, 1, wait=False) is None  # an earlier step: the last one again
            finally:
                held.release()
            trial.flush_reports()  # raised the server's refusal of the repeat sent with its own value
            assert study.trial(trial.number).intermediate_values == {1: 1.0, 2: 2.0}
            assert trial.intermediate == [(1.0, 1.0), (2.0, 2.0)]
            trial.report(3.0, 3, wait=False)
            trial.complete(4.0)
            assert study.trial(trial.number).intermediate_values == {1: 1.0, 2: 2.0, 3: 3.0}
    finally:
        srv.kill()


def test_the_repeated_step_and_inconsistent_suggest_warnings_name_the_callers_line(tmp_path: Any) -> None:
    """Their fixed ``stacklevel`` named a line of tuneport once the calls went through the turn
    (``_one_call_at_a_time``) and ``report``'s helpers, not the user's call: a filter by module, or
    the shown line, pointed into the package."""
    import warnings

    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, heartbeat=False) as client:
            trial = client.create_study("s").ask()
            trial.report(1.0, 1, wait=False)
            with warnings.catch_warnings(record=True) as seen:
                warnings.simplefilter("always")
                trial.report(2.0, 1, wait=False)
                trial.report(3.0, 1)
                trial.suggest_float("x", 0.0, 1.0)
                trial.suggest_float("x", 0.0, 2.0)
            assert [(w.category, w.filename) for w in seen] == [(UserWarning, __file__)] * 2 + [(RuntimeWarning, __file__)], [
                (w.category, w.filename, str(w.message)) for w in seen
            ]
            trial.complete(1.0)
    finally:
        srv.kill()


def test_a_lower_step_put_aside_by_two_threads_at_once_is_refused_in_its_own_thread(tmp_path: Any) -> None:
    """Two threads put reports aside at once, the lower step last: its step was looked at before the
    other was put aside, and it went after it, the server refused it and the trial's next call (the
    other thread's flush) raised InvalidArgumentError. It is refused in its own thread, as a queued
    report out of order is (``_report_later``). A profile hook holds the first thread between its
    look at the steps and putting its report aside."""
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, heartbeat=False) as client:
            study = client.create_study("s")
            trial = study.ask()
            looked, go_on = threading.Event(), threading.Event()
            held = TurnHeld(trial)  # a call under way
            out: dict[str, Any] = {}

            def hook(frame: FrameType, event: str, arg: Any) -> None:
                if event == "call" and frame.f_code.co_name == "make_request":
                    looked.set()
                    go_on.wait(60)

            def first() -> None:
                sys.setprofile(hook)
                try:
                    out["first"] = trial.report(1.0, 3, wait=False)
                except tp.TuneportError as err:
                    out["first"] = err
                finally:
                    sys.setprofile(None)

            reporter = threading.Thread(target=first, daemon=True)
            try:
                reporter.start()
                assert looked.wait(60)
                assert trial.report(2.0, 4, wait=False) is None  # put aside while the first one is held
                go_on.set()
                reporter.join(60)
                assert not reporter.is_alive()
            finally:
                go_on.set()
                held.release()
            assert isinstance(out["first"], tp.InvalidArgumentError) and "steps must increase" in str(out["first"]), out
            trial.flush_reports()  # raised the server's refusal of step 3, sent after step 4
            assert study.trial(trial.number).intermediate_values == {4: 2.0}
            trial.complete(4.0)
    finally:
        srv.kill()
