"""A Lightning callback that reports a monitored metric to tuneport after each validation
(needs Lightning: ``pip install lightning``). Works with ``lightning.pytorch`` or ``pytorch_lightning``;
when both are installed, import the one you train with before importing this module.

    trainer = L.Trainer(callbacks=[TuneportPruningCallback(trial, monitor="val_loss")])
    with trial:
        trainer.fit(model, data)          # TrialPruned stops fit; the with-block prunes the trial
        trial.complete(trainer.callback_metrics["val_loss"].item())
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

from ._extras import LIGHTNING_HINT
from ._errors import TrialPruned
from ._trial import Decision, Trial

__all__ = ["PyTorchLightningPruningCallback", "TuneportPruningCallback"]

log = logging.getLogger("tuneport")


def _lightning() -> Any:
    # Lightning's Trainer only accepts callbacks of its own package's Callback class, so when
    # both packages are installed, follow the one the program imported already.
    for name in ("lightning.pytorch", "pytorch_lightning"):
        if name in sys.modules:
            return sys.modules[name]
    for name in ("lightning.pytorch", "pytorch_lightning"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError(LIGHTNING_HINT)


_Callback: Any = _lightning().Callback


class TuneportPruningCallback(_Callback):
    """Reports ``trainer.callback_metrics[monitor]`` at the end of each validation run, with the
    epoch as the step. When the decision is prune, ``TrialPruned`` is raised, which ends
    ``trainer.fit`` (Lightning re-raises exceptions from callbacks after its teardown).
    ``last_decision`` holds the latest decision (budget, a prune's reason). It reports no
    checkpoint, so under ``pbt``/``pb2`` no member can be exploited: use ``tuneport.torch.pbt_report``
    in a callback of your own there.

    By default (``wait=False``) the report is non-blocking: it is queued for the client's
    background thread, and its round trip overlaps Lightning's work after the validation (the
    other callbacks, checkpointing, logging, the next epoch's data loader start). Its decision is
    awaited and applied the next time training goes on: at the start of the next training batch
    (``on_train_batch_start``, after a validation inside an epoch: ``val_check_interval`` < 1),
    of the next training epoch (``on_train_epoch_start``) or at the end of training
    (``on_train_end``), raising ``TrialPruned`` before any further batch runs. So a trial trains
    exactly the batches it would with ``wait=True``, which blocks at each validation end for the
    round trip: that is why it is safe as the default."""

    def __init__(self, trial: Trial, monitor: str, *, wait: bool = False) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.wait = wait
        self.last_decision: Decision | None = None
        self._unchecked = False
        """A non-blocking report was made whose decision was not applied yet."""

    def _note(self, decision: Decision | None) -> None:
        if decision is not None:
            self.last_decision = decision

    def _check(self) -> None:
        """Waits for the decisions of the non-blocking reports and applies them."""
        if self.wait:
            return
        self._unchecked = False
        self._note(self.trial.flush_reports())
        if self.trial.should_prune():
            reason = self.last_decision.reason if self.last_decision is not None else None
            raise TrialPruned(reason or f"trial {self.trial.number} pruned")

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._check()

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        # After a validation inside an epoch (val_check_interval < 1) the next batch must not run
        # before that validation's decision is known: wait=True would have stopped fit already.
        if self._unchecked:
            self._check()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._check()

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if getattr(trainer, "sanity_checking", False):
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            logged = sorted(str(k) for k in trainer.callback_metrics)
            log.warning("metric %r is not among the callback metrics (logged: %s); nothing reported: check the "
                        "monitor name against the self.log calls", self.monitor, logged)
            return
        decision = self.trial.report(float(value), trainer.current_epoch, wait=self.wait)
        self._unchecked = not self.wait
        self._note(decision)
        # Outside `with trial:` a blocking report returns the decision instead of raising; Optuna's
        # callback raises TrialPruned either way, so fit stops here (it trained on to the end).
        if self.wait and decision is not None and decision.action == "prune":
            raise TrialPruned(decision.reason or f"trial {self.trial.number} pruned")


PyTorchLightningPruningCallback = TuneportPruningCallback
"""optuna-integration's name, same arguments ``(trial, monitor)``: code moved over from
``optuna.integration.PyTorchLightningPruningCallback`` changes only its import."""
