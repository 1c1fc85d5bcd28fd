"""`make bench-quality`: optimisation quality of tuneport's strategies against Optuna and pycma.

Every optimizer sees the same problems, seeds and budgets; only the optimizer's choices differ.

  tuneport-<strategy>  through the real server (`tuneport serve`, one per run set) and the
                       Python client: ask/tell loops, the objective evaluated in Python
  optuna-tpe/gp/random Optuna 5.0 samplers (defaults, `seed=seed`), in process, ask/tell
  pycma                pycma's CMAEvolutionStrategy in the unit cube (x0 = centre, sigma0 = 1/6,
                       bounds [0, 1], `seed=seed+1`), ask/tell by generations, cut at the budget

Problems (all minimised; definitions exactly as src/testing/benchmark-functions.ts): Branin,
Hartmann3, Hartmann6, shifted Rosenbrock-5D, shifted Ackley-5D, shifted Rastrigin-4D, the mixed
integer/log/categorical problem, and a real task: kernel ridge regression on scikit-learn's
bundled diabetes data set (validation MSE; kernel ∈ {rbf, laplacian, poly}, alpha and gamma
log-uniform, degree 2..5). Shifts: per seed, drawn with numpy `default_rng([seed, 7])`,
uniform in ±¼ of each dimension's range (Rosenbrock's clipped to [−5, 8] as in the TS code) —
our own documented draw, the same for every optimizer. f* of the real task is unknown: the best
value found by any run of this run set is used, and stated in the output.

Regret = best − f*; normalised regret = regret / (median over seeds of optuna-random's regret at
the same budget). Budgets are prefixes of one run (best of the first 50, 100, 200 trials).

    python bench/quality.py [--quick] [--seeds N] [--jobs N] [--budgets 50,100,200] [--gp-budget N]
                            [--out PATH] [--no-docs] [--resume] [--optimizers A,B [--merge]]

--optimizers runs only those optimizers; with --merge the others' runs are kept from the existing
--out file (per-budget bests, which is all the tables need), so one optimizer can be rerun alone.

--quick: 2 seeds, budgets 20/40, a subset of optimizers and problems (a smoke test, < 60 s).
Writes bench/results/quality.json ({"meta", "runs": [{"problem", "optimizer", "seed", "budget",
"best", "regret", "f_star"}]}), plots docs/quality/<problem>.svg and the quality section of
docs/BENCHMARKS.md (full mode only).
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Sequence

# One BLAS thread per process: the runs are parallel already and the machine has 2 cores.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, Server, machine, update_benchmarks_md  # noqa: E402

Params = dict[str, Any]


@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # "float" | "int" | "cat"
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    choices: tuple[str, ...] = ()

    def from_unit(self, u: float) -> Any:
        """Decodes a unit coordinate (pycma works in [0, 1]^d)."""
        u = min(1.0, max(0.0, u))
        if self.kind == "cat":
            return self.choices[min(len(self.choices) - 1, int(u * len(self.choices)))]
        if self.kind == "int":
            return int(min(self.high, math.floor(self.low + u * (self.high - self.low + 1))))
        if self.log:
            return math.exp(math.log(self.low) + u * (math.log(self.high) - math.log(self.low)))
        return self.low + u * (self.high - self.low)


@dataclass(frozen=True)
class Problem:
    name: str
    space: tuple[Param, ...]
    f_star: float | None  # None: unknown (best found across the run set)
    make: Callable[[int], Callable[[Params], float]]  # seed -> objective


def box(d: int, low: float, high: float) -> tuple[Param, ...]:
    return tuple(Param(f"x{i}", "float", low, high) for i in range(d))


def vec(p: Params, d: int) -> np.ndarray:
    return np.array([float(p[f"x{i}"]) for i in range(d)])


def branin(p: Params) -> float:
    x1, x2 = float(p["x0"]), float(p["x1"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A3 = np.array([[3, 10, 30], [0.1, 10, 35], [3, 10, 30], [0.1, 10, 35]])
P3 = np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]) * 1e-4
A6 = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
P6 = np.array([
    [1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381],
]) * 1e-4


def hartmann(x: np.ndarray, A: np.ndarray, P: np.ndarray) -> float:
    return float(-np.sum(ALPHA * np.exp(-np.sum(A * (x - P) ** 2, axis=1))))


def shift(d: int, low: float, high: float, seed: int) -> np.ndarray:
    return np.random.default_rng([seed, 7]).uniform(-0.25, 0.25, d) * (high - low)


def rosenbrock(d: int) -> Callable[[int], Callable[[Params], float]]:
    def make(seed: int) -> Callable[[Params], float]:
        s = np.clip(shift(d, -5, 10, seed), -5, 8)

        def f(p: Params) -> float:
            x = vec(p, d) - s
            return float(np.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2))
        return f
    return make


def ackley(d: int) -> Callable[[int], Callable[[Params], float]]:
    def make(seed: int) -> Callable[[Params], float]:
        s = shift(d, -32.768, 32.768, seed)

        def f(p: Params) -> float:
            x = vec(p, d) - s
            return float(-20 * math.exp(-0.2 * math.sqrt(np.mean(x * x))) - math.exp(np.mean(np.cos(2 * math.pi * x))) + 20 + math.e)
        return f
    return make


def rastrigin(d: int) -> Callable[[int], Callable[[Params], float]]:
    def make(seed: int) -> Callable[[Params], float]:
        s = shift(d, -5.12, 5.12, seed)

        def f(p: Params) -> float:
            x = vec(p, d) - s
            return float(10 * d + np.sum(x * x - 10 * np.cos(2 * math.pi * x)))
        return f
    return make


def mixed(p: Params) -> float:
    penalty = {"a": 1.5, "b": 0.0, "c": 0.7}[str(p["fn"])]
    return penalty + 0.1 * (int(p["k"]) - 3) ** 2 + (math.log10(float(p["lr"])) + 3) ** 2 * 0.5 + 4 * (float(p["u"]) - 0.3) ** 2


_KRR_DATA: tuple[np.ndarray, ...] | None = None


def kernel_ridge(p: Params) -> float:
    """Validation MSE (standardised target) of KernelRidge on a fixed split of load_diabetes."""
    global _KRR_DATA
    from sklearn.kernel_ridge import KernelRidge

    if _KRR_DATA is None:
        from sklearn.datasets import load_diabetes
        from sklearn.model_selection import train_test_split

        X, y = load_diabetes(return_X_y=True)
        X = (X - X.mean(0)) / X.std(0)
        y = (y - y.mean()) / y.std()
        _KRR_DATA = tuple(train_test_split(X, y, test_size=0.35, random_state=0))
    Xtr, Xva, ytr, yva = _KRR_DATA
    try:
        m = KernelRidge(kernel=str(p["kernel"]), alpha=float(p["alpha"]), gamma=float(p["gamma"]), degree=int(p["degree"]))
        v = float(np.mean((m.fit(Xtr, ytr).predict(Xva) - yva) ** 2))
    except (np.linalg.LinAlgError, ValueError):
        v = float("inf")
    # Diverging fits are capped so that every optimizer sees a finite, comparable value.
    return min(v, 10.0) if math.isfinite(v) else 10.0


PROBLEMS: list[Problem] = [
    Problem("branin", (Param("x0", "float", -5, 10), Param("x1", "float", 0, 15)), 0.397887, lambda s: branin),
    Problem("hartmann3", box(3, 0, 1), -3.86278, lambda s: lambda p: hartmann(vec(p, 3), A3, P3)),
    Problem("hartmann6", box(6, 0, 1), -3.32237, lambda s: lambda p: hartmann(vec(p, 6), A6, P6)),
    Problem("rosenbrock5", box(5, -5, 10), 0.0, rosenbrock(5)),
    Problem("ackley5", box(5, -32.768, 32.768), 0.0, ackley(5)),
    Problem("rastrigin4", box(4, -5.12, 5.12), 0.0, rastrigin(4)),
    Problem("mixed", (
        Param("fn", "cat", choices=("a", "b", "c")), Param("k", "int", 0, 10),
        Param("lr", "float", 1e-5, 1, log=True), Param("u", "float", 0, 1),
    ), 0.0, lambda s: mixed),
    Problem("kernel-ridge-diabetes", (
        Param("kernel", "cat", choices=("rbf", "laplacian", "poly")), Param("alpha", "float", 1e-4, 10, log=True),
        Param("gamma", "float", 1e-4, 10, log=True), Param("degree", "int", 2, 5),
    ), None, lambda s: kernel_ridge),
]

TUNEPORT = ["random", "grid", "qmc", "tpe", "gp", "cmaes"]
PEERS = ["optuna-random", "optuna-tpe", "optuna-gp", "pycma"]
PAIRS = [("tuneport-tpe", "optuna-tpe"), ("tuneport-gp", "optuna-gp"), ("tuneport-random", "optuna-random"), ("tuneport-cmaes", "pycma")]


# ---------------------------------------------------------------- optimizers: each returns the value sequence

def run_tuneport(endpoint: str, strategy: str, prob: Problem, seed: int, n: int) -> list[float]:
    import tuneport as tp

    f = prob.make(seed)
    space: dict[str, Any] = {}
    for q in prob.space:
        space[q.name] = (tp.Categorical(list(q.choices)) if q.kind == "cat" else
                         tp.Int(int(q.low), int(q.high)) if q.kind == "int" else tp.Float(q.low, q.high, log=q.log))
    options: dict[str, Any] = {}
    if strategy == "grid":
        # Enough grid points for the largest budget; shuffled (the default order).
        options = {"points_per_dim": max(2, math.ceil(n ** (1 / len(prob.space))))}
    values: list[float] = []
    with tp.connect(endpoint, timeout=120.0) as client:
        st = client.create_study(f"q-{prob.name}-{strategy}-{seed}-{uuid.uuid4().hex[:6]}", direction="minimize",
                                 strategy={"name": strategy, "options": options}, space=space, seed=seed)
        for _ in range(n):
            try:
                trial = st.ask()
            except tp.SearchSpaceExhaustedError:
                break
            v = f(dict(trial.params))
            trial.complete(v)
            values.append(v)
    return values


def run_optuna(kind: str, prob: Problem, seed: int, n: int) -> list[float]:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler: Any = {
        "optuna-tpe": lambda: optuna.samplers.TPESampler(seed=seed),
        "optuna-gp": lambda: optuna.samplers.GPSampler(seed=seed),
        "optuna-random": lambda: optuna.samplers.RandomSampler(seed=seed),
    }[kind]()
    dists: dict[str, Any] = {
        q.name: (CategoricalDistribution(list(q.choices)) if q.kind == "cat" else
                 IntDistribution(int(q.low), int(q.high)) if q.kind == "int" else FloatDistribution(q.low, q.high, log=q.log))
        for q in prob.space
    }
    f = prob.make(seed)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    values: list[float] = []
    for _ in range(n):
        t = study.ask(dists)
        v = f(dict(t.params))
        study.tell(t, v)
        values.append(v)
    return values


def run_pycma(prob: Problem, seed: int, n: int) -> list[float]:
    import cma

    f = prob.make(seed)
    d = len(prob.space)
    es = cma.CMAEvolutionStrategy([0.5] * d, 1 / 6, {"bounds": [0, 1], "seed": seed + 1, "verbose": -9})
    values: list[float] = []
    while len(values) < n:
        xs = es.ask()
        fs = []
        for x in xs:
            v = f({q.name: q.from_unit(float(u)) for q, u in zip(prob.space, x)})
            fs.append(v)
            values.append(v)
        es.tell(xs, fs)
        if es.stop():  # converged before the budget: restart from a random point (pycma has no restart in ask/tell)
            es = cma.CMAEvolutionStrategy(list(np.random.default_rng(seed + len(values)).uniform(0, 1, d)), 1 / 6,
                                          {"bounds": [0, 1], "seed": seed + 1 + len(values), "verbose": -9})
    return values[:n]


def run_one(task: tuple[str, str, int, int, str]) -> tuple[str, str, int, list[float], float]:
    prob_name, opt, seed, n, endpoint = task
    prob = next(p for p in PROBLEMS if p.name == prob_name)
    t0 = time.perf_counter()
    if opt.startswith("tuneport-"):
        values = run_tuneport(endpoint, opt.removeprefix("tuneport-"), prob, seed, n)
    elif opt == "pycma":
        values = run_pycma(prob, seed, n)
    else:
        values = run_optuna(opt, prob, seed, n)
    return prob_name, opt, seed, values, time.perf_counter() - t0


# ---------------------------------------------------------------- analysis

def best_prefix(values: Sequence[float], budget: int) -> float:
    return min(values[:budget]) if values else float("inf")


def analyse(curves: dict[tuple[str, str, int], list[float]], budgets: list[int], seeds: list[int]) -> dict[str, Any]:
    from scipy.stats import wilcoxon

    problems = sorted({k[0] for k in curves}, key=lambda p: [q.name for q in PROBLEMS].index(p))
    optimizers = sorted({k[1] for k in curves}, key=lambda o: ([f"tuneport-{s}" for s in TUNEPORT] + PEERS).index(o))
    f_star: dict[str, float] = {}
    for p in problems:
        prob = next(q for q in PROBLEMS if q.name == p)
        f_star[p] = prob.f_star if prob.f_star is not None else min(min(v) for k, v in curves.items() if k[0] == p and v)
    runs: list[dict[str, Any]] = []
    regret: dict[tuple[str, str, int], list[float]] = {}
    for (p, o, s), vals in sorted(curves.items()):
        for b in budgets:
            if len(vals) < b:
                continue
            best = best_prefix(vals, b)
            r = max(0.0, best - f_star[p])
            runs.append({"problem": p, "optimizer": o, "seed": s, "budget": b, "best": best, "regret": r, "f_star": f_star[p]})
            regret.setdefault((p, o, b), []).append(r)
    table: dict[str, Any] = {}
    for (p, o, b), rs in regret.items():
        ref = regret.get((p, "optuna-random", b))
        denom = float(np.median(ref)) if ref else float("nan")
        norm = [r / denom if denom > 0 else (0.0 if r == 0 else float("inf")) for r in rs]
        q1, med, q3 = np.percentile(norm, [25, 50, 75])
        table[f"{p}|{o}|{b}"] = {"median": float(med), "q1": float(q1), "q3": float(q3), "n": len(rs), "median_regret": float(np.median(rs))}
    # Mean rank: per (problem, budget), rank optimizers by median normalised regret (ties averaged); mean over problems.
    ranks: dict[int, dict[str, float]] = {}
    for b in budgets:
        acc: dict[str, list[float]] = {}
        for p in problems:
            present = [o for o in optimizers if f"{p}|{o}|{b}" in table]
            if len(present) < 2:
                continue
            meds = [table[f"{p}|{o}|{b}"]["median"] for o in present]
            from scipy.stats import rankdata

            for o, r in zip(present, rankdata(meds)):
                acc.setdefault(o, []).append(float(r))
        ranks[b] = {o: float(np.mean(v)) for o, v in acc.items()}
    tests: list[dict[str, Any]] = []
    for a, c in PAIRS:
        for p in problems:
            for b in budgets:
                ra = {s: r for (pp, o, s), vals in curves.items() if pp == p and o == a and len(vals) >= b for r in [best_prefix(vals, b)]}
                rc = {s: r for (pp, o, s), vals in curves.items() if pp == p and o == c and len(vals) >= b for r in [best_prefix(vals, b)]}
                common = sorted(set(ra) & set(rc))
                if len(common) < 5:
                    continue
                diff = [ra[s] - rc[s] for s in common]
                pval = float("nan") if all(x == 0 for x in diff) else float(wilcoxon(diff).pvalue)
                wins = sum(1 for x in diff if x < 0)
                tests.append({"a": a, "b": c, "problem": p, "budget": b, "n": len(common), "p": pval, "a_better": wins,
                              "b_better": sum(1 for x in diff if x > 0)})
    return {"f_star": f_star, "table": table, "ranks": {str(k): v for k, v in ranks.items()}, "tests": tests,
            "problems": problems, "optimizers": optimizers, "runs": runs}


def plot(curves: dict[tuple[str, str, int], list[float]], f_star: dict[str, float], out_dir: str) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    written = []
    for p in sorted({k[0] for k in curves}):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for o in sorted({k[1] for k in curves if k[0] == p}):
            seqs = [v for k, v in curves.items() if k[0] == p and k[1] == o and v]
            n = min(len(v) for v in seqs)
            reg = np.array([np.maximum(np.minimum.accumulate(np.array(v[:n])) - f_star[p], 1e-12) for v in seqs])
            med = np.median(reg, axis=0)
            lo, hi = np.percentile(reg, 25, axis=0), np.percentile(reg, 75, axis=0)
            x = np.arange(1, n + 1)
            style = "-" if o.startswith("tuneport") else "--"
            (line,) = ax.plot(x, med, style, label=o, lw=1.4)
            ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.08)
        ax.set_yscale("log")
        ax.set_xlabel("trials")
        ax.set_ylabel("simple regret (best − f*), median and IQR")
        ax.set_title(f"{p} (f* = {f_star[p]:.6g})")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        path = os.path.join(out_dir, f"{p}.svg")
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def markdown(res: dict[str, Any], budgets: list[int], meta: dict[str, Any]) -> str:
    lines = [f"Machine: {meta['machine']}. Command: `{meta['command']}` ({meta['wall_s']:.0f} s wall). {meta['reduced']}", ""]
    real = [p for p in res["problems"] if next(q for q in PROBLEMS if q.name == p).f_star is None]
    for p in real:
        lines.append(f"f* of `{p}` is unknown: the best value any run found, {res['f_star'][p]:.6g}, is used.")
    lines += ["", "### Mean rank (by median normalised regret, over problems; 1 = best)", ""]
    opts = res["optimizers"]
    lines.append("| budget | " + " | ".join(opts) + " |")
    lines.append("| --- |" + " --- |" * len(opts))
    for b in budgets:
        r = res["ranks"].get(str(b), {})
        lines.append(f"| {b} | " + " | ".join(f"{r[o]:.2f}" if o in r else "–" for o in opts) + " |")
    for b in budgets:
        lines += ["", f"### Normalised regret at {b} trials: median [IQR]", ""]
        present = [o for o in opts if any(f"{p}|{o}|{b}" in res["table"] for p in res["problems"])]
        lines.append("| problem | " + " | ".join(present) + " |")
        lines.append("| --- |" + " --- |" * len(present))
        for p in res["problems"]:
            cells = []
            for o in present:
                t = res["table"].get(f"{p}|{o}|{b}")
                cells.append(f"{t['median']:.3g} [{t['q1']:.3g}, {t['q3']:.3g}]" if t else "–")
            lines.append(f"| {p} | " + " | ".join(cells) + " |")
    lines += ["", "### Paired Wilcoxon signed-rank tests (per-seed best value; wins = seeds where that side is lower)", ""]
    lines.append("| tuneport | peer | problem | budget | seeds | tuneport wins | peer wins | p |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for t in res["tests"]:
        lines.append(f"| {t['a']} | {t['b']} | {t['problem']} | {t['budget']} | {t['n']} | {t['a_better']} | {t['b_better']} | {t['p']:.3g} |")
    lines += ["", "Anytime plots (median and IQR of simple regret against trials): "
              + ", ".join(f"[{p}](quality/{p}.svg)" for p in res["problems"]), ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--gp-budget", type=int, default=200, help="largest budget for tuneport-gp and optuna-gp")
    ap.add_argument("--budgets", default="50,100,200", help="comma-separated budgets (full mode)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "quality.json"))
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--curves", default=str(ROOT / "bench" / "results" / "tmp" / "quality-curves.jsonl"),
                    help="every finished run's value sequence is appended here")
    ap.add_argument("--resume", action="store_true", help="keep the runs already in --curves instead of starting afresh")
    ap.add_argument("--optimizers", help="comma-separated subset of optimizers to run (full mode), e.g. tuneport-tpe")
    ap.add_argument("--merge", action="store_true",
                    help="with --optimizers: take every other optimizer's runs from the existing --out file (its per-budget "
                         "bests) and replace only the selected optimizers' runs; anytime plots are not redrawn")
    args = ap.parse_args()
    if args.quick:
        budgets, seeds = [20, 40], [0, 1]
        problems = ["branin", "mixed", "kernel-ridge-diabetes"]
        optimizers = ["tuneport-random", "tuneport-tpe", "tuneport-gp", "optuna-random", "optuna-tpe", "pycma"]
        gp_budget = 20
    else:
        budgets, seeds = [int(b) for b in args.budgets.split(",")], list(range(args.seeds))
        problems = [p.name for p in PROBLEMS]
        optimizers = [f"tuneport-{s}" for s in TUNEPORT] + PEERS
        if args.optimizers:
            chosen = args.optimizers.split(",")
            unknown = [o for o in chosen if o not in optimizers]
            if unknown:
                ap.error(f"unknown optimizers {unknown}; known: {optimizers}")
            optimizers = chosen
        gp_budget = args.gp_budget
    merged_meta: dict[str, Any] | None = None
    kept: dict[tuple[str, str, int], list[float]] = {}
    if args.merge:
        if args.quick or not args.optimizers:
            ap.error("--merge needs --optimizers and full mode")
        with open(args.out) as fh:
            old = json.load(fh)
        merged_meta = old["meta"]
        # A step curve with the recorded best at each budget reproduces every best-of-prefix the analysis uses.
        by_run: dict[tuple[str, str, int], dict[int, float]] = {}
        for r in old["runs"]:
            if r["optimizer"] not in optimizers:
                by_run.setdefault((r["problem"], r["optimizer"], r["seed"]), {})[r["budget"]] = r["best"]
        for key, bests in by_run.items():
            curve: list[float] = []
            for b in sorted(bests):
                curve += [bests[b]] * (b - len(curve))
            kept[key] = curve
    t0 = time.perf_counter()
    with Server() as server:
        tasks = []
        for p in problems:
            for o in optimizers:
                n = min(max(budgets), gp_budget) if o.endswith("-gp") else max(budgets)
                for s in seeds:
                    tasks.append((p, o, s, n, server.endpoint))
        # Slow runs first, so that the pool does not end on one long straggler.
        tasks.sort(key=lambda t: (not t[1].endswith("gp"), t[0]))
        curves: dict[tuple[str, str, int], list[float]] = {}
        secs: dict[str, float] = {}
        if not args.quick:
            os.makedirs(os.path.dirname(args.curves), exist_ok=True)
            if not args.resume and os.path.exists(args.curves):
                os.remove(args.curves)
            if os.path.exists(args.curves):
                with open(args.curves) as fh:
                    for line in fh:
                        r = json.loads(line)
                        curves[(r["problem"], r["optimizer"], r["seed"])] = r["values"]
                        secs[r["optimizer"]] = secs.get(r["optimizer"], 0.0) + r["seconds"]
            tasks = [t for t in tasks if (t[0], t[1], t[2]) not in curves or len(curves[(t[0], t[1], t[2])]) < t[3]]
        ctx = mp.get_context("fork")
        with ctx.Pool(args.jobs) as pool:
            for i, (p, o, s, vals, dt) in enumerate(pool.imap_unordered(run_one, tasks)):
                curves[(p, o, s)] = vals
                secs[o] = secs.get(o, 0.0) + dt
                if not args.quick:
                    with open(args.curves, "a") as fh:
                        fh.write(json.dumps({"problem": p, "optimizer": o, "seed": s, "values": vals, "seconds": dt}) + "\n")
                if not args.quick and i % 20 == 0:
                    print(f"[{time.perf_counter() - t0:6.0f} s] {i + 1}/{len(tasks)} {p} {o} seed {s}: best {min(vals):.5g} ({dt:.1f} s)", flush=True)
    wall = time.perf_counter() - t0
    curves = {**kept, **curves}
    res = analyse(curves, budgets, seeds)
    reduced = ""
    if not args.quick and (gp_budget < max(budgets) or budgets != [50, 100, 200]):
        cut = [] if budgets == [50, 100, 200] else [f"budgets {budgets} instead of [50, 100, 200]"]
        if gp_budget < max(budgets):
            cut.append(f"tuneport-gp and optuna-gp ran {gp_budget} trials per run, so budgets above {gp_budget} "
                       "are reported for the other optimizers only")
        reduced = "Reduced to fit the time box on 2 shared cores: " + "; ".join(cut) + "."
    if merged_meta is not None:
        reduced = (f"Only {', '.join(optimizers)} rerun ({wall:.0f} s wall); the other optimizers' runs are those of "
                   f"`{merged_meta['command']}` ({merged_meta['machine']}, {merged_meta['wall_s']:.0f} s wall). "
                   + (merged_meta.get("reduced") or "")).strip()
    cmd = "python bench/quality.py" + (" --quick" if args.quick else "")
    if not args.quick and budgets != [50, 100, 200]:
        cmd += f" --budgets {','.join(map(str, budgets))}"
    if not args.quick and gp_budget != 200:
        cmd += f" --gp-budget {gp_budget}"
    if args.optimizers:
        cmd += f" --optimizers {args.optimizers}" + (" --merge" if args.merge else "")
    meta = {"machine": machine(), "budgets": budgets, "seeds": seeds, "wall_s": wall, "quick": args.quick, "command": cmd,
            "reduced": reduced, "f_star": res["f_star"], "mean_rank": res["ranks"], "optimizer_seconds": secs,
            "wilcoxon": res["tests"], "normalised_regret": res["table"]}
    path = args.out
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        json.dump({"meta": meta, "runs": res["runs"]}, fh, indent=1)
        fh.write("\n")
    md = markdown(res, budgets, meta)
    print(md)
    if not args.quick and not args.no_docs:
        if merged_meta is None:
            plot(curves, res["f_star"], str(ROOT / "docs" / "quality"))
        update_benchmarks_md("quality", "## Optimisation quality (`make bench-quality`)\n\n" + md)
    print(f"wrote {path} in {wall:.0f} s")


if __name__ == "__main__":
    main()
