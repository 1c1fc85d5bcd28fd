"""Gradient-based tuning of 11 weight decays of a small MLP on scikit-learn's digits, on the CPU.

The MLP (64 → 64 → 64 → 64 → 10, tanh) gets one weight decay per input-pixel row of its first
layer (8: the border rows of a digit carry less signal than the middle ones) and one per other
layer (3): 11 log-scaled hyperparameters. The study uses tuneport's ``hypergradient``
strategy: after every epoch the trial computes the hypergradient of the validation loss with
respect to each decay by implicit differentiation (``tuneport.hypergrad.implicit_hypergradient``,
Lorraine et al. 2020) and sends it with ``report``; the server answers with updated decays,
which the next epoch trains with. Starting points come from the strategy's base (qmc).

    npx tuneport serve --storage ./tuneport.db --bind tcp://127.0.0.1:5555
    python examples/hypergradient_digits.py --endpoint tcp://127.0.0.1:5555 --trials 3

``--strategy tpe`` (or random) runs the same loop with fixed decays, for comparison.
``--no-wait`` sends each report from the client's background thread (``report(..., wait=False)``):
the epoch loop no longer waits for the round trip, and the server's updated decays are applied at
the next report, so each epoch trains with the decays of two reports back instead of one
(``bench/client_loop.py --hypergradient`` measures both).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

import tuneport as tp
from tuneport.hypergrad import implicit_hypergradient

ROWS = 8
NOISE_BLOCKS, NOISE_WIDTH = 4, 16
N_IN = ROWS * ROWS + NOISE_BLOCKS * NOISE_WIDTH
INPUT_GROUPS = [f"wd_in_row{r}" for r in range(ROWS)] + [f"wd_in_noise{b}" for b in range(NOISE_BLOCKS)]
WD_NAMES = INPUT_GROUPS + ["wd_h1", "wd_h2", "wd_out"]
WD_RANGE = (1e-6, 1.0)


def space() -> dict[str, tp.Distribution]:
    return {name: tp.Float(*WD_RANGE, log=True) for name in WD_NAMES}


def load_data(seed: int = 0, n_train: int = 200) -> dict[str, torch.Tensor]:
    """A small training set (so that regularisation matters), a validation set that the
    optimizers see, and a test set that only reports honesty. The 64 pixels are followed by
    64 features of pure noise, so the right decay differs between input groups."""
    x, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    x = np.hstack([x / 16.0, rng.normal(0.0, 0.5, size=(len(x), NOISE_BLOCKS * NOISE_WIDTH))])
    x_tr, x_rest, y_tr, y_rest = train_test_split(x, y, train_size=n_train, random_state=seed, stratify=y)
    x_va, x_te, y_va, y_te = train_test_split(x_rest, y_rest, train_size=0.5, random_state=seed, stratify=y_rest)
    f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    i = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
    return {"x_tr": f(x_tr), "y_tr": i(y_tr), "x_va": f(x_va), "y_va": i(y_va), "x_te": f(x_te), "y_te": i(y_te)}


class Mlp(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l1, self.l2, self.l3, self.out = nn.Linear(N_IN, 64), nn.Linear(64, 64), nn.Linear(64, 64), nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.l3(torch.tanh(self.l2(torch.tanh(self.l1(x)))))))


def penalty(model: Mlp, wd: dict[str, torch.Tensor]) -> torch.Tensor:
    """½ Σ decay · ‖weights‖², per input group of the first layer and per other layer."""
    sq = (model.l1.weight**2).sum(dim=0)
    groups = torch.cat([sq[: ROWS * ROWS].view(ROWS, ROWS).sum(1), sq[ROWS * ROWS :].view(NOISE_BLOCKS, NOISE_WIDTH).sum(1)])
    total = (torch.stack([wd[k] for k in INPUT_GROUPS]) * groups).sum()
    for name, layer in (("wd_h1", model.l2), ("wd_h2", model.l3), ("wd_out", model.out)):
        total = total + wd[name] * (layer.weight**2).sum()
    return 0.5 * total


def train(
    trial: tp.Trial,
    data: dict[str, torch.Tensor],
    epochs: int,
    *,
    hypergradients: bool,
    seed: int = 0,
    neumann_steps: int = 10,
    alpha: float = 0.05,
    wait: bool = True,
    on_epoch: Callable[[int], None] | None = None,
) -> tuple[float, float]:
    """Trains one trial for ``epochs`` epochs (Adam, lr 3e-3, batches of 50), reporting the
    validation loss after each; with ``hypergradients`` the report carries dL_val/d(decay) and
    the server's update sets the decays of the next epoch (with ``wait=False`` the report is
    queued and its update applied at the next report). ``on_epoch(epoch)`` is called after each
    epoch's report. Returns (val loss, test loss)."""
    torch.manual_seed(seed * 1000 + trial.number)
    model = Mlp()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    ce = nn.functional.cross_entropy
    x_tr, y_tr, x_va, y_va = data["x_tr"], data["y_tr"], data["x_va"], data["y_va"]
    val = float("nan")
    for epoch in range(epochs):
        wd = {k: torch.tensor(float(trial.params[k]), requires_grad=hypergradients) for k in WD_NAMES}
        perm = torch.randperm(len(x_tr))
        for i in range(0, len(x_tr), 50):
            idx = perm[i : i + 50]
            opt.zero_grad()
            (ce(model(x_tr[idx]), y_tr[idx]) + penalty(model, {k: v.detach() for k, v in wd.items()})).backward()
            opt.step()
        with torch.no_grad():
            val = ce(model(x_va), y_va).item()
        if hypergradients:
            hg = implicit_hypergradient(
                lambda: ce(model(x_tr), y_tr) + penalty(model, wd),
                lambda: ce(model(x_va), y_va),
                list(model.parameters()), wd, neumann_steps=neumann_steps, alpha=alpha,
            )
            trial.report(val, epoch, hypergradients={k: g.item() for k, g in hg.items()}, wait=wait)
        else:
            trial.report(val, epoch, wait=wait)
        if on_epoch is not None:
            on_epoch(epoch)
    with torch.no_grad():
        test = ce(model(data["x_te"]), data["y_te"]).item()
    return val, test


def run_study(client: tp.Client, name: str, strategy: Any, trials: int, epochs: int, data: dict[str, torch.Tensor], seed: int,
              log: bool = True, wait: bool = True) -> list[tuple[float, float]]:
    """Runs ``trials`` trials of ``epochs`` epochs each; returns each trial's (val, test) loss."""
    hyper = (strategy if isinstance(strategy, str) else strategy["name"]) == "hypergradient"
    study = client.create_study(name, direction="minimize", strategy=strategy, space=space(), seed=seed)
    out = []
    for trial in study.ask_many(trials):
        t0 = time.perf_counter()
        with trial:
            val, test = train(trial, data, epochs, hypergradients=hyper, seed=seed, wait=wait)
            trial.complete(val)
        out.append((val, test))
        if log:
            print(f"  trial {trial.number:2d}  val_loss={val:.4f}  test_loss={test:.4f}  ({time.perf_counter() - t0:.1f}s)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    ap.add_argument("--study", default="hg-digits")
    ap.add_argument("--strategy", default="hypergradient")
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-wait", action="store_true", help="non-blocking reports (report(..., wait=False)); see the module doc")
    args = ap.parse_args()
    torch.set_num_threads(1)  # a tiny model: threads cost more than they save

    data = load_data(args.seed)
    with tp.connect(args.endpoint) as client:
        print(f"{args.study}: {len(WD_NAMES)} weight decays, strategy {args.strategy}, {args.trials} × {args.epochs} epochs", flush=True)
        run_study(client, args.study, args.strategy, args.trials, args.epochs, data, args.seed, wait=not args.no_wait)
        study = client.load_study(args.study)
        best = study.best_trial
        assert best is not None, "no trial completed"
        print(f"\nbest trial {best.number}: val_loss={best.value:.4f}")
        path = study.trajectory(best.number)
        if path:
            first, last = path[0].params, path[-1].params
            print(f"its decays moved over {len(path) - 1} reports:")
            for k in WD_NAMES:
                print(f"  {k:10s} {float(first[k]):.2e} → {float(last[k]):.2e}")


if __name__ == "__main__":
    main()
