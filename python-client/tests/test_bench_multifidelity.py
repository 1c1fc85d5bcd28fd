"""`bench/multifidelity.py --quick` runs end to end (real server, Optuna, PyTorch) and writes the results shape."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import tuneport as tp
from conftest import REPO

QUICK = {"tuneport-asha", "tuneport-asha-promotion", "tuneport-median", "optuna-sha", "random-full"}


def test_multifidelity_quick(tmp_path: Path) -> None:
    out = tmp_path / "multifidelity.json"
    # The timeout only catches a hang; how long the quick mode takes is the benchmark's business.
    proc = subprocess.run([sys.executable, "bench/multifidelity.py", "--quick", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    saved = json.loads(out.read_text())
    runs = saved["runs"]
    for r in runs:
        assert {"problem", "optimizer", "seed", "steps", "best"} <= set(r)
        assert isinstance(r["steps"], int) and r["steps"] >= 0
        assert r["best"] is None or math.isfinite(r["best"])
    for problem in ("learning-curve", "diverge", "digits"):
        assert {r["optimizer"] for r in runs if r["problem"] == problem} == QUICK
    asynchronous = [r for r in runs if r["problem"] == "learning-curve-async8"]
    assert {r["optimizer"] for r in asynchronous} == {"tuneport-asha", "tuneport-hyperband", "hyperband-sync", "random-full"}
    assert all("time" in r for r in asynchronous)
    # Each run's curve is an anytime curve: steps never go back and the best never gets worse.
    curves: dict[tuple[str, str, int], list[dict[str, object]]] = {}
    for r in runs:
        curves.setdefault((r["problem"], r["optimizer"], r["seed"]), []).append(r)
    for pts in curves.values():
        steps = [int(str(p["steps"])) for p in pts]
        bests = [float(str(p["best"])) for p in pts if p["best"] is not None]
        assert steps == sorted(steps) and bests == sorted(bests, reverse=True)
    # Every tuneport run recorded its trials; no default-strategy run repeated a configuration.
    stats = saved["meta"]["run_stats"]
    assert {(s["problem"], s["optimizer"]) for s in stats} == {(p, o) for p in ("learning-curve", "diverge", "digits")
                                                              for o in QUICK if o.startswith("tuneport")}
    assert all(s["trials"] > 0 and s["repeats"] == 0 for s in stats)


def test_run_tuneport_stops_a_pruned_trial(client: tp.Client) -> None:
    # report() outside `with trial:` returns a prune decision instead of raising (Optuna's
    # semantics); the bench once waited for TrialPruned there, so its ASHA and median runs trained
    # every trial to the end, as random search does, and no test noticed.
    sys.path.insert(0, str(REPO / "bench"))
    import multifidelity as mf  # type: ignore[import-not-found]
    from mf_problems import CURVE_TASKS  # type: ignore[import-not-found]

    mf.TUNEPORT["test-threshold"] = ({"name": "random", "options": {}}, "threshold", {"upper": -1e9})  # prunes every report
    stats: list[dict[str, object]] = []
    mf.run_tuneport(client, CURVE_TASKS["learning-curve"](), "test-threshold", 0, 20, stats)
    assert stats[0]["trials"] == 20 and stats[0]["counts"] == {"PRUNED": 20}, stats
