"""Optuna's ``optuna.importance``, for scripts moved with ``import tuneport as optuna``:
``optuna.importance.get_param_importances(study)`` with Optuna 5.0's signature and return shape,
computed by the server (op ``param_importances``, src/service/importance.ts).

tuneport has one method: first-order variance shares, the bias-corrected correlation ratio (ε²)
of the rank-transformed objective across quantile bins (numeric parameters) or choices
(categorical ones) of each parameter, on an evenly spaced sample of at most 5,000 COMPLETE
trials. Each parameter is assessed alone: interactions are not attributed (Optuna's default,
PED-ANOVA, and fANOVA model the objective; the figures differ from theirs, the ranking of a
parameter that matters much more than the others seldom does).

A multi-objective study without ``target``: the importances of reaching its Pareto front, as
Optuna 5's default evaluator gives them there. The server ranks each COMPLETE trial by non-dominated
sorting (directions respected, infeasible trials after every feasible one) and explains those
ranks with the same method. Optuna's other evaluators (fANOVA, mean decrease impurity) raise
Optuna's ValueError there, as they do in Optuna.

Evaluators: ``evaluator=None`` uses that method. One of Optuna's evaluator classes (Optuna's
object, or tuneport's class of the same name here) names an algorithm tuneport does not run: the
server's method answers, with one UserWarning that says so (a script that named fANOVA still
runs, and is told its figures are not fANOVA's). An evaluator of your own (a subclass with its own
``evaluate``) is run as Optuna runs it: ``evaluator.evaluate(study, params=..., target=...)`` on
the tuneport study, then normalised here.
"""

from __future__ import annotations

import abc
import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import InvalidArgumentError
from ._study import Study

if TYPE_CHECKING:
    from ._trial import FrozenTrial

__all__ = [
    "BaseImportanceEvaluator",
    "FanovaImportanceEvaluator",
    "MeanDecreaseImpurityImportanceEvaluator",
    "PedAnovaImportanceEvaluator",
    "get_param_importances",
]

METHOD = (
    "first-order variance shares: epsilon-squared of the rank-transformed objective (or target, or with several "
    "objectives and no target each trial's non-domination rank) across quantile bins (numeric) or choices "
    "(categorical) of each parameter, on at most 5,000 COMPLETE trials"
)
"""What tuneport computes, in the words of the evaluator warning."""

TARGET_SAMPLE = 5000
"""Most ``target`` values sent (the op's bound, src/service/importance.ts IMPORTANCE_SAMPLE): past
it an evenly spaced sample by trial number, as the server samples the objective."""

class BaseImportanceEvaluator(abc.ABC):
    """Optuna's abstract evaluator: subclass it and define ``evaluate(study, params=None, *,
    target=None)`` to run an algorithm of your own (``get_param_importances`` calls it)."""

    @abc.abstractmethod
    def evaluate(
        self, study: Study, params: list[str] | None = None, *, target: Callable[[FrozenTrial], float] | None = None
    ) -> dict[str, float]:
        """Unnormalised importances of ``study``'s parameters."""


class _ServerMethod(BaseImportanceEvaluator):
    """One of Optuna's evaluator classes: its arguments are kept (``repr`` shows them), its
    algorithm is not run; the server's method answers, with a UserWarning."""

    def __init__(self, **given: Any) -> None:
        self._given = given

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._given.items())
        return f"{type(self).__name__}({args})"

    def evaluate(
        self, study: Study, params: list[str] | None = None, *, target: Callable[[FrozenTrial], float] | None = None
    ) -> dict[str, float]:
        """The server's unnormalised scores, most important first, with the warning."""
        _check_study(study)
        if params is not None:
            _check_params(params)
        _check_target_needed(self, study, target)
        _warn_substituted(self)
        return _server_scores(study, params, target)


class FanovaImportanceEvaluator(_ServerMethod):
    """Optuna's ``FanovaImportanceEvaluator`` (its arguments are kept, not used): tuneport answers
    with its own first-order method, with a UserWarning."""

    def __init__(self, *, n_trees: int = 64, max_depth: int = 64, seed: int | None = None) -> None:
        super().__init__(n_trees=n_trees, max_depth=max_depth, seed=seed)


class MeanDecreaseImpurityImportanceEvaluator(_ServerMethod):
    """Optuna's ``MeanDecreaseImpurityImportanceEvaluator`` (its arguments are kept, not used):
    tuneport answers with its own first-order method, with a UserWarning."""

    def __init__(self, *, n_trees: int = 64, max_depth: int = 64, seed: int | None = None) -> None:
        super().__init__(n_trees=n_trees, max_depth=max_depth, seed=seed)


class PedAnovaImportanceEvaluator(_ServerMethod):
    """Optuna's ``PedAnovaImportanceEvaluator``, its default (its arguments are kept, not used):
    tuneport answers with its own first-order method, with a UserWarning."""

    def __init__(self, *, target_quantile: float = 0.1, region_quantile: float = 1.0, evaluate_on_local: bool = True) -> None:
        super().__init__(target_quantile=target_quantile, region_quantile=region_quantile, evaluate_on_local=evaluate_on_local)


def get_param_importances(
    study: Study,
    *,
    evaluator: Any = None,
    params: list[str] | None = None,
    target: Callable[[FrozenTrial], float] | None = None,
    normalize: bool = True,
) -> dict[str, float]:
    """Parameter importances of ``study``'s COMPLETE trials, most important first, as Optuna's
    ``optuna.importance.get_param_importances``: a dict ``{name: importance}``, shares summing to
    1 (``normalize=True``; equal shares when every score is 0) or the unnormalised scores (ε², each
    in [0, 1]). Computed by the server (module docstring: the method, ``evaluator``).

    ``params`` assesses only those parameters (``[]`` gives ``{}``); a name no COMPLETE trial has
    raises InvalidArgumentError (a ValueError, Optuna's message). ``target(trial)`` replaces the
    objective value: it is called here on each COMPLETE trial, and the finite values (an evenly
    spaced sample of 5,000 by trial number past that) are sent for the server to rank. A
    multi-objective study without ``target`` gives the importances of reaching its Pareto front
    (Optuna 5's default there; module docstring), except with Optuna's ``FanovaImportanceEvaluator``
    or ``MeanDecreaseImpurityImportanceEvaluator``, which need ``target`` there:
    InvalidArgumentError (a ValueError, Optuna's message). With fewer than 4 COMPLETE trials with a finite value there is nothing to estimate:
    a UserWarning, and equal importances (0 unnormalised), as Optuna's. A parameter set in fewer
    than 4 of them gets no entry.

    @raises TypeError (an evaluator or ``params`` of the wrong type, a ``target`` that returns no
    number), InvalidArgumentError, NotFoundError."""
    _check_study(study)
    run_own = _own_evaluate(evaluator)
    if params is not None:
        _check_params(params)
    if run_own is not None:
        return _normalized(run_own(study, params=None if params is None else list(params), target=target), normalize)
    if evaluator is not None:
        _check_target_needed(evaluator, study, target)
        _warn_substituted(evaluator)
    return _normalized(_server_scores(study, params, target), normalize)


def _server_scores(study: Study, params: Sequence[str] | None, target: Callable[[FrozenTrial], float] | None) -> dict[str, float]:
    """The server's unnormalised scores, most important first (Optuna's evaluator ``evaluate``)."""
    _check_study(study)
    if params is not None and len(params) == 0:
        return {}
    args: dict[str, Any] = {"study": study.name}
    if params is not None:
        args["params"] = list(params)
    trials: list[FrozenTrial] | None = None
    if target is not None:
        trials = study.get_trials(states=("COMPLETE",))
        args["target_values"] = _target_values(trials, target)
    raw = study.client._call("param_importances", args)
    rows = raw.get("importances") or []
    if not rows and raw.get("note"):
        # Too few trials to estimate anything: Optuna's evaluators warn and give equal importances.
        warnings.warn(f"study '{study.name}': {raw['note']}; parameter importances will be equal", UserWarning, stacklevel=3)
        if params is not None:
            return {name: 0.0 for name in dict.fromkeys(params)}
        seen: dict[str, None] = {}
        for t in trials if trials is not None else study.get_trials(states=("COMPLETE",)):
            seen.update(dict.fromkeys(t.params))
        return {name: 0.0 for name in seen}
    return {str(r["param"]): float(r["score"]) for r in rows}


_TARGET_NEEDED = ("FanovaImportanceEvaluator", "MeanDecreaseImpurityImportanceEvaluator")
"""Optuna's evaluators that refuse a multi-objective study without ``target`` (its default,
PED-ANOVA, ranks reaching the Pareto front there, as the server does)."""


def _check_target_needed(evaluator: Any, study: Study, target: Callable[[FrozenTrial], float] | None) -> None:
    """Optuna's ValueError (as InvalidArgumentError) for one of ``_TARGET_NEEDED`` (Optuna's class or
    tuneport's of the same name) on a multi-objective study without ``target``."""
    if target is not None or not study._is_multi_objective():
        return
    named = next(
        (
            c.__name__
            for c in type(evaluator).__mro__
            if c.__name__ in _TARGET_NEEDED and (c.__module__.startswith("optuna.importance") or c.__module__ == __name__)
        ),
        None,
    )
    if named is None:
        return
    raise InvalidArgumentError(
        "If the `study` is being used for multi-objective optimization, please specify the `target`. "
        "For example, use `target=lambda t: t.values[0]` for the first objective value. "
        f"(Study '{study.name}' has {len(study.directions)} objectives; {named} needs one value, as in Optuna. "
        "evaluator=None or PedAnovaImportanceEvaluator() gives the importances of reaching the Pareto front.)"
    )


def _target_values(trials: Sequence[FrozenTrial], target: Callable[[FrozenTrial], float]) -> list[list[float]]:
    """``[number, target(trial)]`` of the trials whose target is finite (Optuna leaves the others
    out too), at most ``TARGET_SAMPLE`` of them evenly spaced by number (the ends kept, as the
    server's ``evenlySpaced`` picks)."""
    pairs: list[list[float]] = []
    for t in trials:
        v = target(t)
        if not isinstance(v, numbers.Real):
            raise TypeError(f"target returned {v!r} for trial {t.number}: it must return a float")
        f = float(v)
        if math.isfinite(f):
            pairs.append([t.number, f])
    n = len(pairs)
    if n <= TARGET_SAMPLE:
        return pairs
    return [pairs[math.floor(i * (n - 1) / (TARGET_SAMPLE - 1) + 0.5)] for i in range(TARGET_SAMPLE)]


def _normalized(scores: dict[str, float], normalize: bool) -> dict[str, float]:
    """Optuna's normalisation: shares of the total, or equal shares when it is 0; most important first."""
    ordered = dict(sorted(scores.items(), key=lambda kv: -kv[1]))
    if not normalize:
        return ordered
    total = sum(ordered.values())
    if total == 0.0:
        return {name: 1.0 / len(ordered) for name in ordered}
    return {name: v / total for name, v in ordered.items()}


def _check_study(study: Any) -> None:
    if not isinstance(study, Study):
        raise TypeError(
            f"tuneport.importance.get_param_importances takes a tuneport Study, not {type(study).__name__}: "
            "an optuna.Study goes to optuna.importance.get_param_importances"
        )


def _check_params(params: Any) -> None:
    # Optuna's checks and messages (optuna/importance/_base.py).
    if not isinstance(params, (list, tuple)):
        raise TypeError(f"Parameters must be specified as a list. Actual parameters: {params}.")
    if any(not isinstance(p, str) for p in params):
        raise TypeError(f"Parameters must be specified by their names with strings. Actual parameters: {params}.")


def _evaluate_owner(evaluator: Any) -> type | None:
    """The class that defines ``evaluator``'s ``evaluate``, if it is an importance evaluator
    (Optuna's or tuneport's ``BaseImportanceEvaluator`` is among its classes), else None."""
    mro = type(evaluator).__mro__
    if not any(
        c.__name__ == "BaseImportanceEvaluator" and (c is BaseImportanceEvaluator or c.__module__.startswith("optuna.importance"))
        for c in mro
    ):
        return None
    return next((c for c in mro if "evaluate" in c.__dict__), None)


def _own_evaluate(evaluator: Any) -> Callable[..., dict[str, float]] | None:
    """``evaluator.evaluate`` when it is an algorithm of the user's own (run as Optuna runs it),
    None for no evaluator or one of Optuna's classes (the server's method answers).
    @raises TypeError for something that is no importance evaluator (Optuna's message)."""
    if evaluator is None:
        return None
    owner = _evaluate_owner(evaluator)
    if owner is None:
        raise TypeError("Evaluator must be a subclass of BaseImportanceEvaluator.")
    if owner.__module__.startswith("optuna.importance") or owner.__module__ == __name__:
        return None
    fn: Callable[..., dict[str, float]] = evaluator.evaluate
    return fn


def _warn_substituted(evaluator: Any) -> None:
    warnings.warn(
        f"tuneport computes its own importances on the server, not {type(evaluator).__name__}'s: {METHOD}. "
        "The figures differ from Optuna's; pass evaluator=None to use them without this warning",
        UserWarning,
        stacklevel=3,
    )
