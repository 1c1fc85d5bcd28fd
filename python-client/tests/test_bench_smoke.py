"""Keeps bench/quality.py from rotting: its quick mode runs end to end and writes the documented JSON shape."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "dist" / "cli" / "main.js"


def test_quality_quick_writes_runs(tmp_path: Path) -> None:
    if not CLI.exists():
        pytest.fail("dist/ is missing: run `npm run build` (make test-py builds it)")
    out = tmp_path / "quality.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "quality.py"), "--quick", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)  # a hang guard only
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(out.read_text())
    runs = data["runs"]
    assert runs
    keys = {"problem", "optimizer", "seed", "budget", "best", "regret", "f_star"}
    for r in runs:
        assert keys <= set(r)
        assert r["regret"] >= 0
    seen = {(r["problem"], r["optimizer"], r["seed"], r["budget"], r.get("workers", 1)) for r in runs}
    assert len(seen) == len(runs), "one object per (problem, optimizer, seed, budget, workers)"
    optimizers = {r["optimizer"] for r in runs}
    assert {"tuneport-tpe", "tuneport-gp", "tuneport-auto", "optuna-tpe", "optuna-random"} <= optimizers
    # Sequential rows carry no `workers`; the simulated 4-worker rows do.
    assert {r.get("workers") for r in runs} == {None, 4}
    assert data["meta"]["mean_rank"]["1|40"] and data["meta"]["mean_rank"]["4|40"]
    # The noisy problem's regret is measured on the noiseless value, so it can be compared with f*.
    assert any(r["problem"] == "noisy-hartmann6" for r in runs)


def test_multiobjective_bench_writes_the_issue_rows(tmp_path: Path) -> None:
    """bench/multiobjective.py end to end on two small problems: the row shape issue 15 specifies."""
    if not CLI.exists():
        pytest.fail("dist/ is missing: run `npm run build` (make test-py builds it)")
    out = tmp_path / "mo.json"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "multiobjective.py"), "--seeds", "1", "--budgets", "20",
                           "--problems", "zdt1,binh_korn", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)  # a hang guard only
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())
    # The issue's fields, plus the suggestion time (``ask_s``) where the bench measured it.
    assert all({"budget", "hv_max", "hypervolume", "optimizer", "problem", "seed"} <= set(r) <= {"budget", "hv_max", "hypervolume", "optimizer", "problem", "seed", "ask_s"} for r in rows), rows[:3]
    assert {r["optimizer"] for r in rows} == {"tuneport-auto", "tuneport-tpe", "tuneport-nsga2", "tuneport-random", "optuna-nsgaii", "optuna-tpe", "optuna-random"}
    for r in rows:
        assert r["hypervolume"] >= 0
        if r["problem"] == "zdt1":
            assert 0 < r["hypervolume"] <= r["hv_max"]  # no run beats the true front
        else:
            assert r["hv_max"] is None
