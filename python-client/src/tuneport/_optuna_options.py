"""The options an Optuna sampler or pruner object was given, as the options of the tuneport
strategy or scheduler that runs its algorithm, so that refusing ``sampler=TPESampler(...)`` can
say exactly what to pass instead (``strategy={"name": "tpe", "options": {...}}``).

Only options whose meaning is the same on both sides are carried over, and only those set away
from Optuna's own defaults (found by building a default object of the same class): the values
a user chose. Optuna's samplers do not keep their seed, so a seed is never among them.
"""

from __future__ import annotations

import math
from typing import Any

# Optuna's attribute (a dotted path on the object) -> tuneport's option, per class name.
_OPTIONS: dict[str, dict[str, str]] = {
    "TPESampler": {
        "_n_startup_trials": "n_startup_trials",
        "_n_ei_candidates": "n_ei_candidates",
        "_multivariate": "multivariate",
        "_constant_liar": "constant_liar",
        "_parzen_estimator_parameters.prior_weight": "prior_weight",
        "_parzen_estimator_parameters.consider_magic_clip": "consider_magic_clip",
        "_parzen_estimator_parameters.consider_endpoints": "consider_endpoints",
    },
    "GPSampler": {"_n_startup_trials": "nStartupTrials"},
    "CmaEsSampler": {"_sigma0": "sigma0", "_popsize": "popsize"},
    "NSGAIISampler": {
        "_population_size": "population_size",
        "_child_generation_strategy._mutation_prob": "mutation_prob",
        "_child_generation_strategy._crossover_prob": "crossover_prob",
        "_child_generation_strategy._swapping_prob": "swapping_prob",
    },
    "QMCSampler": {"_scramble": "scramble"},
    "MedianPruner": {
        "_n_startup_trials": "n_startup_trials",
        "_n_warmup_steps": "n_warmup_steps",
        "_interval_steps": "interval_steps",
        "_n_min_trials": "n_min_trials",
    },
    "PercentilePruner": {
        "_percentile": "percentile",
        "_n_startup_trials": "n_startup_trials",
        "_n_warmup_steps": "n_warmup_steps",
        "_interval_steps": "interval_steps",
        "_n_min_trials": "n_min_trials",
    },
    "SuccessiveHalvingPruner": {
        "_min_resource": "min_resource",
        "_reduction_factor": "reduction_factor",
        "_min_early_stopping_rate": "min_early_stopping_rate",
    },
    "HyperbandPruner": {"_min_resource": "min_resource", "_max_resource": "max_resource", "_reduction_factor": "reduction_factor"},
    "ThresholdPruner": {
        "_lower": "lower",
        "_upper": "upper",
        "_n_warmup_steps": "n_warmup_steps",
        "_interval_steps": "interval_steps",
    },
    "PatientPruner": {"_patience": "patience", "_min_delta": "min_delta"},
}

# Optuna's defaults of classes that cannot be built without arguments (PatientPruner needs its
# wrapped pruner), so that an option left at its default is not named as set.
_DEFAULTS: dict[str, dict[str, Any]] = {"PatientPruner": {"min_delta": 0.0}}

_MISSING = object()


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


def _plain(v: Any) -> bool:
    """A value the server's options take as it is: a bool, a finite number or a string."""
    if isinstance(v, bool) or isinstance(v, str):
        return True
    return isinstance(v, (int, float)) and math.isfinite(v)


def changed_options(obj: Any) -> dict[str, Any]:
    """The tuneport options of ``obj`` (an Optuna sampler or pruner) that were set away from
    Optuna's defaults; empty for a class this does not know, or one without a default form."""
    table = _OPTIONS.get(type(obj).__name__)
    if table is None:
        return {}
    try:
        # Not built when its defaults are listed: PatientPruner needs arguments and warns ExperimentalWarning.
        default = None if type(obj).__name__ in _DEFAULTS else type(obj)()
    except Exception:  # noqa: BLE001 - a class that needs arguments
        default = None
    out: dict[str, Any] = {}
    for path, option in table.items():
        v = _attr(obj, path)
        if v is _MISSING or not _plain(v):
            continue
        if default is not None and _attr(default, path) == v:
            continue
        if default is None and _DEFAULTS.get(type(obj).__name__, {}).get(option, _MISSING) == v:
            continue
        out[option] = v
    return out


def plugin_hint(arg: str, kind: str, obj: Any, options: dict[str, Any] | None = None) -> str:
    """``strategy='tpe'``, or with the options the object was given:
    ``strategy={'name': 'tpe', 'options': {'n_startup_trials': 20}}`` (``options``: those to name
    instead of ``changed_options(obj)``)."""
    options = changed_options(obj) if options is None else options
    if not options:
        return f"{arg}={kind!r}"
    return f"{arg}={{'name': {kind!r}, 'options': {options!r}}}"
