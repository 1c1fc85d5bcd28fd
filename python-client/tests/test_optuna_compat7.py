"""Optuna scripts moved over unchanged, seventh audit (Optuna's tutorials run both ways: the RDB,
callback and "specify hyperparameters" recipes' logging, "re-use the best trial", the
configurations page's ``suggest_int``, the attributes recipe): each case is a divergence found by
running the same script with ``import optuna`` (Optuna 5.0) and with ``import tuneport as optuna``."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Callable

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def test_get_logger_optuna_is_the_librarys_logger(server: ServerProcess, name: str) -> None:
    # The RDB, callback and specify-params recipes print the trial lines on stdout with
    # optuna.logging.get_logger("optuna").addHandler(logging.StreamHandler(sys.stdout)); under
    # import tuneport as optuna that handler sat on a logger nobody writes to and printed nothing.
    seen: dict[str, list[str]] = {}
    for lib, kwargs in ((optuna, {}), (tp, {"storage": server.endpoint, "study_name": name})):
        handler = _Records()
        logger = lib.logging.get_logger("optuna")
        logger.addHandler(handler)
        verbosity = lib.logging.get_verbosity()
        lib.logging.set_verbosity(lib.logging.INFO)
        try:
            lib.create_study(**kwargs).optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
        finally:
            logger.removeHandler(handler)
            lib.logging.set_verbosity(verbosity)
        seen[lib.__name__] = handler.messages
    for messages in seen.values():
        assert any(m.startswith("Trial 0 finished with value: ") for m in messages), messages
    assert tp.logging.get_logger("optuna.study") is logging.getLogger("tuneport.study")
    assert tp.logging.get_logger("optunaX") is logging.getLogger("optunaX")  # only that name and its children


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """``("ok", value, warned)`` or ``("raise", ValueError or TypeError)``."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = call()
        return ("ok", value, [w.category for w in caught])
    except (ValueError, TypeError) as exc:
        return ("raise", ValueError if isinstance(exc, ValueError) else TypeError)


def test_frozen_trial_suggest_checks_the_distribution_as_optuna_does() -> None:
    # The "re-use the best trial" recipe: detailed_objective(study.best_trial). tuneport returned
    # the stored value whatever the call asked, so an objective whose space had changed since
    # (log dropped, other choices, int for float) silently re-ran another configuration.
    def calls(lib: Any) -> list[tuple[Any, ...]]:
        d = lib.distributions
        best = lib.trial.create_trial(
            params={"C": 0.5, "k": "b", "n": 3},
            distributions={"C": d.FloatDistribution(1e-3, 10.0, log=True), "k": d.CategoricalDistribution(["a", "b"]), "n": d.IntDistribution(1, 9, step=2)},
            value=1.0,
        )
        return [
            _outcome(lambda: best.suggest_float("C", 1e-3, 10.0, log=True)),
            _outcome(lambda: best.suggest_float("C", 1e-3, 10.0)),  # log dropped
            _outcome(lambda: best.suggest_int("C", 1, 10, log=True)),  # another kind
            _outcome(lambda: best.suggest_float("C", 1.0, 10.0, log=True)),  # a range without the value: warns
            _outcome(lambda: best.suggest_categorical("k", ["a", "b"])),
            _outcome(lambda: best.suggest_categorical("k", ["a", "b", "c"])),  # other choices
            _outcome(lambda: best.suggest_categorical("k", ["a"])),  # the value is no choice
            _outcome(lambda: best.suggest_int("n", 1, 9)),  # another step is allowed
            _outcome(lambda: best.suggest_float("missing", 0, 1)),
        ]

    assert calls(tp) == calls(optuna) == [
        ("ok", 0.5, []),
        ("raise", ValueError),
        ("raise", ValueError),
        ("ok", 0.5, [UserWarning]),
        ("ok", "b", []),
        ("raise", ValueError),
        ("raise", ValueError),
        ("ok", 3, []),
        ("raise", ValueError),
    ]


def test_best_trial_from_the_server_checks_the_distribution(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)
    study.optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-1, log=True), n_trials=1)
    best = study.best_trial
    assert best.suggest_float("lr", 1e-4, 1e-1, log=True) == best.params["lr"]
    with pytest.raises(ValueError, match="log configuration.*'lr' of trial 0 is stored with"):
        best.suggest_float("lr", 1e-4, 1e-1)


def test_suggest_int_truncates_a_fractional_bound_as_optuna_does(server: ServerProcess, name: str) -> None:
    # suggest_int("k", 1, n / 2) with an odd n: Optuna's IntDistribution takes int(high); tuneport
    # refused it ("Int: high must be an int"), failing the script at its first trial.
    made: dict[str, tuple[Any, ...]] = {}
    studies: list[tuple[Any, Any]] = [(optuna, optuna.create_study()), (tp, tp.create_study(storage=server.endpoint, study_name=name))]
    for lib, study in studies:
        trial = study.ask()
        k = trial.suggest_int("k", 1, 10.5)
        j = trial.suggest_int("j", 0.9, 3.7, step=1.9)
        dist = trial.distributions["k"]
        assert 1 <= k <= 10 and type(k) is int and j in (0, 1, 2, 3)
        fixed = lib.trial.FixedTrial({"k": 10}).suggest_int("k", 1, 10.5)
        made[lib.__name__] = (dist.low, dist.high, trial.distributions["j"].high, trial.distributions["j"].step, fixed)
        study.tell(trial, 0.0)
    assert made["tuneport"] == made["optuna"] == (1, 10, 3, 1, 10)
    assert tp.Int(0.5, 7.9) == tp.Int(0, 7)  # type: ignore[arg-type]
    with pytest.raises(tp.InvalidArgumentError, match="must be an int"):
        tp.Int(0, float("nan"))  # type: ignore[arg-type]
    # A step under 1 truncates to 0 (Optuna then divides by it): refused naming the step given.
    with pytest.raises(tp.InvalidArgumentError, match=r"step must be an int >= 1 \(got 0\.5, which truncates to 0\)"):
        tp.Int(1, 10, step=0.5)  # type: ignore[arg-type]


def test_user_attribute_map_keys_read_back_as_json_strings(server: ServerProcess, name: str, tmp_path: Path) -> None:
    # The attributes recipe with per-class scores ({0: 0.91, 1: 0.87}): Optuna's RDB and journal
    # storages keep attributes as JSON, which makes the keys strings; tuneport's server refused the
    # attribute ("request holds a map key that is not a string").
    value = {0: 0.91, 1.5: "x", True: [{2: 3}], None: (1, 2)}
    read: dict[str, tuple[Any, ...]] = {}
    journal = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    for lib, storage in ((optuna, journal), (tp, server.endpoint)):
        study = lib.create_study(storage=storage, study_name=name)
        study.set_user_attr("per_class", value)
        study.enqueue_trial({"x": 0.5}, user_attrs={"enqueued": value})
        trial = study.ask()
        trial.suggest_float("x", 0, 1)
        trial.set_user_attr("per_class", value)
        with pytest.raises(TypeError, match="keys must be str, int, float, bool or None, not tuple"):
            trial.set_user_attr("bad", {(1, 2): 3})
        study.tell(trial, 1.0)
        read[lib.__name__] = (study.user_attrs, study.trials[0].user_attrs)
    expected = {"0": 0.91, "1.5": "x", "true": [{"2": 3}], "null": [1, 2]}
    assert read["tuneport"] == read["optuna"] == ({"per_class": expected}, {"enqueued": expected, "per_class": expected})


def test_a_sampler_or_pruner_without_counterpart_is_refused_with_what_to_do(server: ServerProcess, name: str) -> None:
    # The user-defined sampler recipe (a BaseSampler subclass) and the WilcoxonPruner recipe: the
    # refusal said only "pass strategy='<name>'", as if the object had a counterpart to name.
    class SimulatedAnnealingSampler(optuna.samplers.BaseSampler):  # the recipe's, reduced to its class
        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return {}

        def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
            return {}

        def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
            return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        wilcoxon = optuna.pruners.WilcoxonPruner()
    refusals: tuple[tuple[str, Any, str], ...] = (
        ("sampler", SimulatedAnnealingSampler(), "no counterpart of SimulatedAnnealingSampler, and a sampler of your own"),
        ("pruner", wilcoxon, "leave scheduler= out .*no counterpart of WilcoxonPruner, and a pruner of your own"),
    )
    for argument, obj, words in refusals:
        with pytest.raises(tp.InvalidArgumentError, match=words + r".*docs/PLUGINS\.md"):
            tp.create_study(storage=server.endpoint, study_name=name, **{argument: obj})
    assert name not in tp.get_all_study_names(storage=server.endpoint)


def test_get_trials_with_one_state_not_a_collection_is_a_type_error(server: ServerProcess, name: str) -> None:
    # get_trials(states=TrialState.COMPLETE): Optuna raises TypeError; a tuneport TrialState is a
    # str, whose letters went to the server as states ("states.0: Invalid option ...").
    studies: list[Any] = [optuna.create_study(), tp.create_study(storage=server.endpoint, study_name=name)]
    for study in studies:
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
        with pytest.raises(TypeError):
            study.get_trials(states=optuna.trial.TrialState.COMPLETE)
        assert len(study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 1
    with pytest.raises(TypeError, match=r"pass \(TrialState.COMPLETE,\), not TrialState.COMPLETE alone"):
        studies[1].get_trials(states=tp.TrialState.COMPLETE)
    with pytest.raises(TypeError, match=r"pass \('COMPLETE',\)"):
        studies[1].get_trials(states="COMPLETE")
