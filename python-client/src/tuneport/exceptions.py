"""``tuneport.exceptions``: the names of Optuna's ``optuna.exceptions`` module, for scripts moved with
``import tuneport as optuna`` (``optuna.exceptions.TrialPruned``, ``except
optuna.exceptions.DuplicatedStudyError``: ``AlreadyExistsError``; ``OptunaError``: the base of ``TuneportError`` and of ``TrialPruned``, as in Optuna;
``UpdateFinishedTrialError``; ``StorageInternalError``: ``InternalError``, the server's own failure).
``ExperimentalWarning`` is never raised (no tuneport API is experimental); it exists so that
``warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)`` keeps working,
and ``CLIUsageError`` likewise (tuneport's CLI is the server's, in Node)."""

from ._errors import AlreadyExistsError, InternalError, OptunaError, TrialPruned, TuneportError, UpdateFinishedTrialError

DuplicatedStudyError = AlreadyExistsError
StorageInternalError = InternalError


class ExperimentalWarning(Warning):
    """Optuna's warning for experimental APIs; tuneport never emits it."""


class CLIUsageError(TuneportError):
    """Optuna's CLI usage error; tuneport's Python package has no CLI, so it is never raised."""


__all__ = [
    "CLIUsageError",
    "DuplicatedStudyError",
    "ExperimentalWarning",
    "OptunaError",
    "StorageInternalError",
    "TrialPruned",
    "TuneportError",
    "UpdateFinishedTrialError",
]
