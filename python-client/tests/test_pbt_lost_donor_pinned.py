"""A PBT donor stopped mid-save past its lease, whose checkpoint a live recipient was told to load
and has not loaded yet (it waits for the file: the donor's write stalled). A cleaner removes the
donor's temporary file by the age rule (an hour; ``max_age_s=0`` stands for it), the donor writes
the checkpoint again when it resumes, and its next report is refused (``LeaseLostError``). The
clean-up of a lost worker's rewritten files (``_torch_pbt._drop_lost``) deleted that checkpoint
too, and the recipient, still waiting, lost it. The server knows the recipient has not confirmed
the load: the refusal names the lost trial's checkpoints still needed, and the clean-up spares them."""

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
from tuneport.torch import CheckpointWriter, checkpoint_path, load_checkpoint, pbt_complete, pbt_report, remove_stale_temp_files, save_checkpoint

from conftest import ServerProcess

SRC = Path(__file__).resolve().parents[1] / "src"
HANG_S = 120.0  # only against a hang

# The donor: reports step 1, then its step-2 save stalls with the temporary file open until the
# parent says go (the parent stops the process meanwhile); then it reports step 3, refused.
_DONOR = """
import sys, time
from pathlib import Path
import torch
import tuneport as tp
from tuneport.torch import CheckpointWriter, pbt_report

endpoint, name, ckpt, sync, how = sys.argv[1:6]
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

# "heartbeat": the heartbeat thread learns of the lost lease first, and the report is refused locally;
# "report": no heartbeats, the server refuses the report itself.
with tp.connect(endpoint, heartbeat=how == "heartbeat") as c, CheckpointWriter() as w:
    trial = c.load_study(name).ask()
    print(trial.number, flush=True)
    net = Net(2, 1)
    pbt_report(trial, 0.1, 1, net, checkpoint_dir=ckpt, writer=w)
    w.wait()
    Stall.armed = True
    pbt_report(trial, 0.05, 2, net, checkpoint_dir=ckpt, writer=w)  # reported; the write stalls
    while not go.exists() or (how == "heartbeat" and not trial.lease_lost):
        time.sleep(0.02)
    try:
        pbt_report(trial, 0.04, 3, net, checkpoint_dir=ckpt, writer=w)
    except tp.LeaseLostError as err:
        print("lost", sorted(err.data.get("checkpoints_needed") or []), flush=True)
"""


class _Net(torch.nn.Linear):
    """The donor's module (its extra state, the stall marker, is saved as an int)."""

    def get_extra_state(self) -> int:
        return 7

    def set_extra_state(self, state: object) -> None:
        pass


def _wait(cond: object, what: str) -> None:
    end = time.monotonic() + HANG_S
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, what
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["heartbeat", "report"])
def test_a_lost_donors_rewritten_checkpoint_that_a_recipient_still_waits_for_is_kept(
    server: ServerProcess, client: tp.Client, name: str, tmp_path: Path, how: str
) -> None:
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=5, lease_ttl_s=2, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1}})
    ckpt, sync = tmp_path / "ckpt", tmp_path / "sync"
    sync.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _DONOR, server.endpoint, name, str(ckpt), str(sync), how],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stopped = False
    try:
        assert proc.stdout is not None
        donor = int(proc.stdout.readline())
        step2 = checkpoint_path(ckpt, study, donor, 2)
        _wait(lambda: (sync / "saving").exists() and [s for s, _ in study.trial(donor).intermediate] == [1.0, 2.0],
              "the donor never reported step 2 with its save stalled")
        # The recipient's lease is long: a loaded machine must not have it reaped too (it would pin nothing).
        with study.ask(lease_ttl_s=60) as recipient:
            # The recipient ranks last: it is told to load the donor's step-2 checkpoint, which is
            # not on disk yet (its write stalled), so it waits for it (load_checkpoint's wait_s).
            net = _Net(2, 1)
            own1 = checkpoint_path(ckpt, study, recipient.number, 1)
            save_checkpoint(own1, net, fsync=False)
            d = recipient.report(1.0, 1, {"checkpoint": str(own1)})
            assert d.restore is not None and d.restore.checkpoint == str(step2)
            os.kill(proc.pid, signal.SIGSTOP)
            stopped = True
            _wait(lambda: study.trial(donor).state == tp.TrialState.FAIL, "the stopped donor's trial was never reaped")
            # The hour it stayed stopped: a cleaner removes its temporary file by the age rule.
            assert len(remove_stale_temp_files(step2.parent, max_age_s=0)) == 1
            (sync / "go").write_text("x")
            os.kill(proc.pid, signal.SIGCONT)
            stopped = False
            out, err = proc.communicate(timeout=HANG_S)
            assert proc.returncode == 0 and out.strip().startswith("lost"), (out, err)
            # The donor's clean-up spared the checkpoint the recipient still waits for (the refusal said it is needed).
            assert step2.exists(), (out, err, study.trial(recipient.number).state)
            load_checkpoint(step2, net, wait_s=5.0, weights_only=False)
            assert out.strip().endswith(f"lost {[str(step2)]}"), out
            with CheckpointWriter() as writer:
                d = pbt_report(recipient, 0.5, 2, net, checkpoint_dir=ckpt, writer=writer)
                pbt_complete(recipient, 0.5, writer=writer)
    finally:
        if stopped:
            os.kill(proc.pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Loaded, it was released like any other: nothing is left once the population is done.
    left = sorted(str(p.relative_to(ckpt)) for p in ckpt.rglob("*") if p.is_file())
    assert left == []
