"""The PBT helpers of ``tuneport.torch`` (re-exported there; its module doc says how checkpoints are
written): one checkpoint per report, loads of donor checkpoints, deletion of released ones.

**A trial that lost its lease** (its worker was stopped or cut off longer than the lease: the
reaper failed it) has its checkpoints released by the other members' reports, and a report or
completion it still sends is refused (``LeaseLostError``). ``pbt_report`` then deletes the
checkpoint it had just saved for that refused report (nobody was told of it), and, with a
``CheckpointWriter``, ``pbt_report`` and ``pbt_complete`` delete this trial's checkpoints that the
writer wrote again after a stall (``torch.py``'s ``_write_atomic``: a cleaner removed the temporary
file of a writer stopped for over ``STALE_TEMP_AGE_S``): the server may have released that path
while the file was missing, and would never release it again. Spared: those the refusal names as
still needed (``err.data["checkpoints_needed"]``): a live recipient was told to load one and has not
confirmed it (it may have waited all that time for this very file); the server releases it once
loaded, as any other.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import LeaseLostError
from .torch import (
    CheckpointWriter,
    PathLike,
    _cleaned_lock,
    _failed_marker,
    _unlink,
    load_checkpoint,
    remove_stale_temp_files,
    save_checkpoint,
)

if TYPE_CHECKING:
    from ._study import Study
    from ._trial import Decision, Trial

def checkpoint_path(checkpoint_dir: PathLike, study: str | Study, trial: int, step: float) -> Path:
    """``<checkpoint_dir>/<study>/created-<ms>/<trial>/step-<step>.pt`` for a ``Study`` (``<ms>``
    is its creation time in milliseconds, which tells a study deleted and created again under its
    name from the one before it: their trial numbers start again at 0, so without it a member of
    the new study would write, release and be pointed at the old study's files). One file per
    report. Given only a study's name (or a study from a server that sends no creation time) it is
    ``<checkpoint_dir>/<study>/<trial>/step-<step>.pt``, the layout of earlier versions: the paths a server
    already holds are full paths, so checkpoints saved under that layout are still loaded and
    deleted where they are. Put ``checkpoint_dir`` on a filesystem every worker can read (PBT
    members load each other's)."""
    name = str(int(step)) if float(step).is_integer() else str(step)
    return _study_dir(checkpoint_dir, study) / str(trial) / f"step-{name}.pt"


def _study_dir(checkpoint_dir: PathLike, study: str | Study) -> Path:
    """The directory of one study's checkpoints: by name and creation time (see ``checkpoint_path``)."""
    if isinstance(study, str):
        return Path(checkpoint_dir) / study
    created_ms = round(study._created_at * 1000) if study._created_at else None
    base = Path(checkpoint_dir) / study.name
    return base if created_ms is None else base / f"created-{created_ms}"


_cleaned_trials: set[tuple[Path, int]] = set()
_trial_dirs: weakref.WeakKeyDictionary[Trial, Path] = weakref.WeakKeyDictionary()
"""Each trial's checkpoint directory, as its ``pbt_report`` named it (for ``pbt_complete``)."""


def _drop_lost(directory: Path, unreported: Path | None, writer: CheckpointWriter | None, err: LeaseLostError) -> None:
    """A trial lost its lease (see the module doc): deletes ``unreported`` (the checkpoint of the
    refused report) and, with ``writer``, the trial's checkpoints that it wrote again after a stall,
    except those the refusal says live trials still need (``data["checkpoints_needed"]``: a recipient
    told to load one has not loaded it yet, and may be waiting for this very rewrite; the server
    releases it once loaded)."""
    if unreported is not None:
        delete_checkpoints([unreported], writer)
    if writer is not None:
        needed = err.data.get("checkpoints_needed")
        keep = [str(p) for p in needed] if isinstance(needed, list) else []
        writer.drop_rewritten(directory, keep=keep)


def _clean_study_once(study_dir: Path, trial: int) -> None:
    """At a trial's first ``pbt_report`` in this process: removes the stale temporary files in every
    trial directory of the study. A member killed mid-save never writes to its own directory
    again (its refill is another trial, with another directory), so the next save there would
    never come; the members that go on report here."""
    key = (study_dir.absolute(), trial)
    with _cleaned_lock:
        if key in _cleaned_trials:
            return
        _cleaned_trials.add(key)
    try:
        dirs = [e.path for e in os.scandir(study_dir) if e.is_dir(follow_symlinks=False)]
    except (FileNotFoundError, NotADirectoryError):
        return
    for d in dirs:
        remove_stale_temp_files(d)


def delete_checkpoints(paths: Iterable[PathLike], writer: CheckpointWriter | None = None) -> None:
    """Deletes checkpoint files the server released (missing ones are fine); through ``writer``
    when given, so that a path still being written is deleted after its write."""
    if writer is not None:
        writer.delete(paths)
        return
    for old in paths:
        _unlink(Path(old))
        _unlink(_failed_marker(Path(old)))


def _load_restore(path: str, model: Any, optimizer: Any, writer: CheckpointWriter | None, map_location: Any, wait_s: float) -> None:
    if writer is not None and (writer.pending(path) or writer.failed(path) is not None):
        writer.wait(path)  # our own background write (several members in one process); raises its error
    load_checkpoint(path, model, optimizer, map_location=map_location, wait_s=wait_s)


def pbt_restore(
    trial: Trial, model: Any, optimizer: Any = None, *, map_location: Any = None, writer: CheckpointWriter | None = None,
    wait_s: float = 60.0,
) -> float:
    """Loads ``trial.restore`` (a refilled PBT member's donor checkpoint) into ``model`` and
    ``optimizer`` when there is one, and returns the step to count from (``trial.start_step``).
    A checkpoint that is still being written (by ``writer`` or another process) is waited for up
    to ``wait_s`` seconds."""
    if trial.restore is not None:
        _load_restore(trial.restore.checkpoint, model, optimizer, writer, map_location, wait_s)
    return trial.start_step


def pbt_report(
    trial: Trial,
    value: float,
    step: float,
    model: Any,
    optimizer: Any = None,
    *,
    checkpoint_dir: PathLike,
    map_location: Any = None,
    writer: CheckpointWriter | None = None,
    fsync: bool = False,
    wait_s: float = 60.0,
) -> Decision:
    """One PBT report in a training loop: saves a checkpoint atomically, reports ``value`` with
    its location, deletes the checkpoints the server released, and on an exploit loads the
    donor's checkpoint into ``model``/``optimizer``. ``trial.params`` then holds the new
    hyperparameters: apply them (e.g. to the optimizer's param groups) before training on.

    With ``writer`` the save is a snapshot written in the background (the report does not wait
    for the disk); without it the save is synchronous, with ``fsync`` as the module doc says
    (off by default). A donor checkpoint still in flight is waited for up to ``wait_s`` seconds.

    Which step to use after an exploit: keep counting *this trial's* steps (``step`` must
    increase per trial, and the perturbation interval counts them); the model's training age
    is the donor's (``decision.restore.step`` plus what you train from now on), and
    ``study.lineage()`` reports it as ``until_step``. A learning-rate schedule that depends on
    the model's age (warm-up, decay) should use the age; everything PBT asks of you uses the
    trial's own steps.
    The report blocks (``wait=True``): an exploit must be loaded before the next step trains and
    the released checkpoints must be known before they are deleted, which a non-blocking report
    would deliver one report later. @raises TrialPruned, LeaseLostError as ``Trial.report``; with
    ``writer``, the error of an earlier checkpoint write that failed, before reporting (see the
    module doc: a recipient of that checkpoint is not left waiting for it)."""
    path = checkpoint_path(checkpoint_dir, trial.study, trial.number, step)
    _clean_study_once(path.parent.parent, trial.number)
    name = trial.study.name
    if path.parent.parent != _study_dir(checkpoint_dir, name) and Path(name).name == name and name.strip(".") != "":
        # The study's trial directories of the earlier layout (<dir>/<study>/<trial>, written by
        # clients before the change): a member killed there mid-save is cleaned by those that go on.
        # (Not for a name stored before names were refused that read as paths: '..', 'a/b'.)
        _clean_study_once(_study_dir(checkpoint_dir, name), trial.number)
    _trial_dirs[trial] = path.parent
    # A repeat of a step already reported names a path the server may hold (and pin for a recipient).
    known = any(s == float(step) for s, _ in trial.intermediate)
    if writer is not None:
        writer.save(path, model, optimizer, step=step)
    else:
        save_checkpoint(path, model, optimizer, fsync=fsync, step=step)
    try:
        decision = trial.report(value, step, {"checkpoint": str(path)})
    except LeaseLostError as err:
        _drop_lost(path.parent, None if known else path, writer, err)
        raise
    delete_checkpoints(decision.delete_checkpoints, writer)
    if trial.restore is not None:
        _load_restore(trial.restore.checkpoint, model, optimizer, writer, map_location, wait_s)
    return decision


def pbt_complete(trial: Trial, value: float, *, writer: CheckpointWriter | None = None) -> list[str]:
    """Completes a PBT member with ``value`` (NaN or infinity for a diverged one: it ranks worst)
    and deletes the checkpoints the server released when it finished (``pbt_released``: its own
    and other finished members' that nobody will load; the last member to finish releases
    everything left). Returns those paths. Keep a copy of a model you want to keep: PBT's
    checkpoints are working files. @raises LeaseLostError as ``Trial.complete``."""
    try:
        trial.complete(value)
    except LeaseLostError as err:
        directory = _trial_dirs.get(trial)
        if directory is not None:
            _drop_lost(directory, None, writer, err)
        raise
    # With non-blocking reports, the last decisions (and what they released) arrive at complete().
    late = trial._released_unreturned
    released = list(dict.fromkeys([*late, *(str(p) for p in trial.system_attrs.get("pbt_released") or [])]))
    delete_checkpoints(released, writer)
    return released
