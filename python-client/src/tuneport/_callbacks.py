"""Optuna's ``MaxTrialsCallback``, for ``optimize(callbacks=[...])`` in scripts moved with
``import tuneport as optuna`` (``from optuna.study import MaxTrialsCallback``)."""

from __future__ import annotations

from collections.abc import Container
from typing import TYPE_CHECKING, Any

from ._enums import TrialState

if TYPE_CHECKING:
    from ._study import Study
    from ._trial import FrozenTrial


class MaxTrialsCallback:
    """Stops this process's ``optimize`` loop (``study.stop()``) once the study holds ``n_trials``
    trials in ``states`` (default: COMPLETE ones; None: any state), counted over every worker, as
    Optuna's ``MaxTrialsCallback``. For a cap the server enforces across workers, use
    ``create_study(max_trials=N)``."""

    def __init__(self, n_trials: int, states: Container[Any] | None = (TrialState.COMPLETE,)) -> None:
        self._n_trials = n_trials
        self._states = states

    def __call__(self, study: Study, trial: FrozenTrial) -> None:
        states = None if self._states is None else [s for s in TrialState if s in self._states]
        if len(study.get_trials(deepcopy=False, states=states)) >= self._n_trials:
            study.stop()


__all__ = ["MaxTrialsCallback"]
