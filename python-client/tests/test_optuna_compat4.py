"""Optuna scripts moved over unchanged, fourth audit (exceptions module names, ``tell``'s argument
order, finished trials, distributions' Optuna methods, refusal hints): each case is a divergence
found by running the same snippet with ``import optuna`` (Optuna 5.0, in memory) and with
``import tuneport as optuna``."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any, cast

import optuna
import pytest

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(server: ServerProcess, name: str, **kwargs: Any) -> tp.Study:
    return tp.create_study(storage=server.endpoint, study_name=name, **kwargs)


def test_the_exceptions_module_has_optunas_names() -> None:
    # warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning) is common.
    for lib in (tp, optuna):
        e = lib.exceptions
        warnings.filterwarnings("ignore", category=e.ExperimentalWarning)
        assert issubclass(e.ExperimentalWarning, Warning)
        assert issubclass(e.UpdateFinishedTrialError, RuntimeError)
        assert issubclass(e.UpdateFinishedTrialError, e.OptunaError)
        assert issubclass(e.StorageInternalError, e.OptunaError)
        assert issubclass(e.CLIUsageError, e.OptunaError)
        assert issubclass(e.TrialPruned, e.OptunaError)  # `except OptunaError` catches a pruning too
    assert issubclass(tp.exceptions.UpdateFinishedTrialError, tp.FailedPreconditionError)
    assert issubclass(tp.TuneportError, tp.exceptions.OptunaError)
    assert not issubclass(tp.TrialPruned, tp.TuneportError)  # tuneport's failures only
    assert tp.trial.BaseTrial in tp.Trial.__mro__ and tp.trial.BaseTrial in tp.FrozenTrial.__mro__
    assert tp.trial.BaseTrial in tp.trial.FixedTrial.__mro__


def test_tell_takes_state_and_skip_if_finished_positionally(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[Any]:
        a = study.ask()
        study.tell(a, None, lib.trial.TrialState.FAIL)
        b = study.ask()
        study.tell(b, 1.0, lib.trial.TrialState.COMPLETE)
        again = study.tell(b, 2.0, None, True)  # skip_if_finished, positionally
        return [str(t.state).split(".")[-1] for t in study.trials] + [again.value]

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())


def test_a_finished_trial_refuses_changes_with_update_finished_trial_error(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[str]:
        t = study.ask()
        t.suggest_float("x", 0, 1)
        t.report(0.5, 0)
        study.tell(t, 1.0)
        outcome = []
        acts: list[Callable[[], Any]] = [
            lambda: t.set_user_attr("k", 1), lambda: t.report(0.4, 1), lambda: t.suggest_float("y", 0, 1),
            lambda: t.suggest_float("x", 0, 1),  # suggested before the tell: its value (tuneport raised)
        ]
        for act in acts:
            try:
                act()
                outcome.append("accepted")
            except lib.exceptions.UpdateFinishedTrialError as exc:
                outcome.append("raised" if isinstance(exc, RuntimeError) else "not a RuntimeError")
        outcome.append(f"should_prune {t.should_prune()}")
        return outcome

    mine = script(tp, _study(server, name, scheduler="median"))
    assert mine == script(optuna, optuna.create_study())
    assert mine == ["raised", "raised", "raised", "accepted", "should_prune False"]
    assert tp.load_study(study_name=name, storage=server.endpoint).trials[0].user_attrs == {}


def test_a_finished_trial_refuses_a_repeated_suggest_of_another_kind_as_optuna(server: ServerProcess, name: str) -> None:
    """A told trial answers a repeated suggest from its own params, after Optuna's check that the
    distribution is of the same kind (``ValueError``): a parameter of the study's ``space``, never
    suggested in this process, was answered unchecked, ``suggest_int`` with the float truncated and
    ``suggest_categorical`` with a float that is none of its choices."""

    def script(study: Any, ask: Callable[[], Any]) -> list[Any]:
        t = ask()
        study.tell(t, 1.0)
        outcome: list[Any] = []
        acts: list[Callable[[], Any]] = [
            lambda: t.suggest_int("x", 0, 10), lambda: t.suggest_categorical("x", ["a", "b"]), lambda: t.suggest_float("x", 0, 1),
        ]
        for act in acts:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # both warn of the other distribution first
                    outcome.append(act() == t.params["x"])
            except ValueError:
                outcome.append("ValueError")
        return outcome

    mine = _study(server, name, space={"x": tp.Float(0, 1)})
    theirs = optuna.create_study()
    expected = script(theirs, lambda: theirs.ask({"x": optuna.distributions.FloatDistribution(0, 1)}))
    assert script(mine, mine.ask) == expected == ["ValueError", "ValueError", True]


def test_a_repeated_suggest_keeps_the_first_distribution(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[Any]:
        t = study.ask()
        x = t.suggest_float("x", 0, 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y = t.suggest_float("x", 5, 6)
        d = t.distributions["x"]
        return [x == y, (d.low, d.high), d._contains(d.to_internal_repr(x))]

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())


def test_a_live_trial_has_its_constraints_by_name(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> Any:
        t = study.ask()
        t.set_constraint("mem", -1.0)
        t.set_constraint("latency", 2.5)
        return t.constraints

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study()) == {"mem": -1.0, "latency": 2.5}


def test_nested_optimize_is_a_runtime_error(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> str:
        def objective(trial: Any) -> float:
            study.optimize(lambda t: 0.0, n_trials=1)
            return 0.0

        try:
            study.optimize(objective, n_trials=1)
        except RuntimeError as exc:
            return "nested" if "Nested" in str(exc) else str(exc)
        return "ran"

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study()) == "nested"
    # And a study's optimize may still run in another study's objective.
    outer, inner = _study(server, name + "-outer"), _study(server, name + "-inner")
    def outer_objective(t: tp.Trial) -> float:
        inner.optimize(lambda u: u.suggest_float("y", 0, 1), n_trials=1)
        return 0.0

    outer.optimize(outer_objective, n_trials=2)
    assert len(inner.trials) == 2


def test_distributions_have_optunas_methods_and_functions() -> None:
    for lib in (tp, optuna):
        d = lib.distributions
        f, i, c = d.FloatDistribution(0, 1, step=0.25), d.IntDistribution(1, 9, step=2), d.CategoricalDistribution(["a", 1, None])
        assert [f._contains(f.to_internal_repr(v)) for v in (0.5, 0.6, 1.25)] == [True, False, False]
        assert [i._contains(i.to_internal_repr(v)) for v in (3, 4, 11)] == [True, False, False]
        assert [c.to_internal_repr(v) for v in ("a", 1, None)] == [0, 1, 2]
        assert c.to_external_repr(2) is None and i.to_external_repr(3.0) == 3
        with pytest.raises(ValueError):
            c.to_internal_repr("b")
        for dist in (f, i, c, d.FloatDistribution(1e-3, 1, log=True)):
            assert d.json_to_distribution(d.distribution_to_json(dist)) == dist
        with pytest.raises(ValueError):
            d.check_distribution_compatibility(f, i)
        with pytest.raises(ValueError):
            d.check_distribution_compatibility(c, d.CategoricalDistribution(["a"]))
        d.check_distribution_compatibility(d.FloatDistribution(0, 1), d.FloatDistribution(2, 3))
    # Optuna's JSON reads into ours.
    raw = optuna.distributions.distribution_to_json(optuna.distributions.IntDistribution(1, 64, log=True))
    assert tp.distributions.json_to_distribution(raw) == tp.Int(1, 64, log=True)
    assert json.loads(tp.distributions.distribution_to_json(tp.Float(0, 1)))["name"] == "FloatDistribution"


def test_create_trial_refuses_a_value_outside_its_distribution() -> None:
    for lib in (tp, optuna):
        with pytest.raises(ValueError, match="contained"):
            lib.trial.create_trial(params={"x": 5.0}, distributions={"x": lib.distributions.FloatDistribution(0, 1)}, value=1.0)
        with pytest.raises(ValueError):
            lib.trial.create_trial(params={"c": "z"}, distributions={"c": lib.distributions.CategoricalDistribution(["a"])}, value=1.0)
        ok = lib.trial.create_trial(params={"x": 0.5}, distributions={"x": lib.distributions.FloatDistribution(0, 1)}, value=1.0)
        assert ok.params == {"x": 0.5}


def test_refusal_hints_lead_to_a_study_that_works(server: ServerProcess, name: str) -> None:
    with pytest.raises(tp.InvalidArgumentError) as grid:
        _study(server, name, sampler=optuna.samplers.GridSampler({"x": [0, 1]}))
    assert "strategy='grid'" in str(grid.value) and "'x': tp.Categorical([0, 1])" in str(grid.value)
    with pytest.raises(tp.InvalidArgumentError) as hb:
        _study(server, name, pruner=optuna.pruners.HyperbandPruner())
    assert "scheduler='hyperband'" in str(hb.value) and "max_resource=" in str(hb.value)
    # Doing what they say works.
    s = _study(server, name, strategy="grid", space={"x": tp.Categorical([0, 1])})
    s.optimize(lambda t: float(cast(int, t.suggest_categorical("x", [0, 1]))), n_trials=5)
    assert sorted(cast(int, t.params["x"]) for t in s.trials) == [0, 1]
    h = _study(server, name + "-hb", scheduler="hyperband", max_resource=27)
    assert h.max_resource == 27 and h.scheduler is not None and h.scheduler["name"] == "hyperband"


def test_a_study_summary_has_optunas_datetime_start_and_system_attrs(server: ServerProcess, name: str) -> None:
    _study(server, name)
    summary = next(s for s in tp.get_all_study_summaries(storage=server.endpoint) if s.study_name == name)
    assert summary.datetime_start is not None and summary.datetime_start.year >= 2024
    assert summary.system_attrs == {}


def test_int_parameters_past_2_to_the_32_stay_ints(server: ServerProcess, name: str) -> None:
    # The server's MessagePack writes integers past 2^32 as float64; the client types them back.
    study = _study(server, name, space={"n": tp.Int(2**33, 2**40)})
    trial = study.ask()
    assert type(trial.params["n"]) is int and type(trial.suggest_int("n", 2**33, 2**40)) is int
    study.tell(trial, 1.0)
    assert type(study.trials[0].params["n"]) is int and study.trials[0].params["n"] >= 2**33
