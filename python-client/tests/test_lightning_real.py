"""``TuneportPruningCallback`` inside a real Lightning ``Trainer`` (CPU, random data), against a
real server: reports per epoch, a prune stops ``fit`` and the with-block records PRUNED."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import pytorch_lightning as pl  # the real one (tests/test_extras.py uses stand-ins)
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tuneport as tp


class Tiny(pl.LightningModule):
    def __init__(self, lr: float) -> None:
        super().__init__()
        self.net = nn.Linear(4, 1)
        self.lr = lr
        self.batches = 0

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> torch.Tensor:
        self.batches += 1
        x, y = batch
        loss: torch.Tensor = nn.functional.mse_loss(self.net(x), y)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def lr_of(trial: tp.Trial) -> float:
    lr = trial.params["lr"]
    assert isinstance(lr, float)
    return lr


def loaders() -> tuple[DataLoader[Any], DataLoader[Any]]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]])
    ds = TensorDataset(x, y)
    return DataLoader(ds, batch_size=16), DataLoader(ds, batch_size=64)


def trainer(callback: Any, epochs: int, **options: Any) -> Any:
    return pl.Trainer(
        max_epochs=epochs, accelerator="cpu", devices=1, callbacks=[callback], logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        num_sanity_val_steps=0, **options,
    )


@pytest.fixture(autouse=True)
def quiet_lightning() -> Iterator[None]:
    """Lightning warns about dataloader workers and the like; pytest turns warnings into errors."""
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pytorch_lightning")
        warnings.filterwarnings("ignore", module="lightning_fabric")
        warnings.filterwarnings("ignore", category=UserWarning, message=".*(num_workers|does not have many workers).*")
        yield


@pytest.mark.parametrize("wait", [True, False])
def test_callback_reports_each_epoch_and_completes(client: tp.Client, name: str, wait: bool) -> None:
    from tuneport.lightning import TuneportPruningCallback

    study = client.create_study(name, space={"lr": tp.Float(0.01, 0.1)}, scheduler={"name": "median"})
    train, val = loaders()
    with study.ask() as trial:
        cb = TuneportPruningCallback(trial, monitor="val_loss", wait=wait)
        t = trainer(cb, epochs=3)
        t.fit(Tiny(lr_of(trial)), train, val)
        assert cb.last_decision is not None and cb.last_decision.action == "continue"
        trial.complete(float(t.callback_metrics["val_loss"]))
    frozen = study.trial(trial.number)
    assert frozen.state == "COMPLETE"
    assert [s for s, _ in frozen.intermediate] == [0.0, 1.0, 2.0]


def test_optuna_integrations_name_and_positional_arguments_train_the_same(client: tp.Client, name: str) -> None:
    # optuna.integration.PyTorchLightningPruningCallback(trial, "val_loss"), with only the import changed.
    from tuneport.lightning import PyTorchLightningPruningCallback

    study = client.create_study(name, space={"lr": tp.Float(0.01, 0.1)}, scheduler={"name": "median"})
    train, val = loaders()
    with study.ask() as trial:
        cb = PyTorchLightningPruningCallback(trial, "val_loss")
        t = trainer(cb, epochs=2)
        t.fit(Tiny(lr_of(trial)), train, val)
        trial.complete(float(t.callback_metrics["val_loss"]))
    assert [s for s, _ in study.trial(trial.number).intermediate] == [0.0, 1.0]


def test_the_callback_reports_without_blocking_by_default(client: tp.Client, name: str) -> None:
    from tuneport.lightning import TuneportPruningCallback

    study = client.create_study(name, space={"lr": tp.Float(0.01, 0.1)})
    with study.ask() as trial:
        cb = TuneportPruningCallback(trial, monitor="val_loss")
        assert cb.wait is False
        sent: list[bool] = []
        real = trial.report

        def spy(value: float, step: float, *args: Any, **kw: Any) -> Any:
            sent.append(kw["wait"])
            return real(value, step, *args, **kw)

        trial.report = spy  # type: ignore[method-assign]
        trainer(cb, epochs=2).fit(Tiny(lr_of(trial)), *loaders())
        trial.complete(1.0)
    assert sent == [False, False]
    assert [s for s, _ in study.trial(trial.number).intermediate] == [0.0, 1.0]


@pytest.mark.parametrize("wait", [True, False])
def test_a_prune_decision_stops_fit_and_prunes_the_trial(client: tp.Client, name: str, wait: bool) -> None:
    from tuneport.lightning import TuneportPruningCallback

    sched = {"name": "median", "options": {"n_startup_trials": 1}}
    study = client.create_study(name, space={"lr": tp.Float(0.01, 0.1)}, scheduler=sched)
    with study.ask() as good:  # a complete trial with low values at every epoch
        for epoch in range(3):
            good.report(1e-9, epoch)
        good.complete(1e-9)
    train, val = loaders()
    model = Tiny(0.05)
    with study.ask() as trial:
        t = trainer(TuneportPruningCallback(trial, monitor="val_loss", wait=wait), epochs=3)
        model.lr = lr_of(trial)
        t.fit(model, train, val)
        raise AssertionError("fit should have raised TrialPruned")  # pragma: no cover
    frozen = study.trial(trial.number)
    assert frozen.state == "PRUNED" and frozen.system_attrs["pruned_at_step"] == 0
    assert [s for s, _ in frozen.intermediate] == [0.0]
    # Stopped after the first epoch's 4 batches: the non-blocking decision is applied before epoch 2 trains.
    assert model.batches == 4


def test_a_blocking_callback_stops_fit_outside_a_with_block_as_optunas_does(client: tp.Client, name: str) -> None:
    # Optuna's ask-and-tell style: no `with trial:`, so report() returns the decision; the callback
    # must still raise TrialPruned (it trained every batch of every epoch).
    from tuneport.lightning import TuneportPruningCallback

    study = client.create_study(name, space={"lr": tp.Float(0.01, 0.1)}, scheduler={"name": "threshold", "options": {"upper": 1e-12}})
    train, val = loaders()
    model = Tiny(0.05)
    trial = study.ask()
    t = trainer(TuneportPruningCallback(trial, monitor="val_loss", wait=True), epochs=3)
    with pytest.raises(tp.TrialPruned):
        t.fit(model, train, val)
    assert model.batches == 4  # the first epoch only
    study.tell(trial, state="PRUNED")
    assert study.trial(trial.number).state == "PRUNED"



@pytest.mark.parametrize("wait", [True, False])
# Several validations per epoch report the same step (the epoch, as Optuna's callback does): a
# repeat is ignored with Optuna's warning, which only the run before the fix reached.
@pytest.mark.filterwarnings("ignore:The reported value is ignored")
def test_a_prune_at_a_mid_epoch_validation_trains_no_further_batch(client: tp.Client, name: str, wait: bool) -> None:
    """val_check_interval < 1: with wait=False the prune decided at a validation inside an epoch was
    applied at the next epoch's start (or at a later validation's report, when its answer had come
    by then), so the trial trained the rest of the epoch; wait=True stops after that validation."""
    from tuneport.lightning import TuneportPruningCallback

    study = client.create_study(name, space={"lr": tp.Float(0.01, 0.1)}, scheduler={"name": "threshold", "options": {"upper": 1e-12}})
    train, val = loaders()  # 4 batches per epoch
    torch.manual_seed(0)
    model = Tiny(0.05)
    with study.ask() as trial:
        t = trainer(TuneportPruningCallback(trial, monitor="val_loss", wait=wait), epochs=2, val_check_interval=0.25)
        model.lr = lr_of(trial)
        t.fit(model, train, val)
        raise AssertionError("fit should have raised TrialPruned")  # pragma: no cover
    frozen = study.trial(trial.number)
    assert frozen.state == "PRUNED" and [s for s, _ in frozen.intermediate] == [0.0]
    assert model.batches == 1  # the validation after the first batch pruned it


def test_a_monitor_that_is_not_logged_is_warned_naming_the_metrics_that_are(client: tp.Client, name: str, caplog: pytest.LogCaptureFixture) -> None:
    """A misspelt ``monitor`` reports nothing, so the trial is never pruned: the warning said only
    that the name was missing, not which names the module logs."""
    from tuneport.lightning import TuneportPruningCallback

    study = client.create_study(name, space={"lr": tp.Float(0.01, 0.1)}, scheduler="median")
    with study.ask() as trial, caplog.at_level(logging.WARNING, logger="tuneport"):
        trainer(TuneportPruningCallback(trial, monitor="val_los"), epochs=2).fit(Tiny(lr_of(trial)), *loaders())
        trial.complete(1.0)
    warned = [r.getMessage() for r in caplog.records if "'val_los'" in r.getMessage()]
    assert warned and all("logged: ['val_loss']" in m for m in warned), warned
    assert study.trial(trial.number).intermediate == []


@pytest.mark.parametrize("wait", [True, False])
def test_an_objective_re_run_on_the_best_frozen_trial_trains_to_the_end(client: tp.Client, name: str, wait: bool) -> None:
    """``objective(study.best_trial)`` (a FrozenTrial: suggest_* answers its params, report does
    nothing) crashed in the callback: FrozenTrial had no ``flush_reports`` and its ``report`` took
    no ``wait`` (nor ``hypergradients``) keyword."""
    from tuneport.lightning import TuneportPruningCallback

    def objective(trial: Any) -> float:
        lr = trial.suggest_float("lr", 0.01, 0.1)
        t = trainer(TuneportPruningCallback(trial, monitor="val_loss", wait=wait), epochs=2)
        model = Tiny(lr)
        t.fit(model, *loaders())
        trial.report(1.0, 5, hypergradients={"lr": 0.5}, wait=wait)  # a hypergradient loop's call
        trial.flush_reports()
        if isinstance(trial, tp.FrozenTrial):
            assert trial.flush_reports() is None and trial.pending_reports() is False
        assert model.batches == 8  # 2 epochs of 4 batches: nothing stopped it
        return float(t.callback_metrics["val_loss"])

    study = client.create_study(name, strategy="hypergradient", scheduler="median")
    study.optimize(objective, n_trials=1)
    best = study.best_trial
    assert isinstance(best, tp.FrozenTrial)
    objective(best)
