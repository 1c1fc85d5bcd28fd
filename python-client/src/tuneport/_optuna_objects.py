"""Optuna's ``sampler=``/``pruner=`` objects given to ``create_study`` and ``load_study``.

The server runs a study's strategy and scheduler, so an Optuna object runs as the tuneport
strategy or scheduler of its algorithm, with the options it was given (``_optuna_options``):
``sampler=TPESampler(n_startup_trials=20, seed=1)`` runs as ``strategy={"name": "tpe",
"options": {"n_startup_trials": 20}}`` with a study seed derived from the sampler's random
state; the rest are the strategy's defaults, some of which are not Optuna's rules
(docs/MIGRATING-FROM-OPTUNA.md, "Samplers and pruners", lists them). No setting the user gave is
dropped: an object of a class tuneport has no counterpart of, one given a setting that has no
counterpart, or a grid (whose values tuneport declares as the study's space, which the
objective's ``suggest_float`` would then contradict) is refused, with the ``strategy=``/``scheduler=`` to pass instead. A loaded study keeps what it was
created with: ``load_study``'s objects are checked against it, with a warning when they differ.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import InvalidArgumentError
from ._optuna_options import Recorded, changed_options, derived_seed, plugin_hint, unmapped_settings

if TYPE_CHECKING:
    from ._study import Study

log = logging.getLogger("tuneport")

STRATEGY_OF_SAMPLER = {
    "RandomSampler": "random", "TPESampler": "tpe", "GPSampler": "gp", "CmaEsSampler": "cmaes",
    "QMCSampler": "qmc", "NSGAIISampler": "nsga2", "GridSampler": "grid", "BruteForceSampler": "grid",
}  # fmt: skip
SCHEDULER_OF_PRUNER = {
    "MedianPruner": "median", "PercentilePruner": "percentile", "SuccessiveHalvingPruner": "successive-halving",
    "HyperbandPruner": "hyperband", "ThresholdPruner": "threshold", "PatientPruner": "patient", "NopPruner": None,
}  # fmt: skip


def _known(obj: Any, table: Mapping[str, Any]) -> bool:
    """An object of Optuna's class of a name ``table`` lists, or of tuneport's own class of that
    name; a subclass of the user's (another ``sample_relative``) is neither."""
    cls = type(obj)
    if cls.__name__ not in table:
        return False
    if isinstance(obj, Recorded):
        return cls.__module__.startswith("tuneport.")
    return cls.__module__.startswith(("optuna.samplers", "optuna.pruners"))


def sampler_kind(sampler: Any, multi_objective: bool) -> str | None:
    """The strategy that runs an Optuna sampler's algorithm, or None for one tuneport does not know."""
    if not _known(sampler, STRATEGY_OF_SAMPLER):
        return None
    name = type(sampler).__name__
    if name == "GPSampler" and multi_objective:
        return "ehvi"  # Optuna's GPSampler optimises several objectives with (log) EHVI; tuneport's gp one
    return STRATEGY_OF_SAMPLER[name]


def _pruner_kind(pruner: Any) -> str | None:
    return SCHEDULER_OF_PRUNER[type(pruner).__name__] if _known(pruner, SCHEDULER_OF_PRUNER) else "<name>"


def _call(obj: Any) -> str:
    """``TPESampler(seed=1)`` for tuneport's objects (they keep their arguments), ``TPESampler(...)`` for Optuna's."""
    return repr(obj) if isinstance(obj, Recorded) else f"{type(obj).__name__}(...)"


def _constraints_note(sampler: Any) -> str:
    return (
        "; its constraints_func goes to study.optimize(objective, constraints_func=...) "
        "(or trial.set_constraint(key, value) in the objective, as Optuna 5 recommends)"
        if getattr(sampler, "_constraints_func", None) is not None
        else ""
    )


# ------------------------------------------------------------------ refusals


def sampler_refusal(sampler: Any, multi_objective: bool) -> str:
    """Why ``sampler`` cannot run as given, with the ``strategy=`` to pass instead."""
    name = type(sampler).__name__
    kind = sampler_kind(sampler, multi_objective)
    hint = (
        plugin_hint("strategy", kind, sampler)
        if kind
        else f"strategy='<name>' of one it has instead (Client.catalogue() lists them; it has no counterpart of {name}, and a "
        "sampler of your own is written as a server plug-in: docs/PLUGINS.md)"
    )
    if kind == "grid":
        grid = getattr(sampler, "_search_space", None)
        points = (
            ", ".join(f"{k!r}: tp.Categorical({list(v)!r})" for k, v in list(grid.items())[:4]) + (", ..." if len(grid) > 4 else "")
            if isinstance(grid, Mapping) and grid
            else "'x': tp.Categorical([...]), ..."
        )
        hint = f"strategy='grid' and declare the grid as the study's space: space={{{points}}}"
    carried = kind is not None and kind != "grid" and bool(changed_options(sampler))
    options = (
        "the options it set away from Optuna's defaults; the rest are tuneport's, Client.catalogue() lists them"
        if carried
        else "options as strategy={'name': ..., 'options': {...}}"
    )
    return (
        f"sampler={name}(...): tuneport's strategies run on the server; pass {hint} "
        f"(with seed=... for a reproducible one; {options}){_constraints_note(sampler)}"
    )


def pruner_refusal(pruner: Any) -> str:
    """Why ``pruner`` cannot run as given, with the ``scheduler=`` to pass instead."""
    name = type(pruner).__name__
    kind = SCHEDULER_OF_PRUNER.get(name) if _known(pruner, SCHEDULER_OF_PRUNER) else None
    given = pruner_options(pruner, kind)
    hint = (
        plugin_hint("scheduler", kind, pruner, given)
        if kind
        else f"scheduler='<name>' of one it has instead, or leave scheduler= out (Client.catalogue() lists them; it has no "
        f"counterpart of {name}, and a pruner of your own is written as a server plug-in: docs/PLUGINS.md)"
    )
    if kind == "hyperband":
        # Its max_resource is the study's budget here (create_study's max_resource), not an option.
        options_given = changed_options(pruner)
        budget = options_given.pop("max_resource", "<how far one trial trains: epochs, steps>")
        hint = f"scheduler={{'name': 'hyperband', 'options': {options_given!r}}}" if options_given else "scheduler='hyperband'"
        hint += f" and the study's budget, max_resource={budget}"
    options = (
        "the options it set away from Optuna's defaults; the rest are tuneport's, Client.catalogue() lists them"
        if kind is not None and given
        else "options as scheduler={'name': ..., 'options': {...}}"
    )
    if getattr(pruner, "_bootstrap_count", 0):
        options += "; bootstrap_count has no counterpart: a rung decides from its first trial on"
    return f"pruner={name}(...): tuneport's schedulers run on the server; pass {hint} ({options})"


def pruner_options(pruner: Any, kind: str | None) -> dict[str, Any]:
    """The scheduler options an Optuna pruner set away from its defaults; a PatientPruner's
    wrapped pruner becomes ``wrapped`` (``patient`` without it prunes on patience alone, where
    Optuna's prunes only when the wrapped pruner agrees)."""
    options = changed_options(pruner)
    inner = getattr(pruner, "_wrapped_pruner", None)
    if kind == "patient" and inner is not None:
        inner_kind = _pruner_kind(inner)
        if inner_kind is not None:  # a wrapped NopPruner never prunes: nothing to wrap
            options["wrapped"] = {"name": inner_kind, "options": pruner_options(inner, inner_kind)}
    return options


# What tuneport's plug-in does instead, for an argument whose refusal would leave the user guessing.
_INSTEAD = {
    "consider_pruned_trials": "counts a generation's PRUNED trials always, ranked after its COMPLETE ones (deepest first, then "
    "by their last report), where Optuna's consider_pruned_trials=True ranks them by their last report among the completed ones",
    "crossover": "crosses over only as Optuna's default crossover does (UniformCrossover with NSGAIISampler's swapping_prob)",
    "crossover=UniformCrossover": "crosses every parameter over with NSGAIISampler's swapping_prob, where Optuna crosses numeric "
    "parameters with a UniformCrossover's own and categorical ones with the sampler's (give NSGAIISampler the same swapping_prob)",
}


def _instead(setting: str) -> str | None:
    """What tuneport does instead of ``setting`` (``name=value``), by the call's name first: ``crossover=UniformCrossover``."""
    return _INSTEAD.get(setting.split("(", 1)[0], _INSTEAD.get(setting.split("=", 1)[0]))


def _no_counterpart(arg: str, obj: Any, unmapped: list[str], kind: str) -> str:
    instead = [text for u in unmapped if (text := _instead(u)) is not None]
    plain = [u for u in unmapped if _instead(u) is None]
    them = "it" if len(plain) == 1 else "them"
    said = [f"has no counterpart of {them if len(plain) == len(unmapped) else ', '.join(plain)}"] if plain else []
    return (
        f"{arg}={type(obj).__name__}({', '.join(unmapped)}): tuneport's {kind!r} {'; '.join(said + instead)}, and running "
        f"the {arg} without {'them' if len(unmapped) > 1 else 'it'} would not be running it as given; "
    )


# ------------------------------------------------------------------ translation


def sampler_spec(sampler: Any, multi_objective: bool) -> dict[str, Any]:
    """The strategy ``sampler`` runs as: ``{"name", "options"}``. @raises InvalidArgumentError
    where it cannot run as given (with the ``strategy=`` to pass instead)."""
    kind = sampler_kind(sampler, multi_objective)
    if kind is None or kind == "grid":
        # A grid is the study's declared space here: suggest_float("x", ...) on a grid value,
        # Optuna's way, would then be refused at the first suggest.
        raise InvalidArgumentError(sampler_refusal(sampler, multi_objective), {"sampler": type(sampler).__name__})
    unmapped = unmapped_settings(sampler)
    if unmapped:
        raise InvalidArgumentError(
            _no_counterpart("sampler", sampler, unmapped, kind) + sampler_refusal(sampler, multi_objective),
            {"sampler": type(sampler).__name__, "unmapped": unmapped},
        )
    options = changed_options(sampler)
    # Optuna's default for the options tuneport's strategy sets another way: an unscrambled Sobol
    # sequence; the independent TPE for several objectives (multivariate=None). Other rules stay
    # tuneport's (constraints_model, fidelity, CMA-ES restarts: docs/MIGRATING-FROM-OPTUNA.md).
    if kind == "qmc":
        options.setdefault("scramble", bool(getattr(sampler, "_scramble", False)))
    if kind == "tpe" and multi_objective and getattr(sampler, "_multivariate", None) is None:
        options.setdefault("multivariate", False)
    return {"name": kind, "options": options}


def pruner_spec(pruner: Any, max_resource: float | None) -> tuple[dict[str, Any] | None, float | None]:
    """(the scheduler ``pruner`` runs as, None for NopPruner; the study budget it sets, when the
    caller gave none). @raises InvalidArgumentError where it cannot run as given."""
    kind = _pruner_kind(pruner)
    if kind == "<name>":
        raise InvalidArgumentError(pruner_refusal(pruner), {"pruner": type(pruner).__name__})
    if kind is None:
        return None, None  # NopPruner: a study without a scheduler never prunes
    _check_runs_as_given(pruner, kind)
    options = pruner_options(pruner, kind)
    budget: float | None = None
    if kind == "hyperband":
        own = options.pop("max_resource", None)
        if own is None and max_resource is None:
            raise InvalidArgumentError(
                "pruner=HyperbandPruner(max_resource='auto') guesses the budget from the first finished trial, where tuneport's "
                "hyperband needs it from the first trial on; " + pruner_refusal(pruner),
                {"pruner": "HyperbandPruner"},
            )
        if own is not None and max_resource is None:
            budget = own
        elif own is not None and own != max_resource:
            options["max_resource"] = own  # the pruner's own, beside the study's budget
    return {"name": kind, "options": options}, budget


def _check_runs_as_given(pruner: Any, kind: str) -> None:
    unmapped = unmapped_settings(pruner)
    if unmapped:
        raise InvalidArgumentError(
            _no_counterpart("pruner", pruner, unmapped, kind) + pruner_refusal(pruner),
            {"pruner": type(pruner).__name__, "unmapped": unmapped},
        )
    inner = getattr(pruner, "_wrapped_pruner", None)
    if kind == "patient" and inner is not None:
        inner_kind = _pruner_kind(inner)
        if inner_kind == "<name>":
            raise InvalidArgumentError(
                f"pruner=PatientPruner({type(inner).__name__}(...), ...): tuneport has no counterpart of the wrapped "
                f"{type(inner).__name__}; " + pruner_refusal(inner),
                {"pruner": type(inner).__name__},
            )
        if inner_kind is not None:
            _check_runs_as_given(inner, inner_kind)


@dataclass
class Translated:
    """What ``create_study``'s ``sampler=``/``pruner=`` run as."""

    strategy: dict[str, Any] | None = None
    scheduler: dict[str, Any] | None = None
    seed: int | None = None
    max_resource: float | None = None
    constraints_func: Callable[..., Any] | None = None
    note: str = ""


def translate(
    sampler: Any,
    pruner: Any,
    *,
    strategy: Any,
    scheduler: Any,
    seed: int | None,
    max_resource: float | None,
    multi_objective: bool,
) -> Translated:
    """``create_study``'s ``sampler``/``pruner`` as the strategy, scheduler, seed and budget they
    run as (those the caller gave win where they may: ``seed``, ``max_resource``).
    @raises InvalidArgumentError for an object that cannot run as given, or ``sampler`` with
    ``strategy`` (or ``pruner`` with ``scheduler``): which one is meant is not clear."""
    out = Translated(strategy=strategy, scheduler=scheduler, seed=seed, max_resource=max_resource)
    notes: list[str] = []
    if sampler is not None:
        if strategy is not None:
            raise InvalidArgumentError(
                f"give sampler= or strategy=, not both (sampler={_call(sampler)}, strategy={strategy!r})", {"sampler": type(sampler).__name__}
            )
        out.strategy = sampler_spec(sampler, multi_objective)
        out.constraints_func = getattr(sampler, "_constraints_func", None)
        if seed is not None:
            how = f"seed {seed} (create_study's seed=)"
        else:
            out.seed = derived_seed(sampler)
            how = (
                f"seed {out.seed} (derived from the sampler's random state)"
                if out.seed is not None
                else "no seed (the sampler was not seeded: the server picks one)"
            )
        notes.append(f"sampler={_call(sampler)} runs as strategy {out.strategy!r}, {how}")
        if out.constraints_func is not None:
            notes.append("its constraints_func runs in study.optimize and study.tell")
    if pruner is not None:
        if scheduler is not None:
            raise InvalidArgumentError(
                f"give pruner= or scheduler=, not both (pruner={_call(pruner)}, scheduler={scheduler!r})", {"pruner": type(pruner).__name__}
            )
        out.scheduler, budget = pruner_spec(pruner, max_resource)
        if budget is not None:
            out.max_resource = budget
        runs = f"scheduler {out.scheduler!r}" if out.scheduler is not None else "no scheduler"
        notes.append(f"pruner={_call(pruner)} runs as {runs}" + (f", with the study's budget max_resource={budget}" if budget is not None else ""))
    out.note = "; ".join(notes)
    return out


# ------------------------------------------------------------------ load_study


def _plugin_name(plugin: Any) -> str | None:
    """A strategy's or scheduler's name from a study's setting (a name or ``{"name", "options"}``)."""
    if isinstance(plugin, Mapping):
        plugin = plugin.get("name")
    return plugin if isinstance(plugin, str) else None


Defaults = Mapping[str, Mapping[str, Any]]


def plugin_defaults(study: Study, kind: str) -> dict[str, dict[str, Any]]:
    """Each ``kind`` (``strategy``/``scheduler``) plug-in's option defaults, from the server's
    catalogue (the JSON Schema of its options): name -> {option: default}."""
    out: dict[str, dict[str, Any]] = {}
    for plugin in study.client.catalogue():
        if plugin.get("kind") == kind:
            props = (plugin.get("options") or {}).get("properties") or {}
            out[plugin["name"]] = {k: p["default"] for k, p in props.items() if isinstance(p, Mapping) and "default" in p}
    return out


def _runs(spec: Mapping[str, Any] | None, current: Any, defaults: Defaults) -> bool:
    """Whether a study running ``current`` runs ``spec``: the same name, and every option the
    same, each side's missing ones taken as the plug-in's defaults (``defaults``: name ->
    {option: default}): a TPESampler() names no option and stands for tpe's defaults, so it
    does not run a study created with n_startup_trials=20, nor the reverse."""
    if spec is None or current is None:
        return spec is None and current is None
    name = _plugin_name(current)
    if name != spec["name"]:
        return False
    base = defaults.get(spec["name"], {})
    want = {**base, **(spec.get("options") or {})}
    have = {**base, **((current.get("options") or {}) if isinstance(current, Mapping) else {})}
    for k in want.keys() | have.keys():
        a, b = want.get(k), have.get(k)
        if isinstance(a, Mapping) or isinstance(b, Mapping):  # a wrapped plug-in: {"name", "options"}
            if not (isinstance(a, Mapping) and isinstance(b, Mapping) and _runs(a, b, defaults)):
                return False
        elif a != b:
            return False
    return True


def check_on_load(study: Study, sampler: Any, pruner: Any, *, caller: str = "load_study(") -> None:
    """``load_study``'s ``sampler=``/``pruner=`` (Optuna's distributed recipe gives each worker
    ``TPESampler(seed=rank)``), and ``create_study``'s with ``load_if_exists`` (``caller`` opens the
    call the warning names) when the study exists: a loaded study keeps the strategy and scheduler it was created
    with, which the server runs for every worker. One that runs what the object stands for is
    accepted silently (its seed has no use: the study's seed was set by create_study); another
    is a UserWarning naming what the study runs and ``study.update`` to change it for every
    worker. A sampler's ``constraints_func`` goes to the study's ``optimize`` and ``tell``."""
    if sampler is not None:
        spec: dict[str, Any] | None
        try:
            spec = sampler_spec(sampler, len(study.directions) > 1)
        except InvalidArgumentError:
            spec = None
        if spec is not None and _runs(spec, study.strategy, plugin_defaults(study, "strategy")):
            log.debug("%ssampler=%s): '%s' runs %r already; the sampler's seed has no use here", caller, _call(sampler), study.name, spec)
        else:
            change = f"to run it for every worker, study.update(strategy={spec!r})" if spec else "tuneport has no counterpart of it as given"
            warnings.warn(
                f"{caller}sampler={_call(sampler)}): study '{study.name}' runs the strategy it was created with, "
                f"{study.strategy!r}, for every worker; this sampler is not used ({change})",
                UserWarning,
                stacklevel=3,
            )
        study._constraints_func = getattr(sampler, "_constraints_func", None)
    if pruner is not None:
        sched: dict[str, Any] | None
        try:
            sched, _ = pruner_spec(pruner, study.max_resource)
            known = True
        except InvalidArgumentError:
            sched, known = None, False
        if known and sched is not None and sched["name"] == "hyperband" and study.max_resource is not None:
            sched["options"].setdefault("max_resource", study.max_resource)  # the study's budget, as the server fills it
        if known and _runs(sched, study.scheduler, plugin_defaults(study, "scheduler")):
            log.debug("%spruner=%s): '%s' runs %r already", caller, _call(pruner), study.name, sched)
        else:
            change = (
                f"to run it for every worker, study.update(scheduler={sched!r})"
                if known
                else "tuneport has no counterpart of it as given"
            )
            warnings.warn(
                f"{caller}pruner={_call(pruner)}): study '{study.name}' runs the scheduler it was created with, "
                f"{study.scheduler!r}, for every worker; this pruner is not used ({change})",
                UserWarning,
                stacklevel=3,
            )
