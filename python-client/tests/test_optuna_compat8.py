"""Optuna scripts moved over unchanged, eighth audit (Optuna 5.0's API beyond the tutorials:
``add_trial``/``add_trials`` in every state, ``create_trial``'s times, Optuna's plot functions
handed a tuneport study): each case is a divergence found by running the same script with
``import optuna`` (Optuna 5.0) and with ``import tuneport as optuna``."""

from __future__ import annotations

import time
import warnings
from typing import Any, cast
from datetime import datetime, timedelta

import optuna
import pytest

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_add_trial_of_a_waiting_trial_enqueues_it_as_optunas_enqueue_trial_does(server: ServerProcess, name: str) -> None:
    # Optuna's enqueue_trial is study.add_trial(create_trial(state=WAITING, system_attrs=
    # {"fixed_params": params})), and scripts (or add_trials(other.trials)) add WAITING trials
    # directly; tuneport refused them with the schema's 'state: Invalid option'.
    asked: dict[str, list[dict[str, object]]] = {}
    for lib, kwargs in ((optuna, {}), (tp, {"storage": server.endpoint, "study_name": name})):
        study = lib.create_study(**kwargs)
        dist = lib.distributions.FloatDistribution(0, 1)
        study.add_trial(lib.trial.create_trial(state=lib.trial.TrialState.WAITING, params={"x": 0.25}, distributions={"x": dist}))
        study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.WAITING, system_attrs={"fixed_params": {"x": 0.5}}))
        study.add_trials([optuna.trial.create_trial(state=optuna.trial.TrialState.WAITING, system_attrs={"fixed_params": {"x": 0.75}})])
        waiting = study.get_trials(states=(lib.trial.TrialState.WAITING,))
        assert len(waiting) == 3
        seen = []
        for _ in range(3):
            trial = study.ask()
            seen.append({"x": trial.suggest_float("x", 0, 1)})
            study.tell(trial, 1.0)
        asked[lib.__name__] = seen
    assert asked["tuneport"] == asked["optuna"] == [{"x": 0.25}, {"x": 0.5}, {"x": 0.75}]


def test_add_trials_with_a_running_trial_adds_none_and_says_why(client: tp.Client, name: str) -> None:
    # Optuna adds a RUNNING trial; tuneport cannot (a trial runs for the worker that asked for it)
    # and said only "state: Invalid option", after adding the trials before it in add_trials.
    study = client.create_study(name)
    dist = optuna.distributions.FloatDistribution(0, 1)
    done = optuna.trial.create_trial(params={"x": 0.1}, distributions={"x": dist}, value=0.1)
    running = optuna.trial.create_trial(params={"x": 0.2}, distributions={"x": dist}, state=optuna.trial.TrialState.RUNNING)
    with pytest.raises(tp.InvalidArgumentError, match=r"RUNNING trial cannot be added.*none of the trials was added"):
        study.add_trials([done, running])
    assert study.trials == []
    with pytest.raises(ValueError, match=r"RUNNING trial cannot be added: .*study\.ask\(\).*enqueue_trial"):
        study.add_trial(running)
    assert [t.value for t in study.add_trials([done])] == [0.1]


def test_create_trial_stamps_its_times_as_optuna() -> None:
    # Optuna's create_trial stamps now (the start unless WAITING, the end once finished), so
    # trial.duration is timedelta(0); tuneport's had None for both and no duration.
    for lib in (optuna, tp):
        states = lib.trial.TrialState
        done = lib.trial.create_trial(value=1.0)
        assert done.datetime_start is not None and done.datetime_complete is not None, lib.__name__
        assert done.duration == timedelta(0), lib.__name__
        waiting = lib.trial.create_trial(state=states.WAITING)
        assert (waiting.datetime_start, waiting.datetime_complete, waiting.duration) == (None, None, None), lib.__name__
        running = lib.trial.create_trial(state=states.RUNNING)
        assert running.datetime_start is not None and running.datetime_complete is None and running.duration is None


def test_optunas_plot_functions_given_a_tuneport_study_say_what_to_use(server: ServerProcess, name: str) -> None:
    # optuna.visualization(.matplotlib) takes an optuna.Study or a list of them and iterates
    # anything else: a tuneport study gave only "TypeError: 'Study' object is not iterable".
    pytest.importorskip("matplotlib")
    study = tp.create_study(storage=server.endpoint, study_name=name)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning
        for plot in (optuna.visualization.matplotlib.plot_optimization_history, optuna.visualization.matplotlib.plot_param_importances):
            with pytest.raises(TypeError, match=rf"not an optuna\.Study.*study\.plot\(kind\).*tuneport export '{name}' --format optuna"):
                plot(study)  # type: ignore[arg-type]


@pytest.mark.parametrize("state", ["PRUNED", "FAIL"])
@pytest.mark.parametrize("told", [0.5, [0.5], [1.0, 2.0], []], ids=["number", "list_of_one", "list_of_two", "empty_list"])
def test_tell_with_a_value_and_pruned_or_fail_is_refused_as_optuna_does(client: tp.Client, name: str, state: str, told: Any) -> None:
    # Optuna 5.0's _check_state_and_values refuses any value (a list too, an empty one included) with
    # PRUNED or FAIL, the trial left RUNNING; study.tell(trial, 1.0, state=PRUNED) recorded 1.0.
    studies: tuple[Any, ...] = (client.create_study(name), optuna.create_study())
    for study in studies:
        trial = study.ask()
        trial.report(0.25, 1)
        with pytest.raises(ValueError) as caught:
            study.tell(trial, told, state=getattr(optuna.trial.TrialState, state))
        words = getattr(caught.value, "message", str(caught.value))  # tuneport's str() has its code first
        assert words == "Values were told. Values cannot be specified when state is TrialState.PRUNED or TrialState.FAIL.", words
        assert study.trials[-1].state.name == "RUNNING"
        done = study.tell(trial, state=getattr(optuna.trial.TrialState, state))  # without the value: told
        assert done.state.name == state and (done.value == 0.25 if state == "PRUNED" else done.value is None)


def test_fixed_trial_has_optunas_constraints_dict() -> None:
    # Optuna 5's FixedTrial.constraints is the {name: value} dict of its set_constraint calls (an
    # objective re-run with FixedTrial reads them back); tuneport's FixedTrial had no such attribute.
    seen = {}
    for lib in (optuna, tp):
        trial = lib.trial.FixedTrial({"x": 0.5})
        assert trial.constraints == {}
        trial.set_constraint("b", 2)
        trial.set_constraint("a", -1.0)
        seen[lib.__name__] = trial.constraints
    assert seen["tuneport"] == seen["optuna"] == {"b": 2.0, "a": -1.0}


def test_study_summaries_sort_in_creation_order_as_in_optuna(server: ServerProcess, name: str) -> None:
    # Optuna's StudySummary orders by study id, so sorted(get_all_study_summaries(storage)) lists
    # the studies oldest first; tuneport's raised "'<' not supported between instances".
    for suffix in ("-b", "-a"):
        tp.create_study(storage=server.endpoint, study_name=name + suffix)
        time.sleep(0.01)  # distinct creation times (the server's clock counts milliseconds)
    mine = [s for s in sorted(tp.get_all_study_summaries(storage=server.endpoint)) if s.study_name.startswith(name)]
    assert [s.study_name for s in mine] == [name + "-b", name + "-a"]
    assert mine[0] <= mine[0] and mine[0] <= mine[1] and not mine[1] < mine[0]


def test_trials_dataframe_takes_optuna_5s_constraints_attribute(client: tp.Client, name: str) -> None:
    # Optuna 5's trials_dataframe(attrs=(..., "constraints")) spreads FrozenTrial.constraints over
    # constraints_<name> columns; tuneport refused the attribute as unknown. The study keeps the
    # values, not their names, so the columns are numbered.
    pytest.importorskip("pandas")
    study = client.create_study(name, directions=["minimize", "minimize"])
    dist = optuna.distributions.FloatDistribution(0, 1)
    study.add_trial(optuna.trial.create_trial(params={"x": 0.1}, distributions={"x": dist}, values=[1.0, 2.0], constraints={"c0": 0.5, "c1": -1.0}))
    study.add_trial(optuna.trial.create_trial(params={"x": 0.2}, distributions={"x": dist}, state=optuna.trial.TrialState.FAIL))
    frame = study.trials_dataframe(attrs=("number", "constraints"))
    assert list(frame.columns) == ["number", "constraints_0", "constraints_1"]
    assert frame["constraints_0"].tolist()[0] == 0.5 and frame["constraints_1"].tolist()[0] == -1.0
    assert frame["constraints_0"].isna().tolist() == [False, True]
    assert list(study.trials_dataframe(attrs=("number", "constraints"), multi_index=True).columns) == [("number", ""), ("constraints", 0), ("constraints", 1)]


def test_add_trial_of_an_infinite_value_says_what_to_do(client: tp.Client, name: str) -> None:
    # Optuna's add_trial keeps value=inf; the server refuses it, and said only "add_trial: value:
    # Invalid input: expected number, received Infinity".
    study = client.create_study(name)
    dist = optuna.distributions.FloatDistribution(0, 1)
    for kwargs in ({"value": float("inf")}, {"values": [float("-inf")]}):
        with pytest.raises(ValueError, match=r"add_trial: the value -?inf is not finite: .*state=FAIL"):
            study.add_trial(optuna.trial.create_trial(params={"x": 0.1}, distributions={"x": dist}, **kwargs))
    with pytest.raises(ValueError, match=r"the value inf is not finite"):
        study.add_trial(params={"x": 0.1}, value=float("inf"))
    # numpy's scalars too (the check looked at Python's int and float only).
    import numpy as np

    with pytest.raises(ValueError, match=r"the value -?inf is not finite"):
        study.add_trial(params={"x": 0.1}, value=cast(Any, np.float32("inf")))
    with pytest.raises(ValueError, match=r"the value -?inf is not finite"):
        study.add_trial(params={"x": 0.1}, values=cast(Any, np.array([-np.inf])))
    assert study.trials == []


def test_add_trial_and_copy_study_keep_a_trial_s_times_as_optuna(server: ServerProcess, name: str) -> None:
    # add_trial stamped every trial "now": copy_study (and warm starts from Optuna) lost each
    # trial's start, end and duration.
    dist = optuna.distributions.FloatDistribution(0, 1)
    start = datetime(2026, 1, 2, 3, 4, 5, 250000)
    frozen = optuna.trial.FrozenTrial(
        number=0, state=optuna.trial.TrialState.COMPLETE, value=1.0, values=None,
        datetime_start=start, datetime_complete=start + timedelta(seconds=12.5),
        params={"x": 0.5}, distributions={"x": dist}, user_attrs={}, system_attrs={}, intermediate_values={}, trial_id=0,
    )
    study = tp.create_study(study_name=name, storage=server.endpoint)
    added = study.add_trial(frozen)
    assert (added.datetime_start, added.duration) == (start, timedelta(seconds=12.5))
    tp.copy_study(from_study_name=name, from_storage=server.endpoint, to_storage=server.endpoint, to_study_name=name + "-copy")
    copied = tp.load_study(study_name=name + "-copy", storage=server.endpoint).trials[0]
    assert (copied.datetime_start, copied.datetime_complete) == (start, start + timedelta(seconds=12.5))
