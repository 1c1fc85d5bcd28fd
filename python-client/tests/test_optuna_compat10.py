"""Optuna scripts moved over unchanged, tenth audit (2026-12-08; Optuna 5.0 in memory side by side
with ``import tuneport as optuna`` on a real server): an enqueued categorical value that is not a
choice, ``create_trial`` with a NaN value, ``trials_dataframe`` with an unknown attribute. (The
audit's ``tell(frozen_trial)`` is in test_optuna_compat5.py, ``create_study(load_if_exists=True,
sampler=...)`` in test_optuna_objects.py.)"""

from __future__ import annotations

from typing import Any

import optuna
import pytest

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _both(server: ServerProcess, name: str) -> list[tuple[Any, Any]]:
    """The same study in Optuna (memory) and on the server, with its library."""
    return [(optuna, optuna.create_study()), (tp, tp.create_study(storage=server.endpoint, study_name=name))]


def test_an_enqueued_value_that_is_not_a_choice_raises_from_suggest_categorical_as_optuna(server: ServerProcess, name: str) -> None:
    for lib, study in _both(server, name):
        study.enqueue_trial({"opt": "adamw", "lr": 0.1})
        trial = study.ask()
        # Optuna's CategoricalDistribution.to_internal_repr: ValueError "'adamw' not in ('adam', 'sgd')."
        with pytest.raises(ValueError, match=r"'adamw' not in \('adam', 'sgd'\)\."):
            trial.suggest_categorical("opt", ["adam", "sgd"])
        assert trial.suggest_float("lr", 0.0, 1.0) == 0.1  # the trial goes on
        with pytest.raises(ValueError, match=r"'adamw' not in"):  # and raises again, nothing recorded
            trial.suggest_categorical("opt", ["adam", "sgd"])
        assert "opt" not in study.trials[-1].distributions, lib.__name__
        # A choice equal to the enqueued value is the value (1 is 1.0, as Optuna's list.index).
        study.enqueue_trial({"n": 1})
        assert study.ask().suggest_categorical("n", [1.0, 2.0]) == 1.0, lib.__name__


def test_an_enqueued_value_that_is_not_a_choice_fails_the_trial_in_optimize_and_raises(server: ServerProcess, name: str) -> None:
    for lib, study in _both(server, name):
        study.enqueue_trial({"opt": "adamw"})
        with pytest.raises(ValueError, match=r"'adamw' not in \('adam', 'sgd'\)"):
            study.optimize(lambda t: len(t.suggest_categorical("opt", ["adam", "sgd"])), n_trials=3)
        assert [t.state.name for t in study.trials] == ["FAIL"], lib.__name__


def test_create_trial_refuses_a_nan_value_itself_as_optuna(server: ServerProcess, name: str) -> None:
    for lib, study in _both(server, name):
        with pytest.raises(ValueError, match=r"^values should not contain NaN\.$"):
            lib.trial.create_trial(value=float("nan"), params={}, distributions={})
        with pytest.raises(ValueError, match=r"^values should not contain NaN\.$"):
            lib.trial.create_trial(values=[1.0, float("nan")], params={}, distributions={})
        study.add_trial(lib.trial.create_trial(value=0.5, params={}, distributions={}))
        assert [t.value for t in study.trials] == [0.5], lib.__name__


def test_trials_dataframe_with_an_unknown_attribute_is_optunas_attribute_error(server: ServerProcess, name: str) -> None:
    pytest.importorskip("pandas")
    for lib, study in _both(server, name):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
        with pytest.raises(AttributeError, match=r"^'FrozenTrial' object has no attribute 'bogus'"):
            study.trials_dataframe(attrs=("number", "bogus"))
        assert list(study.trials_dataframe(attrs=("number", "value")).columns) == ["number", "value"], lib.__name__


def test_trials_dataframe_does_not_say_a_frozen_trial_lacks_an_attribute_it_has(server: ServerProcess, name: str) -> None:
    # last_step is a FrozenTrial attribute in both libraries (Optuna's frame shows it); tuneport's
    # frame has no column for it, which its error says, rather than "object has no attribute".
    study = tp.create_study(storage=server.endpoint, study_name=name)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    assert hasattr(study.trials[0], "last_step")
    with pytest.raises(AttributeError, match=r"^trials_dataframe has no column for FrozenTrial\.last_step \(trials_dataframe's attrs: number"):
        study.trials_dataframe(attrs=("number", "last_step"))
