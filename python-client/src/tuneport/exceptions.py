"""``tuneport.exceptions``: the names of Optuna's ``optuna.exceptions`` module that have a tuneport
counterpart, for scripts moved with ``import tuneport as optuna`` (``optuna.exceptions.TrialPruned``,
``except optuna.exceptions.DuplicatedStudyError``: ``AlreadyExistsError``; ``OptunaError``: ``TuneportError``)."""

from ._errors import AlreadyExistsError, TrialPruned, TuneportError

DuplicatedStudyError = AlreadyExistsError
OptunaError = TuneportError

__all__ = ["DuplicatedStudyError", "OptunaError", "TrialPruned", "TuneportError"]
