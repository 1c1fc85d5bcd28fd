"""Non-blocking reports put aside behind another thread's call on their trial (``Trial._beside``):
``client.close()``, ``pending_reports()`` and a tell whose gate fails must neither lose them in
silence nor report them gone while they are still unsent.

A validation thread's blocking ``trial.report`` against a server stopped with SIGSTOP holds the
trial's turn; the training loop's ``report(..., wait=False)`` is put aside behind it. Before:
``close()`` meanwhile dropped it without a word (or made the other call raise ClientClosedError when
it ended), ``pending_reports()`` answered False for it, and a tell whose gate raised while queueing
it left the gate closed (every later report: "being told by another thread") and lost the report.
By order, not by time: stack inspection says where each thread is. Real ``tuneport serve``."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, TurnHeld, in_thread, until




def _stored(srv: ServerProcess, study: str, number: int) -> dict[float, float]:
    with tp.connect(srv.endpoint, heartbeat=False) as other:
        return dict(other.load_study(study).trial(number).intermediate_values)


class _BlockedReport:
    """A blocking ``trial.report(1.0, 1)`` in its own thread against a stopped server: it holds the
    trial's turn until the server is let go on (SIGCONT)."""

    def __init__(self, srv: ServerProcess, trial: tp.Trial) -> None:
        assert srv.proc is not None
        self.srv = srv
        self.out: dict[str, Any] = {}
        srv.proc.send_signal(signal.SIGSTOP)
        self.stopped = True
        self.thread = threading.Thread(target=self._run, args=(trial,), daemon=True)
        self.thread.start()
        until(lambda: in_thread(self.thread, "_call") or not self.thread.is_alive(), "the blocking report waits for the server")
        assert self.thread.is_alive(), self.out

    def _run(self, trial: tp.Trial) -> None:
        try:
            self.out["blocking"] = trial.report(1.0, 1)
        except BaseException as err:  # noqa: BLE001 - recorded for the assertions
            self.out["blocking"] = err

    def resume(self) -> None:
        if self.stopped and self.srv.proc is not None:
            self.srv.proc.send_signal(signal.SIGCONT)
        self.stopped = False


def test_close_queues_a_report_put_aside_once_the_call_it_waits_behind_ends(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    blocked: _BlockedReport | None = None
    try:
        client = tp.connect(srv.endpoint, heartbeat=False, timeout=30, retries=1, outage_budget_s=600)
        study = client.create_study("s")
        trial = study.ask()
        trial.report(0.5, 0)
        blocked = _BlockedReport(srv, trial)
        assert trial.report(2.0, 2, wait=False) is None  # put aside behind the blocking report
        closing = threading.Thread(target=client.close, daemon=True)
        closing.start()
        until(lambda: in_thread(closing, "close") or not closing.is_alive(), "close() is under way")
        assert blocked.thread.is_alive(), blocked.out
        blocked.resume()
        closing.join(120)
        blocked.thread.join(120)
        assert not closing.is_alive() and not blocked.thread.is_alive()
        # The call it waited behind ended normally (it raised ClientClosedError out of its end).
        assert isinstance(blocked.out["blocking"], tp.Decision), blocked.out
        assert _stored(srv, "s", trial.number) == {0: 0.5, 1: 1.0, 2: 2.0}
    finally:
        if blocked is not None:
            blocked.resume()
        srv.kill()


def test_close_names_the_reports_put_aside_that_it_could_not_send(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The call under way outlasts close's wait (``timeout``): the reports put aside behind it are
    dropped with a warning naming the trial and the steps, and that call ends without an error."""
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        client = tp.connect(srv.endpoint, heartbeat=False, timeout=0.5, retries=0)
        study = client.create_study("s")
        trial = study.ask()
        ended: dict[str, Any] = {}
        # The call under way, which then ends.
        held = TurnHeld(trial, last=lambda: ended.__setitem__("beside_left", len(trial._beside)))  # noqa: SLF001
        assert trial.report(1.0, 1, wait=False) is None
        assert trial.report(2.0, 2, wait=False) is None
        assert trial.pending_reports()
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            client.close()  # waits up to timeout for the call, which goes on
        held.release()
        assert not held.thread.is_alive() and held.error is None, (held.error, ended)
        assert ended["beside_left"] == 0, ended
        warned = [r.getMessage() for r in caplog.records if "were not sent" in r.getMessage()]
        assert len(warned) == 1, [r.getMessage() for r in caplog.records]
        assert f"trial {trial.number} of 's'" in warned[0] and "steps 1, 2" in warned[0] and "closed" in warned[0], warned
        assert not trial.pending_reports()
        with pytest.raises(tp.ClientClosedError):
            trial.report(3.0, 3, wait=False)
        assert _stored(srv, "s", trial.number) == {}
    finally:
        srv.kill()


def test_pending_reports_is_true_while_a_report_is_put_aside(tmp_path: Path) -> None:
    """A loop waiting on ``pending_reports()`` stops only once the report put aside reached the server."""
    srv = ServerProcess(tmp_path / "t.db").start()
    blocked: _BlockedReport | None = None
    try:
        with tp.connect(srv.endpoint, heartbeat=False, timeout=30, retries=1, outage_budget_s=600) as client:
            study = client.create_study("s")
            trial = study.ask()
            trial.report(0.5, 0)
            blocked = _BlockedReport(srv, trial)
            assert trial.report(2.0, 2, wait=False) is None  # put aside behind the blocking report
            assert trial.pending_reports(), "pending_reports() said nothing is unsent while a report is put aside"
            blocked.resume()
            until(lambda: not trial.pending_reports(), "pending_reports() answers False")
            assert _stored(srv, "s", trial.number) == {0: 0.5, 1: 1.0, 2: 2.0}
            blocked.thread.join(120)
            assert isinstance(blocked.out["blocking"], tp.Decision), blocked.out
            trial.complete(3.0)
    finally:
        if blocked is not None:
            blocked.resume()
        srv.kill()


@pytest.mark.parametrize("tell", ["complete", "fail"])
def test_a_tell_whose_gate_raises_opens_it_again_and_keeps_the_reports_put_aside(tmp_path: Path, tell: str) -> None:
    """A tell (``complete``; ``fail``, ``prune`` and ``study.tell`` through ``Trial._tell``) closes
    the trial's gate and queues the reports put aside; Ctrl-C while one waits for room in the queue
    (here: its first queueing raises KeyboardInterrupt) must leave the gate open and the report put
    aside, for the trial's next call to send."""
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, heartbeat=False) as client:
            study = client.create_study("s")
            trial = study.ask()
            trial.report(0.5, 0)
            queue = client._submit_report  # noqa: SLF001
            interrupts = [KeyboardInterrupt()]

            def interrupted_queue(t: tp.Trial, message: dict[str, Any], **kw: Any) -> int:
                if interrupts:
                    raise interrupts.pop()
                return queue(t, message, **kw)

            client._submit_report = interrupted_queue  # type: ignore[method-assign,assignment]  # noqa: SLF001

            def put_aside_now() -> None:  # the loop's report, made while complete() holds the turn
                out: dict[str, Any] = {}

                def loop() -> None:
                    out["nowait"] = trial.report(1.0, 1, wait=False)

                reporter = threading.Thread(target=loop, daemon=True)
                reporter.start()
                reporter.join(60)
                assert "nowait" in out and out["nowait"] is None, out

            def hook(frame: FrameType, event: str, arg: Any) -> None:
                if event == "call" and frame.f_code.co_name == "_close_gate":
                    sys.setprofile(None)
                    put_aside_now()

            sys.setprofile(hook)
            try:
                with pytest.raises(KeyboardInterrupt):
                    trial.complete(9.0) if tell == "complete" else trial.fail("diverged")
            finally:
                sys.setprofile(None)
            assert trial.state == "RUNNING"
            assert trial.pending_reports(), "the report put aside was lost when queueing it raised"
            # The gate is open again: a report is taken, after the one put aside.
            decision = trial.report(2.0, 2)
            assert isinstance(decision, tp.Decision)
            assert _stored(srv, "s", trial.number) == {0: 0.5, 1: 1.0, 2: 2.0}
            trial.complete(3.0)
            assert study.trial(trial.number).state == "COMPLETE"
    finally:
        srv.kill()


class _HeldQueue:
    """``client._submit_report`` whose first call waits until let go, then queues: the holder of the
    trial's turn caught queueing a report put aside, as when it waits for room in a full queue
    (MAX_PENDING_REPORTS, the server slow or away)."""

    def __init__(self, client: tp.Client) -> None:
        self.queue = client._submit_report  # noqa: SLF001
        self.queueing, self.let_go = threading.Event(), threading.Event()
        client._submit_report = self  # type: ignore[method-assign,assignment]  # noqa: SLF001

    def __call__(self, t: tp.Trial, message: dict[str, Any], **kw: Any) -> int:
        if not self.queueing.is_set():
            self.queueing.set()
            self.let_go.wait(60)
        return self.queue(t, message, **kw)


@pytest.mark.parametrize("dropper", ["interrupted tell", "close"])
def test_reports_put_aside_dropped_while_the_holder_queues_one_end_its_call_without_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, dropper: str
) -> None:
    """The call holding the trial's turn ends and queues the reports put aside behind it; while it
    queues the first, another thread drops them: a tell after Ctrl-C that did not get the turn, or
    ``client.close()`` that waited for the turn in vain. That call's own report had been answered;
    it raised IndexError (it took its report out of the list emptied meanwhile) or ClientClosedError
    (queueing it once the client was closed), and the warning named as not sent the report queued."""
    srv = ServerProcess(tmp_path / "t.db").start()
    blocked: _BlockedReport | None = None
    held: _HeldQueue | None = None
    try:
        client = tp.connect(srv.endpoint, heartbeat=False, timeout=0.5, retries=1000)
        study = client.create_study("s")
        trial = study.ask()
        trial.report(0.5, 0)
        held = _HeldQueue(client)
        blocked = _BlockedReport(srv, trial)
        assert trial.report(2.0, 2, wait=False) is None  # put aside behind the blocking report
        assert trial.report(3.0, 3, wait=False) is None
        blocked.resume()
        until(lambda: held.queueing.is_set() or not blocked.thread.is_alive(), "the blocking report's end queues step 2")
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            if dropper == "close":
                client.close()  # the turn is not had within timeout (0.5 s): dropped
            else:
                trial._tell_interrupted(KeyboardInterrupt, KeyboardInterrupt())  # noqa: SLF001 - `with trial:` on Ctrl-C
                assert trial.state == "FAIL"
            held.let_go.set()
            blocked.thread.join(120)
        assert not blocked.thread.is_alive()
        assert isinstance(blocked.out["blocking"], tp.Decision), blocked.out
        assert not trial._beside  # noqa: SLF001
        warned = " ".join(r.getMessage() for r in caplog.records if "were not sent" in r.getMessage())
        if dropper == "close":  # step 2 could not be queued either: the client closed while it waited
            assert "steps 3" in warned and "steps 2" in warned, warned
        else:  # step 2 was queued (the server refuses it: the trial is told), step 3 dropped
            assert "steps 3" in warned and "steps 2" not in warned, warned
        client.close()
    finally:
        if held is not None:
            held.let_go.set()
        if blocked is not None:
            blocked.resume()
        srv.kill()
