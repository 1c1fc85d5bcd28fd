"""The options an Optuna sampler or pruner object was given, as the options of the tuneport
strategy or scheduler that runs its algorithm (``sampler=TPESampler(n_startup_trials=20)`` runs
as ``strategy={"name": "tpe", "options": {"n_startup_trials": 20}}``); the settings it was given
that have no counterpart (``unmapped_settings``: such an object is refused, not run without
them); and the study seed its random state stands for (``derived_seed``).

Only options whose meaning is the same on both sides are carried over, and only those set away
from Optuna's own defaults (found by building a default object of the same class): the values
a user chose. Optuna's samplers do not keep their seed, only a random state made from it, so
the seed is derived from that state. Objects of ``tuneport.samplers``/``tuneport.pruners``
(``Recorded``) keep the arguments they were given and answer the same questions from those.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import operator
import struct
import types
import warnings
from collections.abc import Callable, Container
from typing import Any

# Optuna's attribute (a dotted path on the object) -> tuneport's option, per class name.
_OPTIONS: dict[str, dict[str, str]] = {
    "TPESampler": {
        "_n_startup_trials": "n_startup_trials",
        "_n_ei_candidates": "n_ei_candidates",
        "_multivariate": "multivariate",
        "_constant_liar": "constant_liar",
        "_parzen_estimator_parameters.prior_weight": "prior_weight",
        "_parzen_estimator_parameters.consider_magic_clip": "consider_magic_clip",
        "_parzen_estimator_parameters.consider_endpoints": "consider_endpoints",
    },
    "GPSampler": {"_n_startup_trials": "nStartupTrials"},
    "CmaEsSampler": {"_sigma0": "sigma0", "_popsize": "popsize"},
    "NSGAIISampler": {
        "_population_size": "population_size",
        "_child_generation_strategy._mutation_prob": "mutation_prob",
        "_child_generation_strategy._crossover_prob": "crossover_prob",
        "_child_generation_strategy._swapping_prob": "swapping_prob",
    },
    "QMCSampler": {"_scramble": "scramble"},
    "MedianPruner": {
        "_n_startup_trials": "n_startup_trials",
        "_n_warmup_steps": "n_warmup_steps",
        "_interval_steps": "interval_steps",
        "_n_min_trials": "n_min_trials",
    },
    "PercentilePruner": {
        "_percentile": "percentile",
        "_n_startup_trials": "n_startup_trials",
        "_n_warmup_steps": "n_warmup_steps",
        "_interval_steps": "interval_steps",
        "_n_min_trials": "n_min_trials",
    },
    "SuccessiveHalvingPruner": {
        "_min_resource": "min_resource",
        "_reduction_factor": "reduction_factor",
        "_min_early_stopping_rate": "min_early_stopping_rate",
    },
    "HyperbandPruner": {"_min_resource": "min_resource", "_max_resource": "max_resource", "_reduction_factor": "reduction_factor"},
    "ThresholdPruner": {
        "_lower": "lower",
        "_upper": "upper",
        "_n_warmup_steps": "n_warmup_steps",
        "_interval_steps": "interval_steps",
    },
    "PatientPruner": {"_patience": "patience", "_min_delta": "min_delta"},
}

# Options always carried: the ones a class cannot be built without.
_ALWAYS: dict[str, tuple[str, ...]] = {"PercentilePruner": ("percentile",), "PatientPruner": ("patience",)}

_MISSING = object()


def _default_of(obj: Any) -> Any:
    """An object of ``obj``'s class built with Optuna's defaults (the arguments it cannot do
    without taken from ``obj``), or None when it cannot be built."""
    cls = type(obj)
    with warnings.catch_warnings():  # ExperimentalWarning (PatientPruner), FutureWarning
        warnings.simplefilter("ignore")
        try:
            if cls.__name__ == "PercentilePruner":
                return cls(obj._percentile)
            if cls.__name__ == "PatientPruner":
                return cls(None, patience=obj._patience)
            if cls.__name__ == "ThresholdPruner":  # needs a bound: infinite ones are its defaults (None)
                return cls(upper=math.inf)
            return cls()
        except Exception:  # noqa: BLE001 - a class that needs arguments (GridSampler)
            return None


def _attr(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part, _MISSING)
        if obj is _MISSING:
            return _MISSING
    return obj


def _plain(v: Any) -> bool:
    """A value the server's options take as it is: a bool, a finite number or a string."""
    if isinstance(v, bool) or isinstance(v, str):
        return True
    return isinstance(v, (int, float)) and math.isfinite(v)


def changed_options(obj: Any) -> dict[str, Any]:
    """The tuneport options of ``obj`` (an Optuna sampler or pruner) that were set away from
    Optuna's defaults; empty for a class this does not know, or one without a default form."""
    if isinstance(obj, Recorded):
        return obj._tuneport_options()[0]
    table = _OPTIONS.get(type(obj).__name__)
    if table is None:
        return {}
    default = _default_of(obj)
    always = _ALWAYS.get(type(obj).__name__, ())
    out: dict[str, Any] = {}
    for path, option in table.items():
        v = _attr(obj, path)
        if v is _MISSING or not _plain(v):
            continue
        if default is not None and _attr(default, path) == v and option not in always:
            continue
        out[option] = v
    return out


# Attributes that hold no setting of the user's: random states (the seed is derived from them),
# caches and search-space trackers a sampler fills while it runs, warning switches, what is
# carried or checked on its own (constraints_func, PatientPruner's wrapped pruner).
_STATE = frozenset(
    {
        "_rng", "_cma_rng", "_seed", "_warn_independent_sampling", "_constraints_func", "_search_space",
        "_intersection_search_space", "_gprs_cache_list", "_constraints_gprs_cache_list", "_search_space_group",
        "_group_decomposed_search_space", "_pruners", "_total_trial_allocation_budget", "_trial_allocation_budgets",
        "_n_brackets", "_wrapped_pruner", "_attr_prefix",
    }
)  # fmt: skip
# Copies of a carried option inside Optuna's helper objects.
_DERIVED: dict[str, frozenset[str]] = {
    "NSGAIISampler": frozenset({"_elite_population_selection_strategy._population_size"}),
}


def crossover_setting(crossover: Any, swapping_prob: Any) -> str | None:
    """``crossover=SBXCrossover(eta=None, ...)``, the setting a refusal names, for an NSGAIISampler
    crossover that tuneport's nsga2 does not run; None for one it runs: none, or Optuna's (or
    ``tuneport.samplers.nsgaii``'s) ``UniformCrossover`` with the sampler's ``swapping_prob`` (what
    NSGAIISampler builds when given none, so ``crossover=UniformCrossover(0.5)`` is its default). Compared by class and settings:
    Optuna's crossovers define no ``==``. A ``UniformCrossover`` with a swapping_prob of its own is
    not run: Optuna crosses numeric parameters with it and categorical ones with the sampler's,
    where nsga2 has one ``swapping_prob``; a subclass of the user's is another crossover."""
    if crossover is None:
        return None
    cls = type(crossover)
    settings = {k.lstrip("_"): v for k, v in vars(crossover).items()} if hasattr(crossover, "__dict__") else {}
    # tuneport.samplers.nsgaii.UniformCrossover (a script moved with `import tuneport as optuna`) is read as Optuna's.
    optunas = cls.__module__.startswith("optuna.samplers") or cls.__module__ == "tuneport.samplers.nsgaii"
    if cls.__name__ == "UniformCrossover" and optunas and _equal(settings.get("swapping_prob"), swapping_prob):
        return None
    shown = cls.__name__ if optunas else f"{cls.__module__}.{cls.__qualname__}"  # not read as Optuna's
    return f"crossover={shown}({', '.join(f'{k}={_short(v)}' for k, v in settings.items())})"


# Settings checked on their own (attribute -> the refused setting, or None where tuneport runs it).
_CHECKED: dict[str, dict[str, Callable[[Any], str | None]]] = {
    "NSGAIISampler": {
        "_child_generation_strategy._crossover": lambda s: crossover_setting(
            _attr(s, "_child_generation_strategy._crossover"), _attr(s, "_child_generation_strategy._swapping_prob")
        ),
    },
}
# Optuna's argument for an attribute whose name is not the argument's.
_ARGUMENT = {
    "_deterministic": "deterministic_objective",
    "_parzen_estimator_parameters.weights": "weights",
    "_child_generation_strategy._crossover": "crossover",
    "_child_generation_strategy._mutation": "mutation",
}


def _argument(path: str) -> str:
    return _ARGUMENT.get(path, path.rsplit(".", 1)[-1].lstrip("_"))


def _setting(obj: Any, path: str, v: Any) -> str:
    """``name=value`` for an argument; a setting inside one of Optuna's helper objects given as an
    argument is shown as the call that made it: ``crossover=UniformCrossover(swapping_prob=0.3)``."""
    parent, _, leaf = path.rpartition(".")
    if parent in _ARGUMENT:
        return f"{_ARGUMENT[parent]}={type(_attr(obj, parent)).__name__}({leaf.lstrip('_')}={_short(v)})"
    return f"{_argument(path)}={_short(v)}"


def _compare(v: Any, d: Any, path: str, skip: frozenset[str], out: list[tuple[str, Any]]) -> None:
    if path in skip:
        return
    if type(v) is not type(d):
        out.append((path, v))
        return
    if isinstance(v, tuple) and hasattr(v, "_fields"):  # a NamedTuple of settings
        for f in v._fields:
            _compare(getattr(v, f), getattr(d, f), f"{path}.{f}", skip, out)
        return
    try:
        if v is d or bool(v == d):
            return
    except Exception:  # noqa: BLE001 - an array compares element-wise
        pass
    if type(v).__module__.startswith("optuna.") and hasattr(v, "__dict__") and not isinstance(v, (types.FunctionType, type)):
        _differences(v, d, path + ".", skip, out)  # one of Optuna's helper objects: its own settings
        return
    out.append((path, v))


def _differences(obj: Any, default: Any, prefix: str, skip: frozenset[str], out: list[tuple[str, Any]]) -> None:
    for key, v in vars(obj).items():
        if key not in _STATE:
            _compare(v, getattr(default, key, _MISSING), prefix + key, skip, out)


def unmapped_settings(obj: Any) -> list[str]:
    """The arguments of ``obj`` (an Optuna sampler or pruner of a class tuneport has a
    counterpart of) set away from Optuna's defaults that tuneport has no option for, or whose
    value it cannot take, as ``"name=value"``: running it without them would not be running it."""
    if isinstance(obj, Recorded):
        return obj._tuneport_options()[1]
    table = _OPTIONS.get(type(obj).__name__, {})
    default = _default_of(obj)
    if default is None:
        return []
    found: list[tuple[str, Any]] = []
    checked = _CHECKED.get(type(obj).__name__, {})
    _differences(obj, default, "", frozenset(table) | _DERIVED.get(type(obj).__name__, frozenset()) | frozenset(checked), found)
    for path in table:  # carried options whose value the server cannot take (not a plain value)
        v = _attr(obj, path)
        if v is not _MISSING and not _plain(v) and not _equal(v, _attr(default, path)):
            found.append((path, v))
    refused = [_setting(obj, path, v) for path, v in found]
    return refused + [r for check in checked.values() if (r := check(obj)) is not None]


def _equal(a: Any, b: Any) -> bool:
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001
        return False


def _short(v: Any) -> str:
    if isinstance(v, (types.FunctionType, types.MethodType)):
        return f"<function {v.__qualname__}>"
    if not isinstance(v, (bool, int, float, str, list, tuple, dict, type(None))):
        return f"<{type(v).__name__}>"
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


# ------------------------------------------------------------------ seeds

_MT_N = 624


def _mt_keys(seed: int) -> list[int]:
    """The MT19937 state numpy's ``RandomState(seed)`` starts from (Matsumoto and Nishimura's
    init_genrand, which numpy's legacy seeding uses for an int seed)."""
    keys = [seed & 0xFFFFFFFF]
    for i in range(1, _MT_N):
        prev = keys[-1]
        keys.append((1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF)
    return keys


def _seed_of_state(keys: list[int], pos: int) -> int:
    digest = hashlib.sha256(b"MT19937" + struct.pack(f"<{_MT_N}I", *keys) + struct.pack("<I", pos)).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def seed_of_int(seed: int) -> int:
    """The study seed a sampler seeded with ``seed`` stands for: the one ``derived_seed`` gives
    for an Optuna sampler built with ``seed=seed`` (the hash of the random state it makes)."""
    if 0 <= seed < 2**32:
        return _seed_of_state(_mt_keys(seed), _MT_N)
    return int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:4], "little") & 0x7FFFFFFF


def derived_seed(obj: Any) -> int | None:
    """A 31-bit study seed derived from ``obj``'s random state without drawing from it (a hash of
    its MT19937 state), so that the same ``TPESampler(seed=1)`` gives the same run each time; None
    for an unseeded sampler that has not drawn yet (the server then picks one at random)."""
    if isinstance(obj, Recorded):
        seed = obj._given.get("seed")
        return None if seed is None else seed_of_int(int(seed))
    if type(obj).__name__ == "QMCSampler":  # keeps its seed (a random one when not given)
        seed = getattr(obj, "_seed", None)
        return None if not isinstance(seed, int) else seed_of_int(seed)
    state = getattr(obj, "_cma_rng" if type(obj).__name__ == "CmaEsSampler" else "_rng", None)
    rng = getattr(state, "_rng", state)  # a LazyRandomState holds its RandomState, None until used
    get_state = getattr(rng, "get_state", None)
    if get_state is None:
        return None
    name, keys, pos, *_ = get_state(legacy=True)
    if name != "MT19937":
        return None
    return _seed_of_state([int(k) for k in keys], int(pos))


# ------------------------------------------------------------------ tuneport's own objects


class Recorded:
    """A ``tuneport.samplers``/``tuneport.pruners`` object: the arguments it was given, as
    Optuna's class of the same name takes them, to be run as a tuneport strategy or scheduler.
    ``_OPTIONS``: argument -> tuneport option; ``_IGNORED``: arguments that change nothing (a
    warning switch; one Optuna 5 ignores too); ``_CARRIED``: arguments carried on their own
    (seed, constraints_func, a wrapped pruner). Any other argument set away from its default has
    no counterpart. ``_EFFECTIVE``: the default Optuna uses for an argument whose default is None."""

    _OPTIONS: dict[str, str] = {}
    _IGNORED: frozenset[str] = frozenset()
    _CARRIED: frozenset[str] = frozenset({"seed", "constraints_func"})
    _ALWAYS: frozenset[str] = frozenset()
    _EFFECTIVE: dict[str, Any] = {}

    def _record(self, given: dict[str, Any]) -> None:
        self._given = {k: v for k, v in given.items() if k not in ("self", "__class__")}
        if self._given.get("seed") is not None:
            _check_seed(self._given["seed"])
        for k, v in self._given.items():  # under Optuna's attribute names, which the translation reads
            setattr(self, f"_{k}", v)

    def _defaults(self) -> dict[str, Any]:
        sig = inspect.signature(type(self).__init__)
        return {**{k: p.default for k, p in sig.parameters.items() if p.default is not inspect.Parameter.empty}, **self._EFFECTIVE}

    def _tuneport_options(self) -> tuple[dict[str, Any], list[str]]:
        """(the tuneport options, the arguments with no counterpart as ``"name=value"``)."""
        defaults = self._defaults()
        options: dict[str, Any] = {}
        unmapped: list[str] = []
        for arg, v in self._given.items():
            d = defaults.get(arg, _MISSING)
            if v is None and arg in self._EFFECTIVE:
                continue  # None: Optuna's effective default
            at_default = d is not _MISSING and _equal(v, d)
            if arg in self._CARRIED or arg in self._IGNORED or (at_default and arg not in self._ALWAYS):
                continue
            if arg == "independent_sampler" and _is_random_sampler(v):
                continue  # what Optuna's samplers use when given none
            option = self._OPTIONS.get(arg)
            if option is not None and _plain(v):
                options[option] = v
            else:
                unmapped.append(f"{arg}={_short(v)}")
        return options, unmapped

    def __repr__(self) -> str:
        """The call that made it, with the arguments given away from their defaults: ``TPESampler(seed=1)``."""
        defaults = inspect.signature(type(self).__init__).parameters
        shown = [f"{k}={_short(v)}" for k, v in self._given.items() if not (k in defaults and _equal(v, defaults[k].default))]
        return f"{type(self).__name__}({', '.join(shown)})"


def _check_seed(seed: Any) -> None:
    """Optuna's samplers seed numpy's RandomState, which takes an integer in [0, 2**32)."""
    try:
        n = operator.index(seed)
    except TypeError:
        raise TypeError(f"seed must be an integer, not {type(seed).__name__} ({seed!r})") from None
    if not 0 <= n < 2**32:
        raise ValueError("Seed must be between 0 and 2**32 - 1")


def _is_random_sampler(obj: Any) -> bool:
    """tuneport's or Optuna's own RandomSampler (not a class of the user's of that name)."""
    cls = type(obj)
    return cls.__qualname__ == "RandomSampler" and (cls.__module__ == "tuneport.samplers" or cls.__module__.startswith("optuna.samplers"))


def plugin_hint(arg: str, kind: str, obj: Any, options: dict[str, Any] | None = None) -> str:
    """``strategy='tpe'``, or with the options the object was given:
    ``strategy={'name': 'tpe', 'options': {'n_startup_trials': 20}}`` (``options``: those to name
    instead of ``changed_options(obj)``)."""
    options = changed_options(obj) if options is None else options
    if not options:
        return f"{arg}={kind!r}"
    return f"{arg}={{'name': {kind!r}, 'options': {options!r}}}"


def optuna_only_getattr(module: str, optuna_module: str, names: Container[str], hint: str) -> Callable[[str], object]:
    """A module ``__getattr__`` for scripts moved with ``import tuneport as optuna``: a name of
    Optuna's ``optuna_module`` that is in ``names`` (one tuneport has no counterpart of) raises an
    AttributeError saying so and what to use instead (``hint``); any other name, Python's own."""

    def __getattr__(name: str) -> object:
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        raise AttributeError(f"module {module!r} has no attribute {name!r} (Optuna's {optuna_module}.{name}): {hint}")

    return __getattr__
