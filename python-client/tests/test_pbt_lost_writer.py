"""A PBT worker stopped mid-save for longer than its lease (SIGSTOP here; a frozen VM, a suspended
laptop): the reaper fails its trial, a cleaner removes its temporary file, another member's report
releases its checkpoints, and when it resumes its writer writes the checkpoint again. That file, and
the one saved for the report the server then refuses, stayed on disk: nobody releases them any more."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import tuneport as tp
from tuneport.torch import CheckpointWriter, checkpoint_path, pbt_complete, pbt_report, remove_stale_temp_files

from conftest import ServerProcess

SRC = Path(__file__).resolve().parents[1] / "src"
HANG_S = 120.0  # only against a hang

# The worker: reports step 1, then its step-2 save stalls with the temporary file open until the
# parent says go (the parent stops the process meanwhile); then it reports step 3 or completes.
_WORKER = """
import sys, time
from pathlib import Path
import torch
import tuneport as tp
from tuneport.torch import CheckpointWriter, pbt_complete, pbt_report

endpoint, name, ckpt, sync, last = sys.argv[1:6]
go = Path(sync, "go")

class Stall:
    armed = False
    def __deepcopy__(self, memo):
        return self
    def __reduce_ex__(self, protocol):
        if Stall.armed:
            Stall.armed = False
            Path(sync, "saving").write_text("x")
            while not go.exists():
                time.sleep(0.02)
        return (int, (7,))

class Net(torch.nn.Linear):
    def get_extra_state(self):
        return Stall()
    def set_extra_state(self, state):
        pass

with tp.connect(endpoint) as c, CheckpointWriter() as w:
    trial = c.load_study(name).ask()
    print(trial.number, flush=True)
    net = Net(2, 1)
    pbt_report(trial, 0.1, 1, net, checkpoint_dir=ckpt, writer=w)
    w.wait()
    Stall.armed = True
    pbt_report(trial, 0.2, 2, net, checkpoint_dir=ckpt, writer=w)  # reported; the write stalls
    while not go.exists():
        time.sleep(0.02)
    try:
        if last == "report":
            pbt_report(trial, 0.3, 3, net, checkpoint_dir=ckpt, writer=w)
        else:
            pbt_complete(trial, 0.2, writer=w)
    except tp.LeaseLostError:
        print("lost", flush=True)
"""


def _wait(cond: object, what: str) -> None:
    end = time.monotonic() + HANG_S
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, what
        time.sleep(0.05)


@pytest.mark.parametrize("last", ["report", "complete"])
def test_a_worker_stopped_mid_save_past_its_lease_leaves_no_checkpoint_behind(
    server: ServerProcess, client: tp.Client, name: str, tmp_path: Path, last: str
) -> None:
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=5, lease_ttl_s=1, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 100}})
    ckpt, sync = tmp_path / "ckpt", tmp_path / "sync"
    sync.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _WORKER, server.endpoint, name, str(ckpt), str(sync), last],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stopped = False
    try:
        assert proc.stdout is not None
        lost = int(proc.stdout.readline())
        step2 = checkpoint_path(ckpt, study, lost, 2)
        _wait(lambda: (sync / "saving").exists() and [s for s, _ in study.trial(lost).intermediate] == [1.0, 2.0],
              "the worker never reported step 2 with its save stalled")
        os.kill(proc.pid, signal.SIGSTOP)
        stopped = True
        _wait(lambda: study.trial(lost).state == tp.TrialState.FAIL, "the stopped worker's trial was never reaped")
        # The hour it stayed stopped: a cleaner removes its temporary file by the age rule.
        assert len(remove_stale_temp_files(step2.parent, max_age_s=0)) == 1
        # Another member's report releases the lost member's checkpoints, and it completes (its
        # completion deletes what it released again): all while the worker is stopped.
        with CheckpointWriter() as writer, study.ask() as member:
            d = pbt_report(member, 0.5, 1, torch.nn.Linear(2, 1), checkpoint_dir=ckpt, writer=writer)
            assert str(step2) in d.delete_checkpoints
            pbt_complete(member, 0.5, writer=writer)
        (sync / "go").write_text("x")
        os.kill(proc.pid, signal.SIGCONT)
        stopped = False
        out, err = proc.communicate(timeout=HANG_S)
        assert proc.returncode == 0 and out.strip() == "lost", err
    finally:
        if stopped:
            os.kill(proc.pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # The late write of step 2 (and the refused report's step 3) were left for ever.
    left = sorted(str(p.relative_to(ckpt)) for p in ckpt.rglob("*") if p.is_file())
    assert left == []
