"""Accuracy against model size: a multi-objective study of a PyTorch MLP on scikit-learn's digits.

Two objectives (maximize validation accuracy, minimize the parameter count) and one constraint
(at most 20,000 parameters), searched by NSGA-II, the default strategy of a multi-objective study.
Needs a running server:

    npx tuneport serve --storage ./tuneport.db --bind tcp://127.0.0.1:5555
    python examples/multiobjective_digits.py --endpoint tcp://127.0.0.1:5555 --trials 40

Prints the Pareto front (the trials no other feasible trial beats on both objectives) and its
hypervolume, as `tuneport studies show NAME` does.
"""

from __future__ import annotations

import argparse

import torch
from _digits import Data, load_digits_tensors, train_epoch
from torch import nn

import tuneport as tp

MAX_PARAMS = 20_000


def build_model(layers: int, width: int) -> nn.Module:
    mods: list[nn.Module] = []
    d_in = 64
    for _ in range(layers):
        mods += [nn.Linear(d_in, width), nn.ReLU()]
        d_in = width
    mods.append(nn.Linear(d_in, 10))
    return nn.Sequential(*mods)


def objective(trial: tp.Trial, data: Data, epochs: int) -> tuple[float, float]:
    layers = trial.suggest_int("layers", 1, 3)
    width = trial.suggest_int("width", 4, 256, log=True)
    lr = trial.suggest_float("lr", 1e-3, 3e-2, log=True)
    torch.manual_seed(trial.number)
    model = build_model(layers, width)
    size = sum(p.numel() for p in model.parameters())
    trial.set_user_attrs({"n_params": size})
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        train_epoch(model, opt, data)
    _, _, x_va, y_va = data
    with torch.no_grad():
        accuracy = (model(x_va).argmax(1) == y_va).float().mean().item()
    return accuracy, float(size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    ap.add_argument("--study", default="digits-accuracy-vs-size")
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--strategy", default=None, help="default: the server's choice for several objectives (auto: ParEGO)")
    a = ap.parse_args()
    data = load_digits_tensors()
    with tp.connect(a.endpoint) as client:
        study = client.create_study(
            a.study, directions=["maximize", "minimize"], strategy=a.strategy, load_if_exists=True, seed=0
        )
        study.optimize(
            lambda t: objective(t, data, a.epochs),
            n_trials=a.trials,
            # Optuna's convention: c <= 0 is feasible; here "at most MAX_PARAMS parameters".
            constraints_func=lambda t: [float(t.user_attrs["n_params"]) - MAX_PARAMS],
        )
        front = study.pareto_front()
        print(f"study '{study.name}' ({', '.join(study.directions)}), strategy {study.strategy['name']}")
        print(
            f"pareto front: {len(front.trials)} trials ({front.n_feasible} feasible of {front.n_complete} complete), "
            f"hypervolume {front.hypervolume:.6g} at {front.reference_point} ({front.reference_point_source})"
        )
        for t in sorted(front.trials, key=lambda t: (t.values or [0.0, 0.0])[1]):
            acc, size = t.values or [float("nan"), float("nan")]
            print(f"  trial {t.number:3d}  accuracy {acc:.4f}  params {int(size):6d}  {t.params}")


if __name__ == "__main__":
    main()
