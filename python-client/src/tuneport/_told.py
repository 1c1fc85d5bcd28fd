"""How a told value is cast to a number, the same on every path (``study.tell``, ``Trial.complete``,
``report``, ``create_trial``, ``study.add_trial``, an objective's return) and under every numpy."""

from __future__ import annotations

import sys
from typing import Any


def array_shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a numpy array of one dimension or more (``np.array([0.5])``), else None (a 0-d
    array, a numpy scalar, anything else). numpy is not imported for it: an array exists only once
    the caller's numpy is."""
    np = sys.modules.get("numpy")
    ndarray = getattr(np, "ndarray", None)
    if ndarray is None or not isinstance(value, ndarray) or value.ndim == 0:
        return None
    return tuple(value.shape)


def as_float(value: Any) -> float:
    """``float(value)``, where a numpy array of one dimension or more is not a number, as numpy 2's
    ``float()`` refuses it (Optuna 5.0 then fails the trial, "could not be cast to float"): checked
    by its shape, since an older numpy casts an array of one element with a DeprecationWarning only.
    A 0-d array is a number. @raises TypeError, ValueError, OverflowError as ``float`` does."""
    shape = array_shape(value)
    if shape is not None:
        raise TypeError(
            f"only 0-dimensional arrays can be converted to Python scalars (a numpy array of shape {shape} is one value, as "
            "Optuna reads it, not a number: a list or tuple holds one value per objective; v.item() is the number)"
        )
    return float(value)


__all__ = ["array_shape", "as_float"]
