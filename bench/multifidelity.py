"""`make bench-multifidelity`: every scheduler with the default strategy, against Optuna 5.0's TPE with its
pruners and full-budget random search, on learning-curve problems and a real PyTorch task.

Problems (bench/mf_problems.py): four synthetic learning-curve families with R = 81 steps —
learning-curve (Hartmann6, slow good learners), crossing (fast learners plateau worse), slow-start
(the best configurations take off late), diverge (high learning rates learn fastest, then turn NaN) —
and digits, a PyTorch MLP on scikit-learn's digits with R = 27 epochs. `best` = the noise-free loss at R
of the best configuration trained to R so far (digits: its validation cross-entropy at epoch R).

Optimizers (a step is one unit of training; a stopped trial costs the steps it trained; a promoted one
resumes its run and costs only the new steps). Every tuneport study names no strategy — it gets the
default — and gives its budget as the study's `max_resource` = R; schedulers keep their defaults
(η = 3; min_resource R/η² for asha, 1 for the others) unless a row says otherwise:
  tuneport-asha                asha (stopping)
  tuneport-asha-promotion      asha mode promotion
  tuneport-hyperband           hyperband
  tuneport-sha                 successive-halving (min_resource 1, η = 3)
  tuneport-median              median (Optuna's defaults)
  tuneport-bohb                bohb (chooses configurations itself; the default strategy is random there)
  ablations (strategy named):  tuneport-asha-gp (GP alone), tuneport-asha-min1/-min3 (ASHA's first rung), tuneport-asha-tpe,
                               tuneport-asha-gp-*, tuneport-median-tpe, tuneport-median-gp, tuneport-promotion-*,
                               tuneport-asha-eta4 (η = 4, Ray's default)
  optuna-sha                   Optuna 5.0 TPESampler(seed) + SuccessiveHalvingPruner() (its defaults)
  optuna-hyperband             TPESampler(seed) + HyperbandPruner(min_resource=1, max_resource=R)
  optuna-median                TPESampler(seed) + MedianPruner()
  random-full                  uniform random configurations, each trained to R

Also an 8-worker asynchronous simulation on learning-curve (simulated time, cost c(x) = 1 + x3 per step):
the server's ASHA and Hyperband (default strategy) against synchronous Hyperband and random-full.

Writes bench/results/multifidelity.json ({"meta", "runs": [{problem, optimizer, seed, steps, best}]}, anytime
points; meta.run_stats holds per-run trial counts and repeated configurations), docs/multifidelity-*.svg and
the multifidelity section of docs/BENCHMARKS.md.

    python bench/multifidelity.py [--quick] [--seeds N] [--first-seed K] [--digits-seeds N] [--problems a,b] [--optimizers a,b]
                                  [--merge] [--no-async] [--no-write] [--out PATH] [--render JSON]
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import RESULTS, Server, machine, write_results  # noqa: E402
from mf_problems import CURVE_TASKS, Digits, LearningCurve, Params, Run, Task  # noqa: E402,F401

import tuneport as tp  # noqa: E402

Point = dict[str, Any]

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


# ---------------------------------------------------------------- optimizers

# auto with the GP alone under a scheduler (its GP/TPE hedge off): the default before 2026-12-01.
GP_ALONE: dict[str, Any] = {"name": "auto", "options": {"with_scheduler": "gp", "portfolio_under_scheduler": "off"}}

# auto with the hedge's blended credit under a scheduler too (portfolio_credit_under_scheduler).
BLEND: dict[str, Any] = {"name": "auto", "options": {"portfolio_credit_under_scheduler": "blend"}}

# name → (strategy: None for the server's default, or {name, options}; scheduler name; scheduler options)
TUNEPORT: dict[str, tuple[dict[str, Any] | None, str, dict[str, Any]]] = {
    "tuneport-asha": (None, "asha", {}),
    "tuneport-asha-promotion": (None, "asha", {"mode": "promotion"}),
    "tuneport-hyperband": (None, "hyperband", {}),
    "tuneport-sha": (None, "successive-halving", {"min_resource": 1, "reduction_factor": 3}),
    "tuneport-median": (None, "median", {}),
    "tuneport-bohb": (None, "bohb", {}),
    # Ablations that chose the default strategy and ASHA's first rung (docs/BENCHMARKS.md). "gp": the
    # GP alone (auto without its hedge); "-min1"/"-min3": ASHA's min_resource instead of R/eta^2.
    "tuneport-asha-gp": (GP_ALONE, "asha", {}),
    "tuneport-asha-min1": (None, "asha", {"min_resource": 1}),
    "tuneport-asha-min3": (None, "asha", {"min_resource": 3}),
    "tuneport-asha-gp-min1": (GP_ALONE, "asha", {"min_resource": 1}),
    "tuneport-asha-tpe": ({"name": "tpe", "options": {}}, "asha", {}),
    "tuneport-asha-tpe-min1": ({"name": "tpe", "options": {}}, "asha", {"min_resource": 1}),
    "tuneport-asha-random": ({"name": "random", "options": {}}, "asha", {}),
    "tuneport-asha-gp-level": ({"name": "auto", "options": {**GP_ALONE["options"], "gp": {"fidelity": "level"}}}, "asha", {}),
    "tuneport-asha-gp-common": ({"name": "auto", "options": {**GP_ALONE["options"], "gp": {"fidelity": "common"}}}, "asha", {}),
    "tuneport-asha-gp-observed": ({"name": "auto", "options": {**GP_ALONE["options"], "gp": {"fidelity": "observed"}}}, "asha", {}),
    "tuneport-median-tpe": ({"name": "tpe", "options": {}}, "median", {}),
    "tuneport-median-gp": (GP_ALONE, "median", {}),
    "tuneport-promotion-tpe": ({"name": "tpe", "options": {}}, "asha", {"mode": "promotion"}),
    "tuneport-promotion-gp": (GP_ALONE, "asha", {"mode": "promotion"}),
    "tuneport-promotion-min1": (None, "asha", {"mode": "promotion", "min_resource": 1}),
    "tuneport-promotion-gp-min1": (GP_ALONE, "asha", {"mode": "promotion", "min_resource": 1}),
    "tuneport-asha-eta4": (None, "asha", {"reduction_factor": 4}),
    # The hedge's credit under a scheduler: "blend" (the default without one) instead of "earlier".
    "tuneport-asha-blend": (BLEND, "asha", {}),
    "tuneport-promotion-blend": (BLEND, "asha", {"mode": "promotion"}),
    "tuneport-median-blend": (BLEND, "median", {}),
}
OPTUNA = ["optuna-sha", "optuna-hyperband", "optuna-median"]
MAIN = ["tuneport-asha", "tuneport-asha-promotion", "tuneport-hyperband", "tuneport-sha", "tuneport-median", "tuneport-bohb",
        *OPTUNA, "random-full"]
ABLATIONS = ["tuneport-asha-gp", "tuneport-asha-min1", "tuneport-asha-min3", "tuneport-asha-gp-min1", "tuneport-asha-tpe",
             "tuneport-asha-tpe-min1", "tuneport-asha-random", "tuneport-asha-gp-level", "tuneport-asha-gp-common",
             "tuneport-asha-gp-observed", "tuneport-median-tpe", "tuneport-median-gp", "tuneport-promotion-tpe", "tuneport-promotion-gp",
             "tuneport-promotion-min1", "tuneport-promotion-gp-min1", "tuneport-asha-eta4", "tuneport-asha-blend",
             "tuneport-promotion-blend", "tuneport-median-blend"]
QUICK = ["tuneport-asha", "tuneport-asha-promotion", "tuneport-median", "optuna-sha", "random-full"]
DIGITS = ["tuneport-asha", "tuneport-asha-promotion", "tuneport-hyperband", "tuneport-median", "tuneport-bohb", *OPTUNA, "random-full"]
ORDER = [*MAIN, *ABLATIONS, "hyperband-sync"]


def run_stats(study: tp.Study, problem: str, optimizer: str, seed: int, steps: int) -> dict[str, Any]:
    """Trial counts by state and repeated configurations (a promotion's continuation is not a repeat)."""
    trials = study.trials
    counts: dict[str, int] = {}
    seen: set[str] = set()
    repeats = 0
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
        if t.system_attrs.get("resume_from") is not None:
            continue
        key = json.dumps(sorted(t.params.items()))
        repeats += key in seen
        seen.add(key)
    return {"problem": problem, "optimizer": optimizer, "seed": seed, "steps": steps, "trials": len(trials),
            "counts": counts, "repeats": repeats}


def run_tuneport(client: tp.Client, task: Task, optimizer: str, seed: int, total: int, stats: list[dict[str, Any]]) -> list[Point]:
    strategy, sched, options = TUNEPORT[optimizer]
    study = client.create_study(f"{task.name}-{optimizer}-{seed}-{time.monotonic_ns()}", space=task.space(),
                                strategy=strategy, scheduler={"name": sched, "options": options}, seed=seed,
                                max_resource=task.R)
    rec = Anytime(task.name, optimizer, seed)
    runs: dict[int, Run] = {}  # by trial number: a promotion resumes the run of the trial it continues
    while rec.steps < total:
        trial = study.ask()
        params = dict(trial.params)
        resumed = runs.get(trial.resume_from) if trial.resume_from is not None else None
        run = resumed if resumed is not None else task.start(params, seed)
        runs[trial.number] = run
        budget = int(trial.budget or task.R)
        value = math.nan
        try:
            for t in range(run.t + 1, budget + 1):
                if rec.steps >= total:
                    break
                value = run.advance(t)
                rec.steps += 1
                trial.report(step=t, value=value, raise_on_prune=True)
        except tp.TrialPruned:
            trial.prune()
        if run.t == task.R:
            rec.full(task.quality(run, params))
        if trial.finished:
            continue
        if run.t < budget:
            trial.fail("benchmark budget spent")
        elif math.isfinite(value):
            trial.complete(value)
        else:
            trial.prune()  # diverged to the end without a scheduler stopping it: a stopped run
    rec.add()
    stats.append(run_stats(study, task.name, optimizer, seed, rec.steps))
    return rec.points


def optuna_pruner(optimizer: str, task: Task) -> Any:
    import optuna

    if optimizer == "optuna-sha":
        return optuna.pruners.SuccessiveHalvingPruner()
    if optimizer == "optuna-hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=task.R)
    return optuna.pruners.MedianPruner()


def run_optuna(task: Task, optimizer: str, seed: int, total: int) -> list[Point]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed), pruner=optuna_pruner(optimizer, task))
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
            state = optuna.trial.TrialState.PRUNED
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
    """A scheduler on the server, `workers` simulated workers, reports in simulated-time order."""
    strategy, sched, options = TUNEPORT[optimizer]
    study = client.create_study(f"async-{optimizer}-{seed}-{time.monotonic_ns()}", space=task.space(),
                                strategy=strategy, scheduler={"name": sched, "options": options}, seed=seed,
                                max_resource=task.R)
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
            trial.report(step=t, value=value, raise_on_prune=True)
        except tp.TrialPruned:
            trial.prune()
            begin(w, now)
            continue
        if t >= int(trial.budget or task.R):
            if run.t >= task.R:  # only a configuration trained to R counts (promotion mode stops earlier)
                rec.full(task.quality(run, params), now)
            if math.isfinite(value):
                trial.complete(value)
            else:
                trial.prune()
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
                    v = math.nan
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


# ---------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smoke test: tiny budgets, 2 seeds, nothing written to docs/")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0,
                    help="run seeds first-seed … first-seed + seeds − 1 (to add held-out seeds to a file with --merge or --out)")
    ap.add_argument("--digits-seeds", type=int, default=5)
    ap.add_argument("--problems", default=None, help=f"comma-separated subset of {', '.join([*CURVE_TASKS, 'digits'])}")
    ap.add_argument("--optimizers", default=None, help="comma-separated subset (default: every main row and ablation)")
    ap.add_argument("--merge", action="store_true", help="keep the other (problem, optimizer) runs of the results file")
    ap.add_argument("--no-async", action="store_true", help="skip the 8-worker simulation")
    ap.add_argument("--no-write", action="store_true", help="do not write docs/ (the JSON is always written)")
    ap.add_argument("--out", default=None, help="results path (default bench/results/multifidelity.json)")
    ap.add_argument("--render", metavar="JSON", help="only rewrite docs/ from a results file")
    args = ap.parse_args()
    from mf_report import render  # matplotlib and scipy only when rendering

    t_start = time.time()
    if args.render:
        with open(args.render) as f:
            saved = json.load(f)
        render(saved["runs"], saved["meta"])
        return

    problems = args.problems.split(",") if args.problems else [*CURVE_TASKS, "digits"]
    wanted = args.optimizers.split(",") if args.optimizers else None
    if args.quick:  # every code path once (promotion resumes, NaN, an Optuna pruner, digits), tiny budgets
        problems = args.problems.split(",") if args.problems else ["learning-curve", "diverge", "digits"]
        wanted = wanted or QUICK
        seeds, digit_seeds, curve_total, digits_r, digits_total, horizon = 1, 1, 81 * 3, 3, 3 * 6, 100.0
    else:
        # 40 full budgets per run, as the measurement (3,240 steps at R = 81).
        seeds, digit_seeds, curve_total, digits_r, digits_total, horizon = args.seeds, args.digits_seeds, 81 * 40, 27, 27 * 20, 1200.0
    plan: list[tuple[Task, int, int, list[str]]] = []
    for name in problems:
        if name == "digits":
            task: Task = Digits(digits_r)
            # The ablations are too slow for every full run on digits; named with --optimizers they run.
            plan.append((task, digit_seeds, digits_total, DIGITS if wanted is None else [*DIGITS, *ABLATIONS]))
        else:
            plan.append((CURVE_TASKS[name](), seeds, curve_total, [*MAIN, *ABLATIONS]))
    path = args.out or str(RESULTS / "multifidelity.json")
    old: dict[str, Any] = {"runs": [], "meta": {}}
    if args.merge and os.path.exists(path):
        with open(path) as f:
            old = json.load(f)
    points: list[Point] = []
    stats: list[dict[str, Any]] = []
    timing: dict[str, float] = {}
    done: set[tuple[str, str]] = set()
    base_meta: dict[str, Any] = {
        "machine": machine(), "quick": args.quick,
        "budgets": {**{n: {"R": 81, "total_steps": curve_total} for n in CURVE_TASKS},
                    "digits": {"R": digits_r, "total_epochs": digits_total},
                    "learning-curve-async8": {"workers": 8, "horizon": horizon}},
        "optimizers": {o: {"strategy": s or "(default)", "scheduler": {"name": n, "options": opts}, "study_max_resource": "R"}
                       for o, (s, n, opts) in TUNEPORT.items()},
    }
    old_meta = old.get("meta", {})

    def save() -> tuple[list[Point], dict[str, Any]]:
        """Writes what was run so far, merged with the kept runs of the old file (after every group)."""
        kept = [p for p in old["runs"] if (p["problem"], p["optimizer"]) not in done]
        all_points = kept + points
        seeds_by_problem: dict[str, int] = {}
        for p in all_points:
            seeds_by_problem[p["problem"]] = max(seeds_by_problem.get(p["problem"], 0), int(p["seed"]) + 1)
        meta = {**base_meta, "seeds": seeds_by_problem,
                "wall_s": {**old_meta.get("wall_s", {}), **timing},
                "total_wall_s": round(float(old_meta.get("total_wall_s", 0)) + time.time() - t_start),
                "run_stats": [s for s in old_meta.get("run_stats", []) if (s["problem"], s["optimizer"]) not in done] + stats}
        if args.out:
            with open(path, "w") as f:
                json.dump({"meta": meta, "runs": all_points}, f, indent=None)
        else:
            write_results("multifidelity", all_points, meta)
        return all_points, meta

    with Server() as srv, tp.connect(srv.endpoint, timeout=60.0) as client:
        for task, n_seeds, total, optimizers in plan:
            for opt in optimizers:
                if wanted is not None and opt not in wanted:
                    continue
                t0 = time.perf_counter()
                for seed in range(args.first_seed, args.first_seed + n_seeds):
                    if opt in TUNEPORT:
                        points += run_tuneport(client, task, opt, seed, total, stats)
                    elif opt.startswith("optuna"):
                        points += run_optuna(task, opt, seed, total)
                    else:
                        points += run_random_full(task, seed, total)
                done.add((task.name, opt))
                timing[f"{task.name}/{opt}"] = round(time.perf_counter() - t0, 1)
                print(f"{task.name:15s} {opt:28s} {n_seeds} seeds  {timing[f'{task.name}/{opt}']:7.1f}s", flush=True)
                save()
        if not args.no_async and "learning-curve" in problems:
            curve = LearningCurve()
            t0 = time.perf_counter()
            for seed in range(args.first_seed, args.first_seed + seeds):
                points += sim_server(client, curve, "tuneport-asha", seed, horizon, 8)
                points += sim_server(client, curve, "tuneport-hyperband", seed, horizon, 8)
                points += sim_sync_hyperband(curve, seed, horizon, 8)
                points += sim_random_full(curve, seed, horizon, 8)
            done |= {("learning-curve-async8", o) for o in ("tuneport-asha", "tuneport-hyperband", "hyperband-sync", "random-full")}
            timing["async8"] = round(time.perf_counter() - t0, 1)
            print(f"async 8 workers: {timing['async8']:.1f}s", flush=True)
    all_points, meta = save()
    print(f"wrote {path} ({len(all_points)} points, {time.time() - t_start:.0f}s)")
    if args.quick or args.no_write:
        return
    render(all_points, meta)


if __name__ == "__main__":
    main()
