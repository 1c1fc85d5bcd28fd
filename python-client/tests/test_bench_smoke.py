"""Keeps bench/quality.py from rotting: its quick mode runs end to end and writes the documented JSON shape."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "dist" / "cli" / "main.js"


def test_holdout_functions_reach_zero_at_their_optimum_only() -> None:
    """The held-out problems (suite.HOLDOUT) state f* = 0: it holds at each function's optimum, for
    several seeds, and random points of the box are above it."""
    np = pytest.importorskip("numpy")
    sys.path.insert(0, str(ROOT / "bench"))
    suite: Any = importlib.import_module("suite")

    for seed in (0, 3):
        for p in suite.HOLDOUT:
            if p.f_star is None:
                continue
            d = len(p.space)
            rng = np.random.default_rng([seed, 29, d])
            xopt = rng.uniform(-3.5, 3.5, d)
            suite.rotation(rng, d), suite.rotation(rng, d)  # R and Q: the draws between x_opt and the signs
            signs = np.where(rng.uniform(size=d) < 0.5, -1.0, 1.0)
            # Styblinski-Tang is not rotated: its optimum is z = -2.903534 per coordinate, shifted.
            x = rng.uniform(-1.5, 1.5, d) + signs * -2.903534 if p.name.startswith("styblinski") else xopt
            obj = p.make(seed)
            at = obj({q.name: float(v) for q, v in zip(p.space, x)})[0]
            assert abs(at) < 1e-9, (p.name, seed, at)
            probe = np.random.default_rng(seed).uniform(-5, 5, (20, d))
            assert min(obj({q.name: float(v) for q, v in zip(p.space, row)})[0] for row in probe) > 1e-3, p.name


def test_quality_grid_holds_every_budget() -> None:
    """bench/quality.py sizes tuneport-grid so that a run of any suite budget is never cut short by an
    exhausted grid (a 4-D space with a 3-way categorical has 4³·3 = 192 points at 4 per float), and
    keeps the earlier ⌈n^(1/d)⌉ where that was enough."""
    pytest.importorskip("numpy")
    sys.path.insert(0, str(ROOT / "bench"))
    quality: Any = importlib.import_module("quality")
    suite: Any = importlib.import_module("suite")
    for p in suite.PROBLEMS + suite.HOLDOUT:
        finite, floats = quality.grid_shape(p)
        for n in (50, 100, 200):
            k = quality.grid_points_per_dim(p, n)
            before = max(2, math.ceil(n ** (1 / len(p.space))))
            assert k**floats * finite >= n, (p.name, n, k)
            assert k == before if before**floats * finite >= n else k > before, (p.name, n, k)
    svm = next(p for p in suite.PROBLEMS if p.name == "svm-cancer")
    assert quality.grid_shape(svm) == (3, 3)  # a 3-way categorical and three floats
    assert quality.grid_points_per_dim(svm, 100) == 4 and quality.grid_points_per_dim(svm, 200) == 5


def test_quality_merge_keeps_a_flat_list_of_earlier_commands() -> None:
    """Each --merge run used to nest the merged file's text inside its own, so the docs' one line grew
    with every run; now the commands are a list, and an old nested text is read back into one."""
    pytest.importorskip("numpy")
    sys.path.insert(0, str(ROOT / "bench"))
    quality: Any = importlib.import_module("quality")
    a, b, c = ("python bench/quality.py --par-seeds 5", "python bench/quality.py --analyse-only --merge",
               "python bench/quality.py --analyse-only --merge --merge-seeds --merge-from x.json")
    nested = {"command": c, "reduced": f"Reduced: 5 seeds. Run sets not in this command are kept from earlier runs ({b}; "
                                       f"Reduced: 4 seeds. Run sets not in this command are kept from earlier runs ({a}; Reduced: 3 seeds.).)."}
    assert quality.earlier_commands(nested) == [a, b, c]
    assert quality.earlier_commands({"command": c, "earlier_commands": [a, b], "reduced": "anything"}) == [a, b, c]
    assert quality.earlier_commands({"command": a, "reduced": ""}) == [a]


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
    """bench/multiobjective.py end to end on two small problems and the digits MLP task: the row shape
    issue 15 specifies, the recorded fronts and the front plots."""
    if not CLI.exists():
        pytest.fail("dist/ is missing: run `npm run build` (make test-py builds it)")
    out = tmp_path / "mo.json"
    fronts = tmp_path / "fronts.json"
    plots = tmp_path / "plots"
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "multiobjective.py"), "--seeds", "1", "--budgets", "12",
                           "--problems", "zdt1,binh_korn,digits_mlp", "--out", str(out), "--fronts", str(fronts), "--plot", str(plots)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)  # a hang guard only
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = json.loads(out.read_text())
    # The issue's fields, plus the suggestion time (``ask_s``) where the bench measured it.
    assert all({"budget", "hv_max", "hypervolume", "optimizer", "problem", "seed"} <= set(r) <= {"budget", "hv_max", "hypervolume", "optimizer", "problem", "seed", "ask_s"} for r in rows), rows[:3]
    assert {r["optimizer"] for r in rows} == {"tuneport-auto", "tuneport-tpe", "tuneport-nsga2", "tuneport-random", "optuna-nsgaii", "optuna-tpe", "optuna-random"}
    for r in rows:
        assert r["hypervolume"] >= 0
        if r["problem"] in ("zdt1", "binh_korn"):
            assert 0 < r["hypervolume"] <= r["hv_max"]  # no run beats the true front
        else:
            assert r["hv_max"] is None
        if r["problem"] == "digits_mlp":
            # Every network lies inside the reference point [1.0, 5.2]: a non-empty front has volume.
            assert 0 < r["hypervolume"] < 1.0 * (5.2 - 2.49)
    saved = json.loads(fronts.read_text())
    assert set(saved) == {f"{r['problem']}/{r['optimizer']}/{r['seed']}/{r['budget']}" for r in rows}
    for r in rows:
        front = saved[f"{r['problem']}/{r['optimizer']}/{r['seed']}/{r['budget']}"]
        assert r["hypervolume"] == 0 or front, r
        # A front: no point dominates another.
        assert not any(p != q and all(a <= b for a, b in zip(p, q)) for p in front for q in front)
    assert sorted(f.name for f in plots.iterdir()) == [f"multiobjective-{p}-12.png" for p in ("binh_korn", "digits_mlp", "zdt1")]


def test_multiobjective_held_out_problems_have_their_published_fronts() -> None:
    """The held-out problems' definitions: a Pareto-optimal x (distance variables at their optimum)
    lands on the front `true_front`/`hv_max_of` assume, no sampled point beats that front, and the
    analytic DTLZ2 volume agrees with the sampled three-objective front the suite uses."""
    import math
    import random

    mo = _bench_module("multiobjective")
    rng = random.Random(0)
    for _ in range(50):
        t, u = rng.random(), rng.random()
        f = mo.zdt4([t] + [0.0] * 9)[0]
        assert f == pytest.approx([t, 1 - math.sqrt(t)])
        f = mo.zdt6([t] + [0.0] * 9)[0]
        assert f[1] == pytest.approx(1 - f[0] ** 2)
        assert sum(mo.dtlz1([t, u] + [0.5] * 5)[0]) == pytest.approx(0.5)
        for m in (4, 5):
            x = [rng.random() for _ in range(m - 1)] + [0.5] * 5
            assert sum(v * v for v in mo.dtlz2_m(m)(x)[0]) == pytest.approx(1.0)  # on the unit sphere
    assert mo.dtlz2_m(3)([0.3, 0.6] + [0.2] * 5)[0] == pytest.approx(mo.dtlz2([0.3, 0.6] + [0.2] * 5)[0])
    # rᵐ − Vₘ/2ᵐ: for three objectives it must match the dense sampling of the front (from below).
    assert mo.hv_max_of("dtlz2_m4") == pytest.approx(2.2**4 - math.pi**2 / 2 / 16)
    sampled = mo.hypervolume(mo.true_front("dtlz2"), [2.2] * 3)
    assert sampled <= 2.2**3 - 4 / 3 * math.pi / 8 <= sampled * 1.002
    # Random points never dominate more than the true front does.
    for p in ("zdt4", "zdt6", "dtlz1", "dtlz2_m4"):
        evaluate, d, ref = mo.PROBLEMS[p]
        lows = [lo for _, lo, _, _ in mo.space_of(p)]
        highs = [hi for _, _, hi, _ in mo.space_of(p)]
        pts = [evaluate([lo + (hi - lo) * rng.random() for lo, hi in zip(lows, highs)])[0] for _ in range(200)]
        hv_max = mo.hv_max_of(p)
        assert hv_max is not None and 0 < mo.hypervolume(mo.nondominated(pts), ref) < hv_max, p
    assert set(mo.HELD_OUT) <= set(mo.PROBLEMS) and not set(mo.HELD_OUT) & set(mo.DEFAULT_PROBLEMS)


def test_binh_korn_front_holds_against_feasible_points() -> None:
    """Binh–Korn's analytic front (u = v on [0, 3], then v = 3): its points are feasible and
    non-dominated, and no feasible random point adds hypervolume beyond the sampling's resolution."""
    import random

    mo = _bench_module("multiobjective")
    front = mo.true_front("binh_korn")
    assert front and mo.nondominated_sweep(front) == front
    rng = random.Random(1)
    evaluate, _, ref = mo.PROBLEMS["binh_korn"]
    feasible = [f for f, c in (evaluate([rng.random(), rng.random()]) for _ in range(20_000)) if all(v <= 0 for v in c)]
    hv_max = mo.hv_max_of("binh_korn")
    assert mo.hypervolume(mo.nondominated_sweep(feasible), ref) < hv_max
    assert mo.hypervolume(mo.nondominated_sweep(front + feasible), ref) < hv_max * (1 + 1e-6)


def _bench_module(name: str) -> Any:  # bench/ is not a package: load the module by path, with bench/ importable for `common`
    import importlib.util

    sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _pbt_report() -> Any:
    return _bench_module("pbt_report")


def test_pbt_report_statistics() -> None:
    """The PBT suite's verdicts rest on these: average ranks with ties, the sign test, the pooled head-to-head."""
    r = _pbt_report()
    assert r.ranks({"a": 1.0, "b": 1.0, "c": float("nan"), "d": 0.5}) == {"d": 1.0, "a": 2.5, "b": 2.5, "c": 4.0}
    assert r.sign_test_p(5, 0) == pytest.approx(2 / 32)
    assert r.sign_test_p(3, 3) == 1.0
    assert r.sign_test_p(16, 32) == pytest.approx(0.0293, abs=1e-3)
    # Two tasks x 10 seeds: pbt beats tpe on every seed of t1 and ties random everywhere.
    rows = []
    for t in ("t1", "t2", "t3", "t4"):
        for s in range(10):
            for o, v in (("pbt", 1.0), ("pb2", 1.5), ("tpe", 2.0 if t == "t1" else 0.5), ("random", 1.0)):
                rows.append({"problem": t, "optimizer": o, "seed": s, "steps": 160, "best": v + s})
    meta = {"tasks": ["t1", "t2", "t3", "t4"], "optimizers": ["pbt", "pb2", "tpe", "random"], "population": 8, "epochs": 20}
    text, summary = r.summarise(rows, meta)
    pooled = {(p["a"], p["b"]): p for p in summary["pooled"]}
    assert (pooled["pbt", "tpe"]["wins"], pooled["pbt", "tpe"]["losses"]) == (10, 30)
    assert (pooled["pbt", "random"]["ties"], pooled["pbt", "random"]["wins"]) == (40, 0)
    assert summary["first"] == "tpe" and summary["goal_met"] is False
    assert "**not met**" in text


def _makefile_python_benches() -> list[str]:
    """The `bench/*.py` scripts a make target runs with $(PY) that parse arguments (goals.py takes none
    and rewrites docs/BENCHMARKS.md when run: only argparse scripts)."""
    import re

    named = set(re.findall(r"\$\(PY\) (bench/[\w.-]+\.py)", (ROOT / "Makefile").read_text()))
    return sorted(s for s in named if "ArgumentParser" in (ROOT / s).read_text())


MAKEFILE_PYTHON_BENCHES = _makefile_python_benches()


def test_the_help_check_below_finds_the_makefiles_python_benches() -> None:
    """The list the next test is parametrized over is read from the Makefile: it holds the script that
    broke (and an empty list would leave the check with nothing to run)."""
    assert "bench/gp-tell-latency.py" in MAKEFILE_PYTHON_BENCHES, MAKEFILE_PYTHON_BENCHES


# One test per script, so that pytest-xdist spreads them over its workers: four import torch, a few
# seconds each, and one after another they were the longest test of the run (26-62 s in CI).
@pytest.mark.parametrize("script", MAKEFILE_PYTHON_BENCHES)
def test_every_python_bench_the_makefile_runs_answers_help(script: str) -> None:
    """Each `bench/*.py` a make target runs at least imports and parses its arguments: gp-tell-latency.py
    imported names that quality.py no longer had, so `make bench-overhead` stopped at an ImportError."""
    proc = subprocess.run([sys.executable, str(ROOT / script), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{script} --help: exit {proc.returncode}\n{proc.stderr[-2000:]}"
    assert "usage:" in proc.stdout, script
