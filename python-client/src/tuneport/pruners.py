"""Optuna's ``optuna.pruners`` names, for scripts moved with ``import tuneport as optuna``:
``optuna.pruners.MedianPruner()`` without Optuna installed. Each class takes the arguments of
Optuna 5.0's class of the same name (names, order and defaults) and keeps them; given to
``create_study(pruner=...)`` it runs as the server's scheduler of that rule with the options it
was given. An argument tuneport's scheduler has no counterpart of, set away from its default
(``bootstrap_count``), is refused by ``create_study`` with its name. Nothing prunes in this
process: ``trial.should_prune()`` asks the server's scheduler."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ._optuna_options import Recorded, optuna_only_getattr

_WINDOW = {
    "n_startup_trials": "n_startup_trials",
    "n_warmup_steps": "n_warmup_steps",
    "interval_steps": "interval_steps",
    "n_min_trials": "n_min_trials",
}


class BasePruner(Recorded):
    """The base of tuneport's pruner classes (a subclass of your own is not run: a pruner of your
    own is written as a server plug-in, docs/PLUGINS.md)."""

    _CARRIED = frozenset()


class MedianPruner(BasePruner):
    """Optuna's ``MedianPruner``: scheduler ``median``."""

    _OPTIONS = _WINDOW

    def __init__(self, n_startup_trials: int = 5, n_warmup_steps: int = 0, interval_steps: int = 1, *, n_min_trials: int = 1) -> None:
        self._record(locals())


class PercentilePruner(BasePruner):
    """Optuna's ``PercentilePruner``: scheduler ``percentile``."""

    _OPTIONS = {"percentile": "percentile", **_WINDOW}
    _ALWAYS = frozenset({"percentile"})

    def __init__(
        self, percentile: float, n_startup_trials: int = 5, n_warmup_steps: int = 0, interval_steps: int = 1, *, n_min_trials: int = 1
    ) -> None:
        self._record(locals())


class SuccessiveHalvingPruner(BasePruner):
    """Optuna's ``SuccessiveHalvingPruner``: scheduler ``successive-halving``."""

    _OPTIONS = {"min_resource": "min_resource", "reduction_factor": "reduction_factor", "min_early_stopping_rate": "min_early_stopping_rate"}

    def __init__(
        self, min_resource: str | int = "auto", reduction_factor: int = 4, min_early_stopping_rate: int = 0, bootstrap_count: int = 0
    ) -> None:
        self._record(locals())


class HyperbandPruner(BasePruner):
    """Optuna's ``HyperbandPruner``: scheduler ``hyperband``; its ``max_resource`` is the study's
    budget (create_study's ``max_resource``, which wins when given). ``max_resource='auto'``
    (guessed from the first finished trial by Optuna) needs create_study's ``max_resource``."""

    _OPTIONS = {"min_resource": "min_resource", "max_resource": "max_resource", "reduction_factor": "reduction_factor"}

    def __init__(self, min_resource: int = 1, max_resource: str | int = "auto", reduction_factor: int = 3, bootstrap_count: int = 0) -> None:
        self._record(locals())


class ThresholdPruner(BasePruner):
    """Optuna's ``ThresholdPruner``: scheduler ``threshold``."""

    _OPTIONS = {"lower": "lower", "upper": "upper", "n_warmup_steps": "n_warmup_steps", "interval_steps": "interval_steps"}
    _EFFECTIVE = {"lower": -math.inf, "upper": math.inf}

    def __init__(self, lower: float | None = None, upper: float | None = None, n_warmup_steps: int = 0, interval_steps: int = 1) -> None:
        self._record(locals())


class PatientPruner(BasePruner):
    """Optuna's ``PatientPruner``: scheduler ``patient``, wrapping the scheduler of
    ``wrapped_pruner`` (Optuna's prunes only when the wrapped pruner agrees)."""

    _OPTIONS = {"patience": "patience", "min_delta": "min_delta"}
    _ALWAYS = frozenset({"patience"})
    _CARRIED = frozenset({"wrapped_pruner"})

    def __init__(self, wrapped_pruner: Any, patience: int, min_delta: float = 0.0) -> None:
        self._record(locals())


class NopPruner(BasePruner):
    """Optuna's ``NopPruner``: no scheduler (a study without one never prunes)."""

    def __init__(self) -> None:
        self._record(locals())


__all__ = [
    "BasePruner",
    "HyperbandPruner",
    "MedianPruner",
    "NopPruner",
    "PatientPruner",
    "PercentilePruner",
    "SuccessiveHalvingPruner",
    "ThresholdPruner",
]

# Optuna 5.0's optuna.pruners names tuneport has no counterpart of (an AttributeError that says
# what to use instead, in a script moved with ``import tuneport as optuna``).
_OPTUNA_ONLY = frozenset({"WilcoxonPruner"})

if not TYPE_CHECKING:  # type checkers keep flagging unknown names of the module
    __getattr__ = optuna_only_getattr(
        __name__,
        "optuna.pruners",
        _OPTUNA_ONLY,
        "tuneport's schedulers run on the server; pass scheduler='<name>' of one it has to create_study, or leave "
        "scheduler= out (Client.catalogue() lists them, options as scheduler={'name': ..., 'options': {...}}; a pruner "
        "of your own is written as a server plug-in: docs/PLUGINS.md)",
    )
