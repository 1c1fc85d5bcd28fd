"""Tune a PyTorch Lightning MLP on scikit-learn's digits with tuneport's pruning callback.

    npx tuneport serve --storage ./tuneport.db --bind tcp://127.0.0.1:5555
    python examples/lightning_digits.py --endpoint tcp://127.0.0.1:5555 --trials 20

The study uses Hyperband + TPE with epochs as the budget: each trial fits for ``trial.budget``
epochs, ``TuneportPruningCallback`` reports ``val_loss`` after every validation, and a prune
decision ends ``trainer.fit`` with ``TrialPruned``, which ``with trial:`` records as PRUNED.
The callback reports Lightning's 0-based ``current_epoch`` as the step (as Optuna's callback
does), so a rung at resource r is checked after r + 1 epochs.
Needs ``pytorch_lightning`` (or ``lightning``) on CPU or GPU.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from typing import Any

try:  # import the Lightning flavour first: the callback subclasses the one already imported
    import lightning.pytorch as pl
except ImportError:
    import pytorch_lightning as pl  # type: ignore[no-redef]
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tuneport as tp
from tuneport.lightning import TuneportPruningCallback


class DigitsMLP(pl.LightningModule):
    def __init__(self, lr: float, width: int, dropout: float) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, 10))

    def training_step(self, batch: Any, _: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch: Any, _: int) -> None:
        x, y = batch
        logits = self.net(x)
        self.log("val_loss", nn.functional.cross_entropy(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def loaders() -> tuple[DataLoader[Any], DataLoader[Any]]:
    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    ds = lambda a, b: TensorDataset(torch.tensor(a, dtype=torch.float32), torch.tensor(b))  # noqa: E731
    return DataLoader(ds(x_tr, y_tr), batch_size=128, shuffle=True), DataLoader(ds(x_va, y_va), batch_size=512)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoint", default="tcp://127.0.0.1:5555")
    ap.add_argument("--study", default="digits-lightning")
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--max-epochs", type=int, default=9)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*is deprecated.*")
    pl.seed_everything(args.seed, verbose=False)
    train, val = loaders()
    sched = {"name": "hyperband", "options": {"min_resource": 1, "max_resource": args.max_epochs, "reduction_factor": 3}}
    with tp.connect(args.endpoint) as client:
        study = client.create_study(
            args.study,
            strategy="tpe",
            scheduler=sched,
            seed=args.seed,
            space={"lr": tp.Float(1e-4, 1e-1, log=True), "width": tp.Int(16, 256, log=True), "dropout": tp.Float(0.0, 0.5)},
            load_if_exists=True,
        )
        for trial in study.ask_many(args.trials):
            p = trial.params
            model = DigitsMLP(float(p["lr"]), int(p["width"]), float(p["dropout"]))  # type: ignore[arg-type]
            callback = TuneportPruningCallback(trial, monitor="val_loss")
            trainer = pl.Trainer(
                max_epochs=int(trial.budget or args.max_epochs), accelerator="auto", devices=1, callbacks=[callback],
                logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                num_sanity_val_steps=0,
            )
            with trial:
                trainer.fit(model, train, val)  # TrialPruned ends fit; the with-block records PRUNED
                trial.complete(trainer.callback_metrics["val_loss"].item(),
                               user_attrs={"val_acc": trainer.callback_metrics["val_acc"].item()})
            last = trial.intermediate[-1] if trial.intermediate else (float("nan"), float("nan"))
            print(f"  trial {trial.number:3d}  {trial.state:8s}  bracket={trial.bracket}  "
                  f"epochs={len(trial.intermediate)}  val_loss={last[1]:.4f}", flush=True)
        best = study.best_trial
        assert best is not None, "no trial completed"
        print(f"\nbest trial {best.number}: val_loss={best.value:.4f}, accuracy={best.user_attrs['val_acc']:.3f}")


if __name__ == "__main__":
    main()
