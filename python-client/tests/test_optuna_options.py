"""``sampler=``/``pruner=`` objects are refused (the server runs the strategy and scheduler), and
the refusal names the exact replacement with the options the object was given. Each replacement
the message names is passed to a real server here: it must create a study whose strategy or
scheduler holds those options."""

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
    (lambda: optuna.samplers.TPESampler(n_startup_trials=20, n_ei_candidates=48, seed=3), {"n_startup_trials": 20, "n_ei_candidates": 48}),
    (lambda: optuna.samplers.NSGAIISampler(population_size=20, mutation_prob=0.1), {"population_size": 20, "mutation_prob": 0.1}),
    (lambda: optuna.samplers.CmaEsSampler(sigma0=0.3), {"sigma0": 0.3}),
    (lambda: optuna.samplers.GPSampler(n_startup_trials=5), {"nStartupTrials": 5}),
    (lambda: optuna.samplers.TPESampler(), {}),
]


@pytest.mark.parametrize("make, expected", SAMPLERS)
def test_a_refused_sampler_names_its_replacement_with_its_options(server: ServerProcess, name: str, make: Any, expected: dict[str, Any]) -> None:
    with warnings.catch_warnings():  # Optuna deprecates sigma0 (FutureWarning); users still pass it
        warnings.simplefilter("ignore")
        sampler = make()
    multi = type(sampler).__name__ == "NSGAIISampler"
    directions: Any = ["minimize", "maximize"] if multi else None
    with pytest.raises(tp.InvalidArgumentError) as err:
        tp.create_study(storage=server.endpoint, study_name=name, sampler=sampler, directions=directions)
    strategy = _named(str(err.value), "strategy")
    assert changed_options(sampler) == expected
    if expected:
        assert strategy["options"] == expected
        assert "set away from Optuna's defaults" in str(err.value)
    else:
        assert isinstance(strategy, str)
    study = tp.create_study(storage=server.endpoint, study_name=name, strategy=strategy, directions=directions)
    got = study.strategy["options"]
    for k, v in expected.items():
        assert got[k] == v


PRUNERS = [
    (lambda: optuna.pruners.MedianPruner(n_warmup_steps=5, n_startup_trials=2), {"n_warmup_steps": 5, "n_startup_trials": 2}),
    (lambda: optuna.pruners.PercentilePruner(25.0, interval_steps=2), {"percentile": 25.0, "interval_steps": 2}),
    (lambda: optuna.pruners.ThresholdPruner(upper=1.0), {"upper": 1.0}),
    (lambda: optuna.pruners.SuccessiveHalvingPruner(reduction_factor=3), {"reduction_factor": 3}),
]


@pytest.mark.parametrize("make, expected", PRUNERS)
def test_a_refused_pruner_names_its_replacement_with_its_options(server: ServerProcess, name: str, make: Any, expected: dict[str, Any]) -> None:
    pruner = make()
    with pytest.raises(tp.InvalidArgumentError) as err:
        tp.create_study(storage=server.endpoint, study_name=name, pruner=pruner)
    scheduler = _named(str(err.value), "scheduler")
    for k, v in expected.items():
        assert scheduler["options"][k] == v
    study = tp.create_study(storage=server.endpoint, study_name=name, scheduler=scheduler)
    got = (study.scheduler or {})["options"]
    for k, v in expected.items():
        assert got[k] == v


def test_hyperbands_max_resource_becomes_the_studys_budget(server: ServerProcess, name: str) -> None:
    with pytest.raises(tp.InvalidArgumentError) as err:
        tp.create_study(storage=server.endpoint, study_name=name, pruner=optuna.pruners.HyperbandPruner(max_resource=30, reduction_factor=2))
    message = str(err.value)
    assert _named(message, "scheduler") == {"name": "hyperband", "options": {"reduction_factor": 2}}
    assert "the study's budget, max_resource=30" in message
    study = tp.create_study(storage=server.endpoint, study_name=name, scheduler={"name": "hyperband", "options": {"reduction_factor": 2}}, max_resource=30)
    assert study.max_resource == 30


def _balanced(message: str, arg: str) -> Any:
    """The {...} value the refusal tells to pass as ``arg=``, nested dicts included."""
    start = message.index(f"pass {arg}=") + len(f"pass {arg}=")
    depth = 0
    for i, ch in enumerate(message[start:], start):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth == 0:
            return ast.literal_eval(message[start : i + 1])
    raise AssertionError(message)


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
def test_a_refused_patient_pruner_keeps_the_pruner_it_wraps(server: ServerProcess, name: str, make: Any, expected: dict[str, Any]) -> None:
    # The hint left the wrapped pruner out: `patient` without `wrapped` prunes on patience alone,
    # where Optuna's PatientPruner(MedianPruner(), ...) prunes only when the median rule agrees.
    with pytest.raises(tp.InvalidArgumentError) as err:
        tp.create_study(storage=server.endpoint, study_name=name, pruner=make())
    scheduler = _balanced(str(err.value), "scheduler")
    assert scheduler == {"name": "patient", "options": expected}
    study = tp.create_study(storage=server.endpoint, study_name=name, scheduler=scheduler)
    got = (study.scheduler or {})["options"]
    assert got["patience"] == expected["patience"]
    assert (got.get("wrapped") or {}).get("name") == expected.get("wrapped", {}).get("name")


def test_a_refused_successive_halving_pruner_says_bootstrap_count_has_no_counterpart(server: ServerProcess, name: str) -> None:
    with pytest.raises(tp.InvalidArgumentError) as err:
        tp.create_study(storage=server.endpoint, study_name=name, pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=1, bootstrap_count=2))
    assert "bootstrap_count" in str(err.value)
