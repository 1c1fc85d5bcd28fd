"""Steering from the Python client (issue 14 §2, §7): ``Study.add_trial`` (also from an Optuna
``FrozenTrial``), ``cancel_trial``, ``ask(lease_ttl_s=...)``, ``update`` and ``export``, against a
real server."""

from __future__ import annotations

import json
import warnings
from typing import Any

import optuna
import pytest

import tuneport as tp


def test_add_trial_takes_keywords_or_an_optuna_frozen_trial(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0.0, 1.0), "c": tp.Categorical(["a", "b"])}, strategy="random", seed=1)
    mine = study.add_trial(params={"x": 0.25, "c": "b"}, value=0.5, intermediate_values={1: 0.9, 2: 0.6}, rationale="last week's run")
    assert (mine.state, mine.value, mine.intermediate) == ("COMPLETE", 0.5, [(1.0, 0.9), (2.0, 0.6)])
    frozen = optuna.trial.create_trial(
        params={"x": 0.75, "c": "a", "lr": 0.01},
        distributions={
            "x": optuna.distributions.FloatDistribution(0.0, 1.0),
            "c": optuna.distributions.CategoricalDistribution(["a", "b"]),
            "lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True),
        },
        value=0.125,
        user_attrs={"source": "optuna"},
    )
    theirs = study.add_trial(frozen)
    assert (theirs.params, theirs.value, theirs.user_attrs) == ({"x": 0.75, "c": "a", "lr": 0.01}, 0.125, {"source": "optuna"})
    assert theirs.distributions["lr"] == tp.Float(1e-4, 1.0, log=True)
    assert study.best_trial is not None and study.best_trial.number == theirs.number
    # Outside the declared space: refused with the parameter named, nothing recorded.
    with pytest.raises(tp.InvalidArgumentError, match="'x'"):
        study.add_trial(params={"x": 2.0, "c": "a"}, value=1.0)
    assert len(study.trials) == 2


def test_add_trial_records_a_multi_objective_result(client: tp.Client, name: str) -> None:
    study = client.create_study(name, directions=["minimize", "maximize"], space={"x": tp.Float(0.0, 1.0)}, seed=1)
    t = study.add_trial(params={"x": 0.5}, values=[1.0, 2.0], constraints=[-1.0])
    assert (t.values, t.constraints, t.feasible) == ([1.0, 2.0], [-1.0], True)
    with pytest.raises(tp.InvalidArgumentError, match="2 objective"):
        study.add_trial(params={"x": 0.5}, value=1.0)
    assert [p.number for p in study.best_trials] == [t.number]


def test_cancel_a_queued_proposal_and_ask_with_a_longer_lease(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0.0, 1.0)}, strategy="random", seed=1, lease_ttl_s=30)
    queued = study.enqueue({"x": 0.9})
    cancelled = study.cancel_trial(queued.number, "too far out")
    assert (cancelled.state, cancelled.system_attrs["fail_reason"]) == ("FAIL", "cancelled: too far out")
    with pytest.raises(tp.FailedPreconditionError):
        study.cancel_trial(queued.number)
    trial = study.ask(lease_ttl_s=600, max_retries=0)
    assert trial.params["x"] != 0.9  # the cancelled proposal is never handed out
    lease = client.call("trial", study=name, trial=trial.number)["lease"]
    assert lease["ttl_s"] == 600
    trial.complete(0.5)


def test_update_relaxes_the_pruner_widens_the_space_and_keeps_notes(client: tp.Client, name: str) -> None:
    study = client.create_study(
        name,
        space={"x": tp.Float(0.0, 1.0)},
        strategy="random",
        scheduler={"name": "median", "options": {"n_startup_trials": 5, "n_warmup_steps": 0}},
        seed=1,
    )
    changed = study.update(scheduler={"name": "median", "options": {"n_warmup_steps": 3}}, space={"x": tp.Float(0.0, 2.0)}, notes="relaxed")
    assert changed == ["scheduler", "space", "notes"]
    view = client.call("get_study", study=name)["study"]
    assert view["scheduler"]["options"]["n_warmup_steps"] == 3
    assert view["scheduler"]["options"]["n_startup_trials"] == 5  # merged, not reset
    assert (view["space"]["x"]["high"], view["notes"]) == (2.0, "relaxed")
    with pytest.raises(tp.InvalidArgumentError, match="only be widened"):
        study.update(space={"x": tp.Float(0.5, 2.0)})
    assert study.update(scheduler=None) == ["scheduler"]
    assert client.call("get_study", study=name)["study"]["scheduler"] is None


def test_export_pages_through_the_whole_study(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0.0, 1.0)}, strategy="random", seed=1)
    for i in range(30):
        study.add_trial(params={"x": i / 30}, value=float(i), rationale="r" * 200)
    lines = list(study.export())
    assert len(lines) == 31
    header = json.loads(lines[0])
    assert (header["format"], header["name"]) == ("tuneport-study", name)
    assert [json.loads(line)["number"] for line in lines[1:]] == list(range(30))


def test_notes_on_the_study_and_a_trial(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0.0, 1.0)}, strategy="random", seed=1)
    t = study.add_trial(params={"x": 0.5}, value=1.0)
    study.set_notes("a baseline sweep")
    study.set_notes("the loss spiked at epoch 3", trial=t.number)
    assert client.call("get_study", study=name)["study"]["notes"] == "a baseline sweep"
    assert study.trial(t.number).system_attrs["notes"] == "the loss spiked at epoch 3"
    study.set_notes("")
    assert client.call("get_study", study=name)["study"]["notes"] is None


def test_update_derives_ashas_default_min_resource_again_from_a_new_budget(client: tp.Client, name: str) -> None:
    """min_resource defaults to max_resource/eta**2: merging a new max_resource or eta derives it
    again (it was never the user's choice); one the user gave is kept."""
    study = client.create_study(name, space={"x": tp.Float(0.0, 1.0)}, strategy="random", scheduler="asha", max_resource=27)

    def options() -> dict[str, Any]:
        return dict(client.call("get_study", study=name)["study"]["scheduler"]["options"])

    assert options()["min_resource"] == 3
    assert study.update(scheduler={"name": "asha", "options": {"max_resource": 81}}) == ["scheduler"]
    assert (options()["max_resource"], options()["min_resource"]) == (81, 9)
    study.update(scheduler={"name": "asha", "options": {"reduction_factor": 9}})
    assert (options()["reduction_factor"], options()["min_resource"]) == (9, 1)
    study.update(scheduler={"name": "asha", "options": {"min_resource": 2, "reduction_factor": 3}})
    study.update(scheduler={"name": "asha", "options": {"max_resource": 243}})
    assert (options()["max_resource"], options()["min_resource"]) == (243, 2)  # the user's own stays


def test_a_worker_started_after_the_study_was_steered_loads_it(client: tp.Client, name: str) -> None:
    """Every worker runs the same script, create_study(..., load_if_exists=True) with the settings the
    study was created with; a worker started after an agent widened the space, switched the strategy
    or raised max_trials loads the steered study (it failed: "exists with other settings")."""

    def script() -> tp.Study:
        return client.create_study(
            name, space={"x": tp.Float(0.0, 1.0)}, strategy="tpe", scheduler="median", max_trials=10, load_if_exists=True
        )

    script().update(space={"x": tp.Float(-1.0, 2.0)}, strategy="random", max_trials=40)
    with pytest.warns(UserWarning, match=r"was changed with update_study since it was created.*space\.x: now .*strategy: now .*max_trials: now 40, given 10"):
        late = script()
    assert (late.summary().strategy["name"], late.summary().max_trials) == ("random", 40)
    assert late.ask().params["x"] is not None
    with pytest.raises(tp.InvalidArgumentError, match="exists with other settings"):
        client.create_study(name, space={"x": tp.Float(0.0, 1.0)}, strategy="gp", load_if_exists=True)


def test_the_steered_load_warning_names_the_users_line_through_either_create_study(client: tp.Client, name: str) -> None:
    """Through Optuna's ``tuneport.create_study`` the warning named a line of the client's own file
    (a fixed stacklevel fit only ``Client.create_study``); both entry points name the caller's."""
    client.create_study(name, space={"x": tp.Float(0.0, 1.0)}, load_if_exists=True).update(space={"x": tp.Float(-1.0, 2.0)})
    def via_client() -> tp.Study:
        return client.create_study(name, space={"x": tp.Float(0.0, 1.0)}, load_if_exists=True)

    def via_optuna() -> tp.Study:
        return tp.create_study(storage=client, study_name=name, space={"x": tp.Float(0.0, 1.0)}, load_if_exists=True)

    for load in (via_client, via_optuna):
        with pytest.warns(UserWarning, match="was changed with update_study since it was created") as got:
            load()
        assert [w.filename for w in got if "update_study" in str(w.message)] == [__file__]


def test_a_worker_restarted_on_a_widened_space_is_warned(client: tp.Client, name: str) -> None:
    """A worker restarted with the script's create_study(..., load_if_exists=True) after an agent
    added a category loaded the study without a word, and its trials then held the new category,
    which the script's code does not handle (helper 47's agent + workers audit). The load warns,
    naming the parameter; a type change is still refused, and a script that declares the space as
    it is now loads in silence."""
    opt = tp.Categorical(["adam", "sgd"])

    def script(space: dict[str, tp.Distribution]) -> tp.Study:
        return client.create_study(name, space=space, strategy="random", seed=1, load_if_exists=True)

    first = script({"opt": opt, "lr": tp.Float(1e-4, 1e-1, log=True)})
    first.update(space={"opt": tp.Categorical(["adam", "sgd", "rmsprop"]), "lr": tp.Float(1e-4, 1e-1, log=True)})
    with pytest.warns(UserWarning, match=r"study '[^']+' was changed with update_study.*space\.opt: now .*rmsprop.*given .*sgd") as caught:
        again = script({"opt": opt, "lr": tp.Float(1e-4, 1e-1, log=True)})
    assert "space.lr" not in str(caught[0].message)  # only the parameter that differs is named
    assert again.summary().space["opt"] == tp.Categorical(["adam", "sgd", "rmsprop"])
    with pytest.raises(tp.InvalidArgumentError, match=r"exists with other settings.*space\.opt"):
        script({"opt": tp.Int(0, 2), "lr": tp.Float(1e-4, 1e-1, log=True)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        script({"opt": tp.Categorical(["adam", "sgd", "rmsprop"]), "lr": tp.Float(1e-4, 1e-1, log=True)})
        client.create_study(name, load_if_exists=True)  # by name alone: nothing given, nothing to warn of


def test_a_running_trial_suggests_as_its_script_says_across_a_widen(client: tp.Client, name: str) -> None:
    """The objective names the declared parameter as the script declared it; an agent widening the
    space between a trial's ask and its suggest_float failed that trial (and every later one) with
    "cannot be suggested as"."""
    study = client.create_study(name, space={"x": tp.Float(0.0, 1.0)}, strategy="random", seed=1)
    before = study.ask()
    study.update(space={"x": tp.Float(-5.0, 5.0)})
    assert before.suggest_float("x", 0.0, 1.0) == before.params["x"]
    before.complete(0.0)
    after = study.ask()
    # The widened value, as the agent meant, with Optuna's warning that the script's range differs.
    with pytest.warns(RuntimeWarning, match='Inconsistent parameter values for distribution with name "x"'):
        assert after.suggest_float("x", 0.0, 1.0) == after.params["x"]
    after.complete(0.0)
