"""A PBT study deleted and created again under its name: its trial numbers start again at 0, so
checkpoint paths formed from the name and the trial number alone were the deleted study's, and a
member of the new study was pointed at (and loaded, and released for deletion) the old one's files.
``checkpoint_path`` puts a study's checkpoints under its creation time; a study's paths that the
server already holds (saved under the earlier layout) are still loaded, also after a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

import tuneport as tp
from tuneport.torch import checkpoint_path, load_checkpoint, pbt_report, save_checkpoint

from conftest import ServerProcess

PBT = {"name": "pbt", "options": {"population_size": 2, "perturbation_interval": 2, "resample_probability": 0.0}}
SPACE = {"lr": tp.Float(1e-3, 1.0, log=True)}


def _run(study: tp.Study, steps: int, ckpt: Path) -> tuple[list[tp.Trial], set[str], set[str]]:
    """Two members report ``steps`` times through ``pbt_report`` (member 0 worse, so it exploits
    member 1): the members, the paths they saved, and the donor checkpoints they were pointed at."""
    nets = [torch.nn.Linear(3, 1) for _ in range(2)]
    trials = [study.ask(), study.ask()]
    saved: set[str] = set()
    pointed: set[str] = set()
    for step in range(1, steps + 1):
        for k, (trial, net) in enumerate(zip(trials, nets)):
            d = pbt_report(trial, (2.0 - k) / step, step, net, checkpoint_dir=ckpt)
            path = checkpoint_path(ckpt, study, trial.number, step)
            assert path.exists(), f"pbt_report saved no {path}"  # its latest: not released yet
            saved.add(str(path))
            if d.restore is not None:
                pointed.add(d.restore.checkpoint)
    return trials, saved, pointed


def _held(study: tp.Study, numbers: list[int]) -> set[str]:
    """Every checkpoint path the server holds for these trials: their own, their restore, their lineage's."""
    paths: set[str] = set()
    for n in numbers:
        attrs: dict[str, Any] = study.trial(n).system_attrs
        paths.update(c["path"] for c in attrs.get("pbt_checkpoints") or [])
        paths.update(e["checkpoint"] for e in attrs.get("pbt_lineage") or [] if e.get("checkpoint"))
        if attrs.get("pbt_restore"):
            paths.add(attrs["pbt_restore"]["checkpoint"])
    return paths


def test_no_member_of_a_study_recreated_under_its_name_is_pointed_at_the_deleted_studys_checkpoints(
    client: tp.Client, name: str, tmp_path: Path
) -> None:
    old = client.create_study(name, space=SPACE, seed=2, strategy=PBT)
    _, old_saved, old_pointed = _run(old, 4, tmp_path)
    assert old_pointed  # the same run exploits in the new study: it would be pointed at these paths
    left = {p for p in old_saved if Path(p).exists()}  # the old members run on, unfinished
    assert left
    client.delete_study(name)
    new = client.create_study(name, space=SPACE, seed=2, strategy=PBT)
    trials, new_saved, new_pointed = _run(new, 4, tmp_path)
    assert new_pointed
    assert new_saved.isdisjoint(old_saved)
    assert new_pointed.isdisjoint(old_saved)
    assert _held(new, [t.number for t in trials]).isdisjoint(old_saved)
    # The new members neither wrote over nor deleted (as released) the old study's files.
    assert all(Path(p).exists() for p in left)
    assert all(Path(p).is_relative_to(tmp_path / name) for p in new_saved | new_pointed)


def test_checkpoints_saved_under_the_earlier_layout_are_still_loaded_after_a_restart(tmp_path: Path) -> None:
    """A study whose members reported paths of the earlier layout (``<dir>/<study>/<trial>/...``,
    what ``checkpoint_path`` gives for a name, as clients before the change did): the server
    persists those full paths, so after a restart the member pointed at one still finds it there."""
    server = ServerProcess(tmp_path / "db.sqlite").start()
    try:
        ckpt = tmp_path / "ckpt"
        donor = torch.nn.Linear(3, 1)
        with tp.connect(server.endpoint, timeout=10.0) as c:
            study = c.create_study("before", space=SPACE, seed=2, strategy=PBT)
            a, b = study.ask(), study.ask()
            restores = []
            for step in (1, 2):
                for trial, value in ((b, 1.0), (a, 2.0)):
                    path = save_checkpoint(checkpoint_path(ckpt, "before", trial.number, step), donor, fsync=False)
                    d = trial.report(value / step, step, {"checkpoint": str(path)})
                    restores += [d.restore.checkpoint] if d.restore is not None else []
        assert restores == [str(checkpoint_path(ckpt, "before", b.number, 2))]
        server.stop()
        server.start()
        with tp.connect(server.endpoint, timeout=10.0) as c:
            held = _held(c.load_study("before"), [a.number, b.number])
        assert restores[0] in held
        assert all(Path(p).is_relative_to(ckpt / "before") and "created-" not in p for p in held)
        net = torch.nn.Linear(3, 1)
        load_checkpoint(restores[0], net)
        assert torch.equal(net.weight, donor.weight)
    finally:
        server.stop()
