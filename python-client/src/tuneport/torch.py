"""PyTorch helpers (they need PyTorch: ``pip install torch``). torch is imported on first use only,
so importing this module costs nothing where torch is absent.

Checkpoints are written atomically (a temporary file in the same directory, fsync, then
``os.replace``): a worker killed mid-save leaves the previous checkpoint intact, which is what
PBT relies on when another trial is told to restore from it.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ._extras import TORCH_HINT

if TYPE_CHECKING:
    from ._trial import Decision, Trial

__all__ = ["checkpoint_path", "device", "load_checkpoint", "pbt_report", "pbt_restore", "save_checkpoint"]

PathLike = Union[str, "os.PathLike[str]"]


def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        raise ImportError(TORCH_HINT.format(module="tuneport.torch")) from exc


def device() -> Any:
    """``torch.device("cuda")`` when a GPU is available, else ``torch.device("cpu")``."""
    torch = _torch()
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def save_checkpoint(path: PathLike, model: Any, optimizer: Any = None, **extra: Any) -> Path:
    """Saves ``{"model", "optimizer", "extra"}`` state dicts to ``path`` atomically and returns it.
    ``extra`` (epoch, step, metrics…) should hold tensors and plain Python values only."""
    torch = _torch()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra,
    }
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return target


def load_checkpoint(
    path: PathLike, model: Any, optimizer: Any = None, *, map_location: Any = None, weights_only: bool = True
) -> dict[str, Any]:
    """Loads a checkpoint written by ``save_checkpoint`` into ``model`` (and ``optimizer`` when given
    and saved) and returns its ``extra`` dict. ``map_location`` defaults to ``device()``."""
    torch = _torch()
    state = torch.load(Path(path), map_location=map_location if map_location is not None else device(), weights_only=weights_only)
    model.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    extra: dict[str, Any] = dict(state.get("extra") or {})
    return extra


# ---------------------------------------------------------------------- PBT


def checkpoint_path(checkpoint_dir: PathLike, study: str, trial: int, step: float) -> Path:
    """``<checkpoint_dir>/<study>/<trial>/step-<step>.pt``: one file per report. Put
    ``checkpoint_dir`` on a filesystem every worker can read (PBT members load each other's)."""
    name = str(int(step)) if float(step).is_integer() else str(step)
    return Path(checkpoint_dir) / study / str(trial) / f"step-{name}.pt"


def pbt_restore(trial: Trial, model: Any, optimizer: Any = None, *, map_location: Any = None) -> float:
    """Loads ``trial.restore`` (a refilled PBT member's donor checkpoint) into ``model`` and
    ``optimizer`` when there is one, and returns the step to count from (``trial.start_step``)."""
    if trial.restore is not None:
        load_checkpoint(trial.restore.checkpoint, model, optimizer, map_location=map_location)
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
) -> Decision:
    """One PBT report in a training loop: saves a checkpoint atomically, reports ``value`` with
    its location, deletes the checkpoints the server released, and on an exploit loads the
    donor's checkpoint into ``model``/``optimizer``. ``trial.params`` then holds the new
    hyperparameters: apply them (e.g. to the optimizer's param groups) before training on.
    The report blocks (``wait=True``): an exploit must be loaded before the next step trains and
    the released checkpoints must be known before they are deleted, which a non-blocking report
    would deliver one report later. @raises TrialPruned, LeaseLostError as ``Trial.report``."""
    path = checkpoint_path(checkpoint_dir, trial.study.name, trial.number, step)
    save_checkpoint(path, model, optimizer, step=step)
    decision = trial.report(value, step, {"checkpoint": str(path)})
    for old in decision.delete_checkpoints:
        try:
            os.unlink(old)
        except FileNotFoundError:
            pass
    if trial.restore is not None:
        load_checkpoint(trial.restore.checkpoint, model, optimizer, map_location=map_location)
    return decision
