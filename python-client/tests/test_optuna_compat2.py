"""Optuna scripts moved over unchanged, second audit (optimize, best_*, trials_dataframe, trial
listings, add_trial/create_trial, metric names, copy_study): each case is a divergence found by
running the same snippet against Optuna 5.0 in memory and against a real tuneport server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.trial import TrialState as OptunaTrialState

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(server: ServerProcess, name: str, **kwargs: object) -> tp.Study:
    return tp.create_study(storage=server.endpoint, study_name=name, **kwargs)  # type: ignore[arg-type]


def test_add_trial_takes_optunas_create_trial_in_every_finished_state(server: ServerProcess, name: str) -> None:
    # Optuna's FrozenTrial has constraints [] when none were set: that must not be sent with a
    # FAIL or PRUNED trial (the server takes constraints with a COMPLETE result only).
    dist: dict[str, BaseDistribution] = {"x": FloatDistribution(0, 1)}
    made = [
        optuna.trial.create_trial(params={"x": 0.3}, distributions=dist, value=0.3),
        optuna.trial.create_trial(params={"x": 0.1}, distributions=dist, state=OptunaTrialState.FAIL),
        optuna.trial.create_trial(params={"x": 0.2}, distributions=dist, state=OptunaTrialState.PRUNED, intermediate_values={0: 0.7}),
    ]
    ref = optuna.create_study()
    study = _study(server, name)
    for t in made:
        ref.add_trial(t)
        study.add_trial(t)
    expected = [(t.state.name, t.value, t.params, t.intermediate_values) for t in ref.trials]
    assert [(t.state.name, t.value, t.params, t.intermediate_values) for t in study.trials] == expected


def test_create_trial_and_add_trials_warm_start_a_study_as_in_optuna(server: ServerProcess, name: str) -> None:
    def warm_start(lib: object, study: object) -> None:
        dist = {"x": FloatDistribution(0, 1)}
        study.add_trial(lib.trial.create_trial(params={"x": 0.3}, distributions=dist, value=0.3, user_attrs={"src": "old"}))  # type: ignore[attr-defined]
        study.add_trials(  # type: ignore[attr-defined]
            [
                lib.create_trial(params={"x": 0.1}, distributions=dist, state=lib.trial.TrialState.FAIL),  # type: ignore[attr-defined]
                lib.create_trial(params={"x": 0.2}, distributions=dist, value=0.2, intermediate_values={0: 0.5}),  # type: ignore[attr-defined]
            ]
        )

    ref = optuna.create_study()
    warm_start(optuna, ref)
    study = _study(server, name)
    warm_start(tp, study)
    def rows(s: object) -> list[tuple[object, ...]]:
        return [(t.number, t.state.name, t.value, t.params, t.user_attrs, t.intermediate_values) for t in s.trials]  # type: ignore[attr-defined]
    assert rows(study) == rows(ref)
    assert study.best_trial is not None and study.best_trial.number == ref.best_trial.number == 2
    # Optuna's FrozenTrial.set_user_attr sets it on the object, e.g. before add_trial.
    for lib, s in ((optuna, ref), (tp, study)):
        made = lib.create_trial(params={"x": 0.9}, distributions={"x": FloatDistribution(0, 1)}, value=0.9)
        made.set_user_attr("src", "late")
        s.add_trial(made)
    assert study.trials[-1].user_attrs == ref.trials[-1].user_attrs == {"src": "late"}
    with pytest.raises(ValueError, match="values should be set for a complete trial"):
        tp.trial.create_trial(params={"x": 0.5})
    with pytest.raises(ValueError, match="Inconsistent parameters"):
        tp.create_trial(params={"x": 0.5}, distributions={"y": FloatDistribution(0, 1)}, value=1.0)


def test_a_running_trial_has_no_duration_as_in_optuna(server: ServerProcess, name: str) -> None:
    ref = optuna.create_study()
    ref.ask()
    study = _study(server, name)
    trial = study.ask()
    for s in (ref, study):
        running = s.trials[0]
        assert (running.state.name, running.datetime_complete, running.duration) == ("RUNNING", None, None)
        assert s.trials_dataframe()["duration"].tolist() == [None]
    study.tell(trial, 1.0)
    assert study.trials[0].duration is not None


def test_frozen_trials_sort_by_number_as_in_optuna(server: ServerProcess, name: str) -> None:
    study = _study(server, name)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    trials = study.trials
    assert sorted(reversed(trials)) == trials
    assert max(trials).number == 2 and trials[0] < trials[1] and trials[1] <= trials[1]


def test_get_trials_with_no_states_is_empty_and_catch_none_is_no_catch(server: ServerProcess, name: str) -> None:
    ref = optuna.create_study()
    study = _study(server, name)
    for s in (ref, study):
        s.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, catch=None)  # type: ignore[arg-type]
        assert s.get_trials(states=()) == []
        assert len(s.get_trials(False, [OptunaTrialState.COMPLETE])) == 2
    with pytest.raises(ZeroDivisionError):  # Optuna 5.0 raises TypeError from its except clause
        study.optimize(lambda t: 1 / 0, n_trials=1, catch=None)


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_set_metric_names_names_the_frames_objective_columns_as_in_optuna(server: ServerProcess, name: str) -> None:
    ref = optuna.create_study(directions=["minimize", "maximize"])
    study = _study(server, name, directions=["minimize", "maximize"])
    for s in (ref, study):
        assert s.metric_names is None
        s.set_user_attr("owner", "me")
        s.set_metric_names(["size", "accuracy"])
        s.optimize(lambda t: (t.suggest_float("x", 0, 1), 0.5), n_trials=2)
        with pytest.raises(ValueError, match="number of objectives"):
            s.set_metric_names(["size"])
    assert study.metric_names == ref.metric_names == ["size", "accuracy"]
    assert study.user_attrs == ref.user_attrs == {"owner": "me"}
    attrs = ("number", "value", "params", "state")
    assert list(study.trials_dataframe(attrs)) == list(ref.trials_dataframe(attrs)) == ["number", "values_size", "values_accuracy", "params_x", "state"]
    assert list(study.trials_dataframe(attrs, multi_index=True)["values"]) == ["size", "accuracy"]
    # Another process (here: another handle) sees the names: they live on the server.
    assert tp.load_study(study_name=name, storage=server.endpoint).metric_names == ["size", "accuracy"]
    (summary,) = [s for s in tp.get_all_study_summaries(server.endpoint) if s.study_name == name]
    assert (summary.user_attrs, summary.metric_names) == ({"owner": "me"}, ["size", "accuracy"])
    tp.copy_study(from_study_name=name, from_storage=server.endpoint, to_storage=server.endpoint, to_study_name=name + "-copy")
    copy = tp.load_study(study_name=name + "-copy", storage=server.endpoint)
    assert (copy.user_attrs, copy.metric_names) == ({"owner": "me"}, ["size", "accuracy"])


def test_copy_study_copies_settings_attributes_and_trials(server: ServerProcess, name: str) -> None:
    study = _study(server, name, directions=["minimize", "maximize"], strategy="tpe", seed=3)
    study.set_user_attr("owner", "me")

    def objective(t: tp.Trial) -> tuple[float, float]:
        x = t.suggest_float("x", 0, 1)
        t.set_user_attr("n", t.number)
        if t.number == 1:
            raise tp.TrialPruned()
        if t.number == 2:
            raise ValueError("failed")
        return x, 2 * x

    study.optimize(objective, n_trials=4, catch=(ValueError,))
    study.enqueue_trial({"x": 0.5})
    tp.copy_study(from_study_name=name, from_storage=server.endpoint, to_storage=server.endpoint, to_study_name=name + "-copy")
    copy = tp.load_study(study_name=name + "-copy", storage=server.endpoint)
    assert (copy.directions, copy.strategy, copy.seed, copy.user_attrs) == (study.directions, study.strategy, 3, {"owner": "me"})
    def rows(s: tp.Study) -> list[tuple[object, ...]]:
        return [(t.number, t.state, t.values, t.params, t.user_attrs, t.intermediate_values) for t in s.trials]
    assert rows(copy) == rows(study)
    with pytest.raises(KeyError):  # Optuna raises KeyError for a missing source
        tp.copy_study(from_study_name=name + "-missing", from_storage=server.endpoint, to_storage=server.endpoint)
    with pytest.raises(tp.AlreadyExistsError):  # Optuna: DuplicatedStudyError
        tp.copy_study(from_study_name=name, from_storage=server.endpoint, to_storage=server.endpoint)


def test_trial_datetime_start_and_summary_study_name_as_in_optuna(server: ServerProcess, name: str) -> None:
    ref = optuna.create_study(study_name=name)
    study = _study(server, name)
    for s in (ref, study):
        seen: list[object] = []
        s.optimize(lambda t: seen.append(t.datetime_start) or 1.0, n_trials=1)  # type: ignore[func-returns-value]
        assert seen == [s.trials[0].datetime_start] and seen[0] is not None
    names = [summary.study_name for summary in tp.get_all_study_summaries(server.endpoint)]
    assert name in names


def test_numpy_values_as_user_attributes_and_enqueued_params(server: ServerProcess, name: str) -> None:
    # Optuna keeps numpy values as they are; they used to raise TypeError (MessagePack) here, which
    # failed the trial: np.argmax, np.arange and float32 metrics are everywhere in objectives.
    study = _study(server, name)
    study.set_user_attr("seed", np.int64(7))
    for n in np.arange(2):
        study.enqueue_trial({"n": n, "x": np.float32(0.5)})

    def objective(t: tp.Trial) -> float:
        t.set_user_attr("best_epoch", np.argmax([0.1, 0.3, 0.2]))
        t.set_user_attr("scores", np.array([0.5, 0.25], dtype=np.float32))
        t.set_user_attr("ok", np.bool_(True))
        return t.suggest_int("n", 0, 5) + t.suggest_float("x", 0, 1)

    study.optimize(objective, n_trials=2)
    assert [(t.state, t.params) for t in study.trials] == [("COMPLETE", {"n": 0, "x": 0.5}), ("COMPLETE", {"n": 1, "x": 0.5})]
    assert study.trials[0].user_attrs == {"best_epoch": 1, "scores": [0.5, 0.25], "ok": True}
    assert study.user_attrs == {"seed": 7}
    with pytest.raises(TypeError, match="must be numbers, strings"):
        study.set_user_attr("bad", object())


@pytest.mark.parametrize(
    ("storage", "hint"),
    [
        ("sqlite:///example.db", "`npx tuneport serve --storage example.db --bind tcp://127.0.0.1:5555`"),
        ("postgresql+psycopg2://db-host/optuna", "--storage 'postgresql://db-host/optuna'"),
        ("mysql+pymysql://db-host/optuna", "a tuneport server (storage: a SQLite file or PostgreSQL)"),
    ],
)
def test_an_optuna_storage_url_is_refused_with_the_server_to_start(storage: str, hint: str) -> None:
    # Every Optuna script with a database has storage="sqlite:///..." in its create_study line.
    with pytest.raises(tp.InvalidArgumentError) as caught:
        tp.create_study(study_name="x", storage=storage)
    assert "Optuna storage URL" in caught.value.message and hint in caught.value.message
    assert "storage='tcp://127.0.0.1:5555'" in caught.value.message


def test_the_frames_objective_columns_exist_while_no_trial_has_values(server: ServerProcess, name: str) -> None:
    # df["values_0"] after a run where every trial failed (or one still runs) must not be a KeyError.
    ref = optuna.create_study(directions=["minimize", "maximize"])
    study = _study(server, name, directions=["minimize", "maximize"])
    for s in (ref, study):
        s.optimize(lambda t: None, n_trials=2)  # type: ignore[arg-type, return-value]
        s.ask()
    frames = [s.trials_dataframe(("number", "value", "state")) for s in (ref, study)]
    assert list(frames[1]) == list(frames[0]) == ["number", "values_0", "values_1", "state"]
    assert frames[1]["values_0"].tolist() == frames[0]["values_0"].tolist() == [None] * 3


def test_load_study_without_a_name_and_summaries_without_best_trial(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "one.db").start()
    try:
        with pytest.raises(ValueError, match="exactly 1 study"):
            tp.load_study(study_name=None, storage=srv.endpoint)
        tp.create_study(study_name="only", storage=srv.endpoint).optimize(lambda t: 1.0, n_trials=1)
        assert tp.load_study(study_name=None, storage=srv.endpoint).study_name == "only"  # as Optuna
        assert [s.best_trial is None for s in tp.get_all_study_summaries(srv.endpoint, include_best_trial=False)] == [True]
        assert [s.best_trial is None for s in tp.get_all_study_summaries(srv.endpoint)] == [False]
        tp.create_study(study_name="second", storage=srv.endpoint)
        with pytest.raises(ValueError, match=r"exactly 1 study\. Specify `study_name` from \['only', 'second'\]"):
            tp.load_study(study_name=None, storage=srv.endpoint)
    finally:
        srv.stop()


def test_best_value_says_when_every_complete_trial_is_infeasible(server: ServerProcess, name: str) -> None:
    study = _study(server, name)
    with pytest.raises(ValueError, match="has no COMPLETE trial yet"):
        study.best_value
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, constraints_func=lambda ft: [1.0])
    # Optuna: "No feasible trials are completed yet." (not "no COMPLETE trial": there are two)
    for attr in ("best_value", "best_params"):
        with pytest.raises(ValueError, match="no feasible COMPLETE trial yet"):
            getattr(study, attr)


def test_optuna_2_suggest_names_answer_with_a_future_warning_as_in_optuna(server: ServerProcess, name: str) -> None:
    # Optuna 5 still has suggest_uniform / suggest_loguniform / suggest_discrete_uniform (FutureWarning);
    # old tutorials use them, so a moved script must not stop with an AttributeError.
    study = _study(server, name)

    def objective(trial: tp.Trial) -> float:
        with pytest.warns(FutureWarning, match="suggest_uniform is deprecated"):
            u = trial.suggest_uniform("u", -1.0, 1.0)
        with pytest.warns(FutureWarning, match="suggest_float"):
            lg = trial.suggest_loguniform("lg", 1e-5, 1e-1)
        with pytest.warns(FutureWarning):
            q = trial.suggest_discrete_uniform("q", 0.0, 1.0, 0.25)
        assert -1 <= u <= 1 and 1e-5 <= lg <= 1e-1 and q in (0.0, 0.25, 0.5, 0.75, 1.0)
        return u

    study.optimize(objective, n_trials=3)
    dists = study.trials[0].distributions
    assert dists["lg"] == tp.Float(1e-5, 1e-1, log=True) and dists["q"] == tp.Float(0.0, 1.0, step=0.25)
    with pytest.warns(FutureWarning):  # a FrozenTrial answers with its stored value, as Optuna's
        assert study.best_trial.suggest_uniform("u", -1.0, 1.0) == study.best_trial.params["u"]
