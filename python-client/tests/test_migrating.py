"""docs/MIGRATING-FROM-OPTUNA.md: three Optuna scripts ported by changing two lines (issue 13 §2).

Each ``optuna:NAME`` block runs with Optuna 5.0, each ``tuneport:NAME`` block against a real
server, and the two may differ only in the import and the ``create_study`` line."""

from __future__ import annotations

import difflib
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tuneport as tp
from conftest import REPO, ServerProcess

GUIDE = REPO / "docs" / "MIGRATING-FROM-OPTUNA.md"
NAMES = ("wine-classifier", "digits-pruning", "enqueue-attrs")


def blocks() -> dict[str, str]:
    found = dict(re.findall(r"^```python ((?:optuna|tuneport):[\w-]+)\n(.*?)^```$", GUIDE.read_text(), re.S | re.M))
    assert set(found) == {f"{side}:{n}" for n in NAMES for side in ("optuna", "tuneport")}, sorted(found)
    return found


def run_script(code: str, tmp_path: Path, env: dict[str, str]) -> str:
    script = tmp_path / "script.py"
    script.write_text(code)
    proc = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600, env={**os.environ, **env}
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


@pytest.mark.parametrize("name", NAMES)
def test_the_port_changes_only_the_import_and_the_create_study_line(name: str) -> None:
    src, dst = blocks()[f"optuna:{name}"].splitlines(), blocks()[f"tuneport:{name}"].splitlines()
    changed = [line for line in difflib.ndiff(src, dst) if line[:1] in "+-"]
    assert len(changed) == 4, "\n".join(changed)
    assert changed[0] == "- import optuna" and changed[1] == "+ import tuneport as optuna"
    assert all(".create_study(" in line for line in changed[2:]), changed


@pytest.mark.parametrize("name", NAMES)
def test_the_optuna_half_runs_with_optuna(name: str, tmp_path: Path) -> None:
    out = run_script(blocks()[f"optuna:{name}"], tmp_path, {})
    assert "best" in out


def test_sklearn_define_by_run_stores_the_conditional_parameters(server: ServerProcess, tmp_path: Path) -> None:
    out = run_script(blocks()["tuneport:wine-classifier"], tmp_path, {"TUNEPORT_ENDPOINT": server.endpoint})
    assert out.startswith("12 trials; best accuracy ")
    with tp.connect(server.endpoint) as client:
        trials = client.load_study("wine-classifier").trials
        assert len(trials) == 12 and all(t.state == "COMPLETE" for t in trials)
        kinds = set()
        for t in trials:
            kind = t.params["classifier"]
            kinds.add(kind)
            expected = {"svc": {"svc_c", "svc_gamma"}, "forest": {"forest_max_depth", "forest_n_estimators"}}[str(kind)]
            assert set(t.params) == {"classifier"} | expected, t.params
            assert t.value is not None and 0.0 < t.value <= 1.0  # a cross-validated accuracy
        assert kinds == {"svc", "forest"}  # both branches were explored


def test_pytorch_loop_reports_accuracies_and_prunes(server: ServerProcess, tmp_path: Path) -> None:
    out = run_script(blocks()["tuneport:digits-pruning"], tmp_path, {"TUNEPORT_ENDPOINT": server.endpoint})
    with tp.connect(server.endpoint) as client:
        trials = client.load_study("digits-pruning").trials
    assert len(trials) == 12
    states: list[str] = [t.state for t in trials]
    assert set(states) <= {"COMPLETE", "PRUNED"} and states.count("PRUNED") >= 1, states
    assert f"{states.count('PRUNED')} pruned; best accuracy" in out
    for t in trials:
        steps = [s for s, _ in t.intermediate]
        assert steps == list(range(len(steps))) and 1 <= len(steps) <= 5  # epochs as steps, from 0
        # Accuracies as values: with the old report(step, value) order they were the epochs.
        assert all(0.0 <= v <= 1.0 for _, v in t.intermediate), t.intermediate
        if t.state == "COMPLETE":
            assert len(steps) == 5 and t.value == t.intermediate[-1][1]
        else:
            assert t.system_attrs["pruned_at_step"] == steps[-1] and len(steps) < 5


def test_user_attrs_and_enqueued_trials_are_stored(server: ServerProcess, tmp_path: Path) -> None:
    out = run_script(blocks()["tuneport:enqueue-attrs"], tmp_path, {"TUNEPORT_ENDPOINT": server.endpoint})
    with tp.connect(server.endpoint) as client:
        study = client.load_study("enqueue-attrs")
        trials = study.trials
        assert study.summary().user_attrs == {"purpose": "the migration guide's third example"}
    assert len(trials) == 8
    assert trials[0].params == {"x": 0.0, "y": 0} and trials[0].user_attrs["source"] == "baseline"
    assert trials[1].params == {"x": 2.5, "y": -1} and trials[1].value == 0.25
    for t in trials:
        x, y = float(t.params["x"]), int(t.params["y"])  # type: ignore[arg-type]
        assert t.value is not None and math.isclose(t.value, (x - 2) ** 2 + (y + 1) ** 2)
        assert t.user_attrs["quadrant"] == ("+" if x >= 0 else "-") + ("+" if y >= 0 else "-")
        assert t.user_attrs["elapsed_s"] >= 0
    best = min(trials, key=lambda t: t.value if t.value is not None else math.inf)
    assert f"best trial {best.number}: " in out
