"""PBT on the client side: decisions with restore and released checkpoints, refills, lineage."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import tuneport as tp
from tuneport import Decision, Lineage, Restore
from tuneport.torch import CheckpointWriter, checkpoint_path, load_checkpoint, pbt_complete, pbt_report

from conftest import ServerProcess


def test_update_decision_carries_restore_and_released_checkpoints() -> None:
    d = Decision.from_wire({"action": "update", "params": {"lr": 0.1},
                            "restore": {"trial": 3, "checkpoint": "/c/3/step-4.pt", "step": 4},
                            "delete_checkpoints": ["/c/1/step-2.pt"]})
    assert d.restore == Restore(3, "/c/3/step-4.pt", 4.0)
    assert d.delete_checkpoints == ["/c/1/step-2.pt"]
    assert Decision.from_wire({"action": "continue"}).delete_checkpoints == []


def test_lineage_replays_as_a_fixed_schedule() -> None:
    lin = Lineage.from_wire({"study": "s", "trial": 5, "state": "COMPLETE", "value": 0.1, "until_step": 10, "schedule": [
        {"from_step": 0, "params": {"lr": 0.1}, "trial": 1, "trial_step": 0},
        {"from_step": 4, "params": {"lr": 0.05}, "trial": 5, "trial_step": 4},
    ]})
    assert [lin.params_at(s)["lr"] for s in (0, 3, 4, 9)] == [0.1, 0.1, 0.05, 0.05]


def test_pbt_members_with_a_background_writer_leave_no_checkpoint_and_complete_diverged(
    client: tp.Client, name: str, tmp_path: Path
) -> None:
    """Real server, real torch: two members report through a CheckpointWriter, one exploits the
    other (loading a checkpoint that may still be in flight), one diverges and is completed with
    NaN; pbt_complete deletes what the server released, so nothing is left on disk."""
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=2, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 2, "resample_probability": 0.0}})
    nets = [torch.nn.Linear(3, 1) for _ in range(2)]
    opts = [torch.optim.SGD(n.parameters(), lr=0.1) for n in nets]
    exploits = 0
    with CheckpointWriter() as writer:
        trials = [study.ask(), study.ask()]
        for step in range(1, 7):
            for k, (trial, net, opt) in enumerate(zip(trials, nets, opts)):
                value = float("nan") if k == 0 and step >= 3 else 1.0 / step
                d = pbt_report(trial, value, step, net, opt, checkpoint_dir=tmp_path, writer=writer)
                exploits += d.restore is not None
        released = pbt_complete(trials[0], float("nan"), writer=writer)
        released += pbt_complete(trials[1], 1 / 6, writer=writer)
    assert exploits >= 1  # the diverged member was exploited (NaN ranks worst)
    assert released
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    first = study.trial(trials[0].number)
    assert first.state == "COMPLETE" and first.value is None and first.system_attrs["diverged"] == "NaN"
    lin = study.lineage()
    assert lin.trial == trials[1].number and lin.value == pytest.approx(1 / 6) and lin.step == 6


def test_complete_with_nan_is_refused_outside_pbt(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0, 1)}, strategy="random")
    trial = study.ask()
    with pytest.raises(tp.InvalidArgumentError):
        trial.complete(float("nan"))
    trial.fail("diverged")


def test_checkpoint_writer_waits_deletes_in_order_and_reports_errors(tmp_path: Path) -> None:
    net = torch.nn.Linear(2, 2)
    with CheckpointWriter() as w:
        p = w.save(tmp_path / "a" / "s1.pt", net, step=1)
        with torch.no_grad():
            net.weight.add_(1.0)  # the snapshot was taken before this
        w.delete([p])  # queued behind the write
        w.wait()
        assert not p.exists()
        q = w.save(tmp_path / "b.pt", net)
        w.wait(q)
        fresh = torch.nn.Linear(2, 2)
        load_checkpoint(q, fresh, map_location="cpu")
        assert torch.equal(fresh.weight, net.weight)
        (tmp_path / "blocked").write_text("a file where a directory is needed")
        w.save(tmp_path / "blocked" / "x.pt", net)
        with pytest.raises(OSError):
            w.wait()
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "never.pt", fresh, map_location="cpu", wait_s=0.05)


HANG_S = 60.0  # only catches a hang


class Unsaveable(torch.nn.Linear):
    """A model whose state ``torch.save`` cannot pickle: its background write fails."""

    def get_extra_state(self) -> object:
        return lambda: None

    def set_extra_state(self, state: object) -> None:
        pass


def wait_written(writer: CheckpointWriter, path: Path) -> None:
    """Waits (without raising) until ``path``'s background write is over, failed or not."""
    end = time.monotonic() + HANG_S
    while writer.pending(path):
        assert time.monotonic() < end, "background write never finished"
        time.sleep(0.005)


def test_a_failed_background_write_is_raised_by_the_next_save_and_a_reader_stops_waiting(tmp_path: Path) -> None:
    """A failed write was silent until close(), and a member told to load that checkpoint waited
    wait_s (60 s by default) for a file that would never come."""
    torch.manual_seed(0)
    bad = tmp_path / "7" / "step-3.pt"
    outcome: list[BaseException] = []

    def member_loading_it() -> None:  # as a recipient in another process: it knows the path only
        try:
            load_checkpoint(bad, torch.nn.Linear(2, 1), map_location="cpu", wait_s=3600)
        except BaseException as err:
            outcome.append(err)

    reader = threading.Thread(target=member_loading_it, daemon=True)
    reader.start()
    with CheckpointWriter() as w:
        w.save(bad, Unsaveable(2, 1))
        wait_written(w, bad)
        reader.join(HANG_S)
        assert not reader.is_alive(), "the reader waited for a checkpoint whose write had failed"
        assert len(outcome) == 1 and isinstance(outcome[0], FileNotFoundError), outcome
        assert "its writer failed (AttributeError: Can't pickle" in str(outcome[0])
        with pytest.raises(AttributeError, match="pickle"):
            w.save(tmp_path / "7" / "step-4.pt", torch.nn.Linear(2, 1))  # raised by the next save, once
        good = w.save(tmp_path / "7" / "step-5.pt", torch.nn.Linear(2, 1))
        w.wait(good)
        with pytest.raises(AttributeError):
            w.wait(bad)  # the failed path keeps its error
        w.delete([bad])
    assert not (tmp_path / "7" / "step-4.pt").exists() and good.exists()
    assert [p.name for p in (tmp_path / "7").iterdir()] == ["step-5.pt"]  # the marker went with the delete


def test_a_failed_write_raised_by_wait_is_not_raised_again_by_the_next_save(tmp_path: Path) -> None:
    """One failure, one raise: the member that waited for the path saw it; another save in the
    same process (another member's checkpoint) must not fail for it."""
    torch.manual_seed(0)
    bad = tmp_path / "8" / "step-1.pt"
    with CheckpointWriter() as w:
        w.save(bad, Unsaveable(2, 1))
        wait_written(w, bad)
        with pytest.raises(AttributeError, match="pickle"):
            w.wait(bad)
        good = w.save(tmp_path / "9" / "step-1.pt", torch.nn.Linear(2, 1))
        w.wait(good)
        with pytest.raises(AttributeError):
            w.wait(bad)  # the failed path keeps its error
    assert good.exists()


def test_pbt_report_raises_a_failed_checkpoint_write_before_reporting_again(client: tp.Client, name: str, tmp_path: Path) -> None:
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=2, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 2}})
    torch.manual_seed(0)
    net = Unsaveable(3, 1)
    with CheckpointWriter() as writer:
        with pytest.raises(AttributeError, match="pickle"):
            with study.ask() as trial:
                pbt_report(trial, 1.0, 1, net, checkpoint_dir=tmp_path, writer=writer)
                wait_written(writer, checkpoint_path(tmp_path, study, trial.number, 1))
                pbt_report(trial, 0.5, 2, net, checkpoint_dir=tmp_path, writer=writer)
    stored = study.trial(trial.number)
    assert stored.state == "FAIL" and [s for s, _ in stored.intermediate] == [1.0]  # step 2 was not reported


def test_a_missing_checkpoint_says_where_it_should_come_from(tmp_path: Path) -> None:
    # torch.load's bare "[Errno 2] No such file or directory" left a worker on another machine (a
    # checkpoint_dir that is not shared) guessing why every exploit and refill failed.
    with pytest.raises(FileNotFoundError, match=r"never\.pt.*after waiting 0\.05 s.*filesystem every worker can read"):
        load_checkpoint(tmp_path / "never.pt", torch.nn.Linear(2, 2), map_location="cpu", wait_s=0.05)
    with pytest.raises(FileNotFoundError, match=r"never\.pt does not exist: .*filesystem every worker can read"):
        load_checkpoint(tmp_path / "never.pt", torch.nn.Linear(2, 2), map_location="cpu")


def test_a_torn_checkpoint_is_named_in_the_error(tmp_path: Path) -> None:
    # torch.load of a torn file said only "IndexError: pop from empty list" (no path, no cause).
    torn = tmp_path / "torn.pt"
    torn.write_bytes(b"torn")
    with pytest.raises(RuntimeError, match=r"torn\.pt could not be read \(.*\): a torn or partial file") as info:
        load_checkpoint(torn, torch.nn.Linear(2, 2), map_location="cpu")
    assert info.value.__cause__ is not None


def test_a_script_that_always_fails_ends_optimize_after_max_failures_per_slot(
    client: tp.Client, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Real server: a PBT objective that raises after its first report, caught by optimize, was
    refilled for ever (n_trials was the only end). Each slot is given up at its fourth FAIL
    (max_failures 3, the default); the loop ends with a warning naming the error, and ask says why."""
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=1, strategy={
        "name": "pbt", "options": {"population_size": 2}})

    def objective(trial: tp.Trial) -> float:
        trial.report(1.0, 1)
        raise RuntimeError("name 'lss' is not defined")

    with caplog.at_level("WARNING", logger="tuneport"):
        study.optimize(objective, n_trials=30, catch=(RuntimeError,))
    assert len(study.trials) == 8
    assert all(t.state == tp.TrialState.FAIL for t in study.trials)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and "max_failures" in r.getMessage()]
    assert len(warned) == 1 and "name 'lss' is not defined" in warned[0]
    with pytest.raises(tp.SearchSpaceExhaustedError) as err:
        study.ask()
    assert err.value.data["reason"] == "max_failures" and err.value.data["given_up"] == [0, 1]


_DIES_BEFORE_REPORTING = """
import os, signal, sys
import tuneport as tp
with tp.connect(sys.argv[1]) as c:
    trial = c.load_study(sys.argv[2]).ask()
    print(trial.number, flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # what the OOM killer or a segfault does: no FAIL is told
"""


def test_a_pbt_script_killed_before_its_first_report_is_given_up_after_max_failures(
    server: ServerProcess, client: tp.Client, name: str
) -> None:
    """Real worker processes SIGKILLed after ask (a CUDA OOM, a segfault): no FAIL ever reaches the
    server, the lease lapses and the reaper fails the trial. Such a slot was refilled for ever; the
    lost leases now count towards max_failures (0 here: each slot is given up at its first loss), so
    the third worker is refused and told why."""
    client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=3, lease_ttl_s=1, strategy={
        "name": "pbt", "options": {"population_size": 2, "max_failures": 0}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(tp.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    killed: list[int] = []
    for _ in range(6):  # a bound on the loop only: both slots are given up after two losses
        proc = subprocess.run([sys.executable, "-c", _DIES_BEFORE_REPORTING, server.endpoint, name],
                              capture_output=True, text=True, env=env, timeout=120)
        if proc.returncode != -signal.SIGKILL:
            break
        killed.append(int(proc.stdout))
        deadline = time.monotonic() + 60  # only against a hang: the lease lasts 1 s
        while client.load_study(name).trial(killed[-1]).state == tp.TrialState.RUNNING:
            assert time.monotonic() < deadline, "the killed worker's trial was never reaped"
            time.sleep(0.2)
    assert killed == [0, 1], proc.stderr
    assert proc.returncode == 1 and "SearchSpaceExhaustedError" in proc.stderr
    assert "died without reporting" in proc.stderr
    states = [t.state for t in client.load_study(name).trials]
    assert states == [tp.TrialState.FAIL, tp.TrialState.FAIL]


def test_a_pbt_report_without_a_checkpoint_warns_once_that_nothing_can_be_exploited(
    client: tp.Client, name: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A plain ``report`` (Optuna's loop, the Lightning callback) under pbt names no checkpoint: no
    member can be a donor, so the population never exploits and runs as random search. The server
    answers 'continue' every time; the client says why, once."""
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1}})
    a, b = study.ask(), study.ask()
    with caplog.at_level("WARNING", logger="tuneport"):
        for step in (1, 2):
            assert b.report(1.0, step).action == "continue"
            assert a.report(5.0, step, wait=False) is None or a.restore is None
        net = torch.nn.Linear(2, 1)
        pbt_report(b, 1.0, 3, net, checkpoint_dir=tmp_path)
    warned = [r.getMessage() for r in caplog.records if "without data['checkpoint']" in r.getMessage()]
    assert len(warned) == 1 and f"study '{name}' uses pbt, but trial {b.number} reported step 1" in warned[0], warned
    assert "never exploits" in warned[0] and "tuneport.torch.pbt_report" in warned[0]

    explore_only = client.create_study(f"{name}-x", space={"lr": tp.Float(1e-3, 1.0, log=True)}, strategy={
        "name": "pbt", "options": {"population_size": 2, "exploit": False}})
    caplog.clear()
    with caplog.at_level("WARNING", logger="tuneport"):
        explore_only.ask().report(1.0, 1)
    assert not [r for r in caplog.records if "checkpoint" in r.getMessage()]


def test_a_pbt_study_refuses_max_retries_it_would_ignore(client: tp.Client, name: str) -> None:
    """PBT refills a lost member's slot itself and never re-queues a failed trial: max_retries was
    accepted and silently did nothing. Ray Tune's counterpart is the max_failures option."""
    strategy = {"name": "pbt", "options": {"population_size": 2}}
    with pytest.raises(tp.InvalidArgumentError, match=r"takes no retries: create_study's retry max_retries=3 would be ignored.*max_failures"):
        client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, strategy=strategy, max_retries=3)
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, strategy=strategy)
    with pytest.raises(tp.InvalidArgumentError, match="ask's max_retries=1 would be ignored"):
        study.ask(max_retries=1)


def test_burn_in_period_holds_the_first_exploit_until_that_step(client: tp.Client, name: str) -> None:
    """Ray Tune's burn_in_period had no counterpart: the worse member was exploited at the first
    interval however young the population was."""
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=2, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1, "burn_in_period": 3}})
    a, b = study.ask(), study.ask()
    updates = []
    for step in (1, 2, 3):
        b.report(1.0, step, {"checkpoint": f"/nowhere/b/step-{step}.pt"})
        if a.report(9.0, step, {"checkpoint": f"/nowhere/a/step-{step}.pt"}).action == "update":
            updates.append(step)
    assert updates == [3]
    with pytest.raises(tp.InvalidArgumentError, match="burn_in_period"):
        client.create_study(name + "-bad", space={"lr": tp.Float(1e-3, 1.0)}, strategy={"name": "pbt", "options": {"burn_in_period": -1}})
