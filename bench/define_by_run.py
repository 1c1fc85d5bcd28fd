"""Define-by-run against a declared space (issue 17): the same problems, the same seeds, the default
strategy (none named at create_study; `--strategy` names one) told its space with `space=` or suggesting every parameter
inside the objective (`trial.suggest_float(...)`, as a migrated Optuna script does), plus Optuna 5.0's
default TPESampler(seed) define-by-run as the reference. Sequential, one trial at a time.

    nice -n 10 .venv/bin/python bench/define_by_run.py --seeds 5 --trials 60 \
        --build before=/path/to/old/dist/cli/main.js --build after=dist/cli/main.js

Each `--build NAME=CLI` gets its own `tuneport serve` (SQLite in a temporary directory) on
`--port` + its index. Prints the median best (regret for problems with a known optimum, the
value otherwise) per problem and mode, and writes every run's best to `--out` (JSON), with a hash of
the parameters of every trial it asked (`digests`: equal for two builds that made the same proposals).

With `--scheduler NAME` (a tuneport scheduler with its defaults: median, asha, hyperband, ...) the
problems are bench/mf_problems.py's learning curves (learning-curve, crossing, slow-start, diverge;
R = 81 steps), each trial reporting every step and stopped when the scheduler says so, the study's
`max_resource` R; `--workers N` runs N simulated asynchronous workers, one step each in turn, and a
run ends after `--steps` training steps. Its best: the noise-free loss at R of the best configuration
trained to R. Optuna's reference: TPESampler(seed) with the matching pruner (median: MedianPruner;
asha, successive-halving: SuccessiveHalvingPruner; hyperband: HyperbandPruner(1, R)), as many trials
in flight as workers.

    nice -n 10 .venv/bin/python bench/define_by_run.py --scheduler asha --workers 8 --seeds 5 \
        --build before=/path/to/old/dist/cli/main.js --build after=dist/cli/main.js
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-client" / "src"))

from common import ROOT, wait_for_port  # noqa: E402
from mf_problems import CURVE_TASKS, CurveTask, Run  # noqa: E402
from suite import PROBLEMS, Param, Params, Problem, _bb  # noqa: E402

BY_NAME = {p.name: p for p in PROBLEMS}
# Rosenbrock in 2-D (the suite has it in 5 and 20): a curved valley, x0 and x1 correlated.
BY_NAME["rosenbrock2"] = _bb("rosenbrock", 2)


def suggest(trial: Any, q: Param) -> Any:
    """The objective's own suggest call for one parameter (Optuna's API, on tuneport's or Optuna's trial)."""
    if q.kind == "cat":
        return trial.suggest_categorical(q.name, list(q.choices))
    if q.kind == "int":
        return trial.suggest_int(q.name, int(q.low), int(q.high), log=q.log)
    return trial.suggest_float(q.name, q.low, q.high, log=q.log)


def digest(asked: list[Params]) -> str:
    """A short hash of the parameters of every trial asked, in order: two builds that made the same proposals give the same one."""
    return hashlib.sha1(json.dumps(asked, sort_keys=True).encode()).hexdigest()[:12]


def run_tuneport(endpoint: str, prob: Problem, seed: int, n: int, declared: bool, strategy: str,
                 asked: list[Params]) -> list[float]:
    import tuneport as tp

    f = prob.make(seed)
    client = tp.connect(endpoint, timeout=300.0)
    try:
        space: dict[str, Any] | None = None
        if declared:
            space = {q.name: (tp.Categorical(list(q.choices)) if q.kind == "cat" else
                              tp.Int(int(q.low), int(q.high), log=q.log) if q.kind == "int" else tp.Float(q.low, q.high, log=q.log))
                     for q in prob.space}
        named: dict[str, Any] = {"strategy": strategy} if strategy else {}
        study = client.create_study(f"dbr-{prob.name}-{seed}-{uuid.uuid4().hex[:8]}", direction="minimize", space=space, seed=seed, **named)
        out: list[float] = []
        for _ in range(n):
            trial = study.ask()
            params: Params = {q.name: suggest(trial, q) for q in prob.space}
            asked.append(params)
            observed, true = f(params)
            trial.complete(observed)
            out.append(true)
        return out
    finally:
        client.close()


def run_optuna(prob: Problem, seed: int, n: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    f = prob.make(seed)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    out: list[float] = []
    for _ in range(n):
        trial = study.ask()
        observed, true = f({q.name: suggest(trial, q) for q in prob.space})
        study.tell(trial, observed)
        out.append(true)
    return out


class Worker:
    """One simulated worker's trial: its configuration's run and how far it trained."""

    def __init__(self, trial: Any, params: Params, run: Run, budget: int) -> None:
        self.trial, self.params, self.run, self.budget, self.t = trial, params, run, budget, 0


def run_tuneport_scheduled(endpoint: str, task: CurveTask, seed: int, steps: int, workers: int, declared: bool,
                           strategy: str, scheduler: str, asked: list[Params]) -> float:
    """Best noise-free loss at R of a configuration trained to R, `workers` trials in flight, `steps` steps in all."""
    import tuneport as tp

    client = tp.connect(endpoint, timeout=300.0)
    try:
        named: dict[str, Any] = {"strategy": strategy} if strategy else {}
        study = client.create_study(f"dbr-{scheduler}-{task.name}-{seed}-{uuid.uuid4().hex[:8]}", direction="minimize",
                                    space=task.space() if declared else None, seed=seed, max_resource=task.R,
                                    scheduler={"name": scheduler, "options": {}}, **named)

        def start() -> Worker:
            trial = study.ask()
            params = dict(trial.params) if declared else task.optuna_params(trial)
            asked.append(params)
            return Worker(trial, params, task.start(params, seed), int(trial.budget or task.R))

        best, done = math.inf, 0
        flight = [start() for _ in range(workers)]
        while done < steps:
            for i, w in enumerate(flight):
                w.t += 1
                value = w.run.advance(w.t)
                done += 1
                if w.t == task.R:
                    best = min(best, task.quality(w.run, w.params))
                try:
                    w.trial.report(step=w.t, value=value, raise_on_prune=True)
                except tp.TrialPruned:
                    w.trial.prune()
                    flight[i] = start()
                    continue
                if w.t >= w.budget:
                    if math.isfinite(value):
                        w.trial.complete(value)
                    else:
                        w.trial.prune()  # diverged to the end: a stopped run
                    flight[i] = start()
        for w in flight:
            w.trial.fail("benchmark budget spent")
        return best
    finally:
        client.close()


def run_optuna_scheduled(task: CurveTask, seed: int, steps: int, workers: int, scheduler: str) -> float:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    pruner = (optuna.pruners.MedianPruner() if scheduler == "median" else
              optuna.pruners.HyperbandPruner(min_resource=1, max_resource=task.R) if scheduler == "hyperband" else
              optuna.pruners.SuccessiveHalvingPruner())
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)

    def start() -> Worker:
        trial = study.ask()
        params = task.optuna_params(trial)
        return Worker(trial, params, task.start(params, seed), task.R)

    best, done = math.inf, 0
    flight = [start() for _ in range(workers)]
    while done < steps:
        for i, w in enumerate(flight):
            w.t += 1
            value = w.run.advance(w.t)
            done += 1
            if w.t == task.R:
                best = min(best, task.quality(w.run, w.params))
            w.trial.report(value, w.t)
            if w.trial.should_prune():
                study.tell(w.trial, state=optuna.trial.TrialState.PRUNED)
                flight[i] = start()
            elif w.t >= w.budget:
                finite = math.isfinite(value)
                study.tell(w.trial, value if finite else None, state=optuna.trial.TrialState.COMPLETE if finite else optuna.trial.TrialState.PRUNED)
                flight[i] = start()
    return best


def best_of(values: list[float], prob: Problem) -> float:
    """The best value found (the values are noiseless here); minus f* when it is known."""
    return min(values) - (prob.f_star or 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", default="rosenbrock2,hartmann6,mixed")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--build", action="append", default=[], help="NAME=path/to/cli/main.js (repeatable; default: this tree's dist)")
    ap.add_argument("--strategy", default="", help="the strategy to name (default: none, i.e. the server's default, auto)")
    ap.add_argument("--port", type=int, default=62200)
    ap.add_argument("--no-optuna", action="store_true")
    ap.add_argument("--scheduler", default="", help="run the learning-curve problems under this tuneport scheduler (see above)")
    ap.add_argument("--workers", type=int, default=1, help="with --scheduler: simulated asynchronous workers")
    ap.add_argument("--steps", type=int, default=20 * 81, help="with --scheduler: training steps per run")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build] or [["dist", str(ROOT / "dist" / "cli" / "main.js")]]
    if a.scheduler and a.problems == ap.get_default("problems"):
        a.problems = ",".join(CURVE_TASKS)
    problems: list[Any] = [CURVE_TASKS[p]() if a.scheduler else BY_NAME[p] for p in a.problems.split(",")]
    results: dict[str, dict[str, list[float]]] = {}
    digests: dict[str, dict[str, list[str]]] = {}
    servers: list[tuple[str, str, subprocess.Popen[Any], str]] = []
    try:
        for i, (name, cli) in enumerate(builds):
            d = tempfile.mkdtemp(prefix="tuneport-dbr-")
            endpoint = f"tcp://127.0.0.1:{a.port + i}"
            log = open(os.path.join(d, "server.log"), "w")
            proc = subprocess.Popen(["node", cli, "serve", "--storage", os.path.join(d, "s.db"), "--bind", endpoint, "--log-level", "warn"],
                                    stdout=log, stderr=subprocess.STDOUT)
            servers.append((name, endpoint, proc, d))
            wait_for_port(endpoint, proc, log=os.path.join(d, "server.log"))
        for prob in problems:
            cell = results.setdefault(prob.name, {})
            for seed in range(a.seeds):
                # Builds alternate within a seed, so that a slower stretch of the machine hits all of them.
                for name, endpoint, _, _ in servers:
                    for declared in (True, False):
                        mode = f"{name} {'space=' if declared else 'define-by-run'}"
                        asked: list[Params] = []
                        best = (run_tuneport_scheduled(endpoint, prob, seed, a.steps, a.workers, declared, a.strategy, a.scheduler, asked)
                                if a.scheduler else best_of(run_tuneport(endpoint, prob, seed, a.trials, declared, a.strategy, asked), prob))
                        cell.setdefault(mode, []).append(best)
                        digests.setdefault(prob.name, {}).setdefault(mode, []).append(digest(asked))
                if not a.no_optuna:
                    best = (run_optuna_scheduled(prob, seed, a.steps, a.workers, a.scheduler) if a.scheduler
                            else best_of(run_optuna(prob, seed, a.trials), prob))
                    cell.setdefault("optuna TPE define-by-run", []).append(best)
                print(prob.name, seed, {m: f"{v[-1]:.4g}" for m, v in cell.items()}, flush=True)
    finally:
        for _, _, proc, d in servers:
            proc.terminate()
            proc.wait(timeout=30)
            shutil.rmtree(d, ignore_errors=True)
    modes = list(next(iter(results.values())).keys())
    budget = f"{a.steps} steps, {a.workers} worker(s), {a.scheduler}" if a.scheduler else f"{a.trials} trials"
    print(f"\n{a.strategy or 'default strategy'}: median best over {a.seeds} seeds at {budget} ({'the loss at R' if a.scheduler else 'regret where f* is known'})")
    print("| problem | " + " | ".join(modes) + " |")
    print("|---|" + "---:|" * len(modes))
    for p, cell in results.items():
        print(f"| {p} | " + " | ".join(f"{statistics.median(cell[m]):.4g}" for m in modes) + " |")
    if a.out:
        Path(a.out).write_text(json.dumps({"strategy": a.strategy, "seeds": a.seeds, "trials": a.trials, "scheduler": a.scheduler,
                                           "workers": a.workers, "steps": a.steps, "results": results,
                                           "digests": digests}, indent=1))


if __name__ == "__main__":
    main()
