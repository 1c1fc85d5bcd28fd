"""Hypergradient benchmark: gradient-based HPO on the server against TPE and random search on
tasks with 10 or more continuous hyperparameters, the learning-rate rescue, and the cost of
implicit hypergradients.

Parts (every optimizer sees the same data split and initial weights per seed; all through a
real `tuneport serve`):

* **wd** — per-group weight decays (bench/hg_tasks.py: digits-wd15, digits-wd11, breast-wd12,
  wine-wd15, diabetes-wd12). Each optimizer runs `--trials` trials × `--epochs` epochs:
  `random`; `tpe` with `--trials`/4 random start-up trials (25 %); `hypergradient` variants
  (base qmc) that move the decays after every epoch from implicit hypergradients of the
  validation loss (Lorraine et al. 2020; Neumann series with K terms, α 0.05):
  `hg-adam-k10` (the strategy's former default: Adam steps, K = 10), `hg-tr-k10`, `hg-tr-k3`,
  `hg-tr-k0` (trust-region steps), `hg-adam-k3`. Recorded after every trial: the best validation loss
  so far (and the test loss of that trial) against the epochs spent, and the CPU seconds
  spent in hypergradients.
* **lr** — the learning-rate rescue: an MLP (digits-lr, 15 epochs) and a 3-convolution CNN
  (digits-cnn-lr, 20 epochs) on digits, SGD with batches of 32 from a rate of 1e-4, 1000×
  below the good rate 0.1: plain `sgd`; `sgd-hd` (Baydin et al.'s additive rule inside the
  optimizer, β = 1e-3); `server-adam` (the training-loss hypergradient reported once per epoch
  to the server's `hypergradient` strategy with the Adam rule, lr 0.1 — the former set-up);
  `server-hdm-b{β}` (normalised hypergradients with the server's `hd-m` rule); and `sgd-good`
  started at 0.1 for reference. Rate range [1e-5, 10], log scale.

Variants are chosen on held-out seeds (`--select`: seeds 100–102) and reported on seeds
0…N−1. Raw rows go to bench/results/hypergradient.json ({problem, optimizer, seed, epochs,
val_loss, test_loss, ...}); the summary to docs/BENCHMARKS.md (section "hypergradient").

    make build venv && nice -n 10 .venv/bin/python bench/hypergradient.py --part wd --out wd
    nice -n 10 .venv/bin/python bench/hypergradient.py --part lr --out lr
    .venv/bin/python bench/hypergradient.py --merge wd,lr                  # results + docs
    .venv/bin/python bench/hypergradient.py --select --part wd --out select-wd --no-write
    .venv/bin/python bench/hypergradient.py --seeds 1 --trials 2 --epochs 3 --tasks wine-wd15 --no-write   # smoke
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hg_tasks as H  # noqa: E402
import tasks as T  # noqa: E402
from common import RESULTS, Server, machine, percentile, update_benchmarks_md  # noqa: E402

import tuneport as tp  # noqa: E402
from tuneport.hypergrad import HypergradSGD, apply_updates  # noqa: E402

BAD_LR, GOOD_LR, HD_BETA = 1e-4, 0.1, 1e-3
HG_VARIANTS: dict[str, tuple[str, int]] = {
    "hg-adam-k10": ("adam", 10), "hg-adam-k3": ("adam", 3),
    "hg-tr-k10": ("trust-region", 10), "hg-tr-k3": ("trust-region", 3), "hg-tr-k0": ("trust-region", 0),
    "hg-tr-k3-confirm": ("trust-region", 3),
}
LR_VARIANTS = ["sgd", "sgd-hd", "server-adam", "server-hdm-b1", "server-hdm-b2", "server-hdm-b4", "server-hdm-b8",
               "server-adam-confirm", "server-tr-confirm", "server-hdm-b4-confirm", "server-hdm-b8-confirm", "sgd-good"]
LR_TASKS = {"digits-lr": 15, "digits-cnn-lr": 20}


# ---------------------------------------------------------------- wd part

def run_wd(client: tp.Client, args: argparse.Namespace, seeds: list[int]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for seed in seeds:
        for name in args.tasks:
            task = H.load(name, seed)
            for opt in args.wd_optimizers:
                t0 = time.perf_counter()
                c0 = time.process_time()
                scheduler = None
                if opt == "random":
                    strategy: Any = "random"
                elif opt == "tpe":
                    strategy = {"name": "tpe", "options": {"n_startup_trials": max(1, args.trials // 4)}}
                elif opt == "asha-tpe":
                    # ASHA (stopping mode, eta 3, rungs from 2 epochs) lets about 2-3x the trials into
                    # the same epochs; TPE's start-up stays about 25 % of them.
                    strategy = {"name": "tpe", "options": {"n_startup_trials": max(1, args.trials // 2)}}
                    scheduler = {"name": "asha", "options": {"min_resource": 2, "max_resource": args.epochs, "reduction_factor": 3}}
                else:
                    rule, _ = HG_VARIANTS[opt]
                    strategy = {"name": "hypergradient", "options": {"base": "qmc", "step_rule": rule,
                                                                     "confirm_decreases": opt.endswith("-confirm")}}
                k = HG_VARIANTS[opt][1] if opt in HG_VARIANTS else 0
                study = client.create_study(f"{name}-{opt}-{seed}", direction="minimize", strategy=strategy,
                                            space=task.space(), seed=seed, scheduler=scheduler)
                best = [math.inf, math.nan]
                spent = [0]
                hg_s = 0.0

                def on_epoch(val: float, test: float) -> None:
                    spent[0] += 1
                    if math.isfinite(val) and val < best[0]:
                        best[0], best[1] = val, test

                budget = args.trials * args.epochs
                # Fixed-length trials: `--trials` of them; ASHA's: until the epochs are spent (the last one cut there).
                trials = iter(study.ask_many(args.trials)) if opt != "asha-tpe" else None
                while spent[0] < budget:
                    trial = next(trials, None) if trials is not None else study.ask()
                    if trial is None:
                        break
                    with trial:
                        val, _, s = H.train_trial(task, trial, min(args.epochs, budget - spent[0]), seed,
                                                  hypergradients=opt in HG_VARIANTS, neumann_steps=k, alpha=0.05, on_epoch=on_epoch)
                        hg_s += s
                        if math.isfinite(val):
                            trial.complete(val)
                        else:
                            trial.fail("diverged")
                    rows.append({"problem": name, "optimizer": opt, "seed": seed, "epochs": spent[0],
                                 "val_loss": best[0], "test_loss": best[1]})
                cpu = time.process_time() - c0
                rows[-1].update({"cpu_s": cpu, "hg_cpu_s": hg_s})
                print(f"  {name:14s} seed {seed:3d} {opt:12s} best val {best[0]:.4f} test {best[1]:.4f} ({spent[0]} epochs) "
                      f"({time.perf_counter() - t0:.1f}s wall, {cpu:.1f}s cpu, {hg_s:.1f}s in hypergradients)", flush=True)
    return rows


# ---------------------------------------------------------------- lr part

def lr_model(task: str, seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    if task == "digits-cnn-lr":
        return T.Cnn()
    return torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.Tanh(), torch.nn.Linear(128, 128), torch.nn.Tanh(),
                               torch.nn.Linear(128, 10))


def run_lr_one(client: tp.Client, task: str, variant: str, seed: int, epochs: int) -> tuple[list[float], list[float]]:
    """One run; returns (validation loss per epoch, rate per epoch)."""
    d = T.load("digits-mlp", seed)
    model = lr_model(task, seed)
    lr0 = GOOD_LR if variant == "sgd-good" else BAD_LR
    opt = HypergradSGD(model.parameters(), lr=lr0, hypergrad_lr=HD_BETA if variant == "sgd-hd" else 0.0, lr_bounds=(1e-5, 10.0))
    trial = None
    if variant.startswith("server-"):
        # server-{adam|tr|hdm-b<β>}[-confirm]: the step rule, lr 0.1 for adam / trust-region.
        rule = variant.split("-")[1]
        options: dict[str, Any] = ({"step_rule": "hd-m", "hd_beta": float(variant.split("-b")[1].split("-")[0])} if rule == "hdm"
                                   else {"lr": 0.1, "step_rule": "adam" if rule == "adam" else "trust-region"})
        if variant.endswith("-confirm"):
            options["confirm_decreases"] = True
        study = client.create_study(f"{task}-{variant}-{seed}", strategy={"name": "hypergradient", "options": options},
                                    space={"lr": tp.Float(1e-5, 10.0, log=True)}, seed=seed)
        study.enqueue({"lr": BAD_LR})
        trial = study.ask()
    ce = torch.nn.functional.cross_entropy
    curve, rates = [], []
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        perm = torch.randperm(len(d.x_tr), generator=gen)
        for i in range(0, len(perm), 32):
            idx = perm[i : i + 32]
            opt.zero_grad()
            ce(model(d.x_tr[idx]), d.y_tr[idx]).backward()
            opt.step()
        with torch.no_grad():
            val = float(ce(model(d.x_va), d.y_va))
        curve.append(val)
        if trial is not None:
            h = opt.pop_hypergradients(normalized=variant.startswith("server-hdm"))
            trial.report(val, epoch, hypergradients=h)
            apply_updates(opt, trial.params, {"lr": (0, "lr")})
        rates.append(float(opt.param_groups[0]["lr"]))
    if trial is not None:
        trial.complete(curve[-1]) if math.isfinite(curve[-1]) else trial.fail("diverged")
    return curve, rates


def run_lr(client: tp.Client, args: argparse.Namespace, seeds: list[int]) -> list[dict[str, Any]]:
    rows = []
    for seed in seeds:
        for task, epochs in LR_TASKS.items():
            if task not in args.lr_tasks:
                continue
            for v in args.lr_variants:
                t0 = time.perf_counter()
                curve, rates = run_lr_one(client, task, v, seed, epochs)
                for e, (val, r) in enumerate(zip(curve, rates)):
                    rows.append({"problem": task, "optimizer": v, "seed": seed, "epochs": e + 1, "val_loss": val, "lr": r})
                print(f"  {task:14s} seed {seed:3d} {v:16s} val {curve[-1]:.4f} (min {min(curve):.4f}) final lr {rates[-1]:.3g} "
                      f"({time.perf_counter() - t0:.1f}s)", flush=True)
    return rows


# ---------------------------------------------------------------- summary

def at_budget(rows: list[dict[str, Any]], problem: str, opt: str, epochs: int) -> dict[int, float]:
    """Best validation loss per seed after `epochs` epochs (the last row at or below it)."""
    out: dict[int, tuple[int, float]] = {}
    for r in rows:
        if r["problem"] == problem and r["optimizer"] == opt and r["epochs"] <= epochs:
            if r["seed"] not in out or r["epochs"] > out[r["seed"]][0]:
                out[r["seed"]] = (r["epochs"], r["val_loss"])
    return {s: v for s, (_, v) in out.items()}


def wilcoxon_p(a: list[float], b: list[float]) -> float:
    from scipy.stats import wilcoxon  # noqa: PLC0415

    diff = [x - y for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
    return math.nan if len(diff) < 2 or all(d == 0 for d in diff) else float(wilcoxon(diff).pvalue)


def summarise(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    trials, epochs = meta["trials"], meta["epochs"]
    final = trials * epochs
    budgets = [epochs, final // 4, final // 2, final]
    wd_tasks = [t for t in H.WD_TASKS if any(r["problem"] == t for r in rows)]
    opts = [o for o in ["random", "tpe", "asha-tpe", *HG_VARIANTS] if any(r["optimizer"] == o and r["problem"] in wd_tasks for r in rows)]
    hg_opts = [o for o in opts if o in HG_VARIANTS]
    out = [f"Best validation loss after the given number of training epochs (of {final}): median [IQR] over seeds.", ""]
    goal_hits: dict[str, list[str]] = {o: [] for o in hg_opts}
    for t in wd_tasks:
        out += [f"**{t}**", "", "| optimizer | " + " | ".join(f"{b} epochs" for b in budgets) + " | test (at "
                + f"{final}) | wins vs tpe | p (Wilcoxon) | epochs to tpe's final median |", "|" + " --- |" * (len(budgets) + 5)]
        tpe_final = at_budget(rows, t, "tpe", final)
        tpe_med = percentile(list(tpe_final.values()), 0.5)
        for o in opts:
            cells = []
            for b in budgets:
                xs = list(at_budget(rows, t, o, b).values())
                cells.append(f"{percentile(xs, 0.5):.3f} [{percentile(xs, 0.25):.3f}, {percentile(xs, 0.75):.3f}]")
            tests = [r["test_loss"] for r in rows if r["problem"] == t and r["optimizer"] == o and r["epochs"] == final]
            mine = at_budget(rows, t, o, final)
            seeds = sorted(set(mine) & set(tpe_final))
            wins = sum(1 for s in seeds if mine[s] < tpe_final[s])
            p = wilcoxon_p([mine[s] for s in seeds], [tpe_final[s] for s in seeds])
            reach = next((b for b in range(epochs, final + 1, epochs)
                          if percentile(list(at_budget(rows, t, o, b).values()), 0.5) <= tpe_med), None)
            if o in goal_hits and reach is not None and reach <= final // 2:
                goal_hits[o].append(t)
            out.append(f"| {o} | " + " | ".join(cells) + f" | {percentile(tests, 0.5):.3f} | "
                       + ("–" if o == "tpe" else f"{wins}/{len(seeds)}") + f" | {'–' if o == 'tpe' else f'{p:.3f}'} | "
                       + (str(reach) if reach is not None else "not reached") + " |")
        out.append("")
    cost = []
    for o in hg_opts:
        xs = [r["hg_cpu_s"] / (trials * epochs) * 1000 for r in rows if r["optimizer"] == o and "hg_cpu_s" in r]
        tot = [r["cpu_s"] / (trials * epochs) * 1000 for r in rows if r["optimizer"] == o and "cpu_s" in r]
        cost.append(f"{o} {percentile(tot, 0.5):.1f} ms/epoch ({percentile(xs, 0.5):.1f} ms in hypergradients)")
    plain = [r["cpu_s"] / (trials * epochs) * 1000 for r in rows if r["optimizer"] in ("random", "tpe") and "cpu_s" in r]
    out.append(f"CPU per training epoch, median over tasks and seeds (training, evaluation, server calls): random/tpe "
               f"{percentile(plain, 0.5):.1f} ms; " + "; ".join(cost) + ".")
    out.append("")
    for o in hg_opts:
        n = len(wd_tasks)
        met = len(goal_hits[o]) >= math.ceil(n / 2)
        out.append(f"Goal (issue 20) for {o}: reach TPE's final median validation loss in at most {final // 2} epochs on at "
                   f"least half of the {n} tasks — {'**met**' if met else '**not met**'} ({len(goal_hits[o])}/{n}: "
                   f"{', '.join(goal_hits[o]) or 'none'}).")
    out.append("")
    lr_tasks = [t for t in LR_TASKS if any(r["problem"] == t for r in rows)]
    for t in lr_tasks:
        e = LR_TASKS[t]
        variants = [v for v in LR_VARIANTS if any(r["problem"] == t and r["optimizer"] == v for r in rows)]
        marks = sorted({1, e // 3, 2 * e // 3, e})
        out += [f"**{t}** (validation cross-entropy after each number of epochs; final rate)", "",
                "| variant | " + " | ".join(f"epoch {m}" for m in marks) + " | final rate | within 20 % of sgd-good |",
                "|" + " --- |" * (len(marks) + 3)]
        good = {r["seed"]: r["val_loss"] for r in rows if r["problem"] == t and r["optimizer"] == "sgd-good" and r["epochs"] == e}
        for v in variants:
            cells = []
            for m in marks:
                xs = [r["val_loss"] for r in rows if r["problem"] == t and r["optimizer"] == v and r["epochs"] == m]
                cells.append(f"{percentile(xs, 0.5):.3f} [{percentile(xs, 0.25):.3f}, {percentile(xs, 0.75):.3f}]")
            fin = {r["seed"]: r for r in rows if r["problem"] == t and r["optimizer"] == v and r["epochs"] == e}
            rates = [r["lr"] for r in fin.values()]
            ok = sum(1 for s, r in fin.items() if s in good and r["val_loss"] <= 1.2 * good[s])
            med_ok = percentile([r["val_loss"] for r in fin.values()], 0.5) <= 1.2 * percentile(list(good.values()), 0.5)
            out.append(f"| {v} | " + " | ".join(cells) + f" | {percentile(rates, 0.5):.3g} | "
                       + f"{'yes' if med_ok else 'no'} (median); {ok}/{len(fin)} seeds |")
        out.append("")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["wd", "lr", "all"], default="all")
    ap.add_argument("--tasks", default=",".join(H.WD_TASKS))
    ap.add_argument("--wd-optimizers", default="random,tpe,asha-tpe,hg-adam-k3,hg-tr-k3,hg-tr-k0")
    ap.add_argument("--lr-tasks", default=",".join(LR_TASKS))
    ap.add_argument("--lr-variants", default="sgd,sgd-hd,server-adam,server-hdm-b4,server-adam-confirm,server-tr-confirm,sgd-good")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--select", action="store_true", help="use the held-out selection seeds 100-102")
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--out", default=None, help="write bench/results/hypergradient-OUT.json (a shard)")
    ap.add_argument("--merge", default=None, help="comma-separated shards to merge into hypergradient.json and the docs")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    args.tasks, args.wd_optimizers = args.tasks.split(","), args.wd_optimizers.split(",")
    args.lr_tasks, args.lr_variants = args.lr_tasks.split(","), args.lr_variants.split(",")
    torch.set_num_threads(1)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the context managers: stop the server
    if args.merge:
        rows: list[dict[str, Any]] = []
        metas = []
        for p in args.merge.split(","):
            doc = json.loads((RESULTS / f"hypergradient-{p}.json").read_text())
            rows += doc["runs"]
            metas.append(doc["meta"])
        meta = {**metas[0], "parts": metas, "elapsed_s": sum(m["elapsed_s"] for m in metas)}
        report(rows, meta, write=not args.no_write)
        return
    seeds = [100, 101, 102][: args.seeds] if args.select else list(range(args.seeds))
    t0 = time.perf_counter()
    with Server() as server, tp.connect(server.endpoint) as client:
        rows = []
        if args.part in ("wd", "all"):
            rows += run_wd(client, args, seeds)
        if args.part in ("lr", "all"):
            rows += run_lr(client, args, seeds)
    meta = {"seeds": seeds, "trials": args.trials, "epochs": args.epochs, "part": args.part, "machine": machine(),
            "elapsed_s": time.perf_counter() - t0, "argv": sys.argv[1:], "out": args.out}
    if args.out and not args.no_write:
        (RESULTS / f"hypergradient-{args.out}.json").write_text(json.dumps({"meta": meta, "runs": rows}) + "\n")
    print(summarise(rows, meta))
    if not args.out and not args.no_write:
        report(rows, meta, write=True)


def report(rows: list[dict[str, Any]], meta: dict[str, Any], write: bool) -> None:
    text = summarise(rows, meta)
    print(text)
    if not write:
        return
    (RESULTS / "hypergradient.json").write_text(json.dumps({"meta": meta, "runs": rows}) + "\n")
    parts = meta.get("parts", [meta])
    cmds = "\n".join(f"    nice -n 10 .venv/bin/python bench/hypergradient.py {' '.join(p['argv'])}" for p in parts)
    md = f"""## Hypergradient

Reproduce ({machine()}; {meta['elapsed_s']:.0f} s of wall time in all on the shared 2 cores):

{cmds}
    .venv/bin/python bench/hypergradient.py --merge {','.join(str(p.get('out', '')) for p in parts) or '…'}

Raw rows: `bench/results/hypergradient.json`. Median [IQR] over seeds {meta['seeds'][0]}–{meta['seeds'][-1]};
every optimizer sees the same data split and initial weights per seed. Tasks: `bench/hg_tasks.py`
(per-group weight decays, 10–15 log-scaled hyperparameters, {meta['trials']} trials × {meta['epochs']} epochs)
and the learning-rate rescue (`bench/hypergradient.py`).

{text}
"""
    update_benchmarks_md("hypergradient", md)


if __name__ == "__main__":
    main()
