"""`make bench-multifidelity`: pruning and multi-fidelity schedulers against Optuna and full-budget random search.

Problems
  learning-curve   the synthetic learning curves of src/testing/learning-curve.ts, re-implemented here:
                   y(x, t) = y∞(x) + (y0 − y∞(x))(1 + t/τ(x))^−a(x), y∞ = Hartmann6, y0 = 0.5,
                   q = (y∞ − f*)/(0 − f*), τ = 1 + 6(1 − q)(0.5 + x4), a = 1 + 0.5 x5,
                   noise N(0, (0.1/√(1+t))²) reproducible per (seed, configuration, t), cost c(x) = 1 + x3
                   per step; R = 81 steps. `best` = the noise-free y(x, R) of the best configuration
                   trained to R so far (lower is better).
  digits           a real PyTorch MLP (Adam; lr, width, layers, dropout, weight decay) on scikit-learn's
                   digits, epochs as budget, R = 27 epochs. `best` = the lowest validation cross-entropy
                   at epoch R of a configuration trained to R.

Optimizers (each step a trial trains costs 1; a pruned trial costs the steps it trained)
  tuneport-asha       the server's `asha` (stopping mode, η = 3, min 1, max R) + `tpe`
  tuneport-hyperband  `hyperband` (η = 3, min 1, max R) + `tpe`
  tuneport-bohb       `bohb` (η = 3, min 1, max R; it chooses the configurations)
  tuneport-median     `median` (Optuna's defaults) + `tpe`
  optuna-hyperband    Optuna 5.0 TPESampler + HyperbandPruner(1, R, 3), in process
  optuna-median       Optuna 5.0 TPESampler + MedianPruner(), in process
  random-full         uniform random configurations, each trained to R

Also an 8-worker asynchronous simulation on learning-curve: one step of x takes c(x) simulated
seconds; reports reach the server in simulated-time order; ASHA (server) and the server's
asynchronous Hyperband against synchronous Hyperband (the paper's Algorithm 1, random
configurations, every rung waits for its slowest job) and random-full on 8 workers.

Writes bench/results/multifidelity.json ({"meta", "runs": [{problem, optimizer, seed, steps, best}]};
the async runs have problem "learning-curve-async8" and a "time" field), docs/multifidelity-*.svg
and the multifidelity section of docs/BENCHMARKS.md.

    python bench/multifidelity.py [--quick] [--seeds N] [--digits-seeds N] [--no-write]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import sys
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, Server, machine, update_benchmarks_md, write_results  # noqa: E402

import tuneport as tp  # noqa: E402

Params = dict[str, Any]
Point = dict[str, Any]

# ---------------------------------------------------------------- problems

ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A6 = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
P6 = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
F_STAR = -3.32237
Y0 = 0.5


def hartmann6(x: np.ndarray) -> float:
    return float(-(ALPHA * np.exp(-(A6 * (x - P6) ** 2).sum(axis=1))).sum())


def config_key(params: Mapping[str, Any]) -> int:
    return zlib.crc32(repr(sorted((k, round(float(v), 12)) for k, v in params.items())).encode())


class Run:
    """One configuration's training; `advance(t)` trains to step t and returns the observed loss."""

    t = 0

    def advance(self, t: int) -> float:
        raise NotImplementedError


class Task:
    name = ""
    R = 1

    def space(self) -> dict[str, tp.Distribution]:
        raise NotImplementedError

    def optuna_params(self, trial: Any) -> Params:
        raise NotImplementedError

    def random_params(self, rng: np.random.Generator) -> Params:
        raise NotImplementedError

    def start(self, params: Params, seed: int) -> Run:
        raise NotImplementedError

    def quality(self, run: Run, params: Params) -> float:
        """The loss a configuration trained to R counts for."""
        raise NotImplementedError

    def cost(self, params: Params) -> float:
        return 1.0


class CurveRun(Run):
    def __init__(self, task: LearningCurve, params: Params, seed: int) -> None:
        self.task, self.params, self.seed, self.key = task, params, seed, config_key(params)
        self.x = np.array([float(params[f"x{i}"]) for i in range(6)])

    def advance(self, t: int) -> float:
        self.t = t
        noise = np.random.default_rng([self.seed, self.key, t]).standard_normal()
        return self.task.mean(self.x, t) + 0.1 / math.sqrt(1 + t) * float(noise)


class LearningCurve(Task):
    name = "learning-curve"

    def __init__(self, R: int = 81) -> None:
        self.R = R

    def space(self) -> dict[str, tp.Distribution]:
        return {f"x{i}": tp.Float(0.0, 1.0) for i in range(6)}

    def optuna_params(self, trial: Any) -> Params:
        return {f"x{i}": trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(6)}

    def random_params(self, rng: np.random.Generator) -> Params:
        return {f"x{i}": float(rng.uniform()) for i in range(6)}

    def mean(self, x: np.ndarray, t: float) -> float:
        y_inf = hartmann6(x)
        q = min(1.0, max(0.0, (y_inf - F_STAR) / -F_STAR))
        tau = 1 + 6 * (1 - q) * (0.5 + x[4])
        a = 1 + 0.5 * x[5]
        return y_inf + (Y0 - y_inf) * (1 + t / tau) ** -a

    def start(self, params: Params, seed: int) -> Run:
        return CurveRun(self, params, seed)

    def quality(self, run: Run, params: Params) -> float:
        assert isinstance(run, CurveRun)
        return self.mean(run.x, self.R)

    def cost(self, params: Params) -> float:
        return 1.0 + float(params["x3"])


class DigitsRun(Run):
    def __init__(self, task: Digits, params: Params, seed: int) -> None:
        import torch
        from torch import nn

        self.task, self.key = task, config_key(params) ^ seed
        torch.manual_seed(self.key)
        width, layers = int(params["width"]), int(params["layers"])
        mods: list[nn.Module] = []
        d_in = 64
        for _ in range(layers):
            mods += [nn.Linear(d_in, width), nn.ReLU(), nn.Dropout(float(params["dropout"]))]
            d_in = width
        self.model = nn.Sequential(*mods, nn.Linear(d_in, 10))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(params["lr"]), weight_decay=float(params["weight_decay"]))
        self.last = float("nan")

    def advance(self, t: int) -> float:
        import torch
        from torch import nn

        x_tr, y_tr, x_va, y_va = self.task.data
        loss_fn = nn.CrossEntropyLoss()
        while self.t < t:
            self.t += 1
            g = torch.Generator().manual_seed(self.key * 1000 + self.t)
            self.model.train()
            perm = torch.randperm(len(x_tr), generator=g)
            for i in range(0, len(x_tr), 128):
                idx = perm[i : i + 128]
                self.opt.zero_grad()
                loss_fn(self.model(x_tr[idx]), y_tr[idx]).backward()
                self.opt.step()
        self.model.eval()
        with torch.no_grad():
            self.last = float(loss_fn(self.model(x_va), y_va).item())
        return self.last if math.isfinite(self.last) else float("nan")


class Digits(Task):
    name = "digits"

    def __init__(self, R: int = 27) -> None:
        import torch
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        torch.set_num_threads(1)
        self.R = R
        x, y = load_digits(return_X_y=True)
        x_tr, x_va, y_tr, y_va = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
        f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
        i = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
        self.data = (f(x_tr), i(y_tr), f(x_va), i(y_va))

    def space(self) -> dict[str, tp.Distribution]:
        return {"lr": tp.Float(1e-5, 1e-1, log=True), "width": tp.Int(16, 256, log=True), "layers": tp.Int(1, 3),
                "dropout": tp.Float(0.0, 0.5), "weight_decay": tp.Float(1e-6, 1e-2, log=True)}

    def optuna_params(self, trial: Any) -> Params:
        return {"lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True), "width": trial.suggest_int("width", 16, 256, log=True),
                "layers": trial.suggest_int("layers", 1, 3), "dropout": trial.suggest_float("dropout", 0.0, 0.5),
                "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)}

    def random_params(self, rng: np.random.Generator) -> Params:
        return {"lr": float(10 ** rng.uniform(-5, -1)), "width": int(round(2 ** rng.uniform(4, 8))),
                "layers": int(rng.integers(1, 4)), "dropout": float(rng.uniform(0, 0.5)),
                "weight_decay": float(10 ** rng.uniform(-6, -2))}

    def start(self, params: Params, seed: int) -> Run:
        return DigitsRun(self, params, seed)

    def quality(self, run: Run, params: Params) -> float:
        assert isinstance(run, DigitsRun)
        return run.last if math.isfinite(run.last) else math.inf


# ---------------------------------------------------------------- anytime bookkeeping


class Anytime:
    """Best-so-far of configurations trained to R against cumulative steps (and simulated time)."""

    def __init__(self, problem: str, optimizer: str, seed: int) -> None:
        self.problem, self.optimizer, self.seed = problem, optimizer, seed
        self.steps = 0
        self.best = math.inf
        self.points: list[Point] = []

    def full(self, q: float, t: float | None = None) -> None:
        if q < self.best:
            self.best = q
            self.add(t)

    def add(self, t: float | None = None) -> None:
        p: Point = {"problem": self.problem, "optimizer": self.optimizer, "seed": self.seed, "steps": self.steps,
                    "best": self.best if math.isfinite(self.best) else None}
        if t is not None:
            p["time"] = round(t, 6)
        self.points.append(p)


def eta_options(task: Task) -> dict[str, Any]:
    return {"min_resource": 1, "max_resource": task.R, "reduction_factor": 3}


TUNEPORT: dict[str, tuple[str, dict[str, Any]]] = {
    "tuneport-asha": ("tpe", {"name": "asha", "options": {}}),
    "tuneport-hyperband": ("tpe", {"name": "hyperband", "options": {}}),
    "tuneport-bohb": ("random", {"name": "bohb", "options": {}}),
    "tuneport-median": ("tpe", {"name": "median", "options": {}}),
}


def scheduler_for(optimizer: str, task: Task) -> tuple[str, dict[str, Any]]:
    strategy, sched = TUNEPORT[optimizer]
    opts = {} if sched["name"] == "median" else eta_options(task)
    return strategy, {"name": sched["name"], "options": opts}


def run_tuneport(client: tp.Client, task: Task, optimizer: str, seed: int, total: int) -> list[Point]:
    strategy, sched = scheduler_for(optimizer, task)
    study = client.create_study(f"{task.name}-{optimizer}-{seed}-{time.monotonic_ns()}", space=task.space(),
                                strategy=strategy, scheduler=sched, seed=seed)
    rec = Anytime(task.name, optimizer, seed)
    while rec.steps < total:
        with study.ask() as trial:
            params = dict(trial.params)
            run = task.start(params, seed)
            budget = int(trial.budget or task.R)
            value = math.nan
            for t in range(1, budget + 1):
                if rec.steps >= total:
                    break
                value = run.advance(t)
                rec.steps += 1
                trial.report(value, t)
            if run.t == task.R:
                rec.full(task.quality(run, params))
            if run.t < budget:
                trial.fail("benchmark budget spent")
            elif math.isfinite(value):
                trial.complete(value)
            else:
                trial.fail("diverged")
    rec.add()
    return rec.points


def run_optuna(task: Task, optimizer: str, seed: int, total: int) -> list[Point]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner: Any = (optuna.pruners.HyperbandPruner(min_resource=1, max_resource=task.R, reduction_factor=3)
                   if optimizer == "optuna-hyperband" else optuna.pruners.MedianPruner())
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)
    rec = Anytime(task.name, optimizer, seed)
    while rec.steps < total:
        trial = study.ask()
        params = task.optuna_params(trial)
        run = task.start(params, seed)
        state, value = optuna.trial.TrialState.COMPLETE, math.nan
        for t in range(1, task.R + 1):
            if rec.steps >= total:
                state = optuna.trial.TrialState.FAIL
                break
            value = run.advance(t)
            rec.steps += 1
            trial.report(value, t)
            if trial.should_prune():
                state = optuna.trial.TrialState.PRUNED
                break
        if run.t == task.R:
            rec.full(task.quality(run, params))
        if state == optuna.trial.TrialState.COMPLETE and not math.isfinite(value):
            state = optuna.trial.TrialState.FAIL
        study.tell(trial, value if state == optuna.trial.TrialState.COMPLETE else None, state=state)
    rec.add()
    return rec.points


def run_random_full(task: Task, seed: int, total: int) -> list[Point]:
    rng = np.random.default_rng([seed, 7])
    rec = Anytime(task.name, "random-full", seed)
    while rec.steps + task.R <= total:
        params = task.random_params(rng)
        run = task.start(params, seed)
        run.advance(task.R)
        rec.steps += task.R
        rec.full(task.quality(run, params))
    rec.steps = max(rec.steps, total)
    rec.add()
    return rec.points


# ---------------------------------------------------------------- 8 asynchronous workers


def sim_server(client: tp.Client, task: Task, optimizer: str, seed: int, horizon: float, workers: int) -> list[Point]:
    """ASHA or asynchronous Hyperband on the server, `workers` simulated workers, reports in simulated-time order."""
    strategy, sched = scheduler_for(optimizer, task)
    study = client.create_study(f"async-{optimizer}-{seed}-{time.monotonic_ns()}", space=task.space(),
                                strategy=strategy, scheduler=sched, seed=seed)
    rec = Anytime(task.name + "-async8", optimizer, seed)
    slots: list[tuple[tp.Trial, Run, Params] | None] = [None] * workers
    events: list[tuple[float, int]] = []

    runs: dict[int, Run] = {}  # by trial number: ASHA promotions resume a trial's run (its checkpoint)

    def begin(w: int, now: float) -> None:
        trial = study.ask()
        params = dict(trial.params)
        resumed = runs.get(trial.resume_from) if trial.resume_from is not None else None
        run = resumed if resumed is not None else task.start(params, seed)
        runs[trial.number] = run
        slots[w] = (trial, run, params)
        heapq.heappush(events, (now + task.cost(params), w))

    for w in range(workers):
        begin(w, 0.0)
    while events:
        now, w = heapq.heappop(events)
        if now > horizon:
            break
        slot = slots[w]
        assert slot is not None
        trial, run, params = slot
        t = run.t + 1
        value = run.advance(t)
        rec.steps += 1
        try:
            trial.report(value, t)
        except tp.TrialPruned:
            trial.prune()
            begin(w, now)
            continue
        if t >= int(trial.budget or task.R):
            if run.t >= task.R:  # only a configuration trained to R counts (promotion mode stops earlier)
                rec.full(task.quality(run, params), now)
            trial.complete(value)
            begin(w, now)
        else:
            heapq.heappush(events, (now + task.cost(params), w))
    for slot in slots:
        if slot is not None and not slot[0].finished:
            slot[0].fail("simulation over")
    rec.add(horizon)
    return rec.points


def sim_sync_hyperband(task: Task, seed: int, horizon: float, workers: int, eta: int = 3) -> list[Point]:
    """Hyperband's Algorithm 1 (random configurations, survivors resume where they stopped) on
    `workers` workers: a rung's jobs go to the earliest free worker, and the next rung starts
    only when the whole rung has finished (the synchronisation ASHA removes)."""
    rng = np.random.default_rng([seed, 11])
    rec = Anytime(task.name + "-async8", "hyperband-sync", seed)
    s_max = int(math.floor(math.log(task.R) / math.log(eta) + 1e-9))
    now = 0.0
    while True:
        for s in range(s_max, -1, -1):
            n = int(math.ceil((s_max + 1) / (s + 1) * eta**s))
            r = task.R * eta ** (-s)
            configs = [task.random_params(rng) for _ in range(n)]
            runs = [task.start(p, seed) for p in configs]
            last = [math.inf] * n
            for i in range(s + 1):
                r_i = int(round(r * eta**i))
                free = [now] * workers
                done: list[tuple[float, int]] = []
                for j, (p, run) in enumerate(zip(configs, runs)):
                    k = int(np.argmin(free))
                    free[k] += (r_i - run.t) * task.cost(p)
                    for t in range(run.t + 1, r_i + 1):
                        v = run.advance(t)
                        rec.steps += 1
                    last[j] = v if math.isfinite(v) else math.inf
                    done.append((free[k], j))
                for end, j in sorted(done):
                    if end > horizon:
                        rec.add(horizon)
                        return rec.points
                    if runs[j].t == task.R:
                        rec.full(task.quality(runs[j], configs[j]), end)
                now = max(free)
                keep = int(math.floor(n * eta ** (-i - 1)))
                order = sorted(range(len(runs)), key=lambda j: last[j])[:keep]
                configs, runs, last = [configs[j] for j in order], [runs[j] for j in order], [last[j] for j in order]


def sim_random_full(task: Task, seed: int, horizon: float, workers: int) -> list[Point]:
    rng = np.random.default_rng([seed, 7])
    rec = Anytime(task.name + "-async8", "random-full", seed)
    free = [0.0] * workers
    while True:
        k = int(np.argmin(free))
        params = task.random_params(rng)
        end = free[k] + task.R * task.cost(params)
        if end > horizon:
            rec.add(horizon)
            return rec.points
        run = task.start(params, seed)
        run.advance(task.R)
        rec.steps += task.R
        free[k] = end
        rec.full(task.quality(run, params), end)


# ---------------------------------------------------------------- summaries


def q(xs: list[float], p: float) -> float:
    """Quantile with linear interpolation that keeps ∞ (a run with no value yet) instead of NaN."""
    if not xs:
        return math.nan
    v = sorted(xs)
    k = (len(v) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    if v[lo] == v[hi] or not (math.isfinite(v[lo]) and math.isfinite(v[hi])):
        return v[hi] if k > lo else v[lo]
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def best_at(points: list[Point], budget: float, key: str = "steps") -> float:
    b = math.inf
    for p in points:
        if p[key] <= budget and p["best"] is not None:
            b = min(b, p["best"])
    return b


def first_reach(points: list[Point], target: float, key: str = "steps") -> float:
    for p in points:
        if p["best"] is not None and p["best"] <= target:
            return float(p[key])
    return math.inf


def by_run(points: list[Point]) -> dict[tuple[str, int], list[Point]]:
    out: dict[tuple[str, int], list[Point]] = {}
    for p in points:
        out.setdefault((p["optimizer"], p["seed"]), []).append(p)
    return out


def fmt(v: float, digits: int = 3) -> str:
    return "—" if not math.isfinite(v) else f"{v:.{digits}f}"


def mi(xs: list[float], digits: int = 3) -> str:
    """median [q1, q3]"""
    return f"{fmt(q(xs, 0.5), digits)} [{fmt(q(xs, 0.25), digits)}, {fmt(q(xs, 0.75), digits)}]"


def reach_cell(xs: list[float]) -> str:
    n_ok = sum(math.isfinite(x) for x in xs)
    med = q(xs, 0.5)
    return f"{fmt(med, 0) if math.isfinite(med) else 'not reached'} ({n_ok}/{len(xs)})"


ORDER = ["tuneport-asha", "tuneport-hyperband", "tuneport-bohb", "tuneport-median", "optuna-hyperband", "optuna-median",
         "random-full", "hyperband-sync"]


def table(points: list[Point], budgets: list[float], key: str, total: float, unit: str) -> tuple[str, dict[str, Any]]:
    runs = by_run(points)
    opts = [o for o in ORDER if any(k[0] == o for k in runs)]
    rand_final = [best_at(v, total, key) for (o, _), v in runs.items() if o == "random-full"]
    target = q(rand_final, 0.5)
    head = "| optimizer | " + " | ".join(f"best @ {b:g} {unit}" for b in budgets) + f" | {unit} to reach random-full's final median ({fmt(target)}) |"
    lines = [head, "|" + " --- |" * (len(budgets) + 2)]
    summary: dict[str, Any] = {"target": target}
    for o in opts:
        mine = [v for (oo, _), v in runs.items() if oo == o]
        cells = [mi([best_at(v, b, key) for v in mine]) for b in budgets]
        reach = [first_reach(v, target, key) for v in mine]
        summary[o] = {"at": {b: q([best_at(v, b, key) for v in mine], 0.5) for b in budgets},
                      "reach_median": q(reach, 0.5)}
        lines.append(f"| {o} | " + " | ".join(cells) + f" | {reach_cell(reach)} |")
    return "\n".join(lines), summary


def plot(points: list[Point], key: str, title: str, path: str, xlabel: str, logx: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "tuneport"
    import matplotlib.pyplot as plt

    runs = by_run(points)
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    xmax = max(p[key] for p in points)
    grid = np.geomspace(max(1.0, xmax / 300), xmax, 120) if logx else np.linspace(0, xmax, 120)
    for o in [o for o in ORDER if any(k[0] == o for k in runs)]:
        curves = [[best_at(v, g, key) for g in grid] for (oo, _), v in runs.items() if oo == o]
        med, lo, hi = (np.array([q([c[i] for c in curves], p) for i in range(len(grid))]) for p in (0.5, 0.25, 0.75))
        ok = np.isfinite(med)
        style = "--" if o.startswith("optuna") else (":" if o in ("random-full", "hyperband-sync") else "-")
        line, = ax.plot(grid[ok], med[ok], style, label=o, lw=1.6)
        band = np.isfinite(lo) & np.isfinite(hi)
        ax.fill_between(grid[band], lo[band], hi[band], color=line.get_color(), alpha=0.12, lw=0)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best loss so far (median, IQR band)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smoke test: tiny budgets, 2 seeds, nothing written to docs/")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--digits-seeds", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="do not write docs/ (the JSON is always written)")
    ap.add_argument("--out", default=None, help="results path (default bench/results/multifidelity.json)")
    ap.add_argument("--render", metavar="JSON", help="only rewrite docs/ from a results file")
    args = ap.parse_args()
    t_start = time.time()
    if args.render:
        with open(args.render) as f:
            saved = json.load(f)
        render(saved["runs"], saved["meta"], float(saved["meta"].get("total_wall_s", 0)))
        return

    curve = LearningCurve(81)
    if args.quick:
        seeds, digit_seeds, curve_total, digits_r, digits_total, horizon = 2, 1, 81 * 4, 3, 3 * 6, 150.0
    else:
        seeds, digit_seeds, curve_total, digits_r, digits_total, horizon = args.seeds, args.digits_seeds, 81 * 60, 27, 27 * 20, 1200.0
    digits = Digits(digits_r)
    optimizers = [*TUNEPORT, "optuna-hyperband", "optuna-median", "random-full"]
    points: list[Point] = []
    timing: dict[str, float] = {}
    with Server() as srv, tp.connect(srv.endpoint, timeout=30.0) as client:
        for task, n_seeds, total in ((curve, seeds, curve_total), (digits, digit_seeds, digits_total)):
            for opt in optimizers:
                t0 = time.perf_counter()
                for seed in range(n_seeds):
                    if opt in TUNEPORT:
                        points += run_tuneport(client, task, opt, seed, total)
                    elif opt.startswith("optuna"):
                        points += run_optuna(task, opt, seed, total)
                    else:
                        points += run_random_full(task, seed, total)
                timing[f"{task.name}/{opt}"] = round(time.perf_counter() - t0, 1)
                print(f"{task.name:15s} {opt:20s} {n_seeds} seeds  {timing[f'{task.name}/{opt}']:7.1f}s", flush=True)
        t0 = time.perf_counter()
        for seed in range(seeds):
            points += sim_server(client, curve, "tuneport-asha", seed, horizon, 8)
            points += sim_server(client, curve, "tuneport-hyperband", seed, horizon, 8)
            points += sim_sync_hyperband(curve, seed, horizon, 8)
            points += sim_random_full(curve, seed, horizon, 8)
        timing["async8"] = round(time.perf_counter() - t0, 1)
        print(f"async 8 workers: {timing['async8']:.1f}s", flush=True)

    meta = {"machine": machine(), "quick": args.quick, "seeds": {"learning-curve": seeds, "digits": digit_seeds},
            "budgets": {"learning-curve": {"R": curve.R, "total_steps": curve_total},
                        "digits": {"R": digits.R, "total_epochs": digits_total},
                        "learning-curve-async8": {"workers": 8, "horizon": horizon}},
            "optimizers": {o: {"strategy": scheduler_for(o, curve)[0], "scheduler": scheduler_for(o, curve)[1]} for o in TUNEPORT},
            "wall_s": timing, "total_wall_s": round(time.time() - t_start)}
    if args.out:
        path = args.out
        with open(path, "w") as f:
            json.dump({"meta": meta, "runs": points}, f, indent=None)
    else:
        path = str(write_results("multifidelity", points, meta))
    print(f"wrote {path} ({len(points)} points, {time.time() - t_start:.0f}s)")
    if args.quick or args.no_write:
        return
    render(points, meta, time.time() - t_start)


def render(points: list[Point], meta: dict[str, Any], wall: float) -> None:
    seeds, digit_seeds = meta["seeds"]["learning-curve"], meta["seeds"]["digits"]
    curve_total, digits_total = meta["budgets"]["learning-curve"]["total_steps"], meta["budgets"]["digits"]["total_epochs"]
    horizon = meta["budgets"]["learning-curve-async8"]["horizon"]
    sections = []
    lc = [p for p in points if p["problem"] == "learning-curve"]
    dg = [p for p in points if p["problem"] == "digits"]
    asy = [p for p in points if p["problem"] == "learning-curve-async8"]
    lc_budgets = [81 * 5, 81 * 12, 81 * 30, curve_total]
    lc_table, lc_sum = table(lc, lc_budgets, "steps", curve_total, "steps")
    dg_budgets = [27 * 2, 27 * 4, 27 * 10, digits_total]
    dg_table, dg_sum = table(dg, dg_budgets, "steps", digits_total, "epochs")
    asy_budgets = [horizon / 8, horizon / 4, horizon / 2, horizon]
    asy_table, asy_sum = table(asy, asy_budgets, "time", horizon, "s")
    docs = ROOT / "docs"
    plot(lc, "steps", f"learning-curve (Hartmann6), R = 81, {seeds} seeds", str(docs / "multifidelity-learning-curve.svg"), "cumulative training steps", True)
    plot(dg, "steps", f"digits MLP, R = 27 epochs, {digit_seeds} seeds", str(docs / "multifidelity-digits.svg"), "cumulative training epochs", True)
    plot(asy, "time", f"learning-curve, 8 asynchronous workers, {seeds} seeds", str(docs / "multifidelity-async8.svg"), "simulated time (one step of x costs 1 + x3)", False)
    (docs / "multifidelity-summary.json").write_text(json.dumps({"learning-curve": lc_sum, "digits": dg_sum, "async8": asy_sum}, indent=1, default=str) + "\n")
    sections.append(goals(lc_sum, curve_total, "learning-curve"))
    sections.append(goals(dg_sum, digits_total, "digits"))
    md = f"""## Multi-fidelity and pruning (`make bench-multifidelity`)

Command: `make bench-multifidelity` (= `.venv/bin/python bench/multifidelity.py`), {meta['machine']}, {wall:.0f} s.
Raw anytime curves: `bench/results/multifidelity.json` (one object per improvement of a run's best, plus its last point).
`best` is a loss (lower is better): on learning-curve the noise-free y(x, R) of the best configuration trained to the
full budget R so far; on digits the validation cross-entropy at epoch R of the best configuration trained to R.
A step is one unit of training of one configuration (a pruned trial costs the steps it trained). Cells: median [IQR] over seeds;
"to reach": median over seeds of the first step at which the run's best is at most random-full's final median
(a run that never does counts as ∞; in brackets how many seeds reached it).
Tuneport's schedulers use η = 3, min_resource 1, max_resource R; ASHA is the stopping variant; ASHA, Hyperband and median
run with `tpe`, BOHB with its own model. Optuna 5.0 runs in process with `TPESampler(seed)` and `HyperbandPruner(1, R, 3)` /
`MedianPruner()`. random-full samples uniformly and trains every configuration to R.

### Synthetic learning curves (Hartmann6), R = 81 steps, {curve_total} steps per run, {seeds} seeds

{lc_table}

![learning-curve](multifidelity-learning-curve.svg)

### Digits MLP (PyTorch, CPU), R = 27 epochs, {digits_total} epochs per run, {digit_seeds} seeds

{dg_table}

![digits](multifidelity-digits.svg)

The digits task uses {digit_seeds} seeds and {digits_total // 27} full-budget equivalents per run to keep the whole benchmark
within about 15 minutes on 2 shared cores.

### 8 asynchronous workers (learning-curve, simulated time, horizon {horizon:g})

One step of configuration x takes c(x) = 1 + x3 simulated seconds; the reports of 8 workers reach the server in
simulated-time order. hyperband-sync is the paper's Algorithm 1 with random configurations, survivors resuming, and
a barrier after every rung (each rung waits for its slowest job); tuneport-hyperband is the server's asynchronous
(Optuna-style) Hyperband. Columns are simulated seconds.

{asy_table}

![async](multifidelity-async8.svg)

### Where the goals stand

{chr(10).join(sections)}
- 8 workers: time to reach random-full's final median: {async_line(asy_sum)}.
"""
    update_benchmarks_md("multifidelity", md)
    print("updated docs/BENCHMARKS.md")


def goals(summary: dict[str, Any], total: int, name: str) -> str:
    fifth = total / 5
    lines = []
    for o in ("tuneport-asha", "tuneport-hyperband", "tuneport-bohb", "tuneport-median"):
        r = summary[o]["reach_median"]
        verdict = "met" if r <= fifth else "not met"
        lines.append(f"{o} {fmt(r, 0) if math.isfinite(r) else 'not reached'} ({verdict})")
    opt_best = {b: min(summary[o]["at"][b] for o in ("optuna-hyperband", "optuna-median")) for b in summary["tuneport-asha"]["at"]}
    ahead = []
    for o in ("tuneport-asha", "tuneport-hyperband", "tuneport-bohb", "tuneport-median"):
        wins = sum(summary[o]["at"][b] < opt_best[b] for b in opt_best)
        ahead.append(f"{o} {wins}/{len(opt_best)}")
    return (f"- {name}: steps to random-full's final quality (goal ≤ {fifth:g} = 1/5 of {total}): " + ", ".join(lines) + ".\n"
            f"- {name}: budgets at which the median best beats both Optuna pruners' medians: " + ", ".join(ahead) + ".")


def async_line(summary: dict[str, Any]) -> str:
    return ", ".join(f"{o} {fmt(summary[o]['reach_median'], 0) if math.isfinite(summary[o]['reach_median']) else 'not reached'}" for o in ORDER if o in summary)


if __name__ == "__main__":
    main()
