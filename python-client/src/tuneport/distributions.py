"""``tuneport.distributions``: the names of Optuna's ``optuna.distributions`` module, for scripts
moved with ``import tuneport as optuna`` (``study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})``,
``isinstance(trial.distributions["x"], optuna.distributions.FloatDistribution)``).

They are this client's own classes under Optuna's names, with Optuna's argument order:
``FloatDistribution(low, high, log=False, step=None)``, ``IntDistribution(low, high, log=False,
step=1)``, ``CategoricalDistribution(choices)``.
"""

import json
from typing import Any

from ._distributions import Categorical, Distribution, Float, Int, distribution_from_wire

BaseDistribution = Distribution
FloatDistribution = Float
IntDistribution = Int
CategoricalDistribution = Categorical


def distribution_to_json(dist: Distribution) -> str:
    """Optuna's JSON of a distribution: ``{"name": "FloatDistribution", "attributes": {...}}``."""
    if isinstance(dist, Categorical):
        return json.dumps({"name": "CategoricalDistribution", "attributes": {"choices": list(dist.choices)}})
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
    "CategoricalDistribution",
    "FloatDistribution",
    "IntDistribution",
    "check_distribution_compatibility",
    "distribution_to_json",
    "json_to_distribution",
]
