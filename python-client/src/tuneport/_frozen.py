"""The read-only ``FrozenTrial`` of listings, and what it shares with the live ``Trial``: Optuna's
deprecated ``suggest_*`` names, the named constraints, the compatibility and value checks."""

from __future__ import annotations

import math
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ._decision import Decision
from ._distributions import Categorical, Distribution, Float, Int, Scalar, as_declared, distribution_from_wire
from ._enums import TrialState, trial_state
from ._errors import InvalidArgumentError, TrialPruned
from ._told import as_float


_TOLD_CONSTRAINT_NAMES: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, ...]]] = weakref.WeakKeyDictionary()
"""Per client and study, the ``set_constraint`` names the first trial told in this process: a later
trial that sets other names would have its values stored under the wrong ones, so it is refused."""


def constraint_order(key: str) -> tuple[int, int, str]:
    """The order in which named constraints are told (the server keeps a list): names of digits
    as numbers ("0", "1", ..., "10": Optuna's names for a ``constraints_func``'s list), then the
    others alphabetically, so that every trial tells the same name at the same place whatever the
    order it set them in."""
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def checked_constraint(key: str, value: Any) -> float:
    """A ``set_constraint`` value as a float, with Optuna's errors. @raises TypeError, ValueError (NaN)."""
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise TypeError(f"The `value` argument is of type '{type(value)}' but supposed to be a float.") from None
    if math.isnan(number):
        raise ValueError(f"Attempted to set a constraint for {key!r}, but NaN is not allowed.")
    return number


def _set_named_constraint(named: dict[str, Any], key: str, value: float, prefix: str = "") -> None:
    """Optuna's ``set_constraint`` bookkeeping: the first value of a name stays (a warning otherwise)."""
    number = checked_constraint(key, value)
    if f"{prefix}{key}" in named:
        warnings.warn(f"The constraint value is ignored because this constraint `key={key!r}` is already set.", UserWarning, stacklevel=3)
        return
    named[f"{prefix}{key}"] = number


class _OptunaV2Suggest:
    """Optuna 2's ``suggest_uniform``/``suggest_loguniform``/``suggest_discrete_uniform``, which
    Optuna 5 still answers with a FutureWarning (old tutorials use them): ``suggest_float``."""

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float:
        raise NotImplementedError

    def _deprecated(self, old: str, new: str) -> None:
        warnings.warn(f"{old} is deprecated (as in Optuna since v3.0.0): use {new} instead.", FutureWarning, stacklevel=3)

    def suggest_uniform(self, name: str, low: float, high: float) -> float:
        """``suggest_float(name, low, high)``, with a FutureWarning."""
        self._deprecated("suggest_uniform", "suggest_float(name, low, high)")
        return self.suggest_float(name, low, high)

    def suggest_loguniform(self, name: str, low: float, high: float) -> float:
        """``suggest_float(name, low, high, log=True)``, with a FutureWarning."""
        self._deprecated("suggest_loguniform", "suggest_float(name, low, high, log=True)")
        return self.suggest_float(name, low, high, log=True)

    def suggest_discrete_uniform(self, name: str, low: float, high: float, q: float) -> float:
        """``suggest_float(name, low, high, step=q)``, with a FutureWarning."""
        self._deprecated("suggest_discrete_uniform", "suggest_float(name, low, high, step=q)")
        return self.suggest_float(name, low, high, step=q)


@dataclass(frozen=True, repr=False)
class FrozenTrial(_OptunaV2Suggest):
    """A snapshot of a trial as the server stores it (``TrialView`` on the wire). ``print``
    shows a one-line summary; ``intermediate_values``, ``datetime_start``,
    ``datetime_complete`` and ``duration`` are Optuna's names for the same data."""

    number: int
    state: TrialState
    params: dict[str, Scalar]
    distributions: dict[str, Distribution]
    value: float | None
    intermediate: list[tuple[float, float]]
    """``(step, value)`` pairs in step order."""
    user_attrs: dict[str, Any]
    system_attrs: dict[str, Any]
    created_at: float
    started_at: float | None
    finished_at: float | None
    duration_s: float | None
    values: list[float] | None = None
    """One value per objective (the study's ``directions``), or None without a result; in a
    one-objective study ``[value]``."""
    constraints: list[float] | None = None
    """The constraint values told with the result (``c <= 0`` satisfied), or None; also in
    ``system_attrs["constraints"]`` (a tuple), where Optuna stores them."""
    feasible: bool | None = None
    """COMPLETE trials: whether every constraint holds (True without constraints); else None."""

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any], study: str | None = None) -> FrozenTrial:
        """The trial of a wire ``TrialView``; ``study`` (its study's name) types its categorical
        params by the choices this process declared (see ``as_declared``)."""
        distributions = as_declared(study, {k: distribution_from_wire(d) for k, d in (raw.get("distributions") or {}).items()})
        constraints = _floats_or_none(raw.get("constraints"))
        system_attrs = dict(raw.get("system_attrs") or {})
        if constraints is not None:
            # Where Optuna keeps what constraints_func returned (a tuple), so code that reads
            # system_attrs["constraints"], and trials_dataframe's system_attrs_constraints column, work.
            system_attrs.setdefault("constraints", tuple(constraints))
        return cls(
            number=int(raw["number"]),
            state=trial_state(raw["state"]),
            params=_typed_params(raw.get("params"), distributions),
            distributions=distributions,
            value=_float_or_none(raw.get("value")),
            intermediate=[(float(s), float(v)) for s, v in raw.get("intermediate") or []],
            user_attrs=dict(raw.get("user_attrs") or {}),
            system_attrs=system_attrs,
            created_at=float(raw.get("created_at") or 0.0),
            started_at=raw.get("started_at"),
            finished_at=raw.get("finished_at"),
            duration_s=raw.get("duration_s"),
            values=_floats_or_none(raw.get("values")),
            constraints=constraints,
            feasible=raw.get("feasible"),
        )

    @property
    def intermediate_values(self) -> dict[int | float, float]:
        """``{step: value}`` of the reports (Optuna's name); whole steps are ints, as in Optuna."""
        return {(int(s) if s.is_integer() else s): v for s, v in self.intermediate}

    @property
    def datetime_start(self) -> datetime | None:
        """When the trial started running (local time), or None."""
        return None if self.started_at is None else datetime.fromtimestamp(self.started_at)

    @property
    def datetime_complete(self) -> datetime | None:
        """When the trial finished (local time), or None while it runs."""
        return None if self.finished_at is None else datetime.fromtimestamp(self.finished_at)

    @property
    def duration(self) -> timedelta | None:
        """How long it ran, or None while it runs (as Optuna's; ``duration_s`` is the time so far)."""
        return None if self.duration_s is None or self.finished_at is None else timedelta(seconds=self.duration_s)

    # Optuna's FrozenTrial orders by number, so ``sorted(trials)`` and ``max(trials)`` work.
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, FrozenTrial):
            return NotImplemented
        return self.number < other.number

    def __le__(self, other: object) -> bool:
        if not isinstance(other, FrozenTrial):
            return NotImplemented
        return self.number <= other.number

    @property
    def last_step(self) -> int | float | None:
        """The step of the last report (Optuna's name), or None without reports."""
        return max(self.intermediate_values) if self.intermediate else None

    # Optuna's FrozenTrial answers suggest_* with its stored params, so that
    # ``objective(study.best_trial)`` re-runs the best configuration; with Optuna's checks, so that
    # an objective whose space changed since says so instead of re-running something else.
    def _stored(self, name: str, dist: Distribution) -> Any:
        """Optuna's ``FrozenTrial._suggest``: the stored value, with a UserWarning when ``dist``
        does not hold it. @raises InvalidArgumentError (a ValueError, as Optuna's) when the trial has
        no such parameter, or when ``dist`` is of another kind, log scale or choices than the
        stored distribution (Optuna's rule for a parameter suggested again)."""
        if name not in self.params:
            raise InvalidArgumentError(f"trial {self.number} has no parameter '{name}' (it has {sorted(self.params)})")
        value = self.params[name]
        if not dist._contains(dist.to_internal_repr(value)):
            warnings.warn(f"The value {value} of the parameter '{name}' is out of the range of the distribution {dist}.", UserWarning, stacklevel=3)
        stored = self.distributions.get(name)
        if stored is not None:
            _check_compatible(name, stored, dist, whence=f"of trial {self.number} is stored with {{old}}")
        return value

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float:
        """The stored value of ``name`` (see ``_stored``). @raises InvalidArgumentError."""
        return float(self._stored(name, Float(low, high, log=log, step=step)))

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        """The stored value of ``name`` (see ``_stored``). @raises InvalidArgumentError."""
        return int(self._stored(name, Int(low, high, log=log, step=None if log and step == 1 else step)))

    def suggest_categorical(self, name: str, choices: Sequence[Scalar]) -> Scalar:
        """The stored value of ``name`` (see ``_stored``). @raises InvalidArgumentError."""
        value: Scalar = self._stored(name, Categorical(choices))
        return value

    def set_user_attr(self, key: str, value: Any) -> None:
        """Sets a user attribute on this snapshot only, as Optuna's ``FrozenTrial.set_user_attr``
        (e.g. on a ``create_trial`` result before ``study.add_trial``); the server is not told."""
        self.user_attrs[key] = value

    def set_constraint(self, key: str, value: float) -> None:
        """Optuna 5's ``FrozenTrial.set_constraint`` (on a ``create_trial`` result before
        ``study.add_trial``): kept in ``system_attrs["constraints:<key>"]`` of this snapshot, as
        Optuna does; ``add_trial`` tells them. @raises TypeError, ValueError (NaN)."""
        _set_named_constraint(self.system_attrs, key, value, "constraints:")

    def report(
        self,
        value: float,
        step: float,
        data: Mapping[str, Any] | None = None,
        *,
        hypergradients: Mapping[str, Any] | None = None,
        raise_on_prune: bool | None = None,
        wait: bool = True,
    ) -> None:
        """Does nothing, as Optuna's ``FrozenTrial.report`` (a re-run has nobody to report to); it
        takes ``Trial.report``'s arguments, so that a loop written for a ``Trial`` re-runs as is."""

    def flush_reports(self) -> Decision | None:
        """None: nothing was reported (``Trial.flush_reports``, e.g. in the Lightning callback)."""
        return None

    def pending_reports(self) -> bool:
        """False: nothing was reported (``Trial.pending_reports``)."""
        return False

    def should_prune(self) -> bool:
        """False, as Optuna's ``FrozenTrial.should_prune``."""
        return False

    def __repr__(self) -> str:
        parts = [f"number={self.number}", f"state={self.state}"]
        if self.value is not None:
            parts.append(f"value={self.value!r}")
        elif self.values is not None:
            parts.append(f"values={self.values!r}")
        if self.constraints is not None:
            parts.append(f"constraints={self.constraints!r} ({'feasible' if self.feasible else 'infeasible'})")
        parts.append(f"params={_short(self.params)}")
        if self.intermediate:
            last_step, last_value = self.intermediate[-1]
            parts.append(f"intermediate={len(self.intermediate)} (last: step {last_step:g} -> {last_value!r})")
        if self.user_attrs:
            parts.append(f"user_attrs={_short(self.user_attrs)}")
        if self.duration_s is not None:
            parts.append(f"duration={self.duration_s:.3g}s")
        return f"FrozenTrial({', '.join(parts)})"


def _floats_or_none(raw: Any) -> list[float] | None:
    """A wire list of numbers as floats (MessagePack may carry 5.0 as 5), or None."""
    return None if raw is None else [float(x) for x in raw]


def _values_args(value: float | Sequence[float], what: str = "value") -> dict[str, Any]:
    """``{"value": v}`` for one number, ``{"values": [...]}`` for a list or tuple (several
    objectives), each cast to float as Optuna does (see ``_number``). As ``study.tell`` and Optuna
    5.0 read a told value, anything else is one value: a numpy array too, refused by ``_number``
    (a 0-d one is a number)."""
    if isinstance(value, (list, tuple)):
        return {"values": [_number(v, f"{what}[{i}]") for i, v in enumerate(value)]}
    return {"value": _number(value, what)}


def _constraints_arg(constraints: Sequence[float] | None) -> dict[str, Any]:
    if constraints is None:
        return {}
    if isinstance(constraints, (str, bytes)) or not isinstance(constraints, Sequence):
        raise InvalidArgumentError("constraints must be a sequence of numbers (c <= 0 is feasible)")
    return {"constraints": [_number(c, f"constraints[{i}]") for i, c in enumerate(constraints)]}


def _short(mapping: Mapping[str, Any], limit: int = 400) -> str:
    """``repr`` of a dict, cut at ``limit`` characters so that a line stays a line."""
    text = repr(dict(mapping))
    return text if len(text) <= limit else f"{text[: limit - 5]}...}}"


@dataclass(frozen=True)
class TrajectoryPoint:
    """One point of a trial's hyperparameter trajectory (op ``trajectory``): the tuned params in
    force after the report at ``step`` (``step`` None: the starting point), with that report's value."""

    step: float | None
    value: float | None
    params: dict[str, Scalar]

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> TrajectoryPoint:
        return cls(step=raw.get("step"), value=raw.get("value"), params=dict(raw.get("params") or {}))


def _float_or_none(x: Any) -> float | None:
    """A value as a float: MessagePack carries a whole float such as 5.0 as the integer 5."""
    return None if x is None else float(x)


def _typed_params(raw: Any, distributions: Mapping[str, Distribution]) -> dict[str, Scalar]:
    """Params as the user declared them: float parameters as floats (5.0, not the integer 5
    MessagePack carried), a categorical's value as its own choice (``1.0``, not ``1``). In the
    order of ``distributions`` (the order the trial suggested them, as Optuna's ``params``: the
    server lists an enqueued trial's params in the enqueued dict's order), then any without one
    (an enqueued value not suggested yet)."""
    given: dict[str, Scalar] = dict(raw or {})
    params = {k: _typed_value(given.pop(k), d) for k, d in distributions.items() if k in given}
    params.update(given)
    return params


_MISSING: Any = object()


def _typed_value(v: Any, d: Distribution) -> Any:
    """One param value as declared: a float for ``Float``; for ``Categorical`` the choice itself,
    of its own type, when the wire carried an equal value of another (a whole float comes back as
    an int: ``max_features=1.0`` must not become ``1``, which scikit-learn reads differently)."""
    if isinstance(d, Float):
        return float(v) if isinstance(v, int) and not isinstance(v, bool) else v
    if isinstance(d, Int) and isinstance(v, float) and v.is_integer():
        return int(v)  # servers before 9c3e21c sent integers past 2^32 as float64
    if isinstance(d, Categorical) and not any(type(c) is type(v) and c == v for c in d.choices):
        for c in d.choices:
            if c == v and isinstance(c, bool) == isinstance(v, bool) and not isinstance(c, str):
                return c
    return v


def _fail_reason(exc_type: type[BaseException], exc: BaseException | None) -> str:
    """``"ValueError: message"`` for a trial that ``exc`` failed. An exception whose ``str()``
    raises gets Python's own words for it: raising here left the trial RUNNING and replaced the
    objective's error (``optimize``'s ``catch`` no longer caught it; Optuna fails the trial)."""
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - any failure of a user's __str__
        text = "<exception str() failed>"
    return f"{exc_type.__name__}: {text}"


def is_trial_pruned(exc_type: type[BaseException]) -> bool:
    """True for ``tp.TrialPruned`` and for Optuna's ``optuna.TrialPruned`` (raised by code moved
    from Optuna or by its integrations' pruning callbacks), which tuneport treats alike."""
    if issubclass(exc_type, TrialPruned):
        return True
    return any(c.__name__ == "TrialPruned" and c.__module__.split(".")[0] == "optuna" for c in exc_type.__mro__)


def _why_not_in(dist: Distribution, v: Any) -> tuple[str, bool]:
    """Why ``v`` (an enqueued value the server did not use) is not a value of ``dist``, in the
    words of the server's rule (``contains`` in src/domain/distributions.ts), and whether it lies
    between the step points of a range (the server then used the nearest one instead of drawing)."""
    if not isinstance(dist, (Float, Int)):
        return f"not one of the choices of {dist!r}", False
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return f"not a finite number, as {dist!r} needs", False
    if v < dist.low or v > dist.high:
        return f"outside {dist!r}", False
    step = dist.step or 1
    if isinstance(dist, Int) and not float(v).is_integer():
        return f"between the whole numbers of {dist!r}", True
    return f"between the step points of {dist!r} (low + k·{step:g})", True


def _check_enqueued_choice(where: str, name: str, dist: Distribution, fixed: Any) -> None:
    """Optuna's ValueError for an enqueued value (``fixed``, ``_MISSING`` without one) that is not
    one of a categorical parameter's choices: its ``suggest_categorical`` raises it (there is no
    nearest choice to use), before anything is recorded. ``where`` names the trial.
    @raises InvalidArgumentError (a ``ValueError``) with Optuna's message, then the name."""
    if isinstance(dist, Categorical) and fixed is not _MISSING:
        try:
            dist.to_internal_repr(fixed)
        except ValueError as exc:
            raise InvalidArgumentError(f"{exc} (the enqueued value of '{name}' in {where}, as Optuna's suggest_categorical)", {"param": name}) from None


def _replaced_message(where: str, name: str, dist: Distribution, fixed: Any, value: Any) -> str:
    """The UserWarning for an enqueued value of a range the server did not use (``value`` instead),
    as Optuna's "Fixed parameter ... is out of range". Between the step points the server used
    the nearest one (trial-ops.ts `suggest`)."""
    why, between = _why_not_in(dist, fixed)
    used = f"the nearest step point, {value!r}, is used" if between else f"the strategy's value {value!r} is used instead"
    return (
        f"{where}: the enqueued value {fixed!r} of '{name}' is {why}; the server keeps "
        f"a trial's values on their distribution, so {used} (Optuna evaluates an enqueued value as given)"
    )


def _check_compatible(name: str, old: Distribution, new: Distribution, *, whence: str = "was suggested from {old} in this trial") -> None:
    """Optuna's rule for suggesting a parameter again in the same trial: the same kind, the same
    log scale, the same categorical choices (another range is allowed: the first value is returned).
    ``whence`` says where ``old`` came from (``{old}`` is its repr); a ``FrozenTrial`` re-run names its
    stored distribution. @raises InvalidArgumentError (a ``ValueError``, as Optuna's) with Optuna's
    message, then the name."""
    why = None
    if type(old) is not type(new):
        why = "Cannot set different distribution kind to the same parameter name."
    elif isinstance(old, (Float, Int)) and isinstance(new, (Float, Int)) and old.log != new.log:
        why = "Cannot set different log configuration to the same parameter name."
    elif isinstance(old, Categorical) and old.to_wire() != new.to_wire():
        why = "CategoricalDistribution does not support dynamic value space."
    if why is not None:
        raise InvalidArgumentError(f"{why} ('{name}' {whence.format(old=repr(old))}, now from {new!r})", {"param": name})


def _number(x: Any, what: str) -> float:
    """``x`` cast to a float, as Optuna casts the values it is told and reported: Python ints of any
    size (``6 * 124e6 * 3e11`` FLOPs, ``2**60``: the server's numbers are doubles, and MessagePack
    cannot carry an int past 2^64 at all), bools (``float(True)``), numpy scalars, 0-d tensors.
    @raises TypeError (Optuna's report raises one) when it cannot be cast: not a number, or an int
    too large for a float."""
    if type(x) is float:
        return x
    try:
        return as_float(x)  # a numpy array of one element is not a number, whatever numpy's version
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{what} must be a number that can be cast to float (got {_short_repr(x)}: {exc})") from None


def _short_repr(x: Any, limit: int = 80) -> str:
    """``repr(x)`` cut at ``limit`` characters (a 400-digit int should not fill the screen)."""
    text = repr(x)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


__all__ = ["FrozenTrial", "TrajectoryPoint", "checked_constraint", "constraint_order", "is_trial_pruned"]
