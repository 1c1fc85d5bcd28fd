"""Shared by the digits examples: scikit-learn's bundled digits as tensors, and one epoch of
mini-batch training that returns the validation loss. Not an example of its own."""

from __future__ import annotations

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

Data = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def load_digits_tensors(device: torch.device | str = "cpu") -> Data:
    """(x_train, y_train, x_val, y_val): pixels scaled to [0, 1], a fixed stratified 75/25 split."""
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    f = lambda a: torch.tensor(a, dtype=torch.float32, device=device)  # noqa: E731
    i = lambda a: torch.tensor(a, dtype=torch.long, device=device)  # noqa: E731
    return f(x_tr), i(y_tr), f(x_va), i(y_va)


def train_epoch(
    model: nn.Module, opt: torch.optim.Optimizer, data: Data, *, batch: int = 64, generator: torch.Generator | None = None
) -> float:
    """One pass over the training set in shuffled mini-batches; returns the validation loss."""
    x_tr, y_tr, x_va, y_va = data
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    perm = torch.randperm(len(x_tr), generator=generator).to(x_tr.device)
    for i in range(0, len(x_tr), batch):
        idx = perm[i : i + batch]
        opt.zero_grad()
        loss_fn(model(x_tr[idx]), y_tr[idx]).backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        return float(loss_fn(model(x_va), y_va).item())
