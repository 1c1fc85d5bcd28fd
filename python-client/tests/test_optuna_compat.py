"""Optuna scripts moved over unchanged: each case is a divergence an audit found (an Optuna 5.0 snippet
whose tuneport run crashed, hung or gave another result), run against a real server and, where the
behaviour is Optuna's, against Optuna itself in memory."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState as OptunaTrialState

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {"x": tp.Float(0.0, 1.0)}


def _open(study: tp.Study) -> list[tp.Trial]:
    """This study's trials the (shared, per endpoint) client still holds open."""
    return [t for t in study.client.open_trials() if t.study.name == study.name]


def _ask_tell_pruning_loop(study: object) -> None:
    """Optuna's documented ask-and-tell pruning loop (report, should_prune, tell PRUNED)."""
    trial = study.ask()  # type: ignore[attr-defined]
    trial.suggest_float("x", 0, 1)
    pruned = False
    for step in range(3):
        trial.report(5.0, step)
        if trial.should_prune():
            pruned = True
            break
    if pruned:
        study.tell(trial, state=OptunaTrialState.PRUNED)  # type: ignore[attr-defined]
    else:
        study.tell(trial, 1.0)  # type: ignore[attr-defined]


def test_the_ask_and_tell_pruning_loop_ends_pruned_as_in_optuna(server: ServerProcess, name: str) -> None:
    ref = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1.0))
    _ask_tell_pruning_loop(ref)
    study = tp.create_study(storage=server.endpoint, study_name=name, scheduler={"name": "threshold", "options": {"upper": 1.0}})
    _ask_tell_pruning_loop(study)
    assert ref.trials[0].state == OptunaTrialState.PRUNED
    assert [t.state for t in study.trials] == ["PRUNED"]
    assert _open(study) == []  # nothing left RUNNING with its lease renewed
    # Inside a with-block the default still raises (optimize runs the objective in one), and the
    # block records PRUNED.
    with study.ask() as trial:
        trial.report(5.0, 0)
        pytest.fail("report did not raise TrialPruned inside the with-block")
    assert study.trial(trial.number).state == "PRUNED"


def test_states_and_directions_compare_with_optuna_members_and_strings(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name, direction=optuna.study.StudyDirection.MAXIMIZE)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    states = [t.state for t in study.trials]
    assert [s == OptunaTrialState.COMPLETE for s in states] == [True] * 3
    assert [s == "COMPLETE" and s == tp.TrialState.COMPLETE and s != OptunaTrialState.FAIL for s in states] == [True] * 3
    assert all(s.is_finished() and s.name == "COMPLETE" and f"{s}" == "COMPLETE" for s in states)
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE and study.direction == "maximize"
    assert study.direction != optuna.study.StudyDirection.MINIMIZE
    assert len(study.get_trials(states=(OptunaTrialState.COMPLETE,))) == 3
    assert list(study.trials_dataframe()["state"]) == ["COMPLETE"] * 3


def test_tell_takes_trial_state_members_and_a_scalar_for_values(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)
    for state in (OptunaTrialState.FAIL, tp.TrialState.FAIL, "FAIL"):
        study.tell(study.ask(), state=state)
    study.tell(study.ask(), values=0.5)  # Optuna accepts a scalar
    study.tell(study.ask(), 0.25, state=OptunaTrialState.COMPLETE)
    assert [(t.state, t.value) for t in study.trials] == [("FAIL", None)] * 3 + [("COMPLETE", 0.5), ("COMPLETE", 0.25)]
    trial = study.ask()
    with pytest.raises(tp.InvalidArgumentError, match="RUNNING"):
        study.tell(trial, state=OptunaTrialState.RUNNING)
    study.tell(trial, state="FAIL")


def test_a_non_finite_told_value_fails_the_trial_with_a_warning(
    server: ServerProcess, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)
    with caplog.at_level(logging.WARNING, logger="tuneport"):
        with pytest.warns(UserWarning, match="^The value nan is not acceptable$"):  # Optuna's warning
            study.tell(study.ask(), float("nan"))
        study.tell(study.ask(), math.inf)  # Optuna completes it: tuneport fails it, and logs why
    assert [t.state for t in study.trials] == ["FAIL", "FAIL"]
    assert sum("is not finite" in r.getMessage() for r in caplog.records) == 1
    assert _open(study) == []
    with study.ask() as trial, pytest.raises(tp.InvalidArgumentError):
        trial.complete(float("nan"))  # the tuneport call still refuses it


def test_a_categorical_whole_float_comes_back_as_the_declared_choice(server: ServerProcess, name: str) -> None:
    """scikit-learn reads max_features=1.0 (every feature) and 1 (one feature) differently."""
    choices: list[tp._distributions.Scalar] = ["sqrt", 0.5, 1.0, 2, True]
    study = tp.create_study(storage=server.endpoint, study_name=name, strategy="grid", space={"mf": tp.Categorical(choices)})
    seen: list[object] = []

    def objective(trial: tp.Trial) -> float:
        seen.append(trial.suggest_categorical("mf", choices))
        return 0.0

    study.optimize(objective, n_trials=5)
    assert sorted(map(repr, seen)) == sorted(["'sqrt'", "0.5", "1.0", "2", "True"])
    assert sorted(repr(t.params["mf"]) for t in study.trials) == sorted(map(repr, seen))


def test_optunas_trial_pruned_prunes_and_does_not_escape_optimize(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)

    def objective(trial: tp.Trial) -> float:
        if trial.suggest_float("x", 0, 1) >= 0:
            raise optuna.TrialPruned("pruned by an Optuna integration")
        return 0.0

    study.optimize(objective, n_trials=2)
    assert [t.state for t in study.trials] == ["PRUNED", "PRUNED"]


def test_objective_returns_optuna_accepts_complete_the_trial(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)
    returns = iter([[0.5], (0.25,), True, "0.5"])
    study.optimize(lambda t: next(returns), n_trials=4)  # type: ignore[arg-type, return-value]
    assert [(t.state, t.value) for t in study.trials] == [("COMPLETE", 0.5), ("COMPLETE", 0.25), ("COMPLETE", 1.0), ("FAIL", None)]


def test_numpy_and_whole_float_bounds_are_numbers(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)
    with study.ask() as trial:
        # Untyped values, as scripts pass them (numpy scalars, a YAML config's floats).
        x = trial.suggest_float("x", np.float32(0.5), np.float64(1.0))  # type: ignore[arg-type]
        k = trial.suggest_int("k", 1.0, 8.0)  # type: ignore[arg-type]
        n = trial.suggest_int("n", np.int64(2), np.int64(4))  # type: ignore[arg-type]
        c = trial.suggest_categorical("c", [np.int64(3), np.str_("a")])  # type: ignore[list-item]
        with pytest.raises(tp.InvalidArgumentError, match="must be an int"):
            trial.suggest_int("bad", 1, float("inf"))  # type: ignore[arg-type]  # a fraction is truncated (compat7)
        with pytest.raises(tp.InvalidArgumentError, match="step cannot be combined with log"):
            trial.suggest_int("log_step", 1, 64, step=4, log=True)  # Optuna refuses it too
        trial.complete(0.0)
    assert 0.5 <= x <= 1.0 and type(x) is float and 1 <= k <= 8 and type(k) is int and 2 <= n <= 4 and c in (3, "a")
    assert type(c) in (int, str)


def test_sampler_and_pruner_objects_run_as_the_strategy_and_scheduler_of_their_algorithm(server: ServerProcess, name: str) -> None:
    study = tp.create_study(
        storage=server.endpoint, study_name=name, sampler=optuna.samplers.TPESampler(seed=1), pruner=optuna.pruners.MedianPruner()
    )
    assert study.strategy["name"] == "tpe" and study.scheduler is not None and study.scheduler["name"] == "median"
    none = tp.create_study(storage=server.endpoint, study_name=name + "-nop", pruner=optuna.pruners.NopPruner())
    assert none.scheduler is None


def test_module_functions_study_name_and_fresh_user_attrs(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)
    assert study.study_name == name
    other = tp.load_study(study_name=name, storage=server.endpoint)
    other.set_user_attr("dataset", "digits")
    assert study.user_attrs == {"dataset": "digits"}  # set through another handle, seen here
    assert name in tp.get_all_study_names(storage=server.endpoint)
    assert name in [s.name for s in tp.get_all_study_summaries(storage=server.endpoint)]
    tp.delete_study(study_name=name, storage=server.endpoint)
    assert name not in tp.get_all_study_names(storage=server.endpoint)


def test_should_prune_without_a_scheduler_warns_once(server: ServerProcess, name: str, caplog: pytest.LogCaptureFixture) -> None:
    """Optuna's create_study prunes with a MedianPruner by default; tuneport's has no scheduler."""
    study = tp.create_study(storage=server.endpoint, study_name=name)
    with caplog.at_level(logging.WARNING, logger="tuneport"):
        for _ in range(2):
            with study.ask() as trial:
                trial.report(1.0, 0)
                assert trial.should_prune() is False
                trial.complete(1.0)
    assert sum("no scheduler" in r.getMessage() for r in caplog.records) == 1


def test_an_enqueued_value_outside_its_range_is_replaced_with_a_warning(server: ServerProcess, name: str) -> None:
    # Optuna warns with warnings.warn(UserWarning) ("Fixed parameter 'lr' with value 0.5 is out of
    # range ..."), which pytest.warns, filterwarnings("error") and catch_warnings see; tuneport's was a
    # log record, which none of them saw (audit of 2026-12-08). It names the suggest_* line.
    study = tp.create_study(storage=server.endpoint, study_name=name)
    study.enqueue_trial({"lr": 0.5})
    with study.ask() as trial:
        with pytest.warns(UserWarning, match="enqueued value 0.5 of 'lr' is outside") as caught:
            lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        trial.complete(lr)
    assert 1e-5 <= lr <= 1e-1
    assert [Path(w.filename).name for w in caught] == [Path(__file__).name]


def test_errors_are_also_the_builtin_exceptions_optuna_raises(server: ServerProcess, name: str) -> None:
    with pytest.raises(KeyError) as missing:
        tp.load_study(study_name=name, storage=server.endpoint)
    assert isinstance(missing.value, tp.NotFoundError) and str(missing.value).startswith("NOT_FOUND: ")
    with pytest.raises(ValueError) as bad:
        tp.Float(1.0, 0.0)
    assert isinstance(bad.value, tp.InvalidArgumentError)


def test_ask_fixed_distributions_tell_returns_the_trial_and_skip_if_finished(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1), "k": tp.Int(1, 3)})
    x = trial.params["x"]
    assert set(trial.params) == {"x", "k"} and isinstance(x, float) and 0 <= x <= 1 and trial.params["k"] in (1, 2, 3)
    told = study.tell(trial, 0.5)
    assert isinstance(told, tp.FrozenTrial) and told.state == "COMPLETE" and told.value == 0.5 and told.params == trial.params
    again = study.tell(trial, 0.75, skip_if_finished=True)
    assert again.value == 0.5  # unchanged
    with pytest.raises(tp.FailedPreconditionError):
        study.tell(trial, 0.75)


def test_the_best_frozen_trial_reruns_an_objective(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)

    def objective(trial: tp.Trial) -> float:
        x = trial.suggest_float("x", -1, 1)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        trial.report(x * x, 0)
        if trial.should_prune():
            raise tp.TrialPruned()
        return x * x + (0.5 if kind == "b" else 0.0)

    study.optimize(objective, n_trials=6)
    best = study.best_trial
    assert best is not None and best.last_step == 0
    assert objective(best) == pytest.approx(study.best_value)  # type: ignore[arg-type]  # duck-typed, as in Optuna
    with pytest.raises(tp.InvalidArgumentError, match="no parameter 'y'"):
        best.suggest_float("y", 0, 1)


def test_import_tuneport_as_optuna_keeps_optunas_submodule_names() -> None:
    import logging as std_logging

    import tuneport as optuna_like

    logger = std_logging.getLogger("tuneport")
    before = logger.level
    try:
        optuna_like.logging.set_verbosity(optuna_like.logging.WARNING)
        assert logger.level == std_logging.WARNING and optuna_like.logging.get_verbosity() == std_logging.WARNING
    finally:
        logger.setLevel(before)
    assert optuna_like.trial.TrialState.PRUNED == OptunaTrialState.PRUNED
    assert optuna_like.study.StudyDirection.MINIMIZE == optuna.study.StudyDirection.MINIMIZE
    assert optuna_like.exceptions.TrialPruned is tp.TrialPruned


def test_a_range_that_depends_on_another_parameter_works_as_in_optuna(server: ServerProcess, name: str) -> None:
    """Optuna's dynamic search space: suggest_int("skip", 0, n_layers) used to stop optimize mid-run."""
    study = tp.create_study(storage=server.endpoint, study_name=name, strategy={"name": "tpe", "options": {"n_startup_trials": 5}})

    def objective(trial: tp.Trial) -> float:
        n_layers = trial.suggest_int("n_layers", 1, 4)
        skip = trial.suggest_int("skip", 0, n_layers)
        return n_layers - skip + trial.suggest_float("x", 0, 1)

    study.optimize(objective, n_trials=25)
    trials = study.trials
    assert [t.state for t in trials] == ["COMPLETE"] * 25
    for t in trials:
        n_layers, skip = t.params["n_layers"], t.params["skip"]
        assert isinstance(n_layers, int) and isinstance(skip, int) and 0 <= skip <= n_layers
        assert t.distributions["skip"] == tp.Int(0, n_layers, step=1)
    assert len({t.params["n_layers"] for t in trials}) > 1  # the range really varied
    # In one trial a repeat with another range returns the first value, with a warning (as Optuna).
    with study.ask() as trial:
        first = trial.suggest_int("skip", 0, 2)
        with pytest.warns(RuntimeWarning, match="already suggested 'skip' from"):
            assert trial.suggest_int("skip", 0, 9) == first
        trial.complete(0.0)
