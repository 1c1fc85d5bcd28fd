"""Multi-objective benchmark (issue 15): tuneport's multi-objective strategies against Optuna 5.0's
samplers in the same run, on ZDT1-3 (d = 10), DTLZ2 (3 objectives, d = 7) and Binh-Korn (two
constraints). Writes rows {problem, optimizer, seed, budget, hypervolume, hv_max} to
bench/results/multiobjective.json (plus `ask_s`: the median time of the run's last 10 asks, the
suggestion time per trial at n = budget) and prints a median/IQR table with Mann-Whitney U tests.

    nice -n 19 .venv/bin/python bench/multiobjective.py                # reduced: 3 seeds, budget 100
    nice -n 19 .venv/bin/python bench/multiobjective.py --seeds 10 --budgets 100,200 --gp \
        --tuneport auto,tpe,nsga2,parego,random                                     # the issue's size
    nice -n 19 .venv/bin/python bench/multiobjective.py --speed-at 200 --problems zdt1 --seeds 3 --optuna gp
                                                  # GPSampler's suggestion time at n = 200 only

The hypervolume of every run is measured at one fixed reference point per problem (below), on the
feasible trials' front; hv_max is the hypervolume of the true front at that point (dense sampling
of the analytic front), null where it is not computed (Binh-Korn). Optuna's samplers run as their
users run them: NSGAIISampler() defaults, TPESampler(multivariate=True), RandomSampler(), and
GPSampler() with --gp (slow on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-client" / "src"))

import numpy as np  # noqa: E402
import optuna  # noqa: E402
from common import RESULTS, Server  # noqa: E402

import tuneport as tp  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

Evaluate = Callable[[list[float]], tuple[list[float], list[float] | None]]


def zdt(kind: int, d: int = 10) -> Evaluate:
    def f(x: list[float]) -> tuple[list[float], list[float] | None]:
        f1 = x[0]
        g = 1 + 9 * sum(x[1:]) / (d - 1)
        if kind == 1:
            h = 1 - math.sqrt(f1 / g)
        elif kind == 2:
            h = 1 - (f1 / g) ** 2
        else:
            h = 1 - math.sqrt(f1 / g) - (f1 / g) * math.sin(10 * math.pi * f1)
        return [f1, g * h], None

    return f


def dtlz2(x: list[float]) -> tuple[list[float], list[float] | None]:
    g = sum((xi - 0.5) ** 2 for xi in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return [(1 + g) * math.cos(a) * math.cos(b), (1 + g) * math.cos(a) * math.sin(b), (1 + g) * math.sin(a)], None


def binh_korn(x: list[float]) -> tuple[list[float], list[float] | None]:
    u, v = 5 * x[0], 3 * x[1]
    f = [4 * u * u + 4 * v * v, (u - 5) ** 2 + (v - 5) ** 2]
    c = [(u - 5) ** 2 + v * v - 25, 7.7 - (u - 8) ** 2 - (v + 3) ** 2]
    return f, c


PROBLEMS: dict[str, tuple[Evaluate, int, list[float]]] = {
    "zdt1": (zdt(1), 10, [1.1, 11.0]),
    "zdt2": (zdt(2), 10, [1.1, 11.0]),
    "zdt3": (zdt(3), 10, [1.1, 11.0]),
    "dtlz2": (dtlz2, 7, [2.2, 2.2, 2.2]),
    "binh_korn": (binh_korn, 2, [140.0, 55.0]),
}


def nondominated(points: Sequence[Sequence[float]]) -> list[list[float]]:
    pts = sorted({tuple(p) for p in points})
    out: list[list[float]] = []
    for p in pts:
        if not any(all(q[i] <= p[i] for i in range(len(p))) and q != p for q in pts):
            out.append(list(p))
    return out


def hv2(points: Sequence[Sequence[float]], ref: Sequence[float]) -> float:
    pts = sorted((p for p in points if p[0] < ref[0] and p[1] < ref[1]), key=lambda p: (p[0], p[1]))
    area, y = 0.0, ref[1]
    for p in pts:
        if p[1] < y:
            area += (ref[0] - p[0]) * (y - p[1])
            y = p[1]
    return area


def hypervolume(points: Sequence[Sequence[float]], ref: Sequence[float]) -> float:
    """Exact for 2 objectives (sweep) and 3 (slices in the third objective)."""
    inside = [list(p) for p in points if all(p[i] < ref[i] for i in range(len(ref)))]
    if not inside:
        return 0.0
    if len(ref) == 2:
        return hv2(inside, ref)
    pts = sorted(nondominated(inside), key=lambda p: p[2])
    vol = 0.0
    for i, p in enumerate(pts):
        z_next = pts[i + 1][2] if i + 1 < len(pts) else ref[2]
        if z_next > p[2]:
            vol += hv2([q[:2] for q in pts[: i + 1]], ref[:2]) * (z_next - p[2])
    return vol


def true_front(problem: str, n: int = 2000) -> list[list[float]] | None:
    f1 = [float(a) for a in np.linspace(0, 1, n)]
    if problem == "zdt1":
        return [[a, 1 - math.sqrt(a)] for a in f1]
    if problem == "zdt2":
        return [[a, 1 - a * a] for a in f1]
    if problem == "zdt3":
        return nondominated([[a, 1 - math.sqrt(a) - a * math.sin(10 * math.pi * a)] for a in f1])
    if problem == "dtlz2":
        m = 60
        pts = []
        for i in range(m + 1):
            for j in range(m + 1):
                a, b = i / m * math.pi / 2, j / m * math.pi / 2
                pts.append([math.cos(a) * math.cos(b), math.cos(a) * math.sin(b), math.sin(a)])
        return pts
    return None


def feasible_front(results: list[tuple[list[float], list[float] | None]]) -> list[list[float]]:
    return nondominated([v for v, c in results if c is None or all(ci <= 0 for ci in c)])


#: Asks timed at the end of a run: the suggestion time per trial at n ≈ budget (median of these).
TIMED_ASKS = 10


def run_tuneport(client: tp.Client, problem: str, strategy: str | None, seed: int, budget: int) -> tuple[float, float]:
    evaluate, d, ref = PROBLEMS[problem]
    m = len(ref)
    space = {f"x{i}": tp.Float(0.0, 1.0) for i in range(d)}
    name = f"{problem}-{strategy or 'auto'}-{seed}-{budget}"
    study = client.create_study(name, directions=["minimize"] * m, space=space, strategy=strategy, seed=seed)
    results = []
    times = []
    for i in range(budget):
        t0 = time.perf_counter()
        trial = study.ask()
        if i >= budget - TIMED_ASKS:
            times.append(time.perf_counter() - t0)
        x = [float(trial.params[f"x{i}"]) for i in range(d)]  # type: ignore[arg-type]
        values, cons = evaluate(x)
        trial.complete(values, constraints=cons)
        results.append((values, cons))
    return hypervolume(feasible_front(results), ref), statistics.median(times)


def run_optuna(sampler_name: str, problem: str, seed: int, budget: int) -> tuple[float, float]:
    evaluate, d, ref = PROBLEMS[problem]
    m = len(ref)
    # Optuna 5.0 takes constraints through trial.set_constraint (constraints_func is deprecated).
    if sampler_name == "nsgaii":
        sampler: optuna.samplers.BaseSampler = optuna.samplers.NSGAIISampler(seed=seed)
    elif sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    elif sampler_name == "gp":
        sampler = optuna.samplers.GPSampler(seed=seed)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(directions=["minimize"] * m, sampler=sampler)
    results = []
    times = []
    # ask/tell, as study.optimize runs it; the timed part is ask plus the suggest calls (where
    # Optuna's samplers do their work: the joint sample happens at the first suggest).
    for i in range(budget):
        t0 = time.perf_counter()
        trial = study.ask()
        x = [trial.suggest_float(f"x{k}", 0.0, 1.0) for k in range(d)]
        if i >= budget - TIMED_ASKS:
            times.append(time.perf_counter() - t0)
        values, cons = evaluate(x)
        for j, c in enumerate(cons or []):
            trial.set_constraint(f"c{j}", c)
        study.tell(trial, values)
        results.append((values, cons))
    return hypervolume(feasible_front(results), ref), statistics.median(times)


def optuna_ask_s_at(sampler_name: str, problem: str, seed: int, n: int) -> float:
    """Suggestion time of an Optuna sampler at n trials without running the first n - TIMED_ASKS
    through it (for GPSampler, too slow to run to n = 200 on 2 shared cores): the study gets
    n - TIMED_ASKS uniformly random trials (add_trial), then TIMED_ASKS asks are timed as in
    run_optuna. A GP's cost depends on n, not on where the points lie."""
    evaluate, d, ref = PROBLEMS[problem]
    sampler = optuna.samplers.GPSampler(seed=seed) if sampler_name == "gp" else optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(directions=["minimize"] * len(ref), sampler=sampler)
    rng = np.random.default_rng(seed)
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    for _ in range(n - TIMED_ASKS):
        x = [float(v) for v in rng.random(d)]
        values, cons = evaluate(x)
        attrs = {"constraints": cons} if cons else {}
        study.add_trial(optuna.trial.create_trial(params={f"x{i}": x[i] for i in range(d)}, distributions={f"x{i}": dist for i in range(d)},
                                                  values=values, system_attrs=attrs))
    times = []
    for _ in range(TIMED_ASKS):
        t0 = time.perf_counter()
        trial = study.ask()
        x = [trial.suggest_float(f"x{k}", 0.0, 1.0) for k in range(d)]
        times.append(time.perf_counter() - t0)
        values, cons = evaluate(x)
        for j, c in enumerate(cons or []):
            trial.set_constraint(f"c{j}", c)
        study.tell(trial, values)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budgets", default="100")
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--gp", action="store_true", help="also Optuna's GPSampler (slow)")
    ap.add_argument("--tuneport", default="auto,tpe,nsga2,random", help="tuneport strategies (auto = the study's default)")
    ap.add_argument("--optuna", default="nsgaii,tpe,random", help="Optuna samplers (gp is added by --gp)")
    ap.add_argument("--out", default=str(RESULTS / "multiobjective.json"))
    ap.add_argument("--speed-at", type=int, default=0, metavar="N",
                    help="only time Optuna's --optuna samplers' asks at N trials on prefilled random studies (optuna_ask_s_at)")
    a = ap.parse_args()
    if a.speed_at:
        print("| problem | sampler | seed | median ask ms at n = %d |" % a.speed_at)
        print("| --- | --- | --- | --- |")
        for problem in a.problems.split(","):
            for s_name in [x for x in a.optuna.split(",") if x]:
                for seed in range(a.seeds):
                    print(f"| {problem} | optuna-{s_name} | {seed} | {1000 * optuna_ask_s_at(s_name, problem, seed, a.speed_at):.4g} |", flush=True)
        return
    budgets = [int(b) for b in a.budgets.split(",")]
    problems = a.problems.split(",")
    hv_max = {p: (hypervolume(f, PROBLEMS[p][2]) if (f := true_front(p)) is not None else None) for p in problems}
    rows: list[dict[str, Any]] = []
    optuna_samplers = [x for x in a.optuna.split(",") if x] + (["gp"] if a.gp else [])
    tuneport_strategies = [x for x in a.tuneport.split(",") if x]
    started = time.time()
    with Server() as server, tp.connect(server.endpoint, timeout=60.0) as client:
        for problem in problems:
            for budget in budgets:
                for seed in range(a.seeds):
                    for name in tuneport_strategies:
                        label, strategy = f"tuneport-{name}", (None if name == "auto" else name)
                        hv, ask_s = run_tuneport(client, problem, strategy, seed, budget)
                        rows.append({"problem": problem, "optimizer": label, "seed": seed, "budget": budget, "hypervolume": hv, "hv_max": hv_max[problem], "ask_s": ask_s})
                    for s in optuna_samplers:
                        hv, ask_s = run_optuna(s, problem, seed, budget)
                        rows.append({"problem": problem, "optimizer": f"optuna-{s}", "seed": seed, "budget": budget, "hypervolume": hv, "hv_max": hv_max[problem], "ask_s": ask_s})
                print(f"{problem}: done ({time.time() - started:.0f}s)", flush=True)
    Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
    report(rows)


def report(rows: list[dict[str, Any]]) -> None:
    from scipy.stats import mannwhitneyu

    keys = sorted({(r["problem"], r["budget"]) for r in rows})
    labels = {r["optimizer"] for r in rows}
    base = "tuneport-auto" if "tuneport-auto" in labels else sorted(labels)[0]
    print(f"| problem | budget | optimizer | median HV (IQR) | / hv_max | vs {base} (Mann-Whitney p) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for problem, budget in keys:
        group = [r for r in rows if r["problem"] == problem and r["budget"] == budget]
        auto = [r["hypervolume"] for r in group if r["optimizer"] == base]
        for opt in sorted({r["optimizer"] for r in group}):
            hv = sorted(r["hypervolume"] for r in group if r["optimizer"] == opt)
            q = statistics.quantiles(hv, n=4) if len(hv) >= 2 else [hv[0], hv[0], hv[0]]
            mx = group[0]["hv_max"]
            p = "-" if opt == base else f"{mannwhitneyu(auto, hv, alternative='two-sided').pvalue:.2g}"
            ratio = f"{statistics.median(hv) / mx:.3f}" if mx else "-"
            print(f"| {problem} | {budget} | {opt} | {statistics.median(hv):.4g} ({q[0]:.4g}-{q[2]:.4g}) | {ratio} | {p} |")
    timed = [r for r in rows if "ask_s" in r]
    if timed:
        top = max(r["budget"] for r in timed)
        print(f"\nSuggestion time per trial at n = {top} (median over the last {TIMED_ASKS} asks of each run, then over runs; ms):\n")
        print("| optimizer | median ms (IQR) | runs |")
        print("| --- | --- | --- |")
        for opt in sorted({r["optimizer"] for r in timed}):
            ms = sorted(1000 * r["ask_s"] for r in timed if r["optimizer"] == opt and r["budget"] == top)
            q = statistics.quantiles(ms, n=4) if len(ms) >= 2 else [ms[0], ms[0], ms[0]]
            print(f"| {opt} | {statistics.median(ms):.3g} ({q[0]:.3g}-{q[2]:.3g}) | {len(ms)} |")


if __name__ == "__main__":
    main()
