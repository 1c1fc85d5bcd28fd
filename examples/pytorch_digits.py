"""Tune a small PyTorch MLP on scikit-learn's bundled digits data set with tuneport.

Runs on the GPU when one is present, else on the CPU. Needs a running server:

    npx tuneport serve --storage ./tuneport.db --bind tcp://127.0.0.1:5555
    python examples/pytorch_digits.py --endpoint tcp://127.0.0.1:5555 --trials 20

Each trial trains for a few epochs, reports the validation loss after every epoch
(so a study with a scheduler can prune it) and completes with the final loss.
"""

from __future__ import annotations

import argparse
import time

import torch
from _digits import Data, load_digits_tensors, train_epoch
from torch import nn

import tuneport as tp


def build_model(layers: int, width: int, act: str, dropout: float) -> nn.Module:
    activation = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[act]
    mods: list[nn.Module] = []
    d_in = 64
    for _ in range(layers):
        mods += [nn.Linear(d_in, width), activation(), nn.Dropout(dropout)]
        d_in = width
    mods.append(nn.Linear(d_in, 10))
    return nn.Sequential(*mods)


def train_trial(trial: tp.Trial, data: Data, device: torch.device, epochs: int) -> float:
    _, _, x_va, y_va = data
    p = trial.params
    # A define-by-run parameter: only SGD trials need momentum.
    momentum = trial.suggest_float("momentum", 0.0, 0.99) if p["optimizer"] == "sgd" else 0.0
    torch.manual_seed(trial.number)
    model = build_model(int(p["layers"]), int(p["width"]), str(p["act"]), float(p["dropout"])).to(device)
    lr = float(p["lr"])
    opt: torch.optim.Optimizer = (
        torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        if p["optimizer"] == "sgd"
        else torch.optim.Adam(model.parameters(), lr=lr)
    )
    val_loss = float("inf")
    for epoch in range(epochs):
        val_loss = train_epoch(model, opt, data)
        if val_loss != val_loss:  # NaN: the run diverged
            raise RuntimeError(f"diverged at epoch {epoch}")
        trial.report(val_loss, epoch)  # raises tp.TrialPruned when the scheduler says stop
    with torch.no_grad():
        trial.set_user_attrs({"val_accuracy": (model(x_va).argmax(1) == y_va).float().mean().item()})
    return val_loss


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    ap.add_argument("--study", default="mlp-digits")
    ap.add_argument("--trials", type=int, default=12)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--strategy", default="random")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    data = load_digits_tensors(device)
    with tp.connect(args.endpoint) as client:
        study = client.create_study(
            args.study,
            direction="minimize",
            strategy=args.strategy,
            seed=args.seed,
            space={
                "lr": tp.Float(1e-4, 3e-1, log=True),
                "layers": tp.Int(1, 3),
                "width": tp.Int(16, 256, log=True),
                "act": tp.Categorical(["relu", "gelu", "tanh"]),
                "dropout": tp.Float(0.0, 0.5),
                "optimizer": tp.Categorical(["adam", "sgd"]),
            },
            load_if_exists=True,
        )
        print(f"tuning {args.study} on {device} for {args.trials} trials ({args.strategy})", flush=True)
        for trial in study.ask_many(args.trials):
            t0 = time.perf_counter()
            loss = float("nan")
            with trial:
                loss = train_trial(trial, data, device, args.epochs)
                trial.complete(loss)
            print(f"  trial {trial.number:3d}  {trial.state:8s}  val_loss={loss:.4f}  ({time.perf_counter() - t0:.1f}s)", flush=True)

        best = study.best_trial
        assert best is not None, "no trial completed"
        print(f"\nbest trial {best.number}: val_loss={best.value:.4f}, accuracy={best.user_attrs.get('val_accuracy', float('nan')):.3f}")
        for k, v in best.params.items():
            print(f"  {k} = {v}")


if __name__ == "__main__":
    main()
