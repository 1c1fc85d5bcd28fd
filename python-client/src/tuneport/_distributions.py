"""Parameter distributions, as declared in a study's space or passed to ``suggest_*``.

They are plain values that map one-to-one onto the wire maps of ``src/domain/distributions.ts``:
``{"type": "float", low, high, log?, step?}``, ``{"type": "int", ...}`` and
``{"type": "categorical", choices}``. The constructors check the same rules as the server so
a bad space fails before anything is sent (``InvalidArgumentError``).
"""

from __future__ import annotations

import decimal
import math
import operator
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Union

from ._errors import InvalidArgumentError

Scalar = Union[str, int, float, bool, None]
"""A parameter value or categorical choice: any MessagePack scalar."""


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _as_float(x: Any) -> Any:
    """A real number of another type (numpy's float32, int64...) as a float; anything else as is."""
    if type(x) in (int, float) or isinstance(x, (bool, str, bytes)) or x is None:
        return x
    try:
        return float(x)
    except (TypeError, ValueError):
        return x


def _as_int(x: Any) -> Any:
    """A finite real number of another type as an int: numpy's int64, the float 8.0 of a YAML
    config, and a fraction truncated toward zero as Optuna's ``IntDistribution`` does with
    ``int(high)`` (``suggest_int("k", 1, n / 2)`` draws from 1..n // 2 there); anything else (a
    string, NaN, an infinity) as is, for the check to refuse."""
    if isinstance(x, bool) or x is None or isinstance(x, int):
        return x
    try:
        return operator.index(x)
    except TypeError:
        pass
    f = _as_float(x)
    return int(f) if isinstance(f, float) and math.isfinite(f) else x


def _scalar(c: Any) -> Any:
    """A numpy scalar choice (``np.int64(3)``, ``np.str_``) as the plain Python value."""
    if c is None or isinstance(c, (str, int, float, bool)):
        return c if type(c) in (str, int, float, bool) or c is None else _plain(c)
    item = getattr(c, "item", None)
    return item() if callable(item) else c


def _plain(c: Any) -> Any:
    """A subclass of str/int/float/bool (numpy's str_, float64) as its base type."""
    for base in (bool, str, int, float):
        if isinstance(c, base):
            return base(c)
    return c


def _grid_high(low: Any, high: Any, step: Any, *, whole: bool) -> Any:
    """``high`` shrunk onto the grid ``low + k·step``, with Optuna's UserWarning when the range is
    not a whole number of steps: Optuna's ``FloatDistribution(0, 1, step=0.3).high`` is 0.9 and
    ``IntDistribution(0, 10, step=3).high`` 9, computed in decimal as Optuna does (the server
    shrinks the same way, so the trial's stored distribution agrees). ``whole``: an ``Int``."""
    if whole:
        if (high - low) % step == 0:
            return high
        grid_high = (high - low) // step * step + low
    else:
        try:
            d_low, d_high, d_step = (decimal.Decimal(str(x)) for x in (low, high, step))
            if (d_high - d_low) % d_step == 0:
                return high
            grid_high = float((d_high - d_low) // d_step * d_step + d_low)
        except (decimal.InvalidOperation, ValueError):
            return high
    warnings.warn(
        f"The distribution is specified by [{low}, {high}] and step={step}, but the range is not divisible by `step`. "
        f"It will be replaced with [{low}, {grid_high}].",
        UserWarning,
        stacklevel=4,
    )
    return grid_high


def _check_numeric(kind: str, low: float, high: float, log: bool, step: float | None) -> None:
    if not (_is_number(low) and _is_number(high)):
        raise InvalidArgumentError(f"{kind}: low and high must be numbers (got {low!r}, {high!r})")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InvalidArgumentError(f"{kind}: low and high must be finite (got {low!r}, {high!r})")
    if not low <= high:
        raise InvalidArgumentError(f"{kind}: low ({low!r}) must be <= high ({high!r})")
    if step is not None and (not _is_number(step) or not math.isfinite(step) or step <= 0):
        raise InvalidArgumentError(f"{kind}: step must be a finite number > 0 (got {step!r})")
    if log and low <= 0:
        raise InvalidArgumentError(f"{kind}: log scale needs low > 0 (got {low!r})")


class Distribution:
    """Base of ``Float``, ``Int`` and ``Categorical``: immutable, comparable, with a wire map."""

    __slots__ = ()

    def to_wire(self) -> dict[str, Any]:
        raise NotImplementedError

    def single(self) -> bool:
        """True when the distribution has one value only (Optuna's ``BaseDistribution.single``)."""
        raise NotImplementedError

    def to_internal_repr(self, param_value_in_external_repr: Any) -> float:
        """Optuna's internal representation: the number itself, a categorical choice's index.
        @raises ValueError, with Optuna's messages, for a value that cannot be cast to float, NaN,
        a value <= 0 on a log scale, or a choice that is not one of ``choices``."""
        v = param_value_in_external_repr
        try:
            internal = float(v)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"'{v}' is not a valid type. float-castable value is expected.") from exc
        if math.isnan(internal):
            raise ValueError(f"`{v}` is invalid value.")
        if getattr(self, "log", False) and internal <= 0.0:
            raise ValueError(f"`{v}` is invalid value for the case log=True.")
        return internal

    def to_external_repr(self, param_value_in_internal_repr: float) -> Any:
        """The parameter value of an internal representation (Optuna's ``to_external_repr``)."""
        return param_value_in_internal_repr

    def _contains(self, param_value_in_internal_repr: float) -> bool:
        """Whether the internal representation is a value of this distribution (Optuna's ``_contains``)."""
        raise NotImplementedError


def _on_grid(v: float, low: float, high: float, step: float | None) -> bool:
    if not low <= v <= high:
        return False
    if step is None:
        return True
    k = round((v - low) / step)
    return abs(v - (low + k * step)) <= 1e-8 * max(1.0, abs(step))


@dataclass(frozen=True)
class Float(Distribution):
    """A float in ``[low, high]``; ``log`` samples in log space, ``step`` puts it on a grid."""

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def __post_init__(self) -> None:
        for name in ("low", "high", "step"):
            object.__setattr__(self, name, _as_float(getattr(self, name)))
        _check_numeric("Float", self.low, self.high, self.log, self.step)
        if self.log and self.step is not None:
            raise InvalidArgumentError("Float: step cannot be combined with log scale")
        if self.step is not None:
            object.__setattr__(self, "high", _grid_high(self.low, self.high, self.step, whole=False))
        # Optuna's FloatDistribution holds floats (``FloatDistribution(0, 1).low`` is 0.0).
        for name in ("low", "high", "step"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, float(getattr(self, name)))

    def single(self) -> bool:
        return self.low == self.high or (self.step is not None and self.high - self.low < self.step)

    def _contains(self, param_value_in_internal_repr: float) -> bool:
        v = float(param_value_in_internal_repr)
        return not math.isnan(v) and _on_grid(v, self.low, self.high, self.step)

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step is not None:
            d["step"] = self.step
        return d


@dataclass(frozen=True)
class Int(Distribution):
    """An integer in ``[low, high]`` (both included) on a grid of ``step`` (1 when None, as in
    Optuna's ``IntDistribution``, so ``Int(1, 4) == Int(1, 4, step=1)``). A fractional bound or
    step is truncated toward zero, as Optuna's ``int(high)`` (``Int(1, 10.5) == Int(1, 10)``)."""

    low: int
    high: int
    log: bool = False
    step: int | None = None

    def __post_init__(self) -> None:
        given_step = self.step
        for name in ("low", "high", "step"):
            object.__setattr__(self, name, _as_int(getattr(self, name)))
        if self.step == 0 and given_step != 0:
            # 0.5 truncates to 0: say what was given (Optuna divides by it: ZeroDivisionError).
            raise InvalidArgumentError(f"Int: step must be an int >= 1 (got {given_step!r}, which truncates to 0)")
        if self.step is None:
            object.__setattr__(self, "step", 1)
        for field, v in (("low", self.low), ("high", self.high), ("step", self.step)):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
                raise InvalidArgumentError(f"Int: {field} must be an int (got {v!r})")
        _check_numeric("Int", self.low, self.high, self.log, self.step)
        if self.log and self.step not in (None, 1):
            raise InvalidArgumentError("Int: step cannot be combined with log scale")
        if self.step != 1:
            object.__setattr__(self, "high", _grid_high(self.low, self.high, self.step, whole=True))

    def single(self) -> bool:
        return self.low == self.high or self.high - self.low < (self.step or 1)

    def to_external_repr(self, param_value_in_internal_repr: float) -> int:
        return int(param_value_in_internal_repr)

    def _contains(self, param_value_in_internal_repr: float) -> bool:
        v = float(param_value_in_internal_repr)
        return not math.isnan(v) and v == round(v) and _on_grid(v, self.low, self.high, self.step or 1)

    def to_wire(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": "int", "low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step not in (None, 1):
            d["step"] = self.step
        return d


@dataclass(frozen=True, init=False)
class Categorical(Distribution):
    """One of ``choices`` (MessagePack scalars, distinct, at least one)."""

    choices: tuple[Scalar, ...]

    def __init__(self, choices: Sequence[Scalar]) -> None:
        # Any ordered collection with a length, as Optuna takes: a list, a tuple, a numpy array
        # (``np.array([16, 32, 64])``), a range; its numpy scalars become Python values (``_scalar``).
        if (
            isinstance(choices, (str, bytes, Mapping, set, frozenset))
            or not hasattr(choices, "__iter__")
            or not hasattr(choices, "__len__")
        ):
            why = " (a set has no order that every worker shares)" if isinstance(choices, (set, frozenset)) else ""
            raise InvalidArgumentError(f"Categorical: choices must be a list, tuple or 1-d array of choices{why} (got {choices!r})")
        values = tuple(_scalar(c) for c in choices)
        if not values:
            raise InvalidArgumentError("Categorical: needs at least one choice")
        seen: dict[tuple[str, Any], Any] = {}
        for c in values:
            if c is not None and not isinstance(c, (str, int, float, bool)):
                raise InvalidArgumentError(f"Categorical: choices must be str, int, float, bool or None (got {c!r})")
            if isinstance(c, float) and not math.isfinite(c):
                raise InvalidArgumentError("Categorical: choices must be finite")
            # The server's key: a choice's JSON type and value, so 1 and 1.0 (one number there) are one.
            key = _choice_key(c)
            if key in seen:
                raise InvalidArgumentError(_duplicate_choice(seen[key], c, values), {"choices": list(values)})
            seen[key] = c
        object.__setattr__(self, "choices", values)

    def single(self) -> bool:
        return len(self.choices) == 1

    def to_internal_repr(self, param_value_in_external_repr: Any) -> float:
        """The index of the choice, an int as Optuna's (``choices[dist.to_internal_repr(v)]``)."""
        for i, c in enumerate(self.choices):
            if type(c) is type(param_value_in_external_repr) and c == param_value_in_external_repr:
                return i
        for i, c in enumerate(self.choices):
            if c == param_value_in_external_repr:
                return i
        raise ValueError(f"'{param_value_in_external_repr}' not in {self.choices}.")

    def to_external_repr(self, param_value_in_internal_repr: float) -> Scalar:
        return self.choices[int(param_value_in_internal_repr)]

    def _contains(self, param_value_in_internal_repr: float) -> bool:
        i = float(param_value_in_internal_repr)
        return i == int(i) and 0 <= i < len(self.choices)

    def to_wire(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


def _duplicate_choice(first: Any, again: Any, values: tuple[Any, ...]) -> str:
    """Why a choice list with a repeat is refused, and the list to pass instead. Optuna accepts
    repeats (its samplers then draw a repeated choice more often); the server keeps each choice
    once, as a parameter's value must name one choice."""
    same = f" (the same number as {first!r} to the server, whose numbers are doubles)" if repr(first) != repr(again) else ""
    distinct: dict[tuple[str, Any], Any] = {}
    for c in values:
        distinct.setdefault(_choice_key(c), c)
    return (
        f"Categorical: duplicate choice {again!r}{same}: the server keeps each categorical choice once (a trial's value "
        "names one), where Optuna accepts a repeat and draws it more often. Pass the distinct choices, "
        f"{list(distinct.values())!r} (list(dict.fromkeys(choices)))"
    )


def _choice_key(c: Any) -> tuple[str, Any]:
    """A choice as the server tells choices apart: by JSON type and value (1 and 1.0 are one number)."""
    if isinstance(c, bool):
        return ("bool", c)
    if isinstance(c, (int, float)):
        return ("number", c)
    return (type(c).__name__, c)


DistributionLike = Union[Distribution, Mapping[str, Any]]
"""A distribution object or its wire map (sent as is: the server validates it)."""


def distribution_to_wire(d: DistributionLike) -> dict[str, Any]:
    """The wire map of a distribution; a raw map is passed through unchanged."""
    if isinstance(d, Distribution):
        return d.to_wire()
    if isinstance(d, Mapping):
        return dict(d)
    raise InvalidArgumentError(f"not a distribution: {d!r}")


def distribution_from_wire(raw: Mapping[str, Any]) -> Distribution:
    """Builds a distribution from the server's map. @raises InvalidArgumentError for an unknown type."""
    kind = raw.get("type")
    if kind == "float":
        return Float(raw["low"], raw["high"], log=bool(raw.get("log", False)), step=raw.get("step"))
    if kind == "int":
        return Int(int(raw["low"]), int(raw["high"]), log=bool(raw.get("log", False)), step=raw.get("step"))
    if kind == "categorical":
        return Categorical(list(raw["choices"]))
    raise InvalidArgumentError(f"unknown distribution type {kind!r}")


# The categorical choices as the user wrote them, per study name, for this process: MessagePack
# (and the server's JavaScript numbers) carry a whole float such as 1.0 as the integer 1, so a
# choice list read back from the server has lost that type. Params of a study this process declared
# or suggested are typed by these (``1.0`` stays ``1.0``); in another process they keep the wire's.
_declared: dict[str, dict[str, Categorical]] = {}
_declared_lock = threading.Lock()


def remember_categorical(study: str, name: str, dist: object) -> None:
    """Records the choices of categorical parameter ``name`` of ``study`` as this process declared them."""
    if isinstance(dist, Categorical):
        with _declared_lock:
            _declared.setdefault(study, {})[name] = dist


def as_declared(study: str | None, distributions: dict[str, Distribution]) -> dict[str, Distribution]:
    """``distributions`` (read from the server) with each categorical replaced by the one this
    process declared for ``study``, when their choices are equal value for value."""
    if study is None:
        return distributions
    with _declared_lock:
        known = _declared.get(study)
        if not known:
            return distributions
        known = dict(known)
    out = dict(distributions)
    for k, d in distributions.items():
        mine = known.get(k)
        if isinstance(d, Categorical) and mine is not None and len(mine.choices) == len(d.choices):
            if all(a == b and isinstance(a, bool) == isinstance(b, bool) for a, b in zip(mine.choices, d.choices)):
                out[k] = mine
    return out
