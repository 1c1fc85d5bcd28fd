"""A numpy array told as a value is read as Optuna 5.0 reads it, on every path and under every numpy:
``value=`` (``study.tell``, ``Trial.complete``, ``report``, ``create_trial``/``add_trial``'s ``value=``,
an objective's return) takes it as one value, which is a number only when 0-d; only a list or tuple
(and ``values=`` of ``create_trial``/``add_trial``, a sequence in Optuna) holds one per objective."""

from __future__ import annotations

import uuid
import warnings
from typing import Any

import numpy as np
import pytest

import tuneport as tp


class Numpy1Array(np.ndarray):
    """An array whose ``float()`` casts one element as numpy < 2 did (which only warned; the warning
    is left out, pytest makes warnings errors): the client must refuse it by its shape."""

    def __float__(self) -> float:
        return float(self.reshape(-1)[0])


def old(values: list[float]) -> Any:
    return np.array(values).view(Numpy1Array)


def _name() -> str:
    return f"np-{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("make", [np.array, old], ids=["numpy2", "numpy1"])
def test_complete_reads_an_array_as_one_value_as_tell_does(client: tp.Client, make: Any) -> None:
    # trial.complete(np.array([0.5])) completed the trial with 0.5 (and [0.5, 1.0] a two-objective
    # one) where study.tell and Optuna 5.0 read the array as one value that is not a number.
    one = client.create_study(_name())
    t = one.ask()
    with pytest.raises(TypeError, match=r"shape \(1,\) is one value"):
        t.complete(make([0.5]))
    assert one.trial(t.number).state == "RUNNING"
    t.complete(np.array(0.5))  # type: ignore[arg-type]  # a 0-d array is a number
    assert one.trial(t.number).values == [0.5]
    two = client.create_study(_name(), directions=["minimize", "maximize"])
    t = two.ask()
    with pytest.raises(TypeError, match=r"shape \(2,\) is one value"):
        t.complete(make([0.5, 1.0]))
    t.complete([np.float64(0.5), 1.0])  # a list holds one value per objective
    assert two.trial(t.number).values == [0.5, 1.0]
    t = one.ask()
    with pytest.raises(TypeError, match=r"shape \(1,\)"):
        t.report(make([0.5]), 1)


@pytest.mark.parametrize("make", [np.array, old], ids=["numpy2", "numpy1"])
def test_tell_pruned_with_an_array_raises_as_optuna_and_keeps_the_trial_running(client: tp.Client, make: Any) -> None:
    study = client.create_study(_name())
    t = study.ask()
    t.report(0.25, 0)
    with pytest.raises(ValueError, match=r"Values cannot be specified when state is TrialState\.PRUNED or TrialState\.FAIL"):
        study.tell(t, state=tp.TrialState.PRUNED, values=make([0.5]))
    assert study.trial(t.number).state == "RUNNING"
    assert study.tell(t, state=tp.TrialState.PRUNED).value == 0.25  # the last report's, as in Optuna


def test_an_array_under_numpy_1_is_not_a_number_on_any_path(client: tp.Client) -> None:
    # numpy < 2 casts float(np.array([0.5])) (with a DeprecationWarning only): the client's checks
    # went by float(), so there tell completed what numpy 2 fails, and optimize too.
    study = client.create_study(_name())
    t = study.ask()
    with pytest.warns(UserWarning, match=r"could not be cast to float"):
        assert study.tell(t, old([0.5])).state == "FAIL"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(lambda trial: old([0.5]), n_trials=1)
    assert study.trials[-1].state == "FAIL"
    with pytest.raises(ValueError, match=r"could not be cast to float"):
        study.tell(study.ask(), old([0.5]), state="COMPLETE")
    with pytest.raises(TypeError, match=r"shape \(1,\)"):
        tp.create_trial(value=old([0.5]), params={"x": 0.5}, distributions={"x": tp.Float(0, 1)})
    with pytest.raises(TypeError, match=r"shape \(1,\)"):
        study.add_trial(params={"x": 0.5}, distributions={"x": tp.Float(0, 1)}, value=old([0.5]))
    # values= is a sequence, as in Optuna: its elements are the values.
    added = study.add_trial(params={"x": 0.5}, distributions={"x": tp.Float(0, 1)}, values=old([0.5]))
    assert added.values == [0.5]
    made = tp.create_trial(values=np.array([0.5]), params={"x": 0.5}, distributions={"x": tp.Float(0, 1)})  # type: ignore[arg-type]
    assert made.values == [0.5]
