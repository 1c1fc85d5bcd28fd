"""What ``trial.intermediate`` holds after non-blocking reports an outage ended, against a real
server that is killed and started again: ``report(..., wait=False)`` records a value when it queues
it, and those the outage ended (the report that waited it out, whose fate is unknown, and the ones
queued behind it, dropped unsent) stayed there, a curve the server lacked with no sign of it. They
leave it, at the trial's next report, ``should_prune()`` or ``flush_reports()``."""

from __future__ import annotations

from pathlib import Path

import pytest

import tuneport as tp
from conftest import ServerProcess


@pytest.mark.parametrize("then", ["flush_reports", "should_prune"])
def test_reports_an_outage_ended_leave_intermediate(tmp_path: Path, then: str) -> None:
    # Every acknowledged report committed before its reply: a kill loses none (docs/DURABILITY.md).
    srv = ServerProcess(tmp_path / "t.db", extra=["--report-commit-ms", "0"]).start()
    try:
        with tp.connect(srv.endpoint, timeout=2.0, retries=0, outage_budget_s=1.0, heartbeat=False) as c:
            study = c.create_study("q")
            trial = study.ask()
            trial.report(0.0, 0)
            srv.kill()
            for step in range(1, 6):
                trial.report(float(step), step, wait=False)
            assert [s for s, _ in trial.intermediate] == [0, 1, 2, 3, 4, 5]  # queued: the server may still take them
            if then == "flush_reports":
                with pytest.raises(tp.TimeoutError):
                    trial.flush_reports()
            else:
                trial._wait_reports()
                assert trial.should_prune() is False
            assert trial.intermediate == [(0.0, 0.0)]
            srv = ServerProcess(srv.db, port=srv.port, extra=srv.extra).start()
            if then == "should_prune":
                with pytest.raises(tp.TimeoutError):  # the error itself, raised by the next report
                    trial.report(6.0, 6)
            trial.report(6.0, 6)
            assert trial.intermediate == [(0.0, 0.0), (6.0, 6.0)]
            assert study.trial(trial.number).intermediate == trial.intermediate  # what the server stored
            trial.complete(1.0)
    finally:
        srv.kill()
