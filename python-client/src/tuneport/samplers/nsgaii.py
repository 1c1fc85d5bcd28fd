"""Optuna's ``optuna.samplers.nsgaii`` crossover that tuneport's ``nsga2`` runs, for scripts moved
with ``import tuneport as optuna``: ``NSGAIISampler(crossover=optuna.samplers.nsgaii.UniformCrossover(p),
swapping_prob=p)`` without Optuna installed. nsga2 crosses over uniformly with its one
``swapping_prob``, which is the crossover Optuna's NSGAIISampler builds when given none; Optuna's
other crossovers and mutations have no counterpart (naming one says so)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._optuna_options import optuna_only_getattr


class UniformCrossover:
    """Optuna's ``UniformCrossover``: each parameter is taken from the second parent with
    probability ``swapping_prob``. ``NSGAIISampler(crossover=UniformCrossover(p), swapping_prob=p)``
    runs as strategy ``nsga2`` with ``swapping_prob=p`` (with no ``swapping_prob``, as Optuna, the
    sampler's is 0.5); one with a ``swapping_prob`` other than the sampler's is refused by
    ``create_study``, as Optuna crosses numeric parameters with it and categorical ones with the
    sampler's, where nsga2 has one. Nothing crosses over in this process: the server's strategy does."""

    n_parents = 2

    def __init__(self, swapping_prob: float = 0.5) -> None:
        if not (0.0 <= swapping_prob <= 1.0):
            raise ValueError("`swapping_prob` must be a float value within the range [0.0, 1.0].")
        self._swapping_prob = swapping_prob  # Optuna's attribute, which the crossover check reads

    def __repr__(self) -> str:
        return f"UniformCrossover(swapping_prob={self._swapping_prob!r})"


__all__ = ["UniformCrossover"]

# Optuna 5.0's optuna.samplers.nsgaii names tuneport has no counterpart of.
_OPTUNA_ONLY = frozenset(
    {
        "BaseCrossover",
        "BaseMutation",
        "BLXAlphaCrossover",
        "PolynomialMutation",
        "SBXCrossover",
        "SPXCrossover",
        "UNDXCrossover",
        "VSBXCrossover",
    }
)

if not TYPE_CHECKING:  # type checkers keep flagging unknown names of the module
    __getattr__ = optuna_only_getattr(
        __name__,
        "optuna.samplers.nsgaii",
        _OPTUNA_ONLY,
        "tuneport's nsga2 crosses over uniformly with its one swapping_prob and mutates as Optuna does given no mutation "
        "(a parameter redrawn with mutation_prob), so no other crossover or mutation has a counterpart: "
        "NSGAIISampler(swapping_prob=p) (or crossover=UniformCrossover(p) with the same p) runs on the server as "
        "strategy='nsga2'; a sampler of your own is written as a server plug-in: docs/PLUGINS.md",
    )
