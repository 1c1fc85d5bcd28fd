"""Optuna's names and behaviour where the two APIs overlap (issue 13 §2, §3), against a real server."""

from __future__ import annotations

import gc
import logging
import math
import sys
import threading
from typing import Any

import optuna
import pandas as pd
import pytest

import tuneport as tp
from conftest import ServerProcess, free_port

SPACE = {"x": tp.Float(0.0, 1.0), "k": tp.Int(1, 3)}


def test_report_takes_the_value_first_as_in_optuna(client: tp.Client, name: str) -> None:
    """A rising metric (accuracy) used to be stored with the epochs as values."""
    study = client.create_study(name, direction="maximize", space=SPACE)
    with study.ask() as trial:
        for epoch, accuracy in enumerate([0.8, 0.85, 0.9]):
            trial.report(accuracy, epoch)
        trial.complete(0.9)
    assert study.trial(trial.number).intermediate == [(0.0, 0.8), (1.0, 0.85), (2.0, 0.9)]
    assert study.trial(trial.number).intermediate_values == {0: 0.8, 1: 0.85, 2: 0.9}


def test_should_prune_is_a_method(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE, scheduler={"name": "threshold", "options": {"upper": 1.0}})
    with study.ask() as trial:
        trial.report(0.5, 0, raise_on_prune=False)
        assert trial.should_prune() is False
        trial.report(2.0, 1, raise_on_prune=False)
        assert trial.should_prune() is True
        raise tp.TrialPruned()
    assert study.trial(trial.number).state == "PRUNED"


def test_user_attrs_best_params_and_best_value(client: tp.Client, name: str) -> None:
    study = client.create_study(name, direction="maximize", space=SPACE)
    with pytest.raises(ValueError, match="no COMPLETE trial"):
        study.best_value
    with pytest.raises(ValueError, match="no COMPLETE trial"):
        study.best_params
    for value in (0.25, 0.75, 0.5):
        with study.ask() as trial:
            trial.set_user_attr("accuracy", value)
            trial.set_user_attr("notes", {"epochs": 3})
            trial.complete(value)
    study.set_user_attr("dataset", "digits")
    best = study.best_trial
    assert best is not None
    assert study.best_value == 0.75 and study.best_params == best.params
    assert best.user_attrs == {"accuracy": 0.75, "notes": {"epochs": 3}}
    assert study.summary().user_attrs == {"dataset": "digits"}


def test_trials_and_get_trials_as_in_optuna(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    study.enqueue_trial({"x": 0.5, "k": 2}, user_attrs={"source": "me"})
    for value in (0.5, 0.25):
        with study.ask() as trial:
            trial.complete(value)
    with study.ask() as trial:
        trial.fail("boom")
    assert len(study.trials) == 3
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert study.trials[0].params == {"x": 0.5, "k": 2} and study.trials[0].user_attrs == {"source": "me"}
    assert [t.value for t in study.get_trials(states=["COMPLETE"], order_by="value")] == [0.25, 0.5]
    assert [t.state for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))] == ["FAIL"]
    assert study.trials == study.get_trials() and len(study.get_trials(limit=1, offset=1)) == 1


def test_trials_dataframe_has_optunas_columns(client: tp.Client, name: str) -> None:
    """The same three trials in tuneport and in an Optuna in-memory study give the same columns."""
    rows = [({"x": 0.5, "k": 2}, 0.5), ({"x": 0.25, "k": 1}, 0.25), ({"x": 0.75, "k": 3}, None)]
    study = client.create_study(name, space=SPACE)
    ostudy = optuna.create_study()
    for params, value in rows:
        study.enqueue_trial(params)
        ostudy.enqueue_trial(params)
        with study.ask() as trial:
            trial.set_user_attr("fold", 1)
            trial.complete(value) if value is not None else trial.prune()
        otrial = ostudy.ask({"x": optuna.distributions.FloatDistribution(0, 1), "k": optuna.distributions.IntDistribution(1, 3)})
        otrial.set_user_attr("fold", 1)
        ostudy.tell(otrial, value, state=None if value is not None else optuna.trial.TrialState.PRUNED)
    attrs = ("number", "value", "datetime_start", "datetime_complete", "duration", "params", "user_attrs", "state")
    df, odf = study.trials_dataframe(attrs=attrs), ostudy.trials_dataframe(attrs=attrs)
    assert list(df.columns) == list(odf.columns)
    for col in ("number", "params_x", "params_k", "user_attrs_fold", "state"):
        assert df[col].tolist() == odf[col].tolist(), col
    assert df["value"].tolist()[:2] == [0.5, 0.25]  # a PRUNED trial's value is its last report (none here)
    assert math.isnan(df["value"].tolist()[2]) and math.isnan(odf["value"].tolist()[2])
    assert pd.api.types.is_datetime64_any_dtype(df["datetime_start"]) and pd.api.types.is_timedelta64_dtype(df["duration"])
    multi = study.trials_dataframe(attrs=("number", "params"), multi_index=True)
    assert list(multi.columns) == [("number", ""), ("params", "k"), ("params", "x")]
    assert "system_attrs_retry_count" not in study.trials_dataframe().columns  # no such attribute, no column
    assert client.create_study(f"{name}-empty").trials_dataframe().empty


def test_trials_dataframe_without_pandas_names_what_to_install(client: tp.Client, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    study = client.create_study(name, space=SPACE)
    with study.ask() as trial:
        trial.complete(1.0)
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now raises ImportError
    with pytest.raises(ImportError, match=r"pip install pandas"):
        study.trials_dataframe()


def test_optimize_with_callbacks_catch_gc_and_the_optuna_log_line(
    client: tp.Client, name: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = client.create_study(name, direction="minimize", space=SPACE, seed=3)
    seen: list[tuple[int, str]] = []
    collected: list[int] = []
    real_collect = gc.collect

    def counting_collect(*args: Any) -> int:
        collected.append(1)
        return real_collect(*args)

    monkeypatch.setattr(gc, "collect", counting_collect)

    def objective(trial: tp.Trial) -> float:
        if trial.number == 1:
            raise KeyError("caught")
        if trial.number == 2:
            raise tp.TrialPruned()
        return float(trial.params["x"])  # type: ignore[arg-type]

    caplog.set_level(logging.INFO, logger="tuneport")
    study.optimize(objective, n_trials=4, catch=KeyError, callbacks=[lambda s, t: seen.append((t.number, t.state))], gc_after_trial=True)
    assert seen == [(0, "COMPLETE"), (1, "FAIL"), (2, "PRUNED"), (3, "COMPLETE")]
    assert len(collected) == 4
    best = study.best_trial
    assert best is not None
    lines = [r.getMessage() for r in caplog.records]
    t3 = study.trial(3)
    assert f"Trial 3 finished with value: {t3.value} and parameters: {t3.params}. Best is trial {best.number} with value: {best.value}." in lines
    assert any(m.startswith("Trial 1 failed with parameters: ") and "KeyError('caught')" in m for m in lines)
    assert "Trial 2 pruned." in lines
    with pytest.raises(ZeroDivisionError):  # outside `catch`: the trial fails and the error propagates
        study.optimize(lambda t: 1 / 0, n_trials=3)
    assert study.trial(4).state == "FAIL" and len(study.trials) == 5


def test_optimize_timeout_and_n_jobs(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    study.optimize(lambda t: 1.0, n_trials=5, timeout=0)  # no trial starts once the timeout has passed
    assert len(study.trials) == 0
    both_running = threading.Barrier(2, timeout=60)

    def objective(trial: tp.Trial) -> float:
        if trial.number < 2:
            both_running.wait()  # passes only if two trials run at the same time
        return float(trial.params["x"])  # type: ignore[arg-type]

    study.optimize(objective, n_trials=7, n_jobs=2)
    assert len(study.get_trials(states=["COMPLETE"])) == 7 and len(study.trials) == 7


def test_stop_ends_this_loop_after_the_running_trial(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    with pytest.raises(RuntimeError, match="call it from the objective or a callback"):
        study.stop()

    def stop_at_two(s: tp.Study, t: tp.FrozenTrial) -> None:
        if t.number == 1:
            s.stop()

    study.optimize(lambda t: 1.0, n_trials=10, callbacks=[stop_at_two])
    assert len(study.trials) == 2
    study.optimize(lambda t: 1.0, n_trials=1)  # a new loop is not stopped by the old stop()
    assert len(study.trials) == 3
    for trial in study.ask_many(10):
        with trial:
            trial.complete(1.0)
        study.stop()
    assert len(study.trials) == 4


def test_progress_bar_with_tqdm_and_plain_text_without(
    client: tp.Client, name: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    study = client.create_study(name, space=SPACE)
    study.optimize(lambda t: 0.5, n_trials=3, show_progress_bar=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "best 0.5 (trial 0)" in err  # tqdm's counter and our postfix
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    study.optimize(lambda t: 0.25, n_trials=2, show_progress_bar=True)
    lines = capsys.readouterr().err.splitlines()
    assert [ln.split(" | ")[0] for ln in lines] == ["[1/2] trial 3 COMPLETE value=0.25", "[2/2] trial 4 COMPLETE value=0.25"]
    assert lines[-1].split(" | ")[1] == "best 0.25 (trial 3)"


def test_print_best_trial_is_one_short_line(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    with study.ask() as trial:
        for step in range(300):
            trial.report(1.0 / (step + 1), step)
        trial.set_user_attr("note", "x" * 2000)
        trial.complete(0.01)
    text = str(study.best_trial)
    assert "\n" not in text and len(text) < 1000
    assert f"FrozenTrial(number={trial.number}, state=COMPLETE, value=0.01, params=" in text
    assert "intermediate=300 (last: step 299 -> " in text


def test_module_level_create_and_load_study_like_optuna(server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEPORT_ENDPOINT", server.endpoint)
    study = tp.create_study(study_name=name, direction="maximize", space=SPACE)
    study.optimize(lambda t: float(t.params["x"]), n_trials=2)  # type: ignore[arg-type]
    loaded = tp.load_study(study_name=name, storage=server.endpoint)
    assert loaded.client is study.client  # one shared client per endpoint
    assert len(loaded.trials) == 2 and loaded.direction == "maximize"
    anonymous = tp.create_study()
    assert anonymous.name.startswith("no-name-")
    with pytest.raises(tp.InvalidArgumentError, match="add the scheme"):
        tp.create_study(storage="127.0.0.1:5555")


def test_load_if_exists_lists_every_difference(client: tp.Client, name: str) -> None:
    client.create_study(name, space=SPACE, strategy="tpe", scheduler="median")
    with pytest.raises(tp.InvalidArgumentError, match="exists with other settings") as caught:
        client.create_study(name, space={"x": tp.Float(0.0, 2.0)}, strategy="random", scheduler="median", load_if_exists=True)
    fields = [d["field"] for d in caught.value.data["differences"]]
    assert fields == ["space.k", "space.x", "strategy"]
    assert client.create_study(name, space=SPACE, strategy="tpe", load_if_exists=True).strategy["name"] == "tpe"


def test_grid_over_a_continuous_float_is_refused_at_creation(client: tp.Client, name: str) -> None:
    with pytest.raises(tp.InvalidArgumentError, match="'x' is a continuous float; give it a step"):
        client.create_study(name, strategy="grid", space={"x": tp.Float(0.0, 1.0)})
    with pytest.raises(tp.NotFoundError):
        client.load_study(name)


def test_studies_stopped_on_the_server_end_loops_quietly_fake(caplog: pytest.LogCaptureFixture) -> None:
    """The client side of STUDY_STOPPED with a scripted server (the real one: test_study_budget.py)."""
    from conftest import FakeServer, err, ok
    from test_fake_server import STUDY_VIEW, TRIAL_VIEW

    asked: list[int] = []

    def handler(msg: dict[str, Any]) -> dict[str, Any]:
        if msg["op"] == "get_study":
            return ok(msg, {"study": STUDY_VIEW})
        if msg["op"] == "ask":
            if len(asked) == 2:
                e = err(msg, "STUDY_STOPPED", "study 's' reached max_trials (2)")
                e["error"]["data"] = {"study": "s", "reason": "max_trials"}
                return e
            asked.append(1)
            view = dict(TRIAL_VIEW, number=len(asked) - 1)
            return ok(msg, {"study": "s", "trial": view, "lease": {"token": "t", "expires_at": 1e10, "ttl_s": 30}})
        if msg["op"] == "tell":
            return ok(msg, {"trial": dict(TRIAL_VIEW, number=msg["trial"], state=msg["state"], value=msg.get("value"))})
        if msg["op"] == "stop_study":
            return ok(msg, {"study": STUDY_VIEW})
        return err(msg, "UNKNOWN_OP", msg["op"])

    caplog.set_level(logging.INFO, logger="tuneport")
    with FakeServer(handler) as fake, tp.connect(fake.endpoint, heartbeat=False) as client:
        study = client.load_study("s")
        study.optimize(lambda t: 0.5, n_trials=10)  # ends after two trials, no exception
        assert len(asked) == 2
        with pytest.raises(tp.StudyStopped) as caught:
            study.ask()
        assert caught.value.data == {"study": "s", "reason": "max_trials"} and caught.value.retry == "give-up"
        assert list(study.ask_many(5)) == []
        study.stop(all_workers=True)  # allowed outside a loop: it stops the study on the server
        assert fake.received[-1]["op"] == "stop_study" and fake.received[-1]["study"] == "s"
    assert any("hands out no more trials: its max_trials budget is spent" in r.getMessage() for r in caplog.records)


def test_module_level_storage_takes_several_endpoints(server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Servers sharing one PostgreSQL database (docs/SCALING.md): ``storage=[...]`` and a comma-separated
    ``$TUNEPORT_ENDPOINT`` give a client that fails over between them; a list was refused as "not a string"."""
    other = f"tcp://127.0.0.1:{free_port()}"  # nothing there: the client starts with the first
    study = tp.create_study(study_name=name, storage=[server.endpoint, other])
    assert study.client._endpoints.all == [server.endpoint, other]
    monkeypatch.setenv("TUNEPORT_ENDPOINT", f"{server.endpoint},{other}")
    loaded = tp.load_study(study_name=name)
    assert loaded.client is study.client  # the same endpoints, the same shared client
    assert name in tp.get_all_study_names(storage=f"{server.endpoint}, {other}")
    with pytest.raises(tp.InvalidArgumentError, match="add the scheme"):
        tp.load_study(study_name=name, storage=[server.endpoint, "127.0.0.1:5555"])
