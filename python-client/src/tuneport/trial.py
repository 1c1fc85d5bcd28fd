"""``tuneport.trial``: the names of Optuna's ``optuna.trial`` module, for scripts moved with
``import tuneport as optuna`` (``optuna.trial.TrialState``, ``optuna.trial.FrozenTrial``,
``optuna.trial.create_trial``, ``optuna.trial.FixedTrial``)."""

from ._enums import TrialState
from ._fixed import FixedTrial
from ._study import create_trial
from ._trial import FrozenTrial, Trial

__all__ = ["FixedTrial", "FrozenTrial", "Trial", "TrialState", "create_trial"]
