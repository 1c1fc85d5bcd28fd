"""Small real training tasks on scikit-learn's bundled data sets, for the dynamic-strategy
benchmarks (bench/pbt_tasks.py, bench/hypergradient.py): each trains an epoch in milliseconds
on one CPU thread, so that 10 seeds of several optimizers fit on a shared 2-core machine.

Every task has a train / validation / test split drawn from the seed (stratified for
classification); features are standardised on the training part (digits: pixels / 16). The
validation loss is what optimizers see; the test loss is recorded only to show that a
validation win is not overfitting the validation set.

    digits-cnn      3 convolutions (8, 16, 16 channels, 3x3, max-pool after the second) + linear on the
                    8x8 digits, batches of 128 (the others: 64 on digits, 32 elsewhere)
    digits-mlp      64-128-128-10 ReLU MLP on digits
    breast-mlp      30-64-64-2 ReLU MLP on breast_cancer
    wine-mlp        5-32-32-3 ReLU MLP on wine's first 5 features (with all 13 the classes separate
                    perfectly and every optimizer reaches a validation cross-entropy of about 0)
    diabetes-mlp    10-64-64-1 ReLU MLP on diabetes, mean squared error of the standardised target
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn import datasets
from sklearn.model_selection import train_test_split
from torch import nn

TASKS = ["digits-cnn", "digits-mlp", "breast-mlp", "wine-mlp", "diabetes-mlp"]


@dataclass
class Data:
    x_tr: torch.Tensor
    y_tr: torch.Tensor
    x_va: torch.Tensor
    y_va: torch.Tensor
    x_te: torch.Tensor
    y_te: torch.Tensor
    regression: bool
    batch: int


def load(task: str, seed: int) -> Data:
    """The task's data split for ``seed`` (60 / 20 / 20)."""
    name = task.split("-")[0]
    loader: dict[str, Callable[..., Any]] = {
        "digits": datasets.load_digits, "breast": datasets.load_breast_cancer,
        "wine": datasets.load_wine, "diabetes": datasets.load_diabetes,
    }
    x, y = loader[name](return_X_y=True)
    if name == "wine":
        x = x[:, :5]
    regression = name == "diabetes"
    strat = None if regression else y
    x_tr, x_rest, y_tr, y_rest = train_test_split(x, y, train_size=0.6, random_state=seed, stratify=strat)
    x_va, x_te, y_va, y_te = train_test_split(x_rest, y_rest, train_size=0.5, random_state=seed,
                                              stratify=None if regression else y_rest)
    if name == "digits":
        x_tr, x_va, x_te = x_tr / 16.0, x_va / 16.0, x_te / 16.0
    else:
        mu, sd = x_tr.mean(0), x_tr.std(0) + 1e-8
        x_tr, x_va, x_te = (x_tr - mu) / sd, (x_va - mu) / sd, (x_te - mu) / sd
    if regression:
        ym, ys = y_tr.mean(), y_tr.std()
        y_tr, y_va, y_te = (y_tr - ym) / ys, (y_va - ym) / ys, (y_te - ym) / ys
    f = lambda a: torch.tensor(np.asarray(a), dtype=torch.float32)  # noqa: E731
    t = (lambda a: f(a).unsqueeze(1)) if regression else (lambda a: torch.tensor(np.asarray(a), dtype=torch.long))  # noqa: E731
    batch = 128 if task == "digits-cnn" else 64 if name == "digits" else 32
    return Data(f(x_tr), t(y_tr), f(x_va), t(y_va), f(x_te), t(y_te), regression, batch)


class Cnn(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1, self.c2, self.c3 = nn.Conv2d(1, 8, 3, padding=1), nn.Conv2d(8, 16, 3, padding=1), nn.Conv2d(16, 16, 3, padding=1)
        self.out = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.view(-1, 1, 8, 8)
        h = torch.relu(self.c2(torch.relu(self.c1(h))))
        h = torch.relu(self.c3(nn.functional.max_pool2d(h, 2)))
        return self.out(h.flatten(1))


def mlp(*widths: int) -> nn.Module:
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def model(task: str, init_seed: int) -> nn.Module:
    """A fresh model for ``task``, initialised from ``init_seed``."""
    torch.manual_seed(init_seed)
    if task == "digits-cnn":
        return Cnn()
    widths = {"digits-mlp": (64, 128, 128, 10), "breast-mlp": (30, 64, 64, 2), "wine-mlp": (5, 32, 32, 3),
              "diabetes-mlp": (10, 64, 64, 1)}[task]
    return mlp(*widths)


def loss_fn(data: Data) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return nn.functional.mse_loss if data.regression else nn.functional.cross_entropy


def train_epoch(net: nn.Module, opt: torch.optim.Optimizer, data: Data, gen: torch.Generator) -> None:
    """One shuffled pass in mini-batches; stops early (leaving NaN weights) once the loss is NaN."""
    lf = loss_fn(data)
    net.train()
    perm = torch.randperm(len(data.x_tr), generator=gen)
    for i in range(0, len(perm), data.batch):
        idx = perm[i : i + data.batch]
        opt.zero_grad()
        loss = lf(net(data.x_tr[idx]), data.y_tr[idx])
        if not torch.isfinite(loss):
            return
        loss.backward()
        opt.step()


def evaluate(net: nn.Module, data: Data) -> tuple[float, float]:
    """(validation loss, test loss); NaN when the model diverged."""
    lf = loss_fn(data)
    net.eval()
    with torch.no_grad():
        va = float(lf(net(data.x_va), data.y_va))
        te = float(lf(net(data.x_te), data.y_te))
    return (va if math.isfinite(va) else math.nan), (te if math.isfinite(te) else math.nan)
