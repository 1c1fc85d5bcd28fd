"""``tuneport.trial``: the names of Optuna's ``optuna.trial`` module, for scripts moved with
``import tuneport as optuna`` (``optuna.trial.TrialState``, ``optuna.trial.FrozenTrial``,
``optuna.trial.create_trial``, ``optuna.trial.FixedTrial``, and ``optuna.trial.BaseTrial`` for type
hints and ``isinstance``: the base of ``Trial``, ``FrozenTrial`` and ``FixedTrial``)."""

from ._enums import TrialState
from ._fixed import FixedTrial
from ._study import create_trial
from ._frozen import _OptunaV2Suggest
from ._trial import FrozenTrial, Trial

BaseTrial = _OptunaV2Suggest

__all__ = ["BaseTrial", "FixedTrial", "FrozenTrial", "Trial", "TrialState", "create_trial"]
