"""Population-based training of a small PyTorch MLP on scikit-learn's digits, with the learning
rate and weight decay evolving during training.

Runs on the GPU when one is present, else on the CPU. Needs a running server:

    npx tuneport serve --storage ./tuneport.db --bind tcp://127.0.0.1:5555
    python examples/pbt_digits.py --endpoint tcp://127.0.0.1:5555 --checkpoint-dir ./checkpoints

A population of 4 members trains side by side in this one process (one epoch each in turn; with
several machines, run one member per worker and point --checkpoint-dir at a shared filesystem).
After every epoch a member saves a checkpoint (on a background thread: ``CheckpointWriter``)
and reports its validation loss; when the server answers with an exploit it loads the donor's
checkpoint and continues with the new hyperparameters. Each member keeps counting its own
epochs after an exploit (the model's age is the donor's; ``lineage`` reports it). A member
that diverges is completed with NaN (it ranks worst), and completing releases the checkpoints
nobody needs any more, so none are left at the end. The script then prints the schedule that
produced the best reported model (``study.lineage()``), which replays as a fixed schedule for
a final training run. ``--strategy pb2`` picks the explored hyperparameters with PB2's
GP bandit instead of random perturbation.

The study outlives this process. A finished member is never trained again, so running the script
again on the same study grows its population by ``--population`` members (``update_study``) and
trains those beside the earlier run's records: the lineage then names the best model of every
run. Checkpoints go to ``--checkpoint-dir``, one folder per study; none is left after a run.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass

import torch
from _digits import load_digits_tensors, train_epoch
from torch import nn

import tuneport as tp
from tuneport.torch import CheckpointWriter, pbt_complete, pbt_report, pbt_restore


@dataclass
class Member:
    trial: tp.Trial
    model: nn.Module
    opt: torch.optim.Optimizer
    step: float


def apply_params(m: Member) -> None:
    """The evolving hyperparameters go straight into the optimizer's param groups."""
    for g in m.opt.param_groups:
        g["lr"] = float(m.trial.params["lr"])
        g["weight_decay"] = float(m.trial.params["weight_decay"])


def start(trial: tp.Trial, device: torch.device, writer: CheckpointWriter) -> Member:
    torch.manual_seed(trial.number)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    m = Member(trial, model, opt, pbt_restore(trial, model, opt, writer=writer))  # a refilled member loads its donor first
    apply_params(m)
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    ap.add_argument("--study", default="pbt-digits")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--population", type=int, default=4)
    ap.add_argument("--interval", type=int, default=2, help="perturbation interval in epochs")
    ap.add_argument("--checkpoint-dir", default="./checkpoints")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategy", choices=["pbt", "pb2"], default="pbt")
    args = ap.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(1)  # a tiny model: more threads cost more than they save, badly so on a busy machine
    data = load_digits_tensors(device)
    with tp.connect(args.endpoint) as client, CheckpointWriter() as writer:
        try:
            study = client.load_study(args.study)
        except tp.NotFoundError:
            study = client.create_study(
                args.study,
                direction="minimize",
                strategy={"name": args.strategy, "options": {"population_size": args.population, "perturbation_interval": args.interval}},
                seed=args.seed,
                space={"lr": tp.Float(1e-3, 1.0, log=True), "weight_decay": tp.Float(1e-6, 1e-2, log=True)},
            )
        else:
            # A rerun: the earlier members are finished, and PBT hands out no further trial once
            # every slot is taken, so make room for a new population beside their records.
            stored = study.strategy
            options = dict(stored.get("options", {})) if stored["name"] == args.strategy else {}
            options["population_size"] = stored.get("options", {}).get("population_size", 0) + args.population
            options["perturbation_interval"] = args.interval
            study.update(strategy={"name": args.strategy, "options": options})
            print(f"study {args.study} has {len(study.trials)} trials already: {args.population} more members", flush=True)
        print(f"PBT on {device}: {args.population} members x {args.epochs} epochs", flush=True)
        members = [start(study.ask(), device, writer) for _ in range(args.population)]
        t0 = time.perf_counter()
        for _ in range(args.epochs):
            for m in members:
                loss = train_epoch(m.model, m.opt, data)
                m.step += 1  # this trial's own step counter, also after an exploit
                decision = pbt_report(m.trial, loss, m.step, m.model, m.opt, checkpoint_dir=args.checkpoint_dir, writer=writer)
                if decision.action == "update":
                    apply_params(m)  # the donor's weights are loaded already; now its (perturbed) params
                    src = f" <- trial {decision.restore.trial}" if decision.restore else ""
                    print(f"  step {m.step:3.0f} trial {m.trial.number}{src}: lr={m.trial.params['lr']:.4g} "
                          f"wd={m.trial.params['weight_decay']:.3g}", flush=True)
        for m in members:
            # NaN or inf (a diverged member) is fine here: it is completed as the worst.
            pbt_complete(m.trial, m.trial.intermediate[-1][1], writer=writer)
            print(f"  trial {m.trial.number}  val_loss={m.trial.intermediate[-1][1]:.4f}", flush=True)
        print(f"trained in {time.perf_counter() - t0:.1f}s")

        lineage = study.lineage()
        print(f"\nbest report: trial {lineage.trial} at its epoch {lineage.step:.0f}, val_loss={lineage.value:.4f}; "
              f"schedule that produced it ({lineage.until_step:.0f} epochs of training):")
        for seg in lineage.schedule:
            print(f"  from epoch {seg.from_step:3.0f}: lr={seg.params['lr']:.4g} wd={seg.params['weight_decay']:.3g}"
                  f"  (trained by trial {seg.trial})")


if __name__ == "__main__":
    main()
