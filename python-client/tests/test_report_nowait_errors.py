"""A non-blocking report's decision is never dropped by an error: a decision the server sent
(prune, PBT exploit, an update's released checkpoints) reaches the training loop at its next
report/should_prune()/complete even when a report or flush in between raised. Real server processes."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tuneport as tp
from conftest import ServerProcess

HANG_S = 60.0  # only catches a hang


def wait_answered(trial: tp.Trial) -> None:
    """Waits (without applying anything) until the trial's queued reports were answered."""
    end = time.monotonic() + HANG_S
    while trial.pending_reports():
        assert time.monotonic() < end, "non-blocking report never answered"
        time.sleep(0.005)


@pytest.fixture
def paused_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this test's own, which the test pauses (SIGSTOP) to queue reports before any is answered."""
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        yield srv
    finally:
        if srv.proc is not None:
            os.kill(srv.proc.pid, signal.SIGCONT)
        srv.kill()


def _pruning_study(client: tp.Client, name: str) -> tp.Study:
    """A median-pruned study with one complete trial that reported 0 at steps 0..4."""
    study = client.create_study(name, space={"x": tp.Float(0, 1)}, scheduler={"name": "median", "options": {"n_startup_trials": 1}})
    with study.ask() as good:
        for step in range(5):
            good.report(0.0, step)
        good.complete(0.0)
    return study


def _prune_then_refused(srv: ServerProcess, trial: tp.Trial) -> None:
    """Queues a report the scheduler prunes and, behind it, one the server refuses, both before the
    first is answered (the server is paused), then waits for both answers."""
    assert srv.proc is not None
    os.kill(srv.proc.pid, signal.SIGSTOP)
    try:
        trial.report(9.0, 0, wait=False, raise_on_prune=False)
        trial.report(9.0, 1, {"__proto__": 1}, wait=False, raise_on_prune=False)  # refused: a reserved key
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
    wait_answered(trial)


@pytest.mark.parametrize("wait", [False, True])
def test_a_prune_that_arrived_with_an_error_is_raised_by_the_next_report(paused_server: ServerProcess, wait: bool) -> None:
    """The call that raised the queued report's error applied the prune that came with it and did
    not raise it; the next report returned it instead of raising TrialPruned, so a with-block
    (and optimize) trained on a pruned trial to its end and told it COMPLETE (a blocking report
    sent itself and raised only if the scheduler pruned it again)."""
    with tp.connect(paused_server.endpoint, timeout=5.0) as client:
        study = _pruning_study(client, "p")
        after: list[str] = []
        with study.ask() as trial:
            _prune_then_refused(paused_server, trial)
            with pytest.raises(tp.InvalidArgumentError):
                trial.report(9.0, 2, wait=wait)  # raises the refused report's error first
            trial.report(9.0, 3, wait=wait)  # the prune: TrialPruned (this report not sent), which the block records
            after.append("trained on")
        assert after == []
        stored = study.trial(trial.number)
        assert stored.state == "PRUNED" and [s for s, _ in stored.intermediate] == [0.0], stored


def test_complete_tells_pruned_for_a_prune_delivered_with_an_error(paused_server: ServerProcess) -> None:
    """flush_reports() raised the queued report's error; the prune that arrived with it was counted
    as seen, and complete() told COMPLETE a trial the scheduler had pruned."""
    with tp.connect(paused_server.endpoint, timeout=5.0) as client:
        study = _pruning_study(client, "c")
        trial = study.ask()
        _prune_then_refused(paused_server, trial)
        with pytest.raises(tp.InvalidArgumentError):
            trial.flush_reports()
        trial.complete(9.0)
        assert trial.state == study.trial(trial.number).state == "PRUNED"


def test_a_prune_that_arrived_with_an_error_is_returned_by_the_next_report_outside_a_block(paused_server: ServerProcess) -> None:
    with tp.connect(paused_server.endpoint, timeout=5.0) as client:
        study = _pruning_study(client, "r")
        trial = study.ask()
        _prune_then_refused(paused_server, trial)
        with pytest.raises(tp.InvalidArgumentError):
            trial.flush_reports()
        d = trial.report(9.0, 2, wait=False)
        assert d is not None and d.action == "prune", d
        assert trial.should_prune()
        trial.prune()


@pytest.mark.parametrize("why", ["unpackable data", "lost lease"])
def test_an_exploit_stays_when_the_report_raises_after_applying_it(client: tp.Client, name: str, why: str) -> None:
    """A non-blocking report applied the exploit that had arrived, took it to return, and then
    raised (its data could not be packed; the lease was lost): the exploit's restore and released
    checkpoints were dropped, so the next report or flush returned neither."""
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=3, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1, "resample_probability": 0.0}})
    a, b = study.ask(), study.ask()
    b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
    a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
    a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False)  # decided: exploit b
    wait_answered(a)
    if why == "unpackable data":
        with pytest.raises(TypeError):
            a.report(4.0, 1.5, {"checkpoint": "/nowhere/a/step-1.5.pt", "what": object()}, wait=False)
        d = a.flush_reports()
    else:
        a._mark_lost(tp.LeaseLostError("as if the heartbeat found it lost"))
        with pytest.raises(tp.LeaseLostError):
            a.report(4.0, 1.5, {"checkpoint": "/nowhere/a/step-1.5.pt"}, wait=False)
        d = a.flush_reports()
    assert d is not None and d.action == "update" and d.restore is not None and d.restore.trial == b.number, d
    assert "/nowhere/a/step-0.5.pt" in d.delete_checkpoints, d
    assert a.restore == d.restore
