"""``TrialState`` and ``StudyDirection``, compatible with plain strings and with Optuna's enums.

A member is a ``str`` (its wire value: ``"COMPLETE"``, ``"minimize"``), so ``trial.state ==
"COMPLETE"`` and JSON/MessagePack work as before, and it also equals the member of the same name
of another library's enum, so code moved from Optuna (``t.state == optuna.trial.TrialState.COMPLETE``,
``study.direction == StudyDirection.MAXIMIZE``) keeps its meaning instead of being always False.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class _NameCompatible(str, Enum):
    """A str-valued enum that also equals another library's enum member of the same name."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Enum) and not isinstance(other, _NameCompatible):
            return self.name == other.name
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str.__str__(self), spec)


class TrialState(_NameCompatible):
    """A trial's state (Optuna's names). Equal to the string of its name and to Optuna's member."""

    WAITING = "WAITING"
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"

    def is_finished(self) -> bool:
        """True for COMPLETE, PRUNED and FAIL (Optuna's ``TrialState.is_finished``)."""
        return self in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


class StudyDirection(_NameCompatible):
    """An objective's direction. Equal to ``"minimize"``/``"maximize"`` and to Optuna's
    ``StudyDirection.MINIMIZE``/``MAXIMIZE``. ``NOT_SET`` is Optuna's member for a direction not
    set yet: no study has it (``create_study`` refuses it, as Optuna's)."""

    NOT_SET = "not_set"
    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"


def trial_state(raw: Any) -> TrialState:
    """The member for a wire string or any enum member with such a ``.name`` (Optuna's)."""
    name = getattr(raw, "name", raw)
    try:
        return TrialState(name)
    except ValueError:
        raise ValueError(f"not a trial state: {raw!r} (expected one of {', '.join(s.value for s in TrialState)})") from None


def direction_name(raw: Any) -> Any:
    """``"minimize"``/``"maximize"`` for a string or an enum member named MINIMIZE/MAXIMIZE
    (Optuna's ``StudyDirection``); anything else unchanged, for the server to refuse."""
    if isinstance(raw, Enum):
        return raw.name.lower() if raw.name in ("MINIMIZE", "MAXIMIZE") else raw.value
    return raw


__all__ = ["StudyDirection", "TrialState", "direction_name", "trial_state"]
