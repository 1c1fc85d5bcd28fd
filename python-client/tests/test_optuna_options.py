"""``sampler=``/``pruner=`` objects run as the server's strategy and scheduler of their algorithm,
with the options they were given (the server runs the strategy and scheduler); where that would
not be exact (a setting without counterpart, a grid, Hyperband's 'auto' budget) they are
refused, and the refusal names the exact replacement. Each study here is made on a real server."""

from __future__ import annotations

import ast
import re
import warnings
from typing import Any

import optuna
import pytest

import tuneport as tp
from conftest import ServerProcess
from tuneport._optuna_options import changed_options

warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _named(message: str, arg: str) -> Any:
    """The value the refusal tells to pass as ``arg=`` (a name or a {'name', 'options'} dict)."""
    m = re.search(rf"pass {arg}=(\{{.*?\}}\}}|'[^']+')", message)
    assert m is not None, message
    return ast.literal_eval(m.group(1))


SAMPLERS = [
    (lambda: optuna.samplers.TPESampler(n_startup_trials=20, n_ei_candidates=48, seed=3), "tpe", {"n_startup_trials": 20, "n_ei_candidates": 48}),
    (lambda: optuna.samplers.NSGAIISampler(population_size=20, mutation_prob=0.1), "nsga2", {"population_size": 20, "mutation_prob": 0.1}),
    (lambda: optuna.samplers.CmaEsSampler(sigma0=0.3), "cmaes", {"sigma0": 0.3}),
    (lambda: optuna.samplers.GPSampler(n_startup_trials=5), "gp", {"nStartupTrials": 5}),
    (lambda: optuna.samplers.QMCSampler(), "qmc", {"scramble": False}),  # Optuna's default, not tuneport's
    (lambda: optuna.samplers.RandomSampler(seed=1), "random", {}),
    (lambda: optuna.samplers.TPESampler(), "tpe", {}),
]


@pytest.mark.parametrize("make, kind, expected", SAMPLERS)
def test_a_sampler_runs_as_its_strategy_with_its_options(server: ServerProcess, name: str, make: Any, kind: str, expected: dict[str, Any]) -> None:
    with warnings.catch_warnings():  # Optuna deprecates sigma0 (FutureWarning); users still pass it
        warnings.simplefilter("ignore")
        sampler = make()
    multi = type(sampler).__name__ == "NSGAIISampler"
    directions: Any = ["minimize", "maximize"] if multi else None
    study = tp.create_study(storage=server.endpoint, study_name=name, sampler=sampler, directions=directions)
    assert study.strategy["name"] == kind
    got = study.strategy["options"]
    for k, v in expected.items():
        assert got[k] == v
    if kind == "tpe" and not expected:
        assert changed_options(sampler) == {}


def test_a_multi_objective_study_runs_optunas_multi_objective_counterparts(server: ServerProcess, name: str) -> None:
    # GPSampler on several objectives is EHVI; TPESampler() is the independent TPE there (Optuna 5's
    # default for several objectives), where tuneport's tpe is multivariate by default.
    both: Any = ["minimize", "minimize"]
    gp = tp.create_study(storage=server.endpoint, study_name=name, sampler=optuna.samplers.GPSampler(n_startup_trials=4), directions=both)
    assert gp.strategy["name"] == "ehvi" and gp.strategy["options"]["nStartupTrials"] == 4
    tpe = tp.create_study(storage=server.endpoint, study_name=name + "-tpe", sampler=optuna.samplers.TPESampler(), directions=both)
    assert tpe.strategy["name"] == "tpe" and tpe.strategy["options"]["multivariate"] is False


PRUNERS = [
    (lambda: optuna.pruners.MedianPruner(n_warmup_steps=5, n_startup_trials=2), "median", {"n_warmup_steps": 5, "n_startup_trials": 2}),
    (lambda: optuna.pruners.PercentilePruner(25.0, interval_steps=2), "percentile", {"percentile": 25.0, "interval_steps": 2}),
    (lambda: optuna.pruners.ThresholdPruner(upper=1.0), "threshold", {"upper": 1.0}),
    (lambda: optuna.pruners.SuccessiveHalvingPruner(reduction_factor=3), "successive-halving", {"reduction_factor": 3}),
]


@pytest.mark.parametrize("make, kind, expected", PRUNERS)
def test_a_pruner_runs_as_its_scheduler_with_its_options(server: ServerProcess, name: str, make: Any, kind: str, expected: dict[str, Any]) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name, pruner=make())
    assert study.scheduler is not None and study.scheduler["name"] == kind
    for k, v in expected.items():
        assert study.scheduler["options"][k] == v


def test_nop_pruner_runs_as_no_scheduler(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name, pruner=optuna.pruners.NopPruner())
    assert study.scheduler is None


def test_hyperbands_max_resource_becomes_the_studys_budget(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name, pruner=optuna.pruners.HyperbandPruner(max_resource=30, reduction_factor=2))
    assert study.max_resource == 30
    assert study.scheduler is not None and study.scheduler["name"] == "hyperband" and study.scheduler["options"]["reduction_factor"] == 2
    # create_study's own max_resource wins for the study; the pruner's stays the scheduler's.
    mine = tp.create_study(storage=server.endpoint, study_name=name + "-2", pruner=optuna.pruners.HyperbandPruner(max_resource=30), max_resource=81)
    assert mine.max_resource == 81 and mine.scheduler is not None and mine.scheduler["options"]["max_resource"] == 30


def test_hyperbands_auto_budget_without_one_is_refused_with_what_to_pass(server: ServerProcess, name: str) -> None:
    # Optuna guesses max_resource='auto' from the first finished trial; tuneport's brackets need it
    # from the first trial on: the study's budget.
    with pytest.raises(tp.InvalidArgumentError) as err:
        tp.create_study(storage=server.endpoint, study_name=name, pruner=optuna.pruners.HyperbandPruner(reduction_factor=2))
    message = str(err.value)
    assert "max_resource='auto'" in message and "the study's budget, max_resource=<how far" in message
    assert _named(message, "scheduler") == {"name": "hyperband", "options": {"reduction_factor": 2}}
    assert name not in tp.get_all_study_names(storage=server.endpoint)
    study = tp.create_study(storage=server.endpoint, study_name=name, pruner=optuna.pruners.HyperbandPruner(reduction_factor=2), max_resource=27)
    assert study.max_resource == 27 and study.scheduler is not None and study.scheduler["options"]["reduction_factor"] == 2


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize(
    "make, expected",
    [
        (
            lambda: optuna.pruners.PatientPruner(optuna.pruners.MedianPruner(n_startup_trials=2), patience=3),
            {"patience": 3, "wrapped": {"name": "median", "options": {"n_startup_trials": 2}}},
        ),
        (lambda: optuna.pruners.PatientPruner(optuna.pruners.SuccessiveHalvingPruner(), patience=1, min_delta=0.5),
         {"patience": 1, "min_delta": 0.5, "wrapped": {"name": "successive-halving", "options": {}}}),
        (lambda: optuna.pruners.PatientPruner(None, patience=2), {"patience": 2}),
    ],
)
def test_a_patient_pruner_keeps_the_pruner_it_wraps(server: ServerProcess, name: str, make: Any, expected: dict[str, Any]) -> None:
    # `patient` without `wrapped` prunes on patience alone, where Optuna's
    # PatientPruner(MedianPruner(), ...) prunes only when the median rule agrees.
    study = tp.create_study(storage=server.endpoint, study_name=name, pruner=make())
    got = (study.scheduler or {})["options"]
    assert study.scheduler is not None and study.scheduler["name"] == "patient"
    assert got["patience"] == expected["patience"] and got["min_delta"] == expected.get("min_delta", 0.0)
    assert (got.get("wrapped") or {}).get("name") == expected.get("wrapped", {}).get("name")
    for k, v in expected.get("wrapped", {}).get("options", {}).items():
        assert got["wrapped"]["options"][k] == v


def _balanced(message: str, arg: str) -> Any:
    """The {...} value the refusal tells to pass as ``arg=``, nested dicts included."""
    start = message.index(f"pass {arg}=") + len(f"pass {arg}=")
    depth = 0
    for i, ch in enumerate(message[start:], start):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0:
            return ast.literal_eval(message[start : i + 1])
    raise AssertionError(message)


def _sbx() -> Any:
    return optuna.samplers.nsgaii.SBXCrossover()


def _uniform(swapping_prob: float) -> Any:
    return optuna.samplers.nsgaii.UniformCrossover(swapping_prob)


UNMAPPED = [
    (lambda: optuna.samplers.TPESampler(group=True, multivariate=True), "sampler", "group=True", None),
    (lambda: optuna.samplers.TPESampler(gamma=lambda n: min(n, 5)), "sampler", "gamma=<function", None),
    (lambda: optuna.samplers.GPSampler(deterministic_objective=True), "sampler", "deterministic_objective=True", None),
    (lambda: optuna.samplers.GPSampler(independent_sampler=optuna.samplers.TPESampler()), "sampler", "independent_sampler=<TPESampler>", None),
    (lambda: optuna.samplers.CmaEsSampler(x0={"x": 0.5}, n_startup_trials=3), "sampler", "x0={'x': 0.5}, n_startup_trials=3", None),
    (lambda: optuna.samplers.QMCSampler(qmc_type="halton"), "sampler", "qmc_type='halton'", None),
    # Optuna ranks a pruned trial by its last report among the completed ones; tuneport's cmaes after them.
    (lambda: optuna.samplers.CmaEsSampler(consider_pruned_trials=True), "sampler", "consider_pruned_trials=True): tuneport's 'cmaes' counts", None),
    (lambda: optuna.samplers.NSGAIISampler(crossover=_sbx()), "sampler", "crossover=SBXCrossover(eta=None, uniform_crossover_prob=0.5", ["minimize", "minimize"]),
    # Optuna 5 uses the crossover's own swapping_prob for numeric parameters, NSGAIISampler's for categorical ones.
    (lambda: optuna.samplers.NSGAIISampler(crossover=_uniform(0.3)), "sampler", "crossover=UniformCrossover(swapping_prob=0.3)", ["minimize", "minimize"]),
    (lambda: optuna.samplers.NSGAIISampler(crossover=_uniform(0.5), swapping_prob=0.3), "sampler", "crossover=UniformCrossover(swapping_prob=0.5)", ["minimize", "minimize"]),
    (lambda: optuna.pruners.SuccessiveHalvingPruner(min_resource=1, bootstrap_count=2), "pruner", "bootstrap_count=2", None),
    (lambda: optuna.pruners.PatientPruner(optuna.pruners.WilcoxonPruner(), patience=2), "pruner", "no counterpart of the wrapped WilcoxonPruner", None),
]


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
@pytest.mark.parametrize("make, argument, words, directions", UNMAPPED)
def test_a_setting_without_counterpart_is_refused_naming_it(
    server: ServerProcess, name: str, make: Any, argument: str, words: str, directions: Any
) -> None:
    # Running TPESampler(group=True) as plain 'tpe' would drop the user's setting without a word.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obj = make()
    with pytest.raises(tp.InvalidArgumentError) as err:
        tp.create_study(storage=server.endpoint, study_name=name, directions=directions, **{argument: obj})
    assert words in str(err.value)
    assert f"pass {'strategy' if argument == 'sampler' else 'scheduler'}=" in str(err.value)  # what to pass instead
    assert name not in tp.get_all_study_names(storage=server.endpoint)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_a_refusal_names_a_replacement_that_runs(server: ServerProcess, name: str) -> None:
    with pytest.raises(tp.InvalidArgumentError) as err:
        tp.create_study(storage=server.endpoint, study_name=name, sampler=optuna.samplers.TPESampler(n_startup_trials=20, group=True, multivariate=True))
    strategy = _balanced(str(err.value), "strategy")
    assert strategy == {"name": "tpe", "options": {"n_startup_trials": 20, "multivariate": True}}
    study = tp.create_study(storage=server.endpoint, study_name=name, strategy=strategy)
    assert study.strategy["options"]["n_startup_trials"] == 20


def test_sampler_with_strategy_or_pruner_with_scheduler_is_refused(server: ServerProcess, name: str) -> None:
    with pytest.raises(tp.InvalidArgumentError, match=r"give sampler= or strategy=, not both"):
        tp.create_study(storage=server.endpoint, study_name=name, sampler=optuna.samplers.TPESampler(), strategy="random")
    with pytest.raises(tp.InvalidArgumentError, match=r"give pruner= or scheduler=, not both"):
        tp.create_study(storage=server.endpoint, study_name=name, pruner=optuna.pruners.MedianPruner(), scheduler="median")
    assert name not in tp.get_all_study_names(storage=server.endpoint)
