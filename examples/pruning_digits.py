"""Multi-fidelity tuning of a PyTorch MLP on scikit-learn's digits: ASHA + TPE, epochs as budget.

    npx tuneport serve --storage ./tuneport.db --bind tcp://127.0.0.1:5555
    python examples/pruning_digits.py --endpoint tcp://127.0.0.1:5555 --trials 40

Each trial trains to ``trial.budget`` epochs and reports the validation loss after every epoch.

- ``--mode stopping`` (Ray's ASHA): every trial is given the full budget; ``report`` raises
  ``TrialPruned`` when the trial falls out of the top 1/η at a rung, and ``with trial:``
  records it PRUNED.
- ``--mode promotion`` (the ASHA paper's Algorithm 2, the default here): nothing is stopped;
  each trial trains to its rung's budget and completes. A later ``ask`` may promote the best of
  a rung: the trial then has ``resume_from`` (the trial whose checkpoint it loads) and
  ``resume_budget`` (the epoch it resumes at), and trains on to its new ``budget``.

Checkpoints go to ``--checkpoint-dir`` (default ``./checkpoints``), one file per trial under the
study's name, and stay there: the study outlives this process (``load_if_exists``), so running
the script again continues it, and its first asks may promote a trial of the earlier run, whose
checkpoint must still be there. With several machines, point it at a shared filesystem.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from _digits import Data, load_digits_tensors, train_epoch
from torch import nn

import tuneport as tp
from tuneport.torch import load_checkpoint, save_checkpoint


def build(params: Mapping[str, Any]) -> tuple[nn.Module, torch.optim.Optimizer]:
    width, layers = int(params["width"]), int(params["layers"])
    mods: list[nn.Module] = []
    d_in = 64
    for _ in range(layers):
        mods += [nn.Linear(d_in, width), nn.ReLU(), nn.Dropout(float(params["dropout"]))]
        d_in = width
    model = nn.Sequential(*mods, nn.Linear(d_in, 10))
    opt = torch.optim.Adam(model.parameters(), lr=float(params["lr"]), weight_decay=float(params["weight_decay"]))
    return model, opt


def train(trial: tp.Trial, data: Data, ckpt_dir: Path, max_epochs: int) -> float:
    model, opt = build(trial.params)
    start = 0
    if trial.resume_from is not None:  # ASHA promotion: continue the promoted trial's run
        extra = load_checkpoint(ckpt_dir / f"{trial.resume_from}.pt", model, opt, map_location="cpu")
        start = int(extra["epoch"])
    budget = int(trial.budget) if trial.budget is not None else max_epochs
    val_loss = float("nan")
    for epoch in range(start + 1, budget + 1):
        g = torch.Generator().manual_seed(trial.number * 1000 + epoch)
        val_loss = train_epoch(model, opt, data, batch=128, generator=g)
        trial.report(val_loss, epoch)  # NaN is fine: the scheduler treats it as the worst value
    save_checkpoint(ckpt_dir / f"{trial.number}.pt", model, opt, epoch=budget)
    return val_loss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    ap.add_argument("--study", default="digits-asha")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--max-epochs", type=int, default=27)
    ap.add_argument("--mode", choices=["promotion", "stopping"], default="promotion")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--checkpoint-dir", default="./checkpoints", help="kept between runs: a rerun may promote an earlier run's trial")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    data = load_digits_tensors()
    sched = {"name": "asha", "options": {"mode": args.mode, "min_resource": 1, "max_resource": args.max_epochs, "reduction_factor": 3}}
    ckpt = Path(args.checkpoint_dir) / args.study
    ckpt.mkdir(parents=True, exist_ok=True)
    with tp.connect(args.endpoint) as client:
        study = client.create_study(
            args.study,
            strategy="tpe",
            scheduler=sched,
            seed=args.seed,
            space={
                "lr": tp.Float(1e-5, 1e-1, log=True),
                "width": tp.Int(16, 256, log=True),
                "layers": tp.Int(1, 3),
                "dropout": tp.Float(0.0, 0.5),
                "weight_decay": tp.Float(1e-6, 1e-2, log=True),
            },
            load_if_exists=True,
        )
        print(f"tuning {args.study}: ASHA ({args.mode}) + TPE, up to {args.max_epochs} epochs, {args.trials} trials", flush=True)
        epochs = 0
        for trial in study.ask_many(args.trials):
            t0 = time.perf_counter()
            loss = float("nan")
            with trial:
                loss = train(trial, data, ckpt, args.max_epochs)
                trial.complete(loss)
            if trial.intermediate:  # epochs this trial trained (a promoted one starts at resume_budget)
                epochs += int(trial.intermediate[-1][0] - (trial.resume_budget or 0))
            resumed = f" resumes {trial.resume_from}" if trial.resume_from is not None else ""
            print(f"  trial {trial.number:3d}  {trial.state:8s}  budget={trial.budget}{resumed}  "
                  f"val_loss={trial.intermediate[-1][1] if trial.intermediate else loss:.4f}  ({time.perf_counter() - t0:.2f}s)", flush=True)

        best = study.get_trials(states=["COMPLETE"], order_by="value")
        full = [t for t in best if t.system_attrs.get("budget") == args.max_epochs]
        top = (full or best)[0]
        print(f"\n{epochs} epochs trained in all; best trial {top.number} "
              f"(budget {top.system_attrs.get('budget')}): val_loss={top.value:.4f}")
        for k, v in top.params.items():
            print(f"  {k} = {v}")


if __name__ == "__main__":
    main()
