"""``tuneport.distributions``: the names of Optuna's ``optuna.distributions`` module, for scripts
moved with ``import tuneport as optuna`` (``study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})``,
``isinstance(trial.distributions["x"], optuna.distributions.FloatDistribution)``).

They are this client's own classes under Optuna's names, with Optuna's argument order:
``FloatDistribution(low, high, log=False, step=None)``, ``IntDistribution(low, high, log=False,
step=1)``, ``CategoricalDistribution(choices)``. Optuna 2's classes, which Optuna 5.0 still has
with a FutureWarning (``UniformDistribution(low, high)``, ``LogUniformDistribution``,
``DiscreteUniformDistribution(low, high, q)``, ``IntUniformDistribution(low, high, step=1)``,
``IntLogUniformDistribution``), are subclasses of ``Float`` and ``Int`` as there: unequal to the
``Float``/``Int`` of the same range, and used as that ``Float``/``Int`` once a trial suggests from one.
"""

import json
import warnings
from typing import Any, Union

from ._distributions import Categorical, Distribution, Float, Int, distribution_from_wire

BaseDistribution = Distribution
FloatDistribution = Float
IntDistribution = Int
CategoricalDistribution = Categorical
CategoricalChoiceType = Union[None, bool, int, float, str]


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"{old} has been deprecated in v3.0.0. This feature will be removed in v6.0.0. "
        f"See https://github.com/optuna/optuna/releases/tag/v3.0.0. Use :class:`~optuna.distributions.{new}` instead.",
        FutureWarning,
        stacklevel=3,
    )


class UniformDistribution(Float):
    """Optuna 2's ``UniformDistribution(low, high)``: ``FloatDistribution(low, high)``, with a FutureWarning."""

    def __init__(self, low: float, high: float) -> None:
        _deprecated("UniformDistribution", "FloatDistribution")
        super().__init__(low, high)


class LogUniformDistribution(Float):
    """Optuna 2's ``LogUniformDistribution(low, high)``: ``FloatDistribution(low, high, log=True)``."""

    def __init__(self, low: float, high: float) -> None:
        _deprecated("LogUniformDistribution", "FloatDistribution")
        super().__init__(low, high, log=True)


class DiscreteUniformDistribution(Float):
    """Optuna 2's ``DiscreteUniformDistribution(low, high, q)``: ``FloatDistribution(low, high, step=q)``."""

    def __init__(self, low: float, high: float, q: float) -> None:
        _deprecated("DiscreteUniformDistribution", "FloatDistribution")
        super().__init__(low, high, step=q)

    @property
    def q(self) -> float:
        """The step (Optuna 2's name)."""
        assert self.step is not None
        return self.step


class IntUniformDistribution(Int):
    """Optuna 2's ``IntUniformDistribution(low, high, step=1)``: ``IntDistribution(low, high, step=step)``."""

    def __init__(self, low: int, high: int, step: int = 1) -> None:
        _deprecated("IntUniformDistribution", "IntDistribution")
        super().__init__(low, high, step=step)


class IntLogUniformDistribution(Int):
    """Optuna 2's ``IntLogUniformDistribution(low, high, step=1)``: ``IntDistribution(low, high, log=True)``."""

    def __init__(self, low: int, high: int, step: int = 1) -> None:
        _deprecated("IntLogUniformDistribution", "IntDistribution")
        super().__init__(low, high, log=True, step=step)


DISTRIBUTION_CLASSES = (
    IntDistribution,
    IntLogUniformDistribution,
    IntUniformDistribution,
    FloatDistribution,
    UniformDistribution,
    LogUniformDistribution,
    DiscreteUniformDistribution,
    CategoricalDistribution,
)
_OLD: dict[str, Any] = {
    c.__name__: c
    for c in (UniformDistribution, LogUniformDistribution, DiscreteUniformDistribution, IntUniformDistribution, IntLogUniformDistribution)
}


def distribution_to_json(dist: Distribution) -> str:
    """Optuna's JSON of a distribution: ``{"name": "FloatDistribution", "attributes": {...}}``."""
    if isinstance(dist, Categorical):
        return json.dumps({"name": "CategoricalDistribution", "attributes": {"choices": list(dist.choices)}})
    old = type(dist).__name__
    if old in _OLD and isinstance(dist, (Float, Int)):  # Optuna 2's attributes
        attrs: dict[str, Any] = {"low": dist.low, "high": dist.high}
        if isinstance(dist, DiscreteUniformDistribution):
            attrs["q"] = dist.q
        elif isinstance(dist, Int):
            attrs["step"] = dist.step
        return json.dumps({"name": old, "attributes": attrs})
    if isinstance(dist, (Float, Int)):
        name = "FloatDistribution" if isinstance(dist, Float) else "IntDistribution"
        return json.dumps({"name": name, "attributes": {"log": dist.log, "step": dist.step, "low": dist.low, "high": dist.high}})
    raise ValueError(f"Unknown distribution {dist!r}.")


def json_to_distribution(json_str: str) -> Distribution:
    """A distribution from Optuna's JSON (``distribution_to_json``) or from tuneport's wire map
    (``{"type": "float", "low": 0, "high": 1}``). @raises ValueError for anything else."""
    raw: Any = json.loads(json_str)
    if isinstance(raw, dict) and "type" in raw:
        return distribution_from_wire(raw)
    if not isinstance(raw, dict) or not isinstance(raw.get("attributes"), dict):
        raise ValueError(f"Unknown distribution JSON: {json_str[:200]}")
    name, a = raw.get("name"), raw["attributes"]
    if name == "FloatDistribution":
        return Float(a["low"], a["high"], log=bool(a.get("log", False)), step=a.get("step"))
    if name == "IntDistribution":
        return Int(a["low"], a["high"], log=bool(a.get("log", False)), step=a.get("step", 1))
    if name == "CategoricalDistribution":
        return Categorical(a["choices"])
    if name in _OLD:  # Optuna 2's, as Optuna reads them (with its FutureWarning)
        old: Distribution = _OLD[name](**a)
        return old
    raise ValueError(f"Unknown distribution class: {name!r}")


def check_distribution_compatibility(dist_old: Distribution, dist_new: Distribution) -> None:
    """Optuna's check for one parameter suggested from two distributions: the same kind (and log
    scale), and for a categorical the same choices. @raises ValueError when they are not."""
    if type(dist_old) is not type(dist_new):
        raise ValueError("Cannot set different distribution kind to the same parameter name.")
    if isinstance(dist_old, (Float, Int)) and isinstance(dist_new, (Float, Int)) and dist_old.log != dist_new.log:
        raise ValueError("Cannot set different log configuration to the same parameter name.")
    if isinstance(dist_old, Categorical) and isinstance(dist_new, Categorical) and dist_old.choices != dist_new.choices:
        raise ValueError(
            f"{Categorical.__name__} does not support dynamic value space (choices {dist_old.choices} then {dist_new.choices})."
        )


__all__ = [
    "BaseDistribution",
    "CategoricalChoiceType",
    "CategoricalDistribution",
    "DISTRIBUTION_CLASSES",
    "DiscreteUniformDistribution",
    "FloatDistribution",
    "IntDistribution",
    "IntLogUniformDistribution",
    "IntUniformDistribution",
    "LogUniformDistribution",
    "UniformDistribution",
    "check_distribution_compatibility",
    "distribution_to_json",
    "json_to_distribution",
]
