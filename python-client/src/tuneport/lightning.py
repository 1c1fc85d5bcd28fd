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
from ._trial import Decision, Trial

__all__ = ["TuneportPruningCallback"]

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
    epoch as the step. When the decision is prune, ``Trial.report`` raises ``TrialPruned``, which
    ends ``trainer.fit`` (Lightning re-raises exceptions from callbacks after its teardown).
    ``last_decision`` holds the latest decision (budget, PBT updates)."""

    def __init__(self, trial: Trial, monitor: str) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.last_decision: Decision | None = None

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if getattr(trainer, "sanity_checking", False):
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            log.warning("metric %r is not among the callback metrics; nothing reported", self.monitor)
            return
        self.last_decision = self.trial.report(float(value), trainer.current_epoch)
