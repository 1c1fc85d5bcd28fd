"""Hypergradient benchmark: gradient-based HPO on the server vs TPE and random search.

Two problems, every optimizer on the same seeds (data split, initial weights):

* ``digits-wd15`` — 15 log-scaled weight decays of a small MLP on digits with 64 noise inputs
  (examples/hypergradient_digits.py: 8 pixel rows + 4 noise blocks of the first layer, 3 other
  layers). Each optimizer runs ``--trials`` trials of ``--epochs`` epochs through a real
  ``tuneport serve`` process: ``random`` and ``tpe`` with fixed decays per trial,
  ``hypergradient`` (base qmc) moving them after every epoch from implicit hypergradients of
  the validation loss. Recorded after each trial: the best validation loss so far (and the
  test loss of that trial) against the training epochs spent so far.
* ``digits-lr`` — learning-rate recovery: an MLP on digits trained with SGD from a rate 100×
  too small (1e-4) for ``--lr-epochs`` epochs: plain ``sgd``; ``sgd-hd`` (Baydin et al.'s
  online hypergradient descent inside the optimizer, β = 1e-3); ``sgd-hd-server`` (the same
  training-loss hypergradient reported each epoch to the server's ``hypergradient`` strategy,
  which answers with the new rate); and for reference ``sgd-good`` started at 0.1.

    make build && .venv/bin/python bench/hypergradient.py            # ≈ 8 min on 2 busy cores
    .venv/bin/python bench/hypergradient.py --seeds 2 --trials 3     # smoke run

Raw runs go to bench/results/hypergradient.json, the summary to docs/BENCHMARKS.md
(section "hypergradient").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))

import hypergradient_digits as ex  # noqa: E402
from common import Server, machine, percentile, update_benchmarks_md, write_results  # noqa: E402

import tuneport as tp  # noqa: E402
from tuneport.hypergrad import HypergradSGD, apply_updates  # noqa: E402

WD_OPTIMIZERS: dict[str, Any] = {
    "random": "random",
    # 5 random start-up trials instead of Optuna's 10: with 10 the whole budget would be random search.
    "tpe": {"name": "tpe", "options": {"n_startup_trials": 5}},
    "hypergradient": {"name": "hypergradient", "options": {"base": "qmc"}},
}
LR_OPTIMIZERS = ["sgd", "sgd-hd", "sgd-hd-server", "sgd-good"]
BAD_LR, GOOD_LR, HD_BETA = 1e-4, 0.1, 1e-3


def run_wd(client: tp.Client, seeds: list[int], trials: int, epochs: int, seconds: dict[str, float]) -> list[dict[str, Any]]:
    runs = []
    for seed in seeds:
        data = ex.load_data(seed)
        for opt_name, strategy in WD_OPTIMIZERS.items():
            t0 = time.perf_counter()
            results = ex.run_study(client, f"wd-{opt_name}-{seed}", strategy, trials, epochs, data, seed, log=False)
            seconds[opt_name] = seconds.get(opt_name, 0.0) + time.perf_counter() - t0
            best_val, best_test = float("inf"), float("nan")
            for i, (val, test) in enumerate(results):
                if val < best_val:
                    best_val, best_test = val, test
                runs.append({"problem": "digits-wd15", "optimizer": opt_name, "seed": seed, "epochs": (i + 1) * epochs,
                             "val_loss": best_val, "test_loss": best_test})
            print(f"  digits-wd15 seed {seed} {opt_name:14s} best val {best_val:.4f} test {best_test:.4f} "
                  f"({time.perf_counter() - t0:.1f}s)", flush=True)
    return runs


def lr_data(seed: int) -> tuple[torch.Tensor, ...]:
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x / 16.0, y, test_size=0.3, random_state=seed, stratify=y)
    f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    i = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return f(x_tr), i(y_tr), f(x_va), i(y_va)


def run_lr_one(client: tp.Client, opt_name: str, seed: int, epochs: int) -> tuple[float, float, list[float]]:
    """Trains the LR problem once; returns (final val loss, final rate, val loss per epoch)."""
    x_tr, y_tr, x_va, y_va = lr_data(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.Tanh(), nn.Linear(128, 128), nn.Tanh(), nn.Linear(128, 10))
    lr0 = GOOD_LR if opt_name == "sgd-good" else BAD_LR
    opt = HypergradSGD(model.parameters(), lr=lr0, hypergrad_lr=HD_BETA if opt_name == "sgd-hd" else 0.0)
    trial = None
    if opt_name == "sgd-hd-server":
        study = client.create_study(f"lr-{seed}", strategy={"name": "hypergradient", "options": {"lr": 0.1}},
                                    space={"lr": tp.Float(1e-5, 10.0, log=True)}, seed=seed)
        study.enqueue({"lr": BAD_LR})  # start from the badly chosen rate
        trial = study.ask()
    ce = nn.functional.cross_entropy
    curve = []
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        perm = torch.randperm(len(x_tr), generator=gen)
        for i in range(0, len(x_tr), 32):
            idx = perm[i : i + 32]
            opt.zero_grad()
            ce(model(x_tr[idx]), y_tr[idx]).backward()
            opt.step()
        with torch.no_grad():
            val = ce(model(x_va), y_va).item()
        curve.append(val)
        if trial is not None:
            h = opt.pop_hypergradients()
            trial.report(val, epoch, hypergradients=h)
            apply_updates(opt, trial.params, {"lr": (0, "lr")})
    if trial is not None:
        trial.complete(curve[-1])
    return curve[-1], float(opt.param_groups[0]["lr"]), curve


def run_lr(client: tp.Client, seeds: list[int], epochs: int) -> list[dict[str, Any]]:
    runs = []
    for seed in seeds:
        for opt_name in LR_OPTIMIZERS:
            val, lr, curve = run_lr_one(client, opt_name, seed, epochs)
            for e, v in enumerate(curve):
                runs.append({"problem": "digits-lr", "optimizer": opt_name, "seed": seed, "epochs": e + 1, "val_loss": v,
                             **({"lr": lr} if e == len(curve) - 1 else {})})
            print(f"  digits-lr   seed {seed} {opt_name:14s} val {val:.4f}  final lr {lr:.3g}", flush=True)
    return runs


def summary(runs: list[dict[str, Any]], problem: str, optimizers: list[str], budgets: list[int]) -> list[str]:
    head = "| optimizer | " + " | ".join(f"{b} epochs" for b in budgets) + " |"
    lines = [head, "|" + " --- |" * (len(budgets) + 1)]
    for o in optimizers:
        cells = []
        for b in budgets:
            xs = [r["val_loss"] for r in runs if r["problem"] == problem and r["optimizer"] == o and r["epochs"] == b]
            cells.append(f"{percentile(xs, 0.5):.3f} [{percentile(xs, 0.25):.3f}, {percentile(xs, 0.75):.3f}]")
        lines.append(f"| {o} | " + " | ".join(cells) + " |")
    return lines


def wins(runs: list[dict[str, Any]], problem: str, a: str, b: str, budget: int) -> str:
    def at(o: str) -> dict[int, float]:
        return {r["seed"]: r["val_loss"] for r in runs if r["problem"] == problem and r["optimizer"] == o and r["epochs"] == budget}

    xa, xb = at(a), at(b)
    n = sum(1 for s in xa if s in xb and xa[s] < xb[s])
    return f"{n}/{len(xa)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--lr-epochs", type=int, default=15)
    ap.add_argument("--no-write", action="store_true", help="print only; leave results and docs alone")
    args = ap.parse_args()
    torch.set_num_threads(1)
    seeds = list(range(args.seeds))
    t0 = time.perf_counter()
    with Server() as server, tp.connect(server.endpoint) as client:
        seconds: dict[str, float] = {}
        runs = run_wd(client, seeds, args.trials, args.epochs, seconds)
        runs += run_lr(client, seeds, args.lr_epochs)
    elapsed = time.perf_counter() - t0

    budgets = [args.epochs * k for k in sorted({1, max(1, args.trials // 2), args.trials})]
    wd_table = summary(runs, "digits-wd15", list(WD_OPTIMIZERS), budgets)
    lr_budgets = sorted({1, max(1, args.lr_epochs // 3), args.lr_epochs})
    lr_table = summary(runs, "digits-lr", LR_OPTIMIZERS, lr_budgets)
    final = budgets[-1]
    lr_final = {o: [r["lr"] for r in runs if r["problem"] == "digits-lr" and r["optimizer"] == o and "lr" in r] for o in LR_OPTIMIZERS}
    test = {o: [r["test_loss"] for r in runs if r["problem"] == "digits-wd15" and r["optimizer"] == o and r["epochs"] == final]
            for o in WD_OPTIMIZERS}
    md = f"""## Hypergradient

`make build && .venv/bin/python bench/hypergradient.py --seeds {args.seeds} --trials {args.trials} --epochs {args.epochs} --lr-epochs {args.lr_epochs}`
({machine()}; {elapsed:.0f} s; raw runs in `bench/results/hypergradient.json`). Median
[IQR] over {args.seeds} seeds (0–{args.seeds - 1}); every optimizer sees the same data split
and initial weights per seed.

**digits-wd15** — 15 log-scaled weight decays (1e-6 … 1) of a 4-layer tanh MLP trained with
Adam on 200 digits whose 64 pixels are followed by 64 pure-noise inputs (one decay per pixel
row and per noise block of the first layer, one per other layer; `examples/hypergradient_digits.py`).
Each optimizer runs {args.trials} trials × {args.epochs} epochs through a real server; the
cell is the best validation cross-entropy after that many training epochs in total.
`hypergradient` (base qmc, server defaults: Adam lr 0.05 in the unit cube) moves the decays
after every epoch from implicit hypergradients of the validation loss (Neumann series,
10 terms, α 0.05).

{chr(10).join(wd_table)}

hypergradient beats tpe on {wins(runs, "digits-wd15", "hypergradient", "tpe", final)} seeds and random on
{wins(runs, "digits-wd15", "hypergradient", "random", final)} at {final} epochs. Test loss of the trial
each optimizer picked (held-out digits, never seen by any optimizer), median:
{", ".join(f"{o} {percentile(v, 0.5):.3f}" for o, v in test.items())}. Wall time per run (training,
hypergradients and server calls), mean: {", ".join(f"{o} {t / len(seeds):.1f} s" for o, t in seconds.items())}.
TPE uses 5 random start-up trials (Optuna's default of 10 would make it random search for
most of this budget); its other settings are the server defaults.

**digits-lr** — a 64-128-128-10 tanh MLP on digits (70/30 split), SGD with batch 32 from a
rate of {BAD_LR:g} (100× too small), validation cross-entropy after each epoch.
`sgd-hd` adapts the rate inside the optimizer (Baydin et al. 2018, β = {HD_BETA:g});
`sgd-hd-server` reports the same (training-loss) hypergradient once per epoch and lets the
server's `hypergradient` strategy (lr 0.1, rate in [1e-5, 10], log scale) pick the rate;
`sgd-good` starts at {GOOD_LR:g} for reference.

{chr(10).join(lr_table)}

Final rate, median: {", ".join(f"{o} {percentile(v, 0.5):.3g}" for o, v in lr_final.items())}.
"""
    print(md)
    if not args.no_write:
        write_results("hypergradient", runs, {"seeds": seeds, "trials": args.trials, "epochs": args.epochs,
                                              "lr_epochs": args.lr_epochs, "machine": machine(), "elapsed_s": elapsed})
        update_benchmarks_md("hypergradient", md)


if __name__ == "__main__":
    main()
