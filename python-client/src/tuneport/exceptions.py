"""``tuneport.exceptions``: the names of Optuna's ``optuna.exceptions`` module that have a tuneport
counterpart, for scripts moved with ``import tuneport as optuna`` (``optuna.exceptions.TrialPruned``)."""

from ._errors import TrialPruned, TuneportError

__all__ = ["TrialPruned", "TuneportError"]
