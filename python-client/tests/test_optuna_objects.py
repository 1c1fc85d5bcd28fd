"""An Optuna script's ``sampler=TPESampler(seed=1)``: the seed it stands for, its constraints_func,
the line logged, ``load_if_exists`` across workers with their own seeds, and tuneport's own
``samplers``/``pruners`` (``import tuneport as optuna`` without Optuna installed), on a real server."""

from __future__ import annotations

import inspect
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, cast

import numpy as np
import optuna
import pytest

import tuneport as tp
from conftest import ServerProcess
from tuneport._optuna_objects import pruner_spec, sampler_spec
from tuneport._optuna_options import derived_seed

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Optuna's objects built here warn: QMCSampler and PatientPruner are experimental, prior_weight deprecated.
pytestmark = [pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning"), pytest.mark.filterwarnings("ignore::FutureWarning")]


def _first_params(server: ServerProcess, name: str, sampler: Any, n: int = 4) -> list[dict[str, Any]]:
    study = tp.create_study(storage=server.endpoint, study_name=name, sampler=sampler)
    out = []
    for _ in range(n):
        trial = study.ask()
        out.append({"x": trial.suggest_float("x", 0, 1), "k": trial.suggest_int("k", 0, 1000)})
        study.tell(trial, 0.0)
    return out


def test_the_same_sampler_seed_gives_the_same_run_and_another_seed_another(server: ServerProcess, name: str) -> None:
    one = _first_params(server, name + "-a", optuna.samplers.TPESampler(seed=1))
    again = _first_params(server, name + "-b", optuna.samplers.TPESampler(seed=1))
    other = _first_params(server, name + "-c", optuna.samplers.TPESampler(seed=2))
    assert one == again
    assert one != other
    a = tp.load_study(study_name=name + "-a", storage=server.endpoint)
    assert a.seed == derived_seed(optuna.samplers.TPESampler(seed=1)) and 0 <= a.seed < 2**31


def test_the_seed_is_read_without_drawing_from_the_samplers_random_state() -> None:
    sampler = optuna.samplers.TPESampler(seed=5)
    state: Any = sampler._rng.rng.get_state()
    before = state[1].tolist()
    assert derived_seed(sampler) == derived_seed(sampler)
    after: Any = sampler._rng.rng.get_state()
    assert after[1].tolist() == before
    assert derived_seed(optuna.samplers.CmaEsSampler(seed=5)) == derived_seed(sampler) == derived_seed(optuna.samplers.QMCSampler(seed=5))
    assert derived_seed(optuna.samplers.TPESampler()) is None  # unseeded: the server picks one


def test_create_studys_seed_wins_and_an_unseeded_sampler_leaves_it_to_the_server(server: ServerProcess, name: str) -> None:
    mine = tp.create_study(storage=server.endpoint, study_name=name, sampler=optuna.samplers.TPESampler(seed=1), seed=7)
    assert mine.seed == 7
    unseeded = [tp.create_study(storage=server.endpoint, study_name=f"{name}-{i}", sampler=optuna.samplers.TPESampler()).seed for i in range(2)]
    assert unseeded[0] != unseeded[1]


def test_the_translation_is_logged_once_per_create_study(server: ServerProcess, name: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tuneport"):
        tp.create_study(storage=server.endpoint, study_name=name, sampler=optuna.samplers.TPESampler(seed=1, n_startup_trials=3), pruner=optuna.pruners.MedianPruner())
    lines = [r.getMessage() for r in caplog.records if "runs as" in r.getMessage()]
    seed = derived_seed(optuna.samplers.TPESampler(seed=1))
    assert lines == [
        f"sampler=TPESampler(...) runs as strategy {{'name': 'tpe', 'options': {{'n_startup_trials': 3}}}}, seed {seed} "
        "(derived from the sampler's random state); pruner=MedianPruner(...) runs as scheduler {'name': 'median', 'options': {}}"
    ]


def test_workers_with_their_own_sampler_seed_load_the_same_study(server: ServerProcess, name: str) -> None:
    # Optuna's recipe: create_study(..., load_if_exists=True, sampler=TPESampler(seed=rank)) on each worker.
    first = tp.create_study(storage=server.endpoint, study_name=name, load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same algorithm and options: quiet
        second = tp.create_study(storage=server.endpoint, study_name=name, load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=1))
    assert second.seed == first.seed and not second._created


@pytest.mark.parametrize(
    ("make", "runs"),
    [
        (lambda: optuna.samplers.RandomSampler(seed=1), "{'name': 'random'"),  # "explore with RandomSampler, then resume with TPE"
        (lambda: optuna.samplers.TPESampler(seed=1, n_startup_trials=3), "{'name': 'tpe', 'options': {'n_startup_trials': 3}}"),
    ],
    ids=["another-algorithm", "another-option"],
)
def test_load_if_exists_with_another_sampler_loads_the_study_as_load_study_does(server: ServerProcess, name: str, make: Any, runs: str) -> None:
    # As load_study(sampler=...): the study keeps the strategy it runs for every worker, and a
    # UserWarning names it and the study.update that changes it (issue: create_study refused it).
    created = tp.create_study(storage=server.endpoint, study_name=name, sampler=optuna.samplers.TPESampler(seed=0))
    with pytest.warns(UserWarning, match=r"create_study\(load_if_exists=True, sampler=.*runs the strategy it was created with, \{'name': 'tpe'") as caught:
        loaded = tp.create_study(storage=server.endpoint, study_name=name, load_if_exists=True, sampler=make())
    assert not loaded._created and loaded.seed == created.seed
    assert loaded.strategy == created.strategy and (loaded.strategy or {})["name"] == "tpe"
    assert any(f"study.update(strategy={runs}" in str(w.message) for w in caught), [str(w.message) for w in caught]
    assert caught[0].filename == __file__  # names the script's create_study line
    with pytest.warns(UserWarning, match=r"load_study\(sampler=.*runs the strategy it was created with, \{'name': 'tpe'"):
        tp.load_study(study_name=name, storage=server.endpoint, sampler=make())


def test_load_if_exists_with_another_pruner_loads_the_study_with_a_warning(server: ServerProcess, name: str) -> None:
    tp.create_study(storage=server.endpoint, study_name=name, pruner=optuna.pruners.MedianPruner())
    with pytest.warns(UserWarning, match=r"create_study\(load_if_exists=True, pruner=.*runs the scheduler it was created with, \{'name': 'median'.*study.update\(scheduler=\{'name': 'successive-halving'"):
        loaded = tp.create_study(storage=server.endpoint, study_name=name, load_if_exists=True, pruner=optuna.pruners.SuccessiveHalvingPruner())
    assert (loaded.scheduler or {})["name"] == "median" and not loaded._created
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tp.create_study(storage=server.endpoint, study_name=name, load_if_exists=True, pruner=optuna.pruners.MedianPruner())


def test_a_refused_worker_is_told_only_what_really_differs(server: ServerProcess, name: str) -> None:
    # Directions that disagree stay an error (issue 15); neither the sampler's algorithm and
    # options nor the seed derived from it are listed with them.
    tp.create_study(storage=server.endpoint, study_name=name, sampler=optuna.samplers.TPESampler(seed=0))
    with pytest.raises(tp.InvalidArgumentError, match="exists with other settings") as err:
        tp.create_study(
            storage=server.endpoint, study_name=name, load_if_exists=True, direction="maximize", sampler=optuna.samplers.RandomSampler(seed=1)
        )
    assert [d["field"] for d in (err.value.data or {})["differences"]] == ["direction"]
    assert err.value.__context__ is None  # nor in the traceback of a refusal it chains to
    # What create_study's own seed=/strategy= name are settings, and are compared.
    with pytest.raises(tp.InvalidArgumentError, match="seed: stored") as err:
        tp.create_study(storage=server.endpoint, study_name=name, load_if_exists=True, sampler=optuna.samplers.TPESampler(n_startup_trials=3), seed=5)
    assert [d["field"] for d in (err.value.data or {})["differences"]] == ["seed"]
    with pytest.raises(tp.InvalidArgumentError, match="strategy: stored tpe"):
        tp.create_study(storage=server.endpoint, study_name=name, load_if_exists=True, strategy="random")


def _constraints(frozen: Any) -> list[float]:
    return [frozen.params["x"] - 0.5]


def test_a_samplers_constraints_func_is_used_by_tell_and_by_a_loaded_study(server: ServerProcess, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # Optuna 5 deprecates the sampler argument
        sampler = optuna.samplers.TPESampler(constraints_func=_constraints, seed=1)
    study = tp.create_study(storage=server.endpoint, study_name=name, sampler=sampler)
    trial = study.ask()
    x = trial.suggest_float("x", 0, 1)
    study.tell(trial, x)
    assert study.trials[0].system_attrs["constraints"] == pytest.approx((x - 0.5,))
    worker = tp.load_study(study_name=name, storage=server.endpoint, sampler=sampler)
    worker.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    done = worker.trials[1]
    assert done.system_attrs["constraints"] == pytest.approx((cast(float, done.params["x"]) - 0.5,))


def test_a_failing_constraints_func_in_tell_fails_the_trial_keeping_its_value(server: ServerProcess, name: str) -> None:
    def broken(frozen: Any) -> list[float]:
        raise ZeroDivisionError("boom")

    study = tp.create_study(storage=server.endpoint, study_name=name, sampler=tp.samplers.TPESampler(constraints_func=broken))
    trial = study.ask()
    trial.suggest_float("x", 0, 1)
    with pytest.raises(ZeroDivisionError):
        study.tell(trial, 0.25)
    failed = study.trials[0]
    assert failed.state == "FAIL" and "constraints_func raised ZeroDivisionError('boom')" in failed.system_attrs["fail_reason"]
    assert "0.25" in failed.system_attrs["fail_reason"]


# ---------------------------------------------------------------- tuneport.samplers / tuneport.pruners

OWN = (
    [(tp.samplers, optuna.samplers, n) for n in tp.samplers.__all__ if n not in ("BaseSampler", "nsgaii")]
    + [(tp.samplers.nsgaii, optuna.samplers.nsgaii, n) for n in tp.samplers.nsgaii.__all__]
    + [(tp.pruners, optuna.pruners, n) for n in tp.pruners.__all__ if n != "BasePruner"]
)


@pytest.mark.parametrize("ours, theirs, cls", OWN)
def test_tuneports_classes_take_optunas_arguments(ours: Any, theirs: Any, cls: str) -> None:
    def shape(c: Any) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(c).parameters.values()]

    assert shape(getattr(ours, cls)) == shape(getattr(theirs, cls))


@pytest.mark.parametrize(
    "ours, theirs, argument",
    [(tp.samplers, optuna.samplers, "strategy"), (tp.pruners, optuna.pruners, "scheduler")],
)
def test_optunas_classes_without_counterpart_say_what_to_use(ours: Any, theirs: Any, argument: str) -> None:
    # optuna.samplers.PartialFixedSampler in a script moved with `import tuneport as optuna`.
    missing = [n for n in theirs.__all__ if n not in ours.__all__]
    assert missing  # PartialFixedSampler, NSGAIIISampler, WilcoxonPruner, ...
    for n in missing:
        with pytest.raises(AttributeError, match=rf"has no attribute '{n}' \(Optuna's {theirs.__name__}\.{n}\).*{argument}=") as err:
            getattr(ours, n)
        assert "Client.catalogue()" in str(err.value) and "docs/PLUGINS.md" in str(err.value)
    with pytest.raises(AttributeError) as err:
        getattr(ours, "NoSuchThing")
    assert str(err.value) == f"module '{ours.__name__}' has no attribute 'NoSuchThing'"
    assert not hasattr(ours, missing[0])


def test_optunas_nsgaii_module_has_its_uniform_crossover_and_names_the_others() -> None:
    # optuna.samplers.nsgaii.UniformCrossover(0.5) in a script moved with `import tuneport as optuna`
    # was an AttributeError (tuneport.samplers had no nsgaii); the other crossovers and the mutations
    # have no counterpart and say what runs instead.
    assert tp.samplers.nsgaii is sys.modules["tuneport.samplers.nsgaii"] and "nsgaii" in tp.samplers.__all__
    missing = [n for n in optuna.samplers.nsgaii.__all__ if n not in tp.samplers.nsgaii.__all__]
    assert set(tp.samplers.nsgaii.__all__) == {"UniformCrossover"} and "SBXCrossover" in missing and "PolynomialMutation" in missing
    for n in missing:
        with pytest.raises(AttributeError, match=rf"has no attribute '{n}' \(Optuna's optuna\.samplers\.nsgaii\.{n}\): tuneport's nsga2 ") as err:
            getattr(tp.samplers.nsgaii, n)
        assert "NSGAIISampler(swapping_prob=p)" in str(err.value) and "strategy='nsga2'" in str(err.value)
    with pytest.raises(AttributeError) as err:
        getattr(tp.samplers.nsgaii, "NoSuchThing")
    assert str(err.value) == "module 'tuneport.samplers.nsgaii' has no attribute 'NoSuchThing'"
    # Optuna's range check and attribute.
    for p in (-0.1, 1.5):
        for module in (tp.samplers.nsgaii, optuna.samplers.nsgaii):
            with pytest.raises(ValueError, match="swapping_prob"):
                module.UniformCrossover(p)
    assert vars(tp.samplers.nsgaii.UniformCrossover(0.3)) == vars(optuna.samplers.nsgaii.UniformCrossover(0.3)) == {"_swapping_prob": 0.3}
    assert tp.samplers.nsgaii.UniformCrossover.n_parents == optuna.samplers.nsgaii.UniformCrossover.n_parents


SAME = [
    ("TPESampler", {"seed": 1, "n_startup_trials": 3, "prior_weight": 2.0, "multivariate": False}),
    ("TPESampler", {}),
    ("GPSampler", {"n_startup_trials": 4, "seed": 9}),
    ("QMCSampler", {"seed": 3}),
    ("QMCSampler", {"scramble": True, "seed": 3}),
    ("CmaEsSampler", {"popsize": 8, "seed": 2}),
    ("NSGAIISampler", {"population_size": 10, "mutation_prob": 0.1, "seed": 5}),
    ("RandomSampler", {"seed": 7}),
]


@pytest.mark.parametrize("cls, kwargs", SAME)
@pytest.mark.parametrize("multi", [False, True])
def test_tuneports_samplers_run_as_optunas_objects_do(cls: str, kwargs: dict[str, Any], multi: bool) -> None:
    ours, theirs = getattr(tp.samplers, cls)(**kwargs), getattr(optuna.samplers, cls)(**kwargs)
    assert sampler_spec(ours, multi) == sampler_spec(theirs, multi)
    assert derived_seed(ours) == derived_seed(theirs)
    if "independent_sampler" in inspect.signature(type(ours)).parameters:  # a RandomSampler is Optuna's default one
        with_random = getattr(tp.samplers, cls)(**kwargs, independent_sampler=tp.samplers.RandomSampler(seed=4))
        assert sampler_spec(with_random, multi) == sampler_spec(ours, multi)


PRUNERS_SAME = [
    ("MedianPruner", (), {"n_warmup_steps": 3, "n_min_trials": 2}),
    ("PercentilePruner", (25.0,), {"interval_steps": 2}),
    ("SuccessiveHalvingPruner", (), {"min_resource": 2, "reduction_factor": 3}),
    ("HyperbandPruner", (), {"max_resource": 30}),
    ("ThresholdPruner", (), {"upper": 1.0}),
    ("ThresholdPruner", (), {"lower": float("-inf"), "upper": 2.0, "n_warmup_steps": 1}),
    ("NopPruner", (), {}),
]


@pytest.mark.parametrize("cls, args, kwargs", PRUNERS_SAME)
def test_tuneports_pruners_run_as_optunas_objects_do(cls: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    ours, theirs = getattr(tp.pruners, cls)(*args, **kwargs), getattr(optuna.pruners, cls)(*args, **kwargs)
    for budget in (None, 81):
        assert pruner_spec(ours, budget) == pruner_spec(theirs, budget)
    wrapped = tp.pruners.PatientPruner(tp.pruners.MedianPruner(n_startup_trials=2), patience=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optunas = optuna.pruners.PatientPruner(optuna.pruners.MedianPruner(n_startup_trials=2), patience=3)
    assert pruner_spec(wrapped, None) == pruner_spec(optunas, None)


class RandomSampler(tp.samplers.BaseSampler):
    """A sampler of the user's that happens to be named RandomSampler (its own sample_relative)."""

    def __init__(self) -> None:
        self._record({})


class OptunaRandomOfMine(optuna.samplers.RandomSampler):
    pass


OptunaRandomOfMine.__name__ = "RandomSampler"


@pytest.mark.parametrize("cls", [n for n in tp.samplers.__all__ if n not in ("BaseSampler", "nsgaii")])
@pytest.mark.parametrize("seed, error", [(-5, ValueError), (2**32, ValueError), (2**40, ValueError), (1.5, TypeError), ("3", TypeError)])
def test_tuneports_samplers_refuse_a_seed_optuna_refuses(cls: str, seed: Any, error: type[Exception]) -> None:
    grid = {"search_space": {"x": [0, 1]}} if cls == "GridSampler" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error) as theirs:
            getattr(optuna.samplers, cls)(seed=seed, **grid)
    with pytest.raises(error) as ours:
        getattr(tp.samplers, cls)(seed=seed, **grid)
    if error is ValueError:
        assert str(ours.value) == str(theirs.value) == "Seed must be between 0 and 2**32 - 1"
    for fine in (0, 2**32 - 1, True, np.uint32(7)):  # what Optuna takes
        getattr(tp.samplers, cls)(seed=fine, **grid)


@pytest.mark.parametrize(
    "make, words",
    [
        # Only tuneport's and Optuna's RandomSampler are the default independent sampler, not any class of that name.
        (lambda: tp.samplers.GPSampler(independent_sampler=RandomSampler()), "independent_sampler=<RandomSampler>"),
        (lambda: tp.samplers.CmaEsSampler(independent_sampler=OptunaRandomOfMine()), "independent_sampler=<RandomSampler>"),
        (lambda: tp.samplers.TPESampler(group=True), "TPESampler(group=True)"),
        (lambda: tp.samplers.GPSampler(deterministic_objective=True), "deterministic_objective=True"),
        (lambda: tp.samplers.CmaEsSampler(x0={"x": 0.5}), "x0={'x': 0.5}"),
        (lambda: tp.samplers.QMCSampler(qmc_type="halton"), "qmc_type='halton'"),
        (lambda: tp.samplers.GridSampler({"x": [0, 1]}), "space={'x': tp.Categorical([0, 1])}"),
        (lambda: tp.pruners.SuccessiveHalvingPruner(min_resource=1, bootstrap_count=2), "bootstrap_count=2"),
    ],
)
def test_tuneports_objects_refuse_an_argument_without_counterpart(server: ServerProcess, name: str, make: Any, words: str) -> None:
    obj = make()
    argument = "pruner" if isinstance(obj, tp.pruners.BasePruner) else "sampler"
    with pytest.raises(tp.InvalidArgumentError) as err:
        tp.create_study(storage=server.endpoint, study_name=name, **{argument: obj})
    assert words in str(err.value)
    assert name not in tp.get_all_study_names(storage=server.endpoint)


def test_a_script_moved_with_import_tuneport_as_optuna_keeps_its_sampler_and_pruner(server: ServerProcess, name: str) -> None:
    # Optuna's pruning tutorial, with only the import changed (and storage pointing at the server).
    import tuneport as optuna  # noqa: F811 - the point of the test

    def objective(trial: Any) -> float:
        x: float = trial.suggest_float("x", -10, 10)
        for step in range(5):
            value = (x - 2) ** 2 + 1.0 / (step + 1)
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return (x - 2) ** 2

    runs = []
    for suffix in ("a", "b"):
        study = optuna.create_study(
            storage=server.endpoint,
            study_name=f"{name}-{suffix}",
            sampler=optuna.samplers.TPESampler(seed=10, n_startup_trials=5),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        )
        study.optimize(objective, n_trials=12)
        runs.append([t.params["x"] for t in study.trials])
        assert study.strategy["name"] == "tpe" and study.strategy["options"]["n_startup_trials"] == 5
        assert study.scheduler is not None and study.scheduler["options"]["n_warmup_steps"] == 1
        assert len(study.trials) == 12 and study.best_value < 25
    assert runs[0] == runs[1]  # the same seed, the same run
    assert repr(optuna.samplers.TPESampler(seed=10)) == "TPESampler(seed=10)"


def test_a_subclass_of_the_users_own_is_refused_even_under_a_known_name(server: ServerProcess, name: str) -> None:
    # A TPESampler subclass of the user's samples in its own way: running it as 'tpe' would not run it.
    class TPESampler(tp.samplers.TPESampler):  # noqa: N801 - the name is the point
        pass

    class OptunaTPE(optuna.samplers.TPESampler):
        pass

    OptunaTPE.__name__ = "TPESampler"
    for sampler in (TPESampler(seed=1), OptunaTPE(seed=1)):
        with pytest.raises(tp.InvalidArgumentError, match="no counterpart of TPESampler, and a sampler of your own"):
            tp.create_study(storage=server.endpoint, study_name=name, sampler=sampler)
    assert name not in tp.get_all_study_names(storage=server.endpoint)


def _crossover(cls: str, *args: Any) -> Any:
    return getattr(optuna.samplers.nsgaii, cls)(*args)


NSGAII = [optuna.samplers.nsgaii, tp.samplers.nsgaii]  # Optuna's UniformCrossover, and tuneport's for a script without Optuna


@pytest.mark.parametrize("nsgaii", NSGAII, ids=["optuna-crossover", "tuneport-crossover"])
@pytest.mark.parametrize("samplers", [tp.samplers, optuna.samplers], ids=["tuneport", "optuna"])
@pytest.mark.parametrize(
    "kwargs, options",
    [
        # UniformCrossover(swapping_prob) is what NSGAIISampler builds when given no crossover: its default.
        (lambda m: {"crossover": m.UniformCrossover(0.5)}, {}),
        (lambda m: {"crossover": m.UniformCrossover()}, {}),
        (lambda m: {"crossover": m.UniformCrossover(swapping_prob=0.3), "swapping_prob": 0.3}, {"swapping_prob": 0.3}),
        (lambda m: {"crossover": m.UniformCrossover(0.3), "swapping_prob": 0.3, "crossover_prob": 0.7}, {"crossover_prob": 0.7, "swapping_prob": 0.3}),
    ],
)
def test_an_nsgaii_sampler_given_the_uniform_crossover_it_runs_is_accepted(
    nsgaii: Any, samplers: Any, kwargs: Any, options: dict[str, Any]
) -> None:
    # tuneport.samplers.NSGAIISampler(crossover=UniformCrossover(0.5)) was refused: an object is not
    # None, its default, though it is the crossover Optuna builds for it (Optuna's define no ==).
    # Optuna's NSGAIISampler takes only Optuna's crossovers (a BaseCrossover).
    if samplers is optuna.samplers and nsgaii is tp.samplers.nsgaii:
        with pytest.raises(ValueError, match="is not a valid crossover"):
            samplers.NSGAIISampler(**kwargs(nsgaii))
        return
    assert sampler_spec(samplers.NSGAIISampler(**kwargs(nsgaii)), True) == {"name": "nsga2", "options": options}


class UniformCrossover(optuna.samplers.nsgaii.UniformCrossover):  # a user's own crossover, named as Optuna's
    pass


class TuneportUniformCrossover(tp.samplers.nsgaii.UniformCrossover):  # the same, from tuneport's
    pass


TuneportUniformCrossover.__name__ = TuneportUniformCrossover.__qualname__ = "UniformCrossover"


@pytest.mark.parametrize("samplers", [tp.samplers, optuna.samplers], ids=["tuneport", "optuna"])
@pytest.mark.parametrize(
    "kwargs, named, instead",
    [
        # Optuna crosses numeric parameters with the crossover's swapping_prob, categorical ones with the sampler's.
        (lambda: {"crossover": _crossover("UniformCrossover", 0.3)}, "crossover=UniformCrossover(swapping_prob=0.3)", "give NSGAIISampler the same swapping_prob"),
        (lambda: {"crossover": _crossover("BLXAlphaCrossover")}, "crossover=BLXAlphaCrossover(alpha=0.5)", "crosses over only as Optuna's default crossover does"),
        (lambda: {"crossover": _crossover("SBXCrossover", 5.0)}, "crossover=SBXCrossover(eta=5.0, uniform_crossover_prob=0.5, use_child_gene_prob=0.5)", "only as"),
        (lambda: {"crossover": _crossover("UNDXCrossover")}, "crossover=UNDXCrossover(sigma_xi=0.5, sigma_eta=None)", "only as"),
        (lambda: {"crossover": UniformCrossover(0.5)}, f"crossover={__name__}.UniformCrossover(swapping_prob=0.5)", "only as"),
    ],
)
def test_an_nsgaii_sampler_given_another_crossover_is_refused_naming_it(samplers: Any, kwargs: Any, named: str, instead: str) -> None:
    _refused(samplers, kwargs, named, instead)


@pytest.mark.parametrize("crossover, given", [(0.3, {}), (0.5, {"swapping_prob": 0.2}), (0.3, {"swapping_prob": 0.2})])
def test_tuneports_uniform_crossover_is_refused_where_optunas_is_in_the_same_words(crossover: float, given: dict[str, Any]) -> None:
    # Optuna crosses numeric parameters with the crossover's swapping_prob, categorical ones with the sampler's.
    said = []
    for nsgaii in NSGAII:
        with pytest.raises(tp.InvalidArgumentError) as err:
            sampler_spec(tp.samplers.NSGAIISampler(crossover=nsgaii.UniformCrossover(crossover), **given), True)
        said.append(str(err.value))
    assert said[0] == said[1]
    assert f"sampler=NSGAIISampler(crossover=UniformCrossover(swapping_prob={crossover})): " in said[0]
    assert "give NSGAIISampler the same swapping_prob" in said[0]


def test_a_users_subclass_of_tuneports_uniform_crossover_is_refused() -> None:
    _refused(tp.samplers, lambda: {"crossover": TuneportUniformCrossover(0.5)}, f"crossover={__name__}.UniformCrossover(swapping_prob=0.5)", "only as")


def _refused(samplers: Any, kwargs: Any, named: str, instead: str) -> None:
    with pytest.raises(tp.InvalidArgumentError) as err:
        sampler_spec(samplers.NSGAIISampler(**kwargs()), True)
    assert f"sampler=NSGAIISampler({named}): tuneport's 'nsga2' " in str(err.value)
    assert instead in str(err.value)
    assert "pass strategy='nsga2'" in str(err.value)


@pytest.mark.parametrize("nsgaii", NSGAII, ids=["optuna-crossover", "tuneport-crossover"])
def test_an_nsgaii_sampler_with_optunas_default_crossover_runs_on_the_server(server: ServerProcess, name: str, nsgaii: Any) -> None:
    sampler = tp.samplers.NSGAIISampler(population_size=4, crossover=nsgaii.UniformCrossover(0.25), swapping_prob=0.25, seed=3)
    study = tp.create_study(storage=server.endpoint, study_name=name, directions=["minimize", "minimize"], sampler=sampler)
    assert study.strategy["name"] == "nsga2"
    assert {k: study.strategy["options"][k] for k in ("population_size", "swapping_prob", "crossover_prob")} == {"population_size": 4, "swapping_prob": 0.25, "crossover_prob": 0.9}
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=6)
    assert len(study.trials) == 6


MOVED_SCRIPT = """
import sys
sys.modules["optuna"] = None  # Optuna not installed: `import optuna` raises ImportError
import tuneport as optuna

sampler = optuna.samplers.NSGAIISampler(population_size=4, crossover=optuna.samplers.nsgaii.UniformCrossover(0.5), seed=3)
study = optuna.create_study(storage=sys.argv[1], study_name=sys.argv[2], directions=["minimize", "minimize"], sampler=sampler)
study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=5)
print(study.strategy["name"], study.strategy["options"]["swapping_prob"], len(study.trials))
try:
    optuna.samplers.nsgaii.SBXCrossover()
except AttributeError as e:
    print(e)
"""


def test_a_script_moved_without_optuna_builds_nsgaiis_uniform_crossover(server: ServerProcess, name: str) -> None:
    # The brief's case: `optuna.samplers.nsgaii.UniformCrossover(0.5)` under `import tuneport as optuna`,
    # in a process where Optuna cannot be imported.
    src = str(Path(tp.__file__).resolve().parents[1])
    proc = subprocess.run(
        [sys.executable, "-c", MOVED_SCRIPT, server.endpoint, name], capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": src},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "nsga2 0.5 5"
    assert lines[1].startswith("module 'tuneport.samplers.nsgaii' has no attribute 'SBXCrossover' (Optuna's optuna.samplers.nsgaii.SBXCrossover)")
