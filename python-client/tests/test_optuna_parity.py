"""bench/optuna_parity.py runs the same user code with Optuna 5.0 (in memory) and with tuneport against a
real server, and compares what the code observes. Run with ``--strict`` it fails on any difference that
python-client/README.md ("Coming from Optuna") does not state; the test also pins the observations the
audit was written for, so that a case dropped from the script cannot pass silently."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "bench" / "optuna_parity.py"

# Observations each library must make alike: Optuna's loop rules, its errors of misuse, its objects.
MUST_BE_SAME = (
    "optimize.callbacks", "optimize.twice", "optimize.timeout_0", "optimize.timeout_past", "optimize.n_jobs_2",
    "optimize.n_jobs_raises", "optimize.n_trials_negative", "optimize.timeout_negative", "catch.tuple", "catch.class",
    "catch.list", "catch.uncaught", "catch.exception_class", "best.trial", "best.value", "best.params", "best.trials",
    "tell.twice", "tell.twice_number", "tell.nan", "tell.wrong_length", "tell.multi_wrong_length", "tell.unknown_number",
    "suggest.other_kind", "suggest.low_gt_high", "suggest.int_step_positional", "stop.outside", "stop.in_objective",
    "frozen.field_types", "trials.numbers", "dataframe.multi_columns", "dataframe.attrs", "pruned.value_optimize",
    "multi.best", "live.nested_optimize", "frozen.naive_datetimes", "log.trial_lines", "sampler.random", "params.order", "live.copies",
)


def test_an_optuna_script_observes_only_the_documented_differences(server: ServerProcess, tmp_path: Path) -> None:
    pytest.importorskip("optuna")
    pytest.importorskip("pandas")
    out = tmp_path / "parity.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python-client" / "src")}
    proc = subprocess.run([sys.executable, str(SCRIPT), "--endpoint", server.endpoint, "--strict", "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    rows = {row["key"]: row for row in json.loads(out.read_text())}
    assert not [k for k, r in rows.items() if r["status"] == "NEW"]
    missing = [k for k in MUST_BE_SAME if k not in rows]
    assert not missing, missing
    differ = {k: (rows[k]["optuna"], rows[k]["tuneport"]) for k in MUST_BE_SAME if rows[k]["status"] != "same"}
    assert not differ, differ
    # Each difference kept on purpose is stated where a porting user reads.
    readme = (ROOT / "python-client" / "README.md").read_text()
    assert "## Coming from Optuna" in readme and "bench/optuna_parity.py" in readme


def test_a_spent_budget_runs_no_trial_as_in_optuna(server: ServerProcess) -> None:
    """`n_trials=100 - len(study.trials)` or `timeout=deadline - time.time()` can come out negative:
    Optuna then runs no trial and returns; tuneport raised ValueError. A NaN timeout, which would
    never end the loop, is still refused."""
    study = tp.create_study(study_name=f"spent-{uuid.uuid4().hex[:8]}", storage=server.endpoint)
    ran: list[int] = []

    def objective(trial: tp.Trial) -> float:
        ran.append(trial.number)
        return 1.0

    study.optimize(objective, n_trials=-3)
    study.optimize(objective, timeout=-0.5)
    study.optimize(objective, n_trials=5, timeout=-0.5, n_jobs=2)
    assert ran == [] and study.trials == []
    with pytest.raises(ValueError, match="NaN"):
        study.optimize(objective, n_trials=1, timeout=math.nan)
    study.optimize(objective, n_trials=1)
    assert ran == [0]


def test_a_numeric_string_fails_a_told_trial_as_it_fails_an_optimized_one(server: ServerProcess) -> None:
    """``study.tell(trial, "1.5")`` completed the trial with 1.5 while ``optimize`` fails an objective
    that returns "1.5" (Optuna 5.0 raises from both and leaves the trial RUNNING); now both fail it
    with Optuna's warning for a value that is not a number, as for "abc"."""
    study = tp.create_study(study_name=f"str-{uuid.uuid4().hex[:8]}", storage=server.endpoint)
    trial = study.ask()
    with pytest.warns(UserWarning, match="could not be cast to float"):
        told = study.tell(trial, "1.5")  # type: ignore[arg-type]
    assert told.state == "FAIL" and told.value is None
    assert study.trials[0].state == "FAIL"
    trial = study.ask()
    with pytest.raises(tp.InvalidArgumentError, match="could not be cast"):
        study.tell(trial, b"2", state="COMPLETE")
    assert study.trials[1].state == "RUNNING"
    study.tell(trial, [2.0])
    assert study.trials[1].value == 2.0


@pytest.mark.parametrize("directions", [["minimize"], ["minimize", "maximize"]], ids=["one", "two"])
def test_a_numpy_array_fails_a_told_trial_as_it_fails_an_optimized_one(server: ServerProcess, directions: list[Any]) -> None:
    """``study.tell(trial, np.array([x]))`` completed the trial with x (and an array of two values a
    two-objective one) while ``optimize`` failed an objective returning the one-element array. Optuna
    5.0 reads only a list or tuple as one value per objective: a numpy array is one value, which
    ``float()`` refuses (numpy 2), so both its paths fail the trial with its warning, for one objective
    or several. Now tuneport's do so too; a 0-d array is a number in both."""
    np = pytest.importorskip("numpy")
    study = tp.create_study(study_name=f"np-{uuid.uuid4().hex[:8]}", storage=server.endpoint, directions=directions)
    given = np.array([1.0] * len(directions))
    trial = study.ask()
    with pytest.warns(UserWarning, match="could not be cast to float"):
        told = study.tell(trial, given)
    assert told.state == "FAIL" and told.values is None, told
    trial = study.ask()
    with pytest.warns(UserWarning, match="could not be cast to float"):
        told = study.tell(trial, values=given)  # Optuna's keyword
    assert told.state == "FAIL", told
    trial = study.ask()
    with pytest.raises(tp.InvalidArgumentError, match="could not be cast"):
        study.tell(trial, given, state="COMPLETE")  # Optuna's ValueError; the trial stays RUNNING
    assert study.trials[-1].state == "RUNNING"
    study.tell(trial, [1.0] * len(directions))
    study.optimize(lambda t: given, n_trials=1)
    assert [t.state for t in study.trials] == ["FAIL", "FAIL", "COMPLETE", "FAIL"]
    if len(directions) == 1:
        study.optimize(lambda t: np.array(2.0), n_trials=1)  # 0-d: a number
        assert study.trials[-1].state == "COMPLETE" and study.trials[-1].value == 2.0
        assert study.tell(study.ask(), np.array(3.0)).value == 3.0


def test_an_enqueued_trials_params_follow_the_order_it_suggested_them(server: ServerProcess) -> None:
    """Optuna's ``params`` list a trial's parameters in the order it suggested them; a trial enqueued
    with another order read back in the enqueued dict's order, so ``list(study.best_params)`` (a
    report's columns) changed with how the queue was written."""
    study = tp.create_study(study_name=f"order-{uuid.uuid4().hex[:8]}", storage=server.endpoint)
    study.enqueue_trial({"m": 1, "z": 0.5, "unused": 3})
    assert list(study.trials[0].params) == ["m", "z", "unused"]  # WAITING: the enqueued values as given

    live: list[object] = []

    def objective(trial: tp.Trial) -> float:
        trial.suggest_float("z", 0, 1)
        trial.suggest_categorical("a", ["x", "y"])
        trial.suggest_int("m", 0, 3)
        # The running trial too (a config built from trial.params, Optuna's failure log line), and its
        # snapshot, which constraints_func gets: the enqueued value not suggested after the suggested ones.
        snapshot = trial.frozen()
        live.extend([list(trial.params), list(snapshot.params), list(snapshot.distributions)])
        return 1.0

    seen: list[object] = []

    def constraints(t: tp.FrozenTrial) -> list[float]:
        seen.extend([list(t.params), list(t.distributions)])
        return [0.0]

    study.optimize(objective, n_trials=1, constraints_func=constraints)
    assert live == [["z", "a", "m", "unused"], ["z", "a", "m", "unused"], ["z", "a", "m"]]
    assert seen == [["z", "a", "m", "unused"], ["z", "a", "m"]]
    told = study.trials[0]
    assert list(told.params) == list(told.distributions) == ["z", "a", "m"]
    assert list(study.best_params) == ["z", "a", "m"] and told.params["m"] == 1 and told.params["z"] == 0.5


def test_a_live_trials_params_and_attributes_are_copies_as_in_optuna(server: ServerProcess) -> None:
    """Optuna's ``Trial.params``, ``distributions`` and ``user_attrs`` are copies; tuneport's were the
    trial's own dicts, so ``cfg = trial.params; cfg["epochs"] = 10`` (a config built from the params)
    added ``epochs`` to the trial's params."""
    study = tp.create_study(study_name=f"copies-{uuid.uuid4().hex[:8]}", storage=server.endpoint)
    trial = study.ask()
    x = trial.suggest_float("x", 0, 1)
    trial.set_user_attr("notes", {"seen": [1]})
    cfg, dists, attrs = trial.params, trial.distributions, trial.user_attrs
    cfg["epochs"], cfg["x"] = 10, 99.0
    dists["epochs"] = dists["x"]
    attrs["notes"]["seen"].append(2)
    attrs["extra"] = True
    assert trial.params == {"x": x} and list(trial.distributions) == ["x"]
    assert trial.user_attrs == {"notes": {"seen": [1]}}
    assert trial.suggest_float("x", 0, 1) == x  # a repeat returns the first value
    told = study.tell(trial, 1.0)
    assert told.params == {"x": x} and told.user_attrs == {"notes": {"seen": [1]}}
