"""Optuna scripts with several objectives and constraints, moved over unchanged: each case runs
the same snippet with ``import optuna`` (Optuna 5.0, in memory) and with ``import tuneport as
optuna`` against a real server, and compares what a script would see. Where the two differ on
purpose (docs/MIGRATING-FROM-OPTUNA.md says so) the test pins both behaviours."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import optuna
import pytest

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(server: ServerProcess, name: str, **kwargs: Any) -> tp.Study:
    return tp.create_study(storage=server.endpoint, study_name=name, **kwargs)


def _outcome(fn: Callable[[], Any]) -> tuple[Any, ...]:
    """``("ok", result, warnings)`` or ``("raise", exception class's Optuna-facing base, message)``."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = fn()
        return ("ok", out, [f"{w.category.__name__}: {w.message}" for w in caught if w.category is not FutureWarning])
    except Exception as err:  # noqa: BLE001 - the point is to compare what each library raises
        return ("raise", next(c.__name__ for c in type(err).__mro__ if c.__module__ == "builtins"), str(err).removeprefix("INVALID_ARGUMENT: "))


@contextmanager
def _quiet() -> Iterator[None]:
    """Optuna's FutureWarning for constraints_func (deprecated in 5.0) and the failed-trial warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_directions_tuple_objective_and_the_single_best_raise_runtime_error(server: ServerProcess, name: str) -> None:
    # The multi-objective tutorial: directions=[...], an objective returning a tuple, best_trials.
    def script(lib: Any, study: Any) -> list[Any]:
        def objective(trial: Any) -> tuple[float, float]:
            x = trial.suggest_float("x", 0, 5)
            y = trial.suggest_float("y", 0, 3)
            return 4 * x**2 + 4 * y**2, (x - 5) ** 2 + (y - 5) ** 2

        study.optimize(objective, n_trials=6)
        first = study.trials[0]
        front = study.best_trials
        return [
            [d == lib.study.StudyDirection.MINIMIZE for d in study.directions],
            len(study.trials),
            (len(first.values), [type(v) for v in first.values]),
            first.values == [4 * first.params["x"] ** 2 + 4 * first.params["y"] ** 2, (first.params["x"] - 5) ** 2 + (first.params["y"] - 5) ** 2],
            isinstance(front, list) and len(front) >= 1,
            all(not any(all(a <= b for a, b in zip(o.values, t.values)) and o.values != t.values for o in study.trials) for t in front),
            _outcome(lambda: study.best_trial)[:2],
            _outcome(lambda: study.best_value)[:2],
            _outcome(lambda: study.best_params)[:2],
        ]

    ours = script(tp, _study(server, name, directions=["minimize", "minimize"]))
    assert ours == script(optuna, optuna.create_study(directions=["minimize", "minimize"]))
    assert ours[-1] == ("raise", "RuntimeError")


def test_an_objective_returning_the_wrong_number_of_values_fails_the_trial(server: ServerProcess, name: str) -> None:
    returns: list[Any] = [[1.0, 2.0], (3.0, 4.0), [1.0], [1.0, 2.0, 3.0], 5.0, [1.0, math.nan], None, [2, True]]

    def script(lib: Any, study: Any) -> list[Any]:
        def objective(trial: Any) -> Any:
            trial.suggest_float("x", 0, 1)
            return returns[trial.number]

        with _quiet():
            study.optimize(objective, n_trials=len(returns))
        return [(t.state.name, t.values) for t in study.trials]

    ours = script(tp, _study(server, name, directions=["minimize", "maximize"]))
    assert ours == script(optuna, optuna.create_study(directions=["minimize", "maximize"]))
    assert [s for s, _ in ours] == ["COMPLETE", "COMPLETE", "FAIL", "FAIL", "FAIL", "FAIL", "FAIL", "COMPLETE"]


def test_tell_with_several_values_fails_a_wrong_length_or_nan_with_optunas_warning(server: ServerProcess, name: str) -> None:
    # Ask-and-tell with two objectives: tell(trial, [v1, v2]); what Optuna cannot use fails the trial
    # with a UserWarning (NaN included: tuneport logged it instead of warning).
    def script(lib: Any, study: Any) -> list[Any]:
        out: list[Any] = []
        for told in ([1.0, 2.0], (1.0, 2.0), [1.0], [1.0, 2.0, 3.0], 1.0, [1.0, math.nan], None):
            trial = study.ask()
            trial.suggest_float("x", 0, 1)
            result = _outcome(lambda: study.tell(trial, told))
            out.append((result[0], result[1].state.name, result[1].values, result[2]))
        trial = study.ask()
        out.append(study.tell(trial, values=[0.5, 0.25]).values)
        out.append([(t.state.name, t.values) for t in study.trials])
        return out

    ours = script(tp, _study(server, name, directions=["minimize", "maximize"]))
    assert ours == script(optuna, optuna.create_study(directions=["minimize", "maximize"]))
    assert ours[5][-1] == ["UserWarning: The value nan is not acceptable"]


def test_a_nan_value_in_one_objective_study_warns_as_in_optuna(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> tuple[Any, ...]:
        trial = study.ask()
        result = _outcome(lambda: study.tell(trial, float("nan")))
        return result[0], result[1].state.name, result[2]

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())


def test_an_infinite_objective_value_fails_the_trial_where_optuna_completes_it(server: ServerProcess, name: str) -> None:
    # A documented difference (MIGRATING: "Non-finite results"), one objective of several included.
    def script(lib: Any, study: Any) -> list[Any]:
        with _quiet():
            study.optimize(lambda t: (t.suggest_float("x", 0, 1), math.inf), n_trials=1)
        trial = study.ask()
        study.tell(trial, [-math.inf, 1.0])
        return [(t.state.name, t.values) for t in study.trials]

    assert script(optuna, optuna.create_study(directions=["minimize", "maximize"]))[0][0] == "COMPLETE"
    assert script(tp, _study(server, name, directions=["minimize", "maximize"])) == [("FAIL", None), ("FAIL", None)]


def test_set_metric_names_and_the_dataframe_columns(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[Any]:
        out: list[Any] = [study.metric_names]
        out.append(_outcome(lambda: study.set_metric_names(["loss"]))[:3])
        with _quiet():
            study.set_metric_names(["loss", "accuracy"])  # Optuna: ExperimentalWarning
        out.append(study.metric_names)
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 0.5), n_trials=2)
        plain = study.trials_dataframe(attrs=("number", "value", "params", "state"))
        out.append(sorted(plain.columns))
        out.append(list(plain["values_loss"]) == [t.values[0] for t in study.trials])
        indexed = study.trials_dataframe(multi_index=True)
        out.append(sorted(c for c in map(tuple, indexed.columns) if c[0] != "system_attrs"))
        return out

    ours = script(tp, _study(server, name, directions=["minimize", "maximize"]))
    assert ours == script(optuna, optuna.create_study(directions=["minimize", "maximize"]))
    assert ours[3] == ["number", "params_x", "state", "values_accuracy", "values_loss"]


SAMPLERS = {"NSGAIISampler": "nsga2", "TPESampler": "tpe", "GPSampler": "ehvi"}


@pytest.mark.parametrize("sampler", sorted(SAMPLERS))
def test_constraints_func_of_a_sampler_moves_to_optimize_and_lands_where_optuna_keeps_it(server: ServerProcess, name: str, sampler: str) -> None:
    # Optuna: XSampler(constraints_func=...); tuneport: strategy= and optimize(constraints_func=...).
    # Either way the values are in system_attrs["constraints"] (a tuple) and best_trials are feasible.
    def constraints(frozen: Any) -> list[float]:
        return [frozen.params["x"] - 0.5, -1.0]

    def objective(trial: Any) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        return x, (1 - x) ** 2

    def script(lib: Any, study: Any, **optimize: Any) -> list[Any]:
        study.optimize(objective, n_trials=6, **optimize)
        trials = study.trials
        df = study.trials_dataframe()
        return [
            all(t.system_attrs["constraints"] == (t.params["x"] - 0.5, -1.0) for t in trials),
            all(t.params["x"] <= 0.5 for t in study.best_trials),
            list(df["system_attrs_constraints"]) == [t.system_attrs["constraints"] for t in trials],
        ]

    with _quiet():
        theirs = script(optuna, optuna.create_study(directions=["minimize", "minimize"], sampler=getattr(optuna.samplers, sampler)(constraints_func=constraints, seed=1)))
    ours = script(tp, _study(server, name, directions=["minimize", "minimize"], strategy=SAMPLERS[sampler], seed=1), constraints_func=constraints)
    assert ours == theirs == [True, True, True]
    # The sampler object itself runs as that strategy, its constraints_func as optimize's.
    with _quiet():
        kept = getattr(optuna.samplers, sampler)(constraints_func=constraints, seed=1)
    carried = _study(server, name + "-2", directions=["minimize", "minimize"], sampler=kept)
    assert carried.strategy["name"] == SAMPLERS[sampler]
    assert script(tp, carried) == theirs


def test_constraints_in_a_one_objective_study_pick_the_best_feasible_trial(server: ServerProcess, name: str) -> None:
    def constraints(frozen: Any) -> tuple[float]:
        return (frozen.params["x"] - 0.5,)

    def script(lib: Any, study: Any, **optimize: Any) -> list[Any]:
        study.enqueue_trial({"x": 0.9})  # the best value, infeasible
        study.enqueue_trial({"x": 0.4})
        study.optimize(lambda t: -t.suggest_float("x", 0, 1), n_trials=2, **optimize)
        return [study.best_trial.number, study.best_value, [t.number for t in study.best_trials], study.trials[0].system_attrs["constraints"]]

    with _quiet():
        theirs = script(optuna, optuna.create_study(sampler=optuna.samplers.TPESampler(constraints_func=constraints)))
    assert script(tp, _study(server, name), constraints_func=constraints) == theirs == [1, -0.4, [1], (pytest.approx(0.4),)]


def test_constraints_func_errors_propagate_and_the_objective_values_are_kept(server: ServerProcess, name: str) -> None:
    # Optuna completes the trial without constraints and raises; tuneport cannot complete it without
    # them (the server takes them with the result), so it fails it, with the values in the reason.
    outcomes: list[Any] = [ZeroDivisionError("boom"), [math.nan], 0.3]

    def constraints(frozen: Any) -> Any:
        outcome = outcomes[frozen.number]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def script(lib: Any, study: Any, **optimize: Any) -> list[Any]:
        out = []
        for _ in outcomes:
            with _quiet():
                out.append(_outcome(lambda: study.optimize(lambda t: (t.suggest_float("x", 0, 1), 2.0), n_trials=1, **optimize))[:3])
        return out

    with _quiet():
        theirs = script(optuna, optuna.create_study(directions=["minimize", "minimize"], sampler=optuna.samplers.NSGAIISampler(constraints_func=constraints)))
    study = _study(server, name, directions=["minimize", "minimize"])
    assert script(tp, study, constraints_func=constraints) == theirs
    assert theirs[1] == ("raise", "ValueError", "Constraint values cannot be NaN.")
    for t in study.trials:
        assert t.state == "FAIL" and t.values is None
        assert t.system_attrs["fail_reason"].endswith(f"; the objective returned [{t.params['x']!r}, 2.0]")
    assert study.trials[0].system_attrs["fail_reason"].startswith("constraints_func raised ZeroDivisionError('boom')")


def test_a_constraint_vector_of_another_length_is_refused_and_the_values_kept(server: ServerProcess, name: str) -> None:
    # A documented difference: Optuna takes any number of constraints per trial.
    study = _study(server, name, directions=["minimize", "minimize"], strategy="nsga2", seed=1)
    lengths = iter([1, 2])
    with pytest.raises(tp.InvalidArgumentError, match="constraint vector's length cannot change"), _quiet():
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0), n_trials=2, constraints_func=lambda t: [0.0] * next(lengths))
    first, second = study.trials
    assert first.state == "COMPLETE" and first.system_attrs["constraints"] == (0.0,)
    assert second.state == "FAIL" and "the objective returned [" in second.system_attrs["fail_reason"]


def test_add_trial_of_optunas_constrained_trials_keeps_their_constraints(server: ServerProcess, name: str) -> None:
    # Optuna 5's FrozenTrial.constraints is a {name: value} dict: adding one recorded its keys as
    # the values ("0" -> 0.0: an infeasible trial turned feasible) or crashed on a name.
    def script(lib: Any, study: Any) -> list[Any]:
        d = lib.distributions.FloatDistribution(0, 1)
        study.add_trial(lib.trial.create_trial(params={"x": 0.5}, distributions={"x": d}, values=[1.0, 2.0], system_attrs={"constraints": (1.5,)}))
        study.add_trial(lib.trial.create_trial(params={"x": 0.25}, distributions={"x": d}, values=[3.0, 4.0], constraints={"size": -2.5}))
        # FrozenTrial.constraints: Optuna 5's a {name: value} dict, tuneport's a list (documented)
        constraints = [list(c.values()) if isinstance(c, dict) else c for c in (t.constraints for t in study.trials)]
        return [constraints, study.trials[0].system_attrs["constraints"], [t.number for t in study.best_trials]]

    ours = script(tp, _study(server, name, directions=["minimize", "maximize"]))
    assert ours == script(optuna, optuna.create_study(directions=["minimize", "maximize"]))
    assert ours == [[[1.5], [-2.5]], (1.5,), [1]]
    # An Optuna trial handed to tuneport's add_trial (the warm-start recipe), and a tuneport copy of it.
    target = _study(server, name + "-2", directions=["minimize", "maximize"])
    theirs = optuna.trial.create_trial(params={"x": 0.5}, distributions={"x": optuna.distributions.FloatDistribution(0, 1)}, values=[1.0, 2.0], constraints={"a": 2.0, "b": -1.0})
    added = target.add_trial(theirs)
    assert added.constraints == [2.0, -1.0] and added.feasible is False
    made = tp.create_trial(params={"x": 0.1}, values=[1.0, 2.0], constraints=[-1.0, -2.0])
    assert made.constraints == [-1.0, -2.0] and made.feasible is True
    assert target.add_trial(made).feasible is True


def test_load_if_exists_with_other_directions_is_refused_where_optuna_loads_the_stored_ones(server: ServerProcess, name: str, tmp_path: Any) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    optuna.create_study(study_name="s", storage=storage, directions=["minimize", "maximize"])
    loaded = optuna.create_study(study_name="s", storage=storage, directions=["maximize", "minimize"], load_if_exists=True)
    assert [d.name for d in loaded.directions] == ["MINIMIZE", "MAXIMIZE"]  # Optuna: the given ones ignored

    _study(server, name, directions=["minimize", "maximize"])
    for given in ({"directions": ["maximize", "minimize"]}, {"directions": ["minimize"]}, {"direction": "minimize"}):
        with pytest.raises(tp.InvalidArgumentError, match=r"directions: stored \["):
            _study(server, name, load_if_exists=True, **given)
    assert _study(server, name, load_if_exists=True).directions == ["minimize", "maximize"]
    assert tp.load_study(study_name=name, storage=server.endpoint).directions == [optuna.study.StudyDirection.MINIMIZE, optuna.study.StudyDirection.MAXIMIZE]


def test_enqueue_trial_get_trials_and_summaries_on_a_multi_objective_study(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[Any]:
        study.enqueue_trial({"x": 0.25, "y": 0.5})
        study.enqueue_trial({"x": 0.75}, user_attrs={"source": "queue"})
        study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=3)
        study.tell(study.ask(), state=lib.trial.TrialState.PRUNED)
        study.tell(study.ask(), state=lib.trial.TrialState.FAIL)
        study.ask()
        states = lib.trial.TrialState
        return [
            [(t.params["x"], t.values == [t.params["x"], t.params["y"]], t.user_attrs) for t in study.trials[:2]],
            len(study.get_trials(states=(states.COMPLETE,))),
            [t.state.name for t in study.get_trials(states=[states.PRUNED, states.FAIL])],
            [t.values for t in study.get_trials(states=(states.RUNNING, states.PRUNED))],
            study.get_trials(states=()),
        ]

    ours = script(tp, _study(server, name, directions=["minimize", "maximize"]))
    assert ours == script(optuna, optuna.create_study(directions=["minimize", "maximize"]))
    summary = next(s for s in tp.get_all_study_summaries(storage=server.endpoint) if s.study_name == name)
    assert summary.best_trial is None and summary.directions == ["minimize", "maximize"]


def test_copy_study_and_delete_study_keep_directions_names_and_constraints(server: ServerProcess, name: str) -> None:
    def script(lib: Any, storage: Any, source_name: str, copy_name: str) -> list[Any]:
        source = lib.create_study(study_name=source_name, storage=storage, directions=["minimize", "maximize"])
        with _quiet():
            source.set_metric_names(["loss", "accuracy"])
        for x, c in ((0.1, -1.0), (0.9, 2.0), (0.5, 0.0)):
            trial = source.ask()
            trial.suggest_float("x", 0, 1)
            if lib is tp:
                source.tell(trial, [x, x], constraints=[c])
            else:  # where Optuna's constraints_func puts them
                trial.storage.set_trial_system_attr(trial._trial_id, "constraints", (c,))
                source.tell(trial, [x, x])
        lib.copy_study(from_study_name=source_name, from_storage=storage, to_storage=storage, to_study_name=copy_name)
        copy = lib.load_study(study_name=copy_name, storage=storage)
        out = [
            [d.name for d in copy.directions],
            copy.metric_names,
            [(t.values, tuple(t.system_attrs["constraints"])) for t in copy.trials],
            [t.number for t in copy.best_trials],
        ]
        lib.delete_study(study_name=copy_name, storage=storage)
        out.append(_outcome(lambda: lib.load_study(study_name=copy_name, storage=storage))[:2])
        out.append(_outcome(lambda: lib.delete_study(study_name=copy_name, storage=storage))[:2])
        return out

    ours = script(tp, server.endpoint, name, name + "-copy")
    theirs = script(optuna, optuna.storages.InMemoryStorage(), "source", "copy")
    assert ours == theirs
    assert theirs[2:] == [[([0.1, 0.1], (-1.0,)), ([0.9, 0.9], (2.0,)), ([0.5, 0.5], (0.0,))], [0, 2], ("raise", "KeyError"), ("raise", "KeyError")]


def test_optunas_modules_without_a_counterpart_say_what_to_use_instead(server: ServerProcess, name: str) -> None:
    # import tuneport as optuna: optuna.visualization.plot_pareto_front was a bare "module
    # 'tuneport' has no attribute" error (optuna.samplers and optuna.pruners exist: test_optuna_objects.py).
    with pytest.raises(AttributeError, match=r"study\.plot\('pareto_front'\)"):
        tp.visualization.plot_pareto_front  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError, match=r"^module 'tuneport' has no attribute 'no_such_thing'$"):
        tp.no_such_thing  # type: ignore[attr-defined]  # noqa: B018
    study = _study(server, name, directions=["minimize", "maximize"])
    study.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=3)
    plot = study.plot("pareto_front")
    assert plot.kind == "pareto_front" and plot.png.startswith(b"\x89PNG")
    with pytest.raises(tp.InvalidArgumentError, match="pareto_front"):
        study.plot("history")  # one value per trial: Optuna's plot_optimization_history needs target= here



def test_report_in_a_multi_objective_study_is_kept_and_never_prunes(server: ServerProcess, name: str, caplog: pytest.LogCaptureFixture) -> None:
    # A documented difference: Optuna raises NotImplementedError for report and should_prune here.
    theirs = optuna.create_study(directions=["minimize", "maximize"]).ask()
    for call in (lambda: theirs.report(0.5, 0), theirs.should_prune):
        with pytest.raises(NotImplementedError):
            call()
    study = _study(server, name, directions=["minimize", "maximize"])
    trial = study.ask()
    trial.report(0.5, 0)
    with caplog.at_level("WARNING", logger="tuneport"):
        assert trial.should_prune() is False
    # It said "pass scheduler='median'", which a multi-objective study refuses.
    assert [r.getMessage() for r in caplog.records if r.levelname == "WARNING"] == [
        f"study '{name}' has 2 objectives, so should_prune() is always False: pruning compares one objective's "
        "reports, and a multi-objective study takes no scheduler (Optuna raises NotImplementedError here)"
    ]
    study.tell(trial, [1.0, 2.0])
    assert study.trials[0].intermediate_values == {0: 0.5}
    with pytest.raises(tp.InvalidArgumentError, match="one objective"):
        _study(server, name + "-2", directions=["minimize", "maximize"], scheduler="median")


def test_directions_given_as_one_string_is_refused_with_the_argument_to_use(server: ServerProcess, name: str) -> None:
    # Optuna iterates the string ("got ['m', 'i', 'n', ...]"); so did tuneport, and the server's error listed each letter.
    with pytest.raises(ValueError, match="directions"):
        optuna.create_study(directions="minimize")  # type: ignore[arg-type]
    for given in ("minimize", tp.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MAXIMIZE):
        with pytest.raises(tp.InvalidArgumentError, match=r"^INVALID_ARGUMENT: directions is a list with one direction per objective \(got '(minimize|maximize)'\); for one objective pass direction="):
            _study(server, name, directions=given)
    assert name not in tp.get_all_study_names(storage=server.endpoint)


def test_set_constraint_as_optuna_5_recommends_instead_of_constraints_func(server: ServerProcess, name: str) -> None:
    # Optuna 5 deprecates constraints_func for trial.set_constraint(key, value); a ported script
    # raised AttributeError: 'Trial' object has no attribute 'set_constraint'.
    def objective(trial: Any) -> tuple[float, float]:
        x = trial.suggest_float("x", 0, 1)
        trial.set_constraint("size", x - 0.5)  # set in another order than the names sort
        trial.set_constraint("cost", -1.0)
        return x, (1 - x) ** 2

    def script(lib: Any, study: Any) -> list[Any]:
        study.enqueue_trial({"x": 0.25})
        study.enqueue_trial({"x": 0.75})
        study.optimize(objective, n_trials=2)
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        out: list[Any] = [_outcome(lambda: trial.set_constraint("cost", "much"))[:3], _outcome(lambda: trial.set_constraint("cost", math.nan))[:3]]
        trial.set_constraint("size", 0.5)
        out.append(_outcome(lambda: trial.set_constraint("size", -9.0))[::2])  # ignored, with a warning
        trial.set_constraint("cost", 0.0)
        study.tell(trial, [0.9, 0.1])
        out.append(_outcome(lambda: trial.set_constraint("late", 1.0))[0])  # after the tell: raises
        trials = study.trials
        out.append([sorted(t.constraints.values()) if isinstance(t.constraints, dict) else sorted(t.constraints) for t in trials])
        out.append([t.number for t in study.best_trials])
        fixed = lib.trial.FixedTrial({"x": 0.1})
        objective(fixed)
        out.append({k: v for k, v in fixed.system_attrs.items() if k.startswith("constraints")})
        made = lib.trial.create_trial(params={"x": 0.5}, distributions={"x": lib.distributions.FloatDistribution(0, 1)}, values=[0.0, 0.0])
        made.set_constraint("cost", 3.0)
        made.set_constraint("size", -1.0)
        study.add_trial(made)
        added = study.trials[-1]
        out.append(sorted(added.constraints.values()) if isinstance(added.constraints, dict) else sorted(added.constraints))
        return out

    ours = script(tp, _study(server, name, directions=["minimize", "minimize"]))
    assert ours == script(optuna, optuna.create_study(directions=["minimize", "minimize"]))
    assert ours[2] == ("ok", ["UserWarning: The constraint value is ignored because this constraint `key='size'` is already set."])
    assert ours[4:6] == [[[-1.0, -0.25], [-1.0, 0.25], [0.0, 0.5]], [0]]
    # tuneport tells the values in the names' order (cost, size), whatever order they were set in.
    study = tp.load_study(study_name=name, storage=server.endpoint)
    assert [t.constraints for t in study.trials] == [[-1.0, -0.25], [-1.0, 0.25], [0.0, 0.5], [3.0, -1.0]]
    trial = study.ask()
    trial.complete([1.0, 1.0], constraints=[0.0, 0.0])
    with pytest.raises(tp.FailedPreconditionError, match="set_constraint before it is told"):  # Optuna: a RuntimeError
        trial.set_constraint("cost", 0.0)
    trial = study.ask()
    trial.set_constraint("cost", 0.0)
    with pytest.raises(tp.InvalidArgumentError, match="give them one way"):
        trial.complete([1.0, 1.0], constraints=[0.0, 0.0])
    trial.set_constraint("size", 0.5)
    trial.complete([1.0, 1.0])
    assert study.trial(trial.number).constraints == [0.0, 0.5]
    with pytest.raises(tp.InvalidArgumentError, match="give them one way"), _quiet():
        study.optimize(objective, n_trials=1, constraints_func=lambda t: [0.0, 0.0])
    assert "the objective returned [" in study.trials[-1].system_attrs["fail_reason"]


def test_set_constraint_with_other_names_than_an_earlier_trial_is_refused(server: ServerProcess, name: str) -> None:
    # The server keeps a list of values, not names: a trial naming other constraints than the
    # first ("cost", "size" against "cost", "mem") would have its "mem" stored as "size".
    study = _study(server, name, directions=["minimize", "minimize"])
    first = study.ask()
    first.set_constraint("cost", 0.0)
    first.set_constraint("size", 1.0)
    first.complete([1.0, 1.0])
    other = study.ask()
    other.set_constraint("mem", -1.0)
    other.set_constraint("cost", 0.0)
    with pytest.raises(tp.InvalidArgumentError, match=r"set constraints \['cost', 'mem'\], but an earlier trial in this process set \['cost', 'size'\]"):
        other.complete([0.5, 0.5])
    assert other.state == "RUNNING"  # nothing was told: the trial can still be finished
    other.fail("constraints named differently")
    same = study.ask()
    same.set_constraint("size", -2.0)
    same.set_constraint("cost", 0.5)
    same.complete([0.2, 0.2])
    assert [t.constraints for t in study.trials] == [[0.0, 1.0], None, [0.5, -2.0]]


def test_module_create_study_takes_reference_point(server: ServerProcess, name: str) -> None:
    # Client.create_study takes reference_point; tp.create_study (Optuna-style) did not (TypeError).
    study = _study(server, name, directions=["minimize", "maximize"], reference_point=[10.0, -1.0])
    assert study.summary().reference_point == [10.0, -1.0]
    study.add_trial(tp.create_trial(state="COMPLETE", values=[2.0, 3.0], params={}, distributions={}))
    front = study.pareto_front()
    assert front.reference_point == [10.0, -1.0] and front.reference_point_source == "given"
