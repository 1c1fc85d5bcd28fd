"""Dynamic strategies on real training tasks: PBT and PB2 against honest fixed-schedule baselines.

Five tasks that train in seconds on one CPU thread (bench/tasks.py: a CNN and an MLP on digits,
MLPs on breast_cancer, wine and diabetes), SGD whose learning rate, momentum and weight decay
are tuned (lr 1e-3..1 log, momentum 0..0.99, weight decay 1e-6..1e-2 log). Every optimizer gets
the same total number of training epochs (`--population` x `--epochs`, default 8 x 20 = 160)
and the same data split and initial weights per seed, through a real `tuneport serve`:

    pbt          population 8, asynchronous, perturbation interval 4 epochs (server defaults otherwise)
    pb2          the same with PB2's GP-bandit explore step
    tpe          8 trials x 20 epochs with fixed hyperparameters; 2 random start-up trials (25 %)
    random       8 trials x 20 epochs, uniform
    asha-tpe     TPE (5 start-up trials, about 25 % of the ~20 trials the budget allows) with ASHA
                 (stopping mode, rungs at 2, 6 and 18 epochs, eta 3, max 20), trials run until the
                 160 epochs are spent (the last one is cut at the budget)
    cosine-tpe   a tuned fixed schedule: cosine learning-rate decay over the 20 epochs from a
                 TPE-tuned peak rate (momentum and weight decay TPE-tuned, constant); 8 trials,
                 2 start-up trials

Recorded per (task, optimizer, seed) after every epoch of training: the lowest validation loss
of any model evaluated so far (`best`) and the test loss of that model (`test`), against the
epochs spent so far (`steps`; one row per `--population` epochs, i.e. per full-population
epoch). Raw rows go to bench/results/pbt.json (merged with the
surrogate problems of bench/pbt.mjs, same row format {problem, optimizer, seed, steps, best}),
the summary to docs/BENCHMARKS.md (section "pbt-tasks").

    make build venv && nice -n 10 .venv/bin/python bench/pbt_tasks.py              # all tasks, 10 seeds
    .venv/bin/python bench/pbt_tasks.py --tasks wine-mlp --seeds 1 --no-write        # smoke run
    .venv/bin/python bench/pbt_tasks.py --tasks digits-cnn --part cnn               # one shard, then
    .venv/bin/python bench/pbt_tasks.py --merge cnn,rest                            # merge shards + report
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tasks as T  # noqa: E402
from common import RESULTS, Server, machine  # noqa: E402

import tuneport as tp  # noqa: E402
from tuneport.torch import CheckpointWriter, pbt_complete, pbt_report  # noqa: E402

SPACE = {"lr": tp.Float(1e-3, 1.0, log=True), "momentum": tp.Float(0.0, 0.99), "weight_decay": tp.Float(1e-6, 1e-2, log=True)}
OPTIMIZERS = ["pbt", "pb2", "tpe", "random", "asha-tpe", "cosine-tpe"]


class Tracker:
    """Best validation loss (and that model's test loss) against epochs spent."""

    def __init__(self, rows: list[dict[str, Any]], problem: str, optimizer: str, seed: int, budget: int, every: int) -> None:
        self.rows, self.key, self.every = rows, {"problem": problem, "optimizer": optimizer, "seed": seed}, every
        self.budget, self.steps, self.best, self.test = budget, 0, math.inf, math.nan

    @property
    def spent(self) -> bool:
        return self.steps >= self.budget

    def epoch(self, val: float, test: float) -> None:
        self.steps += 1
        if math.isfinite(val) and val < self.best:
            self.best, self.test = val, test
        if self.steps % self.every == 0 or self.steps == self.budget:
            self.rows.append({**self.key, "steps": self.steps, "best": self.best, "test": self.test})


def apply(opt: torch.optim.Optimizer, params: dict[str, Any], lr: float | None = None) -> None:
    for g in opt.param_groups:
        g["lr"] = float(params["lr"]) if lr is None else lr
        g["momentum"] = float(params["momentum"])
        g["weight_decay"] = float(params["weight_decay"])


def sgd(net: torch.nn.Module, params: dict[str, Any]) -> torch.optim.Optimizer:
    return torch.optim.SGD(net.parameters(), lr=float(params["lr"]), momentum=float(params["momentum"]),
                           weight_decay=float(params["weight_decay"]))


def run_population(client: tp.Client, task: str, strategy: str, seed: int, data: T.Data, args: argparse.Namespace,
                   tr: Tracker, ckdir: str) -> None:
    """PBT/PB2: the members train side by side, one epoch each in turn."""
    study = client.create_study(f"{task}-{strategy}-{seed}", direction="minimize", space=SPACE, seed=seed, strategy={
        "name": strategy, "options": {"population_size": args.population, "perturbation_interval": args.interval}})
    members = []
    with CheckpointWriter() as writer:
        for k in range(args.population):
            trial = study.ask()
            net = T.model(task, seed * 1000 + k)
            members.append({"trial": trial, "net": net, "opt": sgd(net, trial.params),
                            "gen": torch.Generator().manual_seed(seed * 1000 + k), "last": math.nan})
        for epoch in range(1, args.epochs + 1):
            for m in members:
                T.train_epoch(m["net"], m["opt"], data, m["gen"])
                val, test = T.evaluate(m["net"], data)
                tr.epoch(val, test)
                m["last"] = val
                d = pbt_report(m["trial"], val, epoch, m["net"], m["opt"], checkpoint_dir=ckdir, writer=writer)
                if d.action == "update":
                    apply(m["opt"], m["trial"].params)
        for m in members:
            pbt_complete(m["trial"], m["last"], writer=writer)


def run_fixed(client: tp.Client, task: str, name: str, seed: int, data: T.Data, args: argparse.Namespace, tr: Tracker) -> None:
    """TPE / random / ASHA+TPE / cosine-TPE: sequential trials with fixed hyperparameters (or a cosine lr)."""
    n_trials = args.population
    if name == "tpe":
        strategy: Any = {"name": "tpe", "options": {"n_startup_trials": max(1, n_trials // 4)}}
    elif name == "cosine-tpe":
        strategy = {"name": "tpe", "options": {"n_startup_trials": max(1, n_trials // 4)}}
    elif name == "asha-tpe":
        strategy = {"name": "tpe", "options": {"n_startup_trials": 5}}
    else:
        strategy = "random"
    scheduler = ({"name": "asha", "options": {"min_resource": 2, "max_resource": args.epochs, "reduction_factor": 3}}
                 if name == "asha-tpe" else None)
    study = client.create_study(f"{task}-{name}-{seed}", direction="minimize", space=SPACE, seed=seed,
                                strategy=strategy, scheduler=scheduler)
    i = 0
    while not tr.spent:
        trial = study.ask()
        net = T.model(task, seed * 1000 + i)
        opt = sgd(net, trial.params)
        gen = torch.Generator().manual_seed(seed * 1000 + i)
        i += 1
        last = math.nan
        try:
            for epoch in range(1, args.epochs + 1):
                if tr.spent:
                    break
                if name == "cosine-tpe":
                    apply(opt, trial.params, float(trial.params["lr"]) * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / args.epochs)))
                T.train_epoch(net, opt, data, gen)
                val, test = T.evaluate(net, data)
                tr.epoch(val, test)
                last = val
                trial.report(val, epoch, raise_on_prune=True)  # outside `with trial:` report returns, as Optuna's
            if math.isfinite(last):
                trial.complete(last)
            else:
                trial.fail("diverged")
        except tp.TrialPruned:
            trial.prune()
        if name != "asha-tpe" and i >= n_trials:
            break


def run(args: argparse.Namespace, save: Any = None) -> list[dict[str, Any]]:
    """Runs every (seed, task, optimizer); calls ``save(rows)`` after each seed (a shard's partial results)."""
    rows: list[dict[str, Any]] = []
    budget = args.population * args.epochs
    ckdir = tempfile.mkdtemp(prefix="tuneport-pbt-tasks-")
    try:
        with Server() as server, tp.connect(server.endpoint) as client:
            for seed in range(args.seed_from, args.seed_from + args.seeds):
                for task in args.tasks:
                    data = T.load(task, seed)
                    for name in args.optimizers:
                        t0 = time.perf_counter()
                        tr = Tracker(rows, task, name, seed, budget, args.population)
                        if name in ("pbt", "pb2"):
                            run_population(client, task, name, seed, data, args, tr, ckdir)
                        else:
                            run_fixed(client, task, name, seed, data, args, tr)
                        print(f"  {task:13s} seed {seed} {name:10s} best val {tr.best:.4f} test {tr.test:.4f} "
                              f"({tr.steps} epochs, {time.perf_counter() - t0:.1f}s)", flush=True)
                if save is not None:
                    save(rows)
        left = [p for p in Path(ckdir).rglob("*") if p.is_file()]
        if left:
            print(f"  note: {len(left)} checkpoint files left under {ckdir}", flush=True)
    finally:
        shutil.rmtree(ckdir, ignore_errors=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default=",".join(T.TASKS))
    ap.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--seed-from", type=int, default=0, help="first seed (shards split the seeds)")
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--interval", type=int, default=4)
    ap.add_argument("--part", default=None, help="write bench/results/pbt-tasks-PART.json only (a shard)")
    ap.add_argument("--merge", default=None, help="comma-separated shard names: merge them, write results and docs")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    args.tasks = args.tasks.split(",")
    args.optimizers = args.optimizers.split(",")
    torch.set_num_threads(1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the context managers: stop the server
    if args.merge:
        import pbt_report as R  # noqa: PLC0415
        R.merge_and_report([RESULTS / f"pbt-tasks-{p}.json" for p in args.merge.split(",")], write=not args.no_write)
        return
    t0 = time.perf_counter()

    def meta() -> dict[str, Any]:
        return {"seeds": args.seeds, "seed_from": args.seed_from, "population": args.population, "epochs": args.epochs,
                "interval": args.interval, "tasks": args.tasks, "optimizers": args.optimizers, "machine": machine(),
                "elapsed_s": time.perf_counter() - t0, "argv": sys.argv[1:]}

    def save(rows: list[dict[str, Any]]) -> None:
        if args.part and not args.no_write:
            (RESULTS / f"pbt-tasks-{args.part}.json").write_text(json.dumps({"meta": meta(), "runs": rows}) + "\n")

    rows = run(args, save)
    save(rows)
    if not args.part and not args.no_write:
        meta_all = meta()
        import pbt_report as R  # noqa: PLC0415
        (RESULTS / "pbt-tasks-all.json").write_text(json.dumps({"meta": meta_all, "runs": rows}) + "\n")
        R.merge_and_report([RESULTS / "pbt-tasks-all.json"], write=True)


if __name__ == "__main__":
    main()
