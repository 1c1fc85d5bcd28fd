"""PyTorch helpers (``pip install tuneport[torch]``). torch is imported on first use only,
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
from typing import Any, Union

__all__ = ["device", "load_checkpoint", "save_checkpoint"]

PathLike = Union[str, "os.PathLike[str]"]


def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        raise ImportError("tuneport.torch needs PyTorch: pip install 'tuneport[torch]'") from exc


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
