"""Optuna scripts moved over unchanged, third audit (ask-and-tell with ``optuna.distributions``,
``tell`` edge cases, repeated ``report`` steps): each case is a divergence found by running the
same snippet with ``import optuna`` (Optuna 5.0, in memory) and with ``import tuneport as optuna``."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from typing import Any

import optuna
import pytest

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(server: ServerProcess, name: str, **kwargs: Any) -> tp.Study:
    return tp.create_study(storage=server.endpoint, study_name=name, **kwargs)


def test_optuna_distributions_module_names_work_under_import_tuneport_as_optuna(server: ServerProcess, name: str) -> None:
    # The tutorial's ask-and-tell page: study.ask(fixed_distributions) built from optuna.distributions.
    def script(lib: Any, study: Any) -> list[Any]:
        d = lib.distributions
        trial = study.ask(
            {"C": d.FloatDistribution(1e-10, 1e10, log=True), "solver": d.CategoricalDistribution(("lbfgs", "saga")), "n": d.IntDistribution(1, 10)}
        )
        study.tell(trial, 1.0)
        dists = study.trials[0].distributions
        return [
            isinstance(dists["C"], d.FloatDistribution),
            isinstance(dists["n"], d.IntDistribution),
            isinstance(dists["solver"], d.BaseDistribution),
            dists["n"] == d.IntDistribution(1, 10),
            (dists["n"].low, dists["n"].high, dists["n"].step, dists["n"].log),
            dists["solver"].choices,
            [x.single() for x in (dists["C"], dists["n"], dists["solver"])],
            [d.IntDistribution(3, 3).single(), d.FloatDistribution(0.5, 0.5).single(), d.FloatDistribution(0, 1, step=0.5).single(), d.CategoricalDistribution(["a"]).single()],
        ]

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())


def test_reporting_a_step_again_is_ignored_with_optunas_warning(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[Any]:
        trial = study.ask()
        trial.report(1.0, 0)
        trial.report(2.0, 1)
        with pytest.warns(UserWarning, match=r"ignored because this `step=1` is already reported"):
            trial.report(3.0, 1)  # same step, another value
        with pytest.warns(UserWarning, match=r"ignored because this `step=0` is already reported"):
            trial.report(4.0, 0)  # an earlier step
        study.tell(trial, 0.5)
        return [dict(study.trials[0].intermediate_values), study.trials[0].state.name]

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())


def _recorded(fn: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [f"{w.category.__name__}: {w.message}" for w in caught]


def test_tell_without_a_usable_value_fails_the_trial_with_optunas_warning(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[Any]:
        out = []
        for value in (None, ["a"], [1.0, 2.0]):
            trial = study.ask()
            told, caught = _recorded(lambda: study.tell(trial, value))
            out.append((told.state.name, told.value, caught))
        return out

    ours = script(tp, _study(server, name))
    assert ours == script(optuna, optuna.create_study())
    assert ours[0] == ("FAIL", None, ["UserWarning: The value None could not be cast to float."])


def test_tell_on_a_finished_trial_is_a_value_error_as_in_optuna(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> str:
        trial = study.ask()
        study.tell(trial, 1.0)
        with pytest.raises(ValueError, match="Cannot tell a COMPLETE trial") as info:
            study.tell(trial, 2.0)
        return str(study.trials[0].value)

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())
    study = _study(server, name + "-b")
    trial = study.ask()
    study.tell(trial, 1.0)
    with pytest.raises(tp.FailedPreconditionError):  # still the tuneport class it was
        study.tell(trial, 2.0)


def test_suggesting_a_parameter_again_as_another_kind_is_a_value_error_as_in_optuna(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[str]:
        trial = study.ask()
        trial.suggest_float("a", 0.1, 1.0)
        trial.suggest_categorical("c", ["x", "y"])
        out = []
        agains: list[Callable[[], object]] = [
            lambda: trial.suggest_int("a", 0, 10),
            lambda: trial.suggest_float("a", 0.1, 1.0, log=True),
            lambda: trial.suggest_categorical("c", ["x", "z"]),
        ]
        for again in agains:
            with pytest.raises(ValueError) as info:
                again()
            out.append(str(info.value).removeprefix("INVALID_ARGUMENT: ").split(" ('")[0])  # then tuneport names the parameter
        study.tell(trial, 1.0)
        return out

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())


def test_enqueue_trial_as_in_optuna_unused_values_dropped_and_close_floats_skipped(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[Any]:
        study.enqueue_trial({"x": 0.3, "unused": 7}, user_attrs={"src": "manual"})
        study.enqueue_trial({"x": 0.1 + 0.2, "unused": 7}, skip_if_exists=True)  # within Optuna's tolerance: skipped
        study.enqueue_trial({"x": 0.31, "unused": 7}, skip_if_exists=True)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        return [(t.params, t.user_attrs, t.system_attrs["fixed_params"]) for t in study.trials]

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())


def test_max_trials_callback_from_optuna_study_stops_the_loop(server: ServerProcess, name: str) -> None:
    # The tutorial's callback page: optimize(callbacks=[MaxTrialsCallback(n, states=...)]).
    def script(lib: Any, study: Any) -> list[list[str]]:
        def objective(trial: Any) -> float:
            x: float = trial.suggest_float("x", -1, 1)
            if trial.number == 1:
                raise ValueError("boom")
            return x

        out = []
        for states in ((lib.trial.TrialState.COMPLETE,), None, (optuna.trial.TrialState.FAIL, optuna.trial.TrialState.COMPLETE)):
            callback = lib.study.MaxTrialsCallback(3 + len(study.trials), states=states)
            study.optimize(objective, n_trials=10, callbacks=[callback], catch=(ValueError,))
            out.append([t.state.name for t in study.trials])
        return out

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's log of the failed trial
        assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())


def test_fixed_trial_and_optunas_exception_names(server: ServerProcess, name: str) -> None:
    # Optuna's FAQ: run an objective on fixed values (optuna.trial.FixedTrial(study.best_params)).
    def objective(trial: Any) -> float:
        x: float = trial.suggest_float("x", -10, 10)
        n: int = trial.suggest_int("n", 1, 3)
        kind = trial.suggest_categorical("kind", ["a", "b"])
        trial.report(x, 0)
        assert not trial.should_prune()
        return float(x + n + (kind == "b"))

    def script(lib: Any) -> list[Any]:
        out: list[Any] = [objective(lib.trial.FixedTrial({"x": 1.5, "n": 2, "kind": "b"}))]
        fixed = lib.trial.FixedTrial({"x": 20.0, "n": 2, "kind": "a"}, number=3)
        value, caught = _recorded(lambda: objective(fixed))
        out.append((value, [w.split(" the distribution ")[0] for w in caught]))  # the distribution's repr differs
        out.append((fixed.number, fixed.params, sorted(fixed.distributions)))
        with pytest.raises(ValueError, match="The value of the parameter 'x' is not found"):
            objective(lib.trial.FixedTrial({"n": 2, "kind": "a"}))
        return out

    assert script(tp) == script(optuna)
    _study(server, name)
    with pytest.raises(tp.exceptions.DuplicatedStudyError):
        _study(server, name)
    assert issubclass(tp.exceptions.DuplicatedStudyError, tp.exceptions.OptunaError)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage().replace("float..", "float.")  # Optuna's doubled period
        self.lines.append(f"{message} traceback={record.exc_info is not None}")


def test_a_failed_trial_is_logged_with_optunas_two_lines(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any, logger: str) -> list[str]:
        outcomes: list[Any] = [None, [1.0, 2.0], ValueError("caught"), RuntimeError("not caught")]

        def objective(trial: Any) -> Any:
            outcome = outcomes[trial.number]
            if isinstance(outcome, Exception):
                raise outcome
            return outcome

        handler = _Lines()
        logging.getLogger(logger).addHandler(handler)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                study.optimize(objective, n_trials=3, catch=(ValueError,))
                with pytest.raises(RuntimeError, match="not caught"):
                    study.optimize(objective, n_trials=1)
        finally:
            logging.getLogger(logger).removeHandler(handler)
        return handler.lines

    ours = script(tp, _study(server, name), "tuneport")
    assert ours == script(optuna, optuna.create_study(), "optuna")
    assert ours[-2:] == [
        "Trial 3 failed with parameters: {} because of the following error: RuntimeError('not caught'). traceback=True",
        "Trial 3 failed with value None. traceback=False",
    ]


def test_tell_fail_with_a_value_is_a_value_error_as_in_optuna(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[str]:
        trial = study.ask()
        with pytest.raises(ValueError, match="Values cannot be specified when state is"):
            study.tell(trial, 1.0, state=lib.trial.TrialState.FAIL)
        study.tell(trial, state=lib.trial.TrialState.FAIL)
        return [t.state.name for t in study.trials]

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())


def test_create_study_logs_optunas_info_line(server: ServerProcess, name: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="tuneport"):
        _study(server, name)
        _study(server, name, load_if_exists=True)
    assert [r.getMessage() for r in caplog.records if "study" in r.getMessage()] == [
        f"A new study created on {server.endpoint} with name: {name}",  # Optuna: "... created in memory with name: ..."
        f"Using an existing study with name '{name}' instead of creating a new one.",
    ]


def test_a_range_off_the_step_grid_warns_as_in_optuna(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[Any]:
        trial = study.ask()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trial.suggest_int("a", 1, 10, step=4)
            trial.suggest_float("b", 0.0, 1.0, step=0.3)
            trial.suggest_float("c", 0.0, 1.0, step=0.25)  # on the grid: no warning
        study.tell(trial, 1.0)
        dists = study.trials[0].distributions
        return [[str(w.message) for w in caught], dists["a"].high, dists["b"].high]

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())
