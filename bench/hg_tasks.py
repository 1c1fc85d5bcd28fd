"""Tasks with 10 or more continuous hyperparameters for the hypergradient benchmark: per-group
L2 decays (log-scaled, 1e-6 … 1) of small MLPs trained with Adam on little data, where
regularisation matters. One decay per group of input features (a column block of the first
layer) and one per other layer.

    digits-wd15     examples/hypergradient_digits.py: 200 digits + 64 pure-noise inputs; 8 pixel
                    rows + 4 noise blocks + 3 layers = 15 decays (the repository's original task,
                    which flatters per-group decays: the noise blocks want large ones)
    digits-wd11     the same MLP without the noise inputs: 8 rows + 3 layers = 11
    breast-wd12     breast_cancer, 120 training samples; its 30 features are 10 measurements x
                    (mean, s.e., worst): one decay per measurement + 2 layers = 12
    wine-wd15       wine, 60 training samples; one decay per feature (13) + 2 layers = 15
    diabetes-wd12   diabetes (regression, MSE of the standardised target), 150 training samples;
                    one decay per feature (10) + 2 layers = 12

Splits: the training set above, the rest halved into validation (seen by optimizers) and test.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
import hypergradient_digits as ex  # noqa: E402

import tuneport as tp  # noqa: E402
from tuneport.hypergrad import implicit_hypergradient  # noqa: E402

WD_TASKS = ["digits-wd15", "digits-wd11", "breast-wd12", "wine-wd15", "diabetes-wd12"]


@dataclass
class WdTask:
    name: str
    groups: list[list[int]]
    group_names: list[str]
    hidden: int
    n_out: int
    regression: bool
    adam_lr: float
    batch: int
    data: dict[str, torch.Tensor]

    @property
    def names(self) -> list[str]:
        return self.group_names + ["wd_h", "wd_out"] if self.name != "digits-wd15" else ex.WD_NAMES

    def space(self) -> dict[str, tp.Distribution]:
        return {n: tp.Float(1e-6, 1.0, log=True) for n in self.names}


def _split(x: np.ndarray, y: np.ndarray, n_train: int, seed: int, regression: bool) -> dict[str, torch.Tensor]:
    strat = None if regression else y
    x_tr, x_rest, y_tr, y_rest = train_test_split(x, y, train_size=n_train, random_state=seed, stratify=strat)
    x_va, x_te, y_va, y_te = train_test_split(x_rest, y_rest, train_size=0.5, random_state=seed, stratify=None if regression else y_rest)
    mu, sd = x_tr.mean(0), x_tr.std(0) + 1e-8
    f = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    if regression:
        ym, ys = y_tr.mean(), y_tr.std()
        t = lambda a: f((a - ym) / ys).unsqueeze(1)  # noqa: E731
    else:
        t = lambda a: torch.tensor(np.asarray(a), dtype=torch.long)  # noqa: E731
    return {"x_tr": f((x_tr - mu) / sd), "y_tr": t(y_tr), "x_va": f((x_va - mu) / sd), "y_va": t(y_va),
            "x_te": f((x_te - mu) / sd), "y_te": t(y_te)}


def load(name: str, seed: int) -> WdTask:
    if name == "digits-wd15":
        return WdTask(name, [], [], 64, 10, False, 3e-3, 50, ex.load_data(seed))
    if name == "digits-wd11":
        x, y = datasets.load_digits(return_X_y=True)
        data = _split(x / 16.0, y, 200, seed, False)
        groups = [list(range(r * 8, r * 8 + 8)) for r in range(8)]
        return WdTask(name, groups, [f"wd_in_row{r}" for r in range(8)], 64, 10, False, 3e-3, 50, data)
    if name == "breast-wd12":
        x, y = datasets.load_breast_cancer(return_X_y=True)
        groups = [[i, i + 10, i + 20] for i in range(10)]
        return WdTask(name, groups, [f"wd_in_m{i}" for i in range(10)], 32, 2, False, 1e-2, 30, _split(x, y, 120, seed, False))
    if name == "wine-wd15":
        x, y = datasets.load_wine(return_X_y=True)
        return WdTask(name, [[i] for i in range(13)], [f"wd_in_f{i}" for i in range(13)], 32, 3, False, 1e-2, 30,
                      _split(x, y, 60, seed, False))
    if name == "diabetes-wd12":
        x, y = datasets.load_diabetes(return_X_y=True)
        return WdTask(name, [[i] for i in range(10)], [f"wd_in_f{i}" for i in range(10)], 32, 1, True, 1e-2, 30,
                      _split(x, y, 150, seed, True))
    raise ValueError(name)


class GroupMlp(nn.Module):
    def __init__(self, n_in: int, hidden: int, n_out: int) -> None:
        super().__init__()
        self.l1, self.l2, self.out = nn.Linear(n_in, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.l2(torch.tanh(self.l1(x)))))


def make_model(task: WdTask, init_seed: int) -> nn.Module:
    torch.manual_seed(init_seed)
    if task.name == "digits-wd15":
        return ex.Mlp()
    return GroupMlp(task.data["x_tr"].shape[1], task.hidden, task.n_out)


def penalty(task: WdTask, model: Any, wd: dict[str, torch.Tensor]) -> torch.Tensor:
    """½ Σ decay · ‖weights‖² per input group of the first layer and per other layer."""
    if task.name == "digits-wd15":
        return ex.penalty(model, wd)
    sq = (model.l1.weight**2).sum(dim=0)
    total = sum(wd[n] * sq[g].sum() for n, g in zip(task.group_names, task.groups))
    total = total + wd["wd_h"] * (model.l2.weight**2).sum() + wd["wd_out"] * (model.out.weight**2).sum()
    return 0.5 * total


def loss_fn(task: WdTask) -> Any:
    return nn.functional.mse_loss if task.regression else nn.functional.cross_entropy


def train_trial(task: WdTask, trial: tp.Trial, epochs: int, seed: int, *, hypergradients: bool, neumann_steps: int,
                alpha: float, on_epoch: Any) -> tuple[float, float, float]:
    """Trains one trial; reports the validation loss (with implicit hypergradients when asked) after
    each epoch and calls ``on_epoch(val, test, seconds_in_hypergradients)``. Returns (val, test, hg seconds)."""
    import time  # noqa: PLC0415

    model = make_model(task, seed * 1000 + trial.number)
    opt = torch.optim.Adam(model.parameters(), lr=task.adam_lr)
    lf = loss_fn(task)
    d = task.data
    gen = torch.Generator().manual_seed(seed * 1000 + trial.number)
    val = test = float("nan")
    hg_s = 0.0
    for epoch in range(epochs):
        wd = {k: torch.tensor(float(trial.params[k]), requires_grad=hypergradients) for k in task.names}
        perm = torch.randperm(len(d["x_tr"]), generator=gen)
        for i in range(0, len(perm), task.batch):
            idx = perm[i : i + task.batch]
            opt.zero_grad()
            (lf(model(d["x_tr"][idx]), d["y_tr"][idx]) + penalty(task, model, {k: v.detach() for k, v in wd.items()})).backward()
            opt.step()
        with torch.no_grad():
            val = float(lf(model(d["x_va"]), d["y_va"]))
            test = float(lf(model(d["x_te"]), d["y_te"]))
        if hypergradients:
            t0 = time.process_time()
            hg = implicit_hypergradient(
                lambda: lf(model(d["x_tr"]), d["y_tr"]) + penalty(task, model, wd),
                lambda: lf(model(d["x_va"]), d["y_va"]),
                list(model.parameters()), wd, neumann_steps=neumann_steps, alpha=alpha,
            )
            hg_s += time.process_time() - t0
            trial.report(val, epoch, hypergradients={k: g.item() for k, g in hg.items()})
        else:
            trial.report(val, epoch)
        on_epoch(val, test)
    return val, test, hg_s
