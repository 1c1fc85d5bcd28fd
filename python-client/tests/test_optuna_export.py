"""``tuneport export --format optuna``: Optuna 5.0 opens the journal with the same trials, params,
values, states, intermediate values and user attributes, and can carry on optimizing it."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend

import tuneport as tp

from conftest import SERVER_MAIN, ServerProcess


def _report(client: tp.Client, trial: tp.Trial, step: float, value: float) -> None:
    # The raw op, so this test does not depend on the argument order of Trial.report.
    client.call("report", study=trial.study.name, trial=trial.number, token=trial.lease.token, step=step, value=value)


def _populate(client: tp.Client, name: str) -> tp.Study:
    space = {
        "lr": tp.Float(1e-5, 1e-1, log=True),
        "layers": tp.Int(1, 7, step=2),
        "act": tp.Categorical(["relu", "gelu", None, 3]),
        "wd": tp.Float(0.0, 1.0, step=0.25),
    }
    study = client.create_study(name, direction="maximize", strategy="random", space=space, seed=7, user_attrs={"owner": "me", "n": 3})
    study.enqueue({"lr": 1e-3, "layers": 3, "act": "gelu", "wd": 0.5}, user_attrs={"why": "a hunch"})
    for i, trial in enumerate(study.ask_many(12)):
        lr = trial.params["lr"]
        assert isinstance(lr, float)
        if i % 3 == 0:
            trial.suggest_float("dropout", 0.0, 0.5)  # define-by-run: only some trials have it
        for step in range(4):
            _report(client, trial, step, math.log10(lr) + step)
        if i == 5:
            _report(client, trial, 4.5, 1.0)  # a step Optuna cannot hold
            _report(client, trial, 5, float("nan"))  # a diverged run
        if i % 4 == 1:
            trial.prune()
        elif i == 6:
            trial.fail("out of memory")
        else:
            trial.complete(-((math.log10(lr) + 3) ** 2), user_attrs={"epoch_s": 1.5 * i, "tags": ["a", i]})
    study.enqueue({"lr": 1e-2, "layers": 1, "act": None, "wd": 0.0})  # stays WAITING
    return study


def _export(server: ServerProcess, name: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(SERVER_MAIN), "export", name, "--storage", str(server.db), "--format", "optuna", "--out", str(out)],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip


def _same_float(a: Any, b: Any) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return bool(a == b) or (isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-12))


def test_optuna_opens_the_export_with_the_same_trials(server: ServerProcess, client: tp.Client, name: str, tmp_path: Path) -> None:
    _populate(client, name)
    journal = tmp_path / "journal.log"
    run = _export(server, name, journal)
    assert "1 intermediate values at non-integer steps" in run.stderr

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    ostudy = optuna.load_study(study_name=name, storage=storage)
    assert ostudy.direction == optuna.study.StudyDirection.MAXIMIZE
    assert ostudy.user_attrs == {"owner": "me", "n": 3}
    config = storage.get_study_system_attrs(storage.get_study_id_from_name(name))["tuneport:config"]
    assert config["strategy"]["name"] == "random" and config["seed"] == 7

    ours = client.call("trials", study=name, limit=1000)["trials"]
    theirs = ostudy.get_trials(deepcopy=False)
    assert [t.number for t in theirs] == [t["number"] for t in ours] == list(range(13))
    for mine, other in zip(ours, theirs):
        where = f"trial {mine['number']}"
        assert other.state.name == mine["state"], where
        assert other.user_attrs == mine["user_attrs"], where
        if mine["state"] == "WAITING":
            # Written as Optuna's enqueue_trial writes it: Optuna evaluates it next.
            assert other.params == {} and other.system_attrs["fixed_params"] == mine["params"], where
            continue
        assert set(other.params) == set(mine["params"]), where
        for k, v in mine["params"].items():
            assert _same_float(other.params[k], v), (where, k, other.params[k], v)
        assert set(other.distributions) == set(mine["distributions"]), where
        assert other.value == (None if mine["state"] == "FAIL" else mine["value"]), where
        integer_steps = {int(s): v for s, v in mine["intermediate"] if float(s).is_integer()}
        assert set(other.intermediate_values) == set(integer_steps), where
        for s, v in integer_steps.items():
            assert _same_float(other.intermediate_values[s], v), (where, s)
        assert other.datetime_start is not None and mine["started_at"] is not None
        assert other.datetime_start.timestamp() == pytest.approx(mine["started_at"], abs=1e-3), where
        assert other.datetime_complete is not None and mine["finished_at"] is not None
        assert other.datetime_complete.timestamp() == pytest.approx(mine["finished_at"], abs=1e-3), where

    failed = next(t for t in theirs if t.state == optuna.trial.TrialState.FAIL)
    assert failed.system_attrs["fail_reason"] == "out of memory"
    assert [s for s, _ in theirs[5].system_attrs["tuneport:intermediate"]] == [0, 1, 2, 3, 4.5, 5]
    assert math.isnan(theirs[5].intermediate_values[5])
    assert ostudy.best_trial.number == client.call("best", study=name)["trial"]["number"]
    dist = theirs[1].distributions
    assert dist["lr"] == optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True)
    assert dist["layers"] == optuna.distributions.IntDistribution(1, 7, step=2)
    assert dist["act"] == optuna.distributions.CategoricalDistribution(["relu", "gelu", None, 3])
    assert dist["wd"] == optuna.distributions.FloatDistribution(0.0, 1.0, step=0.25)


def test_optuna_carries_on_optimizing_the_export(server: ServerProcess, client: tp.Client, name: str, tmp_path: Path) -> None:
    _populate(client, name)
    journal = tmp_path / "journal.log"
    _export(server, name, journal)
    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    ostudy = optuna.load_study(study_name=name, storage=storage, sampler=optuna.samplers.TPESampler(seed=0))
    seen: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
        trial.suggest_int("layers", 1, 7, step=2)
        trial.suggest_categorical("act", ["relu", "gelu", None, 3])
        trial.suggest_float("wd", 0.0, 1.0, step=0.25)
        seen.append(dict(trial.params))
        return -((math.log10(lr) + 3) ** 2)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ostudy.optimize(objective, n_trials=3)
    # The trial left WAITING in tuneport is Optuna's enqueued trial: evaluated first, with its params.
    assert seen[0] == {"lr": 1e-2, "layers": 1, "act": None, "wd": 0.0}
    assert len(ostudy.trials) == 15


def test_optuna_opens_a_multi_objective_constrained_export_with_its_values_and_front(
    server: ServerProcess, client: tp.Client, name: str, tmp_path: Path
) -> None:
    # Two objectives and one constraint (c <= 0 feasible): Optuna needs both directions, each
    # trial's values and its constraint to find the same front.
    study = client.create_study(name, directions=["maximize", "minimize"], strategy="random", space={"x": tp.Float(0.0, 1.0)}, seed=3)
    for trial in study.ask_many(10):
        x = trial.params["x"]
        assert isinstance(x, float)
        trial.complete([x, (1 - x) ** 2 + 0.1], constraints=[x - 0.7])
    _export(server, name, tmp_path / "journal.log")

    ostudy = optuna.load_study(study_name=name, storage=optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "journal.log"))))
    assert ostudy.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    ours = client.call("trials", study=name, limit=1000)["trials"]
    for mine, other in zip(ours, ostudy.trials):
        assert other.values == mine["values"]
        assert other.constraints == {"0": mine["constraints"][0]}
    front = sorted(t["number"] for t in client.call("best_trials", study=name)["trials"])
    assert sorted(t.number for t in ostudy.best_trials) == front
    assert all(t.params["x"] <= 0.7 for t in ostudy.best_trials)
