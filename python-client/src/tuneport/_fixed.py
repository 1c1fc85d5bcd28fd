"""Optuna's ``FixedTrial``: runs an objective on given parameter values, without a study or a
server (Optuna's FAQ: test an objective, or re-run it on ``study.best_params``)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from ._distributions import Categorical, Distribution, Float, Int, Scalar
from ._frozen import _check_compatible, _OptunaV2Suggest, _set_named_constraint


class FixedTrial(_OptunaV2Suggest):
    """A trial whose ``suggest_*`` return ``params[name]`` (a name not in ``params`` is
    ``ValueError``, and so is a value the distribution cannot hold: a choice not among the choices, a
    value that is no number or NaN for a range; one outside the range is returned with a UserWarning), as
    Optuna's ``optuna.trial.FixedTrial(params, number=0)``. ``report`` records nothing and
    ``should_prune()`` is False. ``params`` holds the values suggested so far."""

    def __init__(self, params: Mapping[str, Any], number: int = 0) -> None:
        self._fixed = dict(params)
        self.number = number
        self.params: dict[str, Any] = {}
        self.distributions: dict[str, Distribution] = {}
        self.user_attrs: dict[str, Any] = {}
        self.system_attrs: dict[str, Any] = {}
        self.datetime_start: datetime | None = datetime.now()

    def _suggest(self, name: str, dist: Distribution) -> Any:
        if name not in self._fixed:
            raise ValueError(f"The value of the parameter '{name}' is not found. Please set it at the construction of the FixedTrial object.")
        value = self._fixed[name]
        # Optuna's order: a value the distribution cannot hold at all (a choice not among the
        # choices, a string for a float, NaN) is a ValueError; one outside the range only warns.
        if not dist._contains(dist.to_internal_repr(value)):
            warnings.warn(f"The value {value} of the parameter '{name}' is out of the range of the distribution {dist}.", UserWarning, stacklevel=3)
        first = self.distributions.get(name)
        if first is not None:
            _check_compatible(name, first, dist)
        self.params[name] = value
        self.distributions.setdefault(name, dist)
        return value

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float:
        value: float = self._suggest(name, Float(low, high, log=log, step=step))
        return value

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        return int(self._suggest(name, Int(low, high, log=log, step=None if log and step == 1 else step)))

    def suggest_categorical(self, name: str, choices: Sequence[Scalar]) -> Scalar:
        value: Scalar = self._suggest(name, Categorical(choices))
        return value

    def report(self, value: float, step: int) -> None:
        """Does nothing, as Optuna's ``FixedTrial.report``."""

    def should_prune(self) -> bool:
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value

    def set_constraint(self, key: str, value: float) -> None:
        """Kept in ``system_attrs["constraints:<key>"]``, as Optuna's ``FixedTrial.set_constraint``.
        @raises TypeError, ValueError (NaN)."""
        _set_named_constraint(self.system_attrs, key, value, "constraints:")

    @property
    def constraints(self) -> dict[str, float]:
        """Optuna 5's ``FixedTrial.constraints``: the ``set_constraint`` values by name."""
        prefix = "constraints:"
        return {k[len(prefix) :]: v for k, v in self.system_attrs.items() if k.startswith(prefix)}


__all__ = ["FixedTrial"]
