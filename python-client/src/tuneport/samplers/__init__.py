"""Optuna's ``optuna.samplers`` names, for scripts moved with ``import tuneport as optuna``:
``optuna.samplers.TPESampler(seed=1)`` without Optuna installed. Each class takes the arguments
of Optuna 5.0's class of the same name (names, order and defaults) and keeps them; given to
``create_study(sampler=...)`` it runs as the server's strategy of that algorithm, with the options
it was given and a study seed derived from ``seed`` (the one Optuna's object with that seed
gives, so both give the same run). An argument tuneport's strategy has no counterpart of, set
away from its default, is refused by ``create_study`` with its name. Nothing samples in this
process: the server's strategy does."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .._optuna_options import Recorded, crossover_setting, optuna_only_getattr
from . import nsgaii

ConstraintsFunc = Callable[[Any], Sequence[float]]


class BaseSampler(Recorded):
    """The base of tuneport's sampler classes (a subclass of your own is not run: a sampler of your
    own is written as a server plug-in, docs/PLUGINS.md)."""


class RandomSampler(BaseSampler):
    """Optuna's ``RandomSampler``: strategy ``random``."""

    def __init__(self, seed: int | None = None) -> None:
        self._record(locals())


class TPESampler(BaseSampler):
    """Optuna's ``TPESampler``: strategy ``tpe``."""

    _OPTIONS = {
        "n_startup_trials": "n_startup_trials",
        "n_ei_candidates": "n_ei_candidates",
        "multivariate": "multivariate",
        "constant_liar": "constant_liar",
        "prior_weight": "prior_weight",
        "consider_magic_clip": "consider_magic_clip",
        "consider_endpoints": "consider_endpoints",
    }
    # consider_prior is ignored by Optuna 5 (deprecated); warn_independent_sampling only warns.
    _IGNORED = frozenset({"consider_prior", "warn_independent_sampling"})
    _EFFECTIVE = {"prior_weight": 1.0, "consider_magic_clip": True, "consider_endpoints": False, "multivariate": None}

    def __init__(
        self,
        *,
        consider_prior: bool | None = None,
        prior_weight: float | None = None,
        consider_magic_clip: bool | None = None,
        consider_endpoints: bool | None = None,
        n_startup_trials: int = 10,
        n_ei_candidates: int = 24,
        gamma: Callable[[int], int] | None = None,
        weights: Callable[[int], Any] | None = None,
        seed: int | None = None,
        multivariate: bool | None = None,
        group: bool = False,
        warn_independent_sampling: bool | None = None,
        constant_liar: bool = True,
        constraints_func: ConstraintsFunc | None = None,
    ) -> None:
        self._record(locals())


class GPSampler(BaseSampler):
    """Optuna's ``GPSampler``: strategy ``gp`` (``ehvi`` for several objectives)."""

    _OPTIONS = {"n_startup_trials": "nStartupTrials"}
    _IGNORED = frozenset({"warn_independent_sampling"})

    def __init__(
        self,
        *,
        seed: int | None = None,
        independent_sampler: Any = None,
        n_startup_trials: int = 10,
        deterministic_objective: bool = False,
        constraints_func: ConstraintsFunc | None = None,
        warn_independent_sampling: bool = True,
    ) -> None:
        self._record(locals())


class CmaEsSampler(BaseSampler):
    """Optuna's ``CmaEsSampler``: strategy ``cmaes``."""

    _OPTIONS = {"sigma0": "sigma0", "popsize": "popsize"}
    # restart_strategy and inc_popsize fall back to None in Optuna 5 (deprecated, moved to OptunaHub).
    _IGNORED = frozenset({"warn_independent_sampling", "restart_strategy", "inc_popsize"})

    def __init__(
        self,
        *,
        x0: dict[str, Any] | None = None,
        sigma0: float | None = None,
        n_startup_trials: int = 1,
        independent_sampler: Any = None,
        warn_independent_sampling: bool = True,
        seed: int | None = None,
        consider_pruned_trials: bool = False,
        restart_strategy: str | None = None,
        popsize: int | None = None,
        inc_popsize: int = -1,
        use_separable_cma: bool = False,
        with_margin: bool = False,
        lr_adapt: bool = False,
        source_trials: list[Any] | None = None,
    ) -> None:
        self._record(locals())


class QMCSampler(BaseSampler):
    """Optuna's ``QMCSampler``: strategy ``qmc`` (unscrambled unless ``scramble=True``, as Optuna's)."""

    _OPTIONS = {"scramble": "scramble"}
    _IGNORED = frozenset({"warn_asynchronous_seeding", "warn_independent_sampling"})

    def __init__(
        self,
        *,
        qmc_type: str = "sobol",
        scramble: bool = False,
        seed: int | None = None,
        independent_sampler: Any = None,
        warn_asynchronous_seeding: bool = True,
        warn_independent_sampling: bool = True,
    ) -> None:
        self._record(locals())


class NSGAIISampler(BaseSampler):
    """Optuna's ``NSGAIISampler``: strategy ``nsga2``. Its crossover is uniform with
    ``swapping_prob``: ``crossover=`` may be ``UniformCrossover`` of that swapping_prob, Optuna's or
    ``tuneport.samplers.nsgaii``'s (its default); another crossover has no counterpart."""

    _OPTIONS = {
        "population_size": "population_size",
        "mutation_prob": "mutation_prob",
        "crossover_prob": "crossover_prob",
        "swapping_prob": "swapping_prob",
    }
    _IGNORED = frozenset({"crossover"})  # checked by _tuneport_options

    def __init__(
        self,
        *,
        population_size: int = 50,
        mutation: Any = None,
        mutation_prob: float | None = None,
        crossover: Any = None,
        crossover_prob: float = 0.9,
        swapping_prob: float = 0.5,
        seed: int | None = None,
        constraints_func: ConstraintsFunc | None = None,
        elite_population_selection_strategy: Callable[..., Any] | None = None,
        child_generation_strategy: Callable[..., Any] | None = None,
        after_trial_strategy: Callable[..., Any] | None = None,
    ) -> None:
        self._record(locals())

    def _tuneport_options(self) -> tuple[dict[str, Any], list[str]]:
        options, unmapped = super()._tuneport_options()
        # Optuna's UniformCrossover of the sampler's swapping_prob is what NSGAIISampler builds when
        # given none: nsga2's own crossover. Another crossover is named with its settings.
        refused = crossover_setting(self._given.get("crossover"), self._given.get("swapping_prob"))
        return options, unmapped + ([refused] if refused is not None else [])


class GridSampler(BaseSampler):
    """Optuna's ``GridSampler``. Refused by ``create_study`` with what to pass instead
    (``strategy='grid'`` and the grid declared as the study's space): the grid's values would be
    the study's space here, which an objective's ``suggest_float`` over a range contradicts."""

    def __init__(self, search_space: Mapping[str, Sequence[Any]], seed: int | None = None) -> None:
        self._record(locals())


class BruteForceSampler(BaseSampler):
    """Optuna's ``BruteForceSampler``. Refused by ``create_study`` with what to pass instead
    (``strategy='grid'`` over a declared space): tuneport's grid enumerates a declared space, not
    the parameters an objective suggests as it runs."""

    def __init__(self, seed: int | None = None, avoid_premature_stop: bool = False) -> None:
        self._record(locals())


__all__ = [
    "BaseSampler",
    "BruteForceSampler",
    "CmaEsSampler",
    "GPSampler",
    "GridSampler",
    "NSGAIISampler",
    "QMCSampler",
    "RandomSampler",
    "TPESampler",
    "nsgaii",
]

# Optuna 5.0's optuna.samplers names tuneport has no counterpart of (an AttributeError that says
# what to use instead, in a script moved with ``import tuneport as optuna``).
_OPTUNA_ONLY = frozenset({"PartialFixedSampler", "NSGAIIISampler", "BaseGASampler"})

if not TYPE_CHECKING:  # type checkers keep flagging unknown names of the module
    __getattr__ = optuna_only_getattr(
        __name__,
        "optuna.samplers",
        _OPTUNA_ONLY,
        "tuneport's strategies run on the server; pass strategy='<name>' of one it has to create_study (Client.catalogue() "
        "lists them, options as strategy={'name': ..., 'options': {...}}; a sampler of your own is written as a server "
        "plug-in: docs/PLUGINS.md)",
    )
