"""A trial that Ctrl-C ends while the queue of non-blocking reports is full and the server away.

Its FAIL (``with trial:``'s handler, ``optimize``'s) first queues the reports put aside behind
another thread's call on the trial (``Trial._beside``), and the report that Ctrl-C interrupted
queues them as its call ends. Both waited for room in the full queue (MAX_PENDING_REPORTS) for as
long as the report at its head waited out the outage: for ever with ``outage_budget_s=math.inf``,
the interrupt never propagating. Now the report's end queues only what has room at once, and the
FAIL waits for room within its second for the queued reports (INTERRUPTED_WAIT_S); what did not
fit is dropped with a warning naming the trial and steps, the FAIL is tried once and, the server
being away, named as not told; then the KeyboardInterrupt propagates, as Optuna's does.

Real ``tuneport serve``, killed (SIGKILL) so that the report in flight waits for ever; the queue is
made small (MAX_PENDING_REPORTS = 2). Stack inspection says where each thread is; the 60 s joins
and the watchdog only catch a hang."""

from __future__ import annotations

import logging
import math
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, TurnHeld, in_thread, until
from tuneport import _background


# Ctrl-C must raise KeyboardInterrupt here, whatever shell started the tests (conftest).
pytestmark = pytest.mark.usefixtures("ctrl_c_raises")


def _full_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[ServerProcess, tp.Client, tp.Trial]:
    """A trial whose client's queue is full (steps 1 and 2, step 1 in flight) of a server killed
    since: the report in flight waits for it for ever (``outage_budget_s=math.inf``)."""
    monkeypatch.setattr(_background, "MAX_PENDING_REPORTS", 2)
    srv = ServerProcess(tmp_path / "t.db").start()
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=5, retries=0, outage_budget_s=math.inf)
    trial = client.create_study("s").ask()
    trial.report(0.5, 0)
    srv.kill()
    assert trial.report(1.0, 1, wait=False) is None
    assert trial.report(2.0, 2, wait=False) is None
    background = client._background  # noqa: SLF001
    assert background is not None
    until(lambda: background._sending is not None, "the background thread sends step 1")  # noqa: SLF001
    return srv, client, trial


def _not_sent(caplog: pytest.LogCaptureFixture) -> str:
    return " ".join(r.getMessage() for r in caplog.records if "were not sent" in r.getMessage())


def _not_told(caplog: pytest.LogCaptureFixture, number: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if f"could not tell trial {number} of 's'" in r.getMessage()]


def test_a_fail_after_ctrl_c_gives_up_on_room_for_the_reports_put_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The with-block's FAIL after Ctrl-C, a report put aside behind a call that has ended since."""
    srv, client, trial = _full_queue(tmp_path, monkeypatch)
    try:
        held = TurnHeld(trial)  # another thread's call on the trial
        assert trial.report(3.0, 3, wait=False) is None  # put aside behind it
        held.release()  # it ends without queueing step 3 (no _end_turn): the FAIL's gate queues it
        assert trial._beside  # noqa: SLF001
        out: dict[str, Any] = {}

        def loop() -> None:
            try:
                with trial:
                    raise KeyboardInterrupt  # what Ctrl-C raises in the training loop
            except BaseException as err:  # noqa: BLE001 - recorded for the assertions
                out["raised"] = err

        with caplog.at_level(logging.INFO, logger="tuneport"):
            worker = threading.Thread(target=loop, daemon=True)
            worker.start()
            worker.join(60)
            hung = worker.is_alive()
            client.close()  # a hung FAIL ends with ClientClosedError here (the test fails above)
            worker.join(60)
        assert not hung, "the FAIL after Ctrl-C waited for room in the full queue without a limit"
        assert isinstance(out.get("raised"), KeyboardInterrupt), out
        assert "steps 3" in _not_sent(caplog) and "no room" in _not_sent(caplog), [r.getMessage() for r in caplog.records]
        assert _not_told(caplog, trial.number), [r.getMessage() for r in caplog.records]
        assert trial.state == "RUNNING"  # the FAIL was not told: the lease runs out on the server
    finally:
        client.close()
        srv.kill()


def test_ctrl_c_in_a_report_waiting_for_room_propagates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A real SIGINT while the training loop's ``report(..., wait=False)`` waits for room, another
    thread's report put aside behind it: the report's end left it put aside (it waited for room for
    it), the with-block's FAIL drops it, named, and the interrupt propagates."""
    srv, client, trial = _full_queue(tmp_path, monkeypatch)
    main = threading.current_thread()
    assert main is threading.main_thread()
    fired = threading.Event()
    done = threading.Event()
    side: dict[str, Any] = {}

    def other_thread() -> None:
        try:
            until(lambda: in_thread(main, "submit"), "the loop's report waits for room in the queue")
            side["report"] = trial.report(4.0, 4, wait=False)  # put aside: the loop holds the turn
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C
        except BaseException as err:  # noqa: BLE001 - recorded for the assertions
            side["report"] = err
        if not done.wait(60):  # the watchdog: a hung main thread ends with ClientClosedError
            fired.set()
            client.close()

    helper = threading.Thread(target=other_thread, daemon=True)
    try:
        with caplog.at_level(logging.INFO, logger="tuneport"):
            helper.start()
            with pytest.raises(KeyboardInterrupt), trial:
                trial.report(3.0, 3, wait=False)
            done.set()
        helper.join(60)
        assert not fired.is_set(), "the interrupted report waited for room in the full queue without a limit"
        assert side.get("report", "missing") is None, side
        assert "steps 4" in _not_sent(caplog), [r.getMessage() for r in caplog.records]
        assert _not_told(caplog, trial.number), [r.getMessage() for r in caplog.records]
        assert not trial._beside  # noqa: SLF001
    finally:
        done.set()
        client.close()
        srv.kill()
