"""The exceptions the client raises.

Every failure the server reports carries a stable string code (``src/domain/errors.ts``
on the server); the client raises one subclass per code so that callers can catch what
they mean to handle. ``retry`` on each class says what a caller should do, exactly as the
server documents it: ``"retry"``, ``"fix-input"``, ``"give-up-trial"`` or ``"give-up"``.

Exception tree::

    Exception
    └── OptunaError                        Optuna's base of its exceptions (``tuneport.exceptions``)
        ├── TuneportError(code, message, data)
        │   ├── InvalidArgumentError           INVALID_ARGUMENT          fix-input   (also a ValueError)
        │   ├── MalformedMessageError          MALFORMED_MESSAGE         fix-input
        │   ├── MessageTooLargeError           MESSAGE_TOO_LARGE         fix-input
        │   ├── UnknownOpError                 UNKNOWN_OP                fix-input
        │   ├── UnsupportedVersionError        UNSUPPORTED_VERSION       fix-input
        │   ├── NotFoundError                  NOT_FOUND                 fix-input   (also a KeyError)
        │   ├── AlreadyExistsError             ALREADY_EXISTS            fix-input
        │   ├── FailedPreconditionError        FAILED_PRECONDITION       give-up-trial
        │   │   ├── TrialFinishedError         study.tell on a finished trial (also a ValueError)
        │   │   └── UpdateFinishedTrialError   suggest/report/set_user_attr on a finished trial (also a RuntimeError, as Optuna's)
        │   ├── LeaseLostError                 LEASE_LOST                give-up-trial
        │   ├── SearchSpaceExhaustedError      SEARCH_SPACE_EXHAUSTED    give-up
        │   ├── StudyStopped                   STUDY_STOPPED             give-up
        │   ├── UnauthenticatedError           UNAUTHENTICATED           give-up
        │   ├── UnavailableError               UNAVAILABLE               retry
        │   ├── InternalError                  INTERNAL                  give-up
        │   ├── TimeoutError                   TIMEOUT (client only)     retry
        │   └── ClientClosedError              CLIENT_CLOSED (client only) give-up
        └── TrialPruned                    control flow, not an error (as in Optuna)

The client raises some of these itself before anything is sent (a bad distribution is an
``InvalidArgumentError``, a request over the server's size limit a ``MessageTooLargeError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

RetryMeaning = Literal["retry", "fix-input", "give-up-trial", "give-up"]

__all__ = [
    "AlreadyExistsError",
    "ClientClosedError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "LeaseLostError",
    "MalformedMessageError",
    "MessageTooLargeError",
    "NotFoundError",
    "OptunaError",
    "SearchSpaceExhaustedError",
    "StudyStopped",
    "TimeoutError",
    "TrialPruned",
    "TuneportError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnknownOpError",
    "UnsupportedVersionError",
    "WIRE_ERRORS",
    "error_from_wire",
]


class OptunaError(Exception):
    """The base of every exception the client raises, as ``optuna.exceptions.OptunaError`` is of
    Optuna's: ``except optuna.exceptions.OptunaError`` in a script moved with ``import tuneport as
    optuna`` catches a failure or a ``TrialPruned`` as it did. ``except TuneportError`` catches the
    failures only."""


class TuneportError(OptunaError):
    """A failure with a stable code. ``data`` holds the server's structured details (may be empty)."""

    code_name: ClassVar[str] = ""
    retry: ClassVar[RetryMeaning] = "give-up"

    def __init__(self, code: str, message: str, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data: dict[str, Any] = dict(data) if data else {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r}, {self.data!r})"


class _CodedError(TuneportError):
    """A TuneportError whose code is fixed by its class."""

    def __init__(self, message: str, data: Mapping[str, Any] | None = None, *, code: str | None = None) -> None:
        super().__init__(code or self.code_name, message, data)


class InvalidArgumentError(_CodedError, ValueError):
    """The request's fields are missing, mistyped or out of range. Fix the request. Also a
    ``ValueError``, which Optuna raises for the same mistakes (``except ValueError`` keeps working)."""

    code_name = "INVALID_ARGUMENT"
    retry = "fix-input"


class MalformedMessageError(_CodedError):
    """A frame was not a MessagePack map with the envelope fields (either direction)."""

    code_name = "MALFORMED_MESSAGE"
    retry = "fix-input"


class MessageTooLargeError(_CodedError):
    """The request is larger than the server's ``max_message_bytes``, or its reply would be too big
    to send: a change whose reply (a trial with all its intermediate values, say) would be over the
    server's limit is refused before it is applied (``data["largest_parts"]`` names what was big)."""

    code_name = "MESSAGE_TOO_LARGE"
    retry = "fix-input"


class UnknownOpError(_CodedError):
    """The server has no such operation in this protocol version."""

    code_name = "UNKNOWN_OP"
    retry = "fix-input"


class UnsupportedVersionError(_CodedError):
    """Client and server share no protocol version."""

    code_name = "UNSUPPORTED_VERSION"
    retry = "fix-input"


class NotFoundError(_CodedError, KeyError):
    """The named study or trial does not exist. Also a ``KeyError``, which Optuna's
    ``load_study`` raises for a missing study."""

    code_name = "NOT_FOUND"
    retry = "fix-input"


class AlreadyExistsError(_CodedError):
    """A study of that name exists and ``load_if_exists`` was false."""

    code_name = "ALREADY_EXISTS"
    retry = "fix-input"


class FailedPreconditionError(_CodedError):
    """The operation conflicts with the object's state (e.g. tell on a finished trial)."""

    code_name = "FAILED_PRECONDITION"
    retry = "give-up-trial"


class TrialFinishedError(FailedPreconditionError, ValueError):
    """``study.tell`` on a trial already finished. Also a ``ValueError``, which Optuna's ``tell``
    raises for it (``except ValueError`` keeps working)."""


class UpdateFinishedTrialError(FailedPreconditionError, RuntimeError):
    """``suggest_*``, ``report`` or ``set_user_attr`` on a trial that is already finished: Optuna's
    ``optuna.exceptions.UpdateFinishedTrialError``, also a ``RuntimeError`` as Optuna's is."""


class LeaseLostError(_CodedError):
    """The trial's lease expired or its token is stale: the trial belongs to no one now."""

    code_name = "LEASE_LOST"
    retry = "give-up-trial"


class SearchSpaceExhaustedError(_CodedError):
    """The strategy has nothing left to hand out (e.g. every grid point was given)."""

    code_name = "SEARCH_SPACE_EXHAUSTED"
    retry = "give-up"


class StudyStopped(_CodedError):  # noqa: N818 - reads as what happened, like TrialPruned
    """The study hands out no more trials: its ``max_trials`` budget is spent or it was stopped
    (``Study.stop(all_workers=True)``, the MCP tool ``stop_study``). ``data["reason"]`` is
    ``"max_trials"`` or ``"stopped"``. ``optimize`` and ``ask_many`` end quietly on it."""

    code_name = "STUDY_STOPPED"
    retry = "give-up"


class UnauthenticatedError(_CodedError):
    """The client is not allowed to do this."""

    code_name = "UNAUTHENTICATED"
    retry = "give-up"


class UnavailableError(_CodedError):
    """The server cannot take the request now (busy, stopping, its disk full, the study changing
    hands); the client already resent it with the same id: ``retries`` times, or for a full disk
    until it had been full for ``outage_budget_s``. ``reason`` says why."""

    code_name = "UNAVAILABLE"
    retry = "retry"

    @property
    def reason(self) -> str | None:
        """The server's ``data.reason`` (``"storage_full"``, ``"memory"``, ``"moved"``…), else None."""
        reason = self.data.get("reason")
        return reason if isinstance(reason, str) else None


class InternalError(_CodedError):
    """A bug on the server. The request may or may not have been applied."""

    code_name = "INTERNAL"
    retry = "give-up"


class TimeoutError(_CodedError):  # noqa: A001 - tp.TimeoutError is the documented name
    """No reply after every attempt (Lazy Pirate). The request may or may not have been applied;
    repeating it through the client's API is safe for the server's idempotent ops."""

    code_name = "TIMEOUT"
    retry = "retry"


class ClientClosedError(_CodedError):
    """The client was closed; open a new one."""

    code_name = "CLIENT_CLOSED"
    retry = "give-up"


class TrialPruned(OptunaError):  # noqa: N818 - the name users know from Optuna
    """Raised by ``Trial.report`` when the scheduler says stop. A ``with trial:`` block records
    the trial as PRUNED and swallows it; outside one, call ``trial.prune()`` yourself."""


#: Wire code -> exception class. Mirrors ``ERROR_CODES`` in ``src/domain/errors.ts`` exactly
#: (``tests/test_errors.py`` fails when either side has a code the other lacks).
WIRE_ERRORS: dict[str, type[_CodedError]] = {
    cls.code_name: cls
    for cls in (
        InvalidArgumentError,
        MalformedMessageError,
        MessageTooLargeError,
        UnknownOpError,
        UnsupportedVersionError,
        NotFoundError,
        AlreadyExistsError,
        FailedPreconditionError,
        LeaseLostError,
        SearchSpaceExhaustedError,
        StudyStopped,
        UnauthenticatedError,
        UnavailableError,
        InternalError,
    )
}


def error_from_wire(error: Any) -> TuneportError:
    """Builds the exception for a reply's ``error`` map; an unknown code gives a plain TuneportError."""
    code = error.get("code") if isinstance(error, Mapping) else None
    message = error.get("message", "") if isinstance(error, Mapping) else None
    if not isinstance(code, str) or code == "" or not isinstance(message, str):
        # An error whose code is not a string could not be told apart from another (it read "None: None").
        return MalformedMessageError(f"reply carries a malformed error (a string code and message expected): {error!r:.200}")
    raw = error.get("data")
    data = raw if isinstance(raw, Mapping) else None
    cls = WIRE_ERRORS.get(code)
    if cls is None:
        return TuneportError(code, message, data)
    return cls(message, data)
