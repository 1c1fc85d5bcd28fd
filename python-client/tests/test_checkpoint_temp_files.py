"""Temporary files of checkpoint writers killed mid-save: removed once their writer is dead (or
they are old), never while a writer in another process is still writing them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import SupportsIndex

import torch

import tuneport as tp
from tuneport import torch as tpt
from tuneport.torch import pbt_report, remove_stale_temp_files, save_checkpoint

SRC = Path(__file__).resolve().parents[1] / "src"

# A save whose pickling blocks for ever once the temporary file is open: the parent kills it there.
_STUCK_WRITER = """
import sys, time
from pathlib import Path
from typing import SupportsIndex
import torch
from tuneport.torch import save_checkpoint

class Stuck:
    def __reduce_ex__(self, protocol):
        Path(sys.argv[2]).write_text("writing")
        time.sleep(600)
        raise AssertionError("not killed")

save_checkpoint(sys.argv[1], torch.nn.Linear(2, 1), fsync=False, stuck=Stuck())
"""


def _writer_stuck_mid_save(target: Path, tmp_path: Path) -> subprocess.Popen[bytes]:
    sentinel = tmp_path / f"writing-{target.name}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", _STUCK_WRITER, str(target), str(sentinel)], env=env)
    deadline = time.monotonic() + 120
    while not sentinel.exists():
        assert proc.poll() is None, f"the writer exited with {proc.returncode} before it was stuck"
        assert time.monotonic() < deadline, "the writer never started its save"
        time.sleep(0.05)
    return proc


def _temps(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_a_writer_sigkilled_mid_save_leaves_a_temp_file_that_the_next_save_there_removes(tmp_path: Path) -> None:
    """The file stayed for ever: nothing ever looked at it again. A writer still writing in
    another process keeps its file (no race with a concurrent save)."""
    ckpt = tmp_path / "ckpt"
    proc = _writer_stuck_mid_save(ckpt / "step-3.pt", tmp_path)
    try:
        [temp] = _temps(ckpt)
        assert temp.startswith(".step-3.pt.") and f"-{proc.pid}." in temp, temp
        assert remove_stale_temp_files(ckpt) == []  # its writer is alive: kept
        assert _temps(ckpt) == [temp]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert not (ckpt / "step-3.pt").exists() and _temps(ckpt) == [temp]
    save_checkpoint(ckpt / "step-4.pt", torch.nn.Linear(2, 1), fsync=False)
    assert sorted(p.name for p in ckpt.iterdir()) == ["step-4.pt"]


def test_stale_temp_files_go_by_dead_writer_or_age_and_live_or_foreign_fresh_ones_stay(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    dead = int(done.stdout)
    host = tpt._HOST
    names = {
        "dead": f".step-1.pt.{host}-{dead}.abc_12.tmp",
        "alive": f".step-2.pt.{host}-{os.getppid()}.abc_12.tmp",
        "foreign": f".step-3.pt.otherhost-{dead}.abc_12.tmp",
        "foreign_old": f".step-4.pt.otherhost-{dead}.abc_12.tmp",
        "legacy_old": ".step-5.pt.k2j4h_x.tmp",
        "legacy": ".step-6.pt.k2j4h_y.tmp",
    }
    for path in (tmp_path / n for n in names.values()):
        path.write_bytes(b"partial")
    old = time.time() - tpt.STALE_TEMP_AGE_S - 60
    for key in ("foreign_old", "legacy_old"):
        os.utime(tmp_path / names[key], (old, old))
    removed = remove_stale_temp_files(tmp_path)
    assert sorted(p.name for p in removed) == sorted(names[k] for k in ("dead", "foreign_old", "legacy_old"))
    assert _temps(tmp_path) == sorted(names[k] for k in ("alive", "foreign", "legacy"))


def test_a_pbt_member_killed_mid_save_has_its_temp_file_removed_by_another_members_report(
    client: tp.Client, name: str, tmp_path: Path
) -> None:
    """Real server: member a is SIGKILLed while saving; its directory is never written again (its
    refill is another trial), so only the other members' reports can clean it."""
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=1, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1}})
    a, b = study.ask(), study.ask()
    a_dir = tpt.checkpoint_path(tmp_path, study, a.number, 1).parent
    proc = _writer_stuck_mid_save(a_dir / "step-1.pt", tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert len(_temps(a_dir)) == 1
    pbt_report(b, 1.0, 1, torch.nn.Linear(2, 1), checkpoint_dir=tmp_path)
    assert _temps(a_dir) == []
    b.fail("done")
    a.fail("killed")


def test_a_member_killed_mid_save_under_the_earlier_layout_has_its_temp_file_removed_by_another_members_report(
    client: tp.Client, name: str, tmp_path: Path
) -> None:
    """A study whose member, run by a client of the earlier layout (``<dir>/<study>/<trial>/``),
    was SIGKILLed mid-save: the members that go on (this client, ``<dir>/<study>/created-<ms>/``)
    are the only ones that can clean its directory, as for a member of their own layout."""
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=1, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1}})
    a, b = study.ask(), study.ask()
    a_dir = tpt.checkpoint_path(tmp_path, study.name, a.number, 1).parent  # the earlier layout
    assert a_dir != tpt.checkpoint_path(tmp_path, study, a.number, 1).parent
    proc = _writer_stuck_mid_save(a_dir / "step-1.pt", tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert len(_temps(a_dir)) == 1
    pbt_report(b, 1.0, 1, torch.nn.Linear(2, 1), checkpoint_dir=tmp_path)
    assert _temps(a_dir) == []
    b.fail("done")
    a.fail("killed")


def test_a_writer_in_another_pid_namespace_with_the_same_host_name_keeps_its_file(tmp_path: Path) -> None:
    """Containers on one filesystem often share the host name (``--network host``) while each
    numbers its processes from 1: a pid absent here can be a live writer there. Its temp file (named
    with the bare host name, as the writer's name then was) was removed mid-save, and the writer's
    rename failed. Only this pid namespace's own names are judged by pid; the rest go by age."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    dead = int(done.stdout)
    bare = tpt._HOST.rsplit("_", 1)[0] if os.path.exists("/proc/self/ns/pid") else "not-this-host"
    other_ns = f".step-1.pt.{bare}-{dead}.abc_12.tmp"
    own_dead = f".step-2.pt.{tpt._HOST}-{dead}.abc_12.tmp"
    for n in (other_ns, own_dead):
        (tmp_path / n).write_bytes(b"partial")
    assert [p.name for p in remove_stale_temp_files(tmp_path)] == [own_dead]
    assert _temps(tmp_path) == [other_ns]



def test_a_writer_whose_temp_file_a_cleaner_removed_while_it_was_stopped_writes_it_again(tmp_path: Path) -> None:
    """A writer on another host stopped mid-save (SIGSTOP, a frozen VM) for over STALE_TEMP_AGE_S:
    a cleaner there removed its temporary file by the age rule, and when the writer resumed, its
    rename raised FileNotFoundError: the save failed (pbt_report raised, the trial ended). Here the
    cleaner runs from inside the save (max_age_s=0 stands for the hour the writer was stopped)."""
    ckpt = tmp_path / "ckpt"
    removed: list[Path] = []

    class CleanedMidSave:
        def __reduce_ex__(self, protocol: SupportsIndex) -> tuple[object, ...]:
            if not removed:
                removed.extend(remove_stale_temp_files(ckpt, max_age_s=0))
            return (int, (7,))

    path = save_checkpoint(ckpt / "step-1.pt", torch.nn.Linear(2, 1), fsync=False, mark=CleanedMidSave())
    assert [p.name.startswith(".step-1.pt.") for p in removed] == [True]
    assert torch.load(path, weights_only=False)["extra"]["mark"] == 7
    assert _temps(ckpt) == []
