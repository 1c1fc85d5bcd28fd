"""One Optuna 5.0 script, run with ``import optuna`` (an in-memory study) and with ``import tuneport``
against a real server: the outcomes a ported script depends on are the same (python-client/README.md,
"Porting an Optuna script: what differs on purpose", lists the differences meant)."""

from __future__ import annotations

import logging
import math
import uuid
import warnings
from typing import Any

import optuna
from optuna.trial import TrialState

import tuneport as tp
from conftest import ServerProcess


def _outcome(f: Any) -> tuple[Any, ...]:
    try:
        return ("ok", f())
    except Exception as err:  # noqa: BLE001 - the outcome compared
        builtin = next(c.__name__ for c in type(err).__mro__ if c.__module__ == "builtins")
        return ("raised", builtin)


def _script(mod: Any, storage: str | None) -> dict[str, Any]:
    name = f"port-{uuid.uuid4().hex[:8]}"
    kw: dict[str, Any] = {"storage": storage} if storage else {}
    out: dict[str, Any] = {}
    study = mod.create_study(study_name=name, direction="minimize", **kw)
    out["best_before_any"] = [_outcome(lambda: study.best_trial), _outcome(lambda: study.best_value), _outcome(lambda: study.best_params)]
    study.enqueue_trial({"x": 1.0, "n": 3, "c": "b"})
    study.enqueue_trial({"x": 1.0, "n": 3, "c": "b"}, skip_if_exists=True)  # skipped: already queued
    seen: list[tuple[int, str]] = []

    def callback(s: Any, frozen: Any) -> None:
        seen.append((frozen.number, frozen.state.name))

    def objective(trial: Any) -> float:
        x = trial.suggest_float("x", 0.1, 10.0, log=True)
        n = trial.suggest_int("n", 1, 9, step=2)
        c = trial.suggest_categorical("c", ["a", "b"])
        trial.set_user_attr("n", n)
        if trial.number == 2:
            raise ValueError("caught")
        if trial.number == 3:
            raise optuna.TrialPruned()  # Optuna's class, as a ported script raises it
        if trial.number == 4:
            return float("nan")
        return float(x + n + (c == "a"))

    study.optimize(objective, n_trials=7, callbacks=[callback], catch=(ValueError,), gc_after_trial=True)
    out["states"] = [t.state.name for t in study.trials]
    out["callbacks"] = seen
    out["enqueued_first"] = study.trials[0].params
    out["user_attrs"] = study.trials[0].user_attrs
    complete = [t for t in study.trials if t.value is not None and not math.isnan(t.value)]
    out["best"] = (study.best_trial.number == min(complete, key=lambda t: t.value).number, sorted(study.best_params))
    out["state_enum"] = study.trials[3].state == TrialState.PRUNED
    out["get_trials"] = len(study.get_trials(states=(TrialState.PRUNED, TrialState.FAIL)))

    def uncaught(trial: Any) -> float:
        trial.suggest_float("x", 0.1, 10.0, log=True)
        raise KeyError("k")

    out["uncaught"] = (_outcome(lambda: study.optimize(uncaught, n_trials=2, catch=ValueError)), study.trials[-1].state.name)
    out["df"] = list(study.trials_dataframe(attrs=("number", "value", "params", "state")).columns)
    trial = study.ask()
    out["positional_step"] = _outcome(lambda: trial.suggest_int("n", 1, 9, 2))  # keyword-only in Optuna 5.0
    out["tell_pruned"] = study.tell(trial, state=TrialState.PRUNED).state.name
    trial = study.ask()
    out["tell_number"] = (study.tell(trial.number, 3.0).value, _outcome(lambda: study.tell(trial, 1.0)))
    out["tell_skip"] = study.tell(trial, 1.0, skip_if_finished=True).state.name
    trial = study.ask()
    out["tell_nothing"] = study.tell(trial).state.name
    trial = study.ask()
    out["bad_suggest"] = [
        _outcome(lambda: trial.suggest_float("z", 2.0, 1.0)),
        _outcome(lambda: trial.suggest_float("w", 0.0, 1.0, log=True)),
        _outcome(lambda: trial.suggest_float("v", 0.1, 1.0, log=True, step=0.1)),
        _outcome(lambda: trial.report(1.0, -1)),
    ]
    study.tell(trial, 1.0)
    out["after_tell"] = [_outcome(lambda: trial.set_user_attr("a", 1)), _outcome(lambda: trial.report(1.0, 1))]

    def stopper(s: Any, frozen: Any) -> None:
        if frozen.number >= 16:
            s.stop()

    study.optimize(lambda t: t.suggest_float("x", 0.1, 10.0, log=True), n_trials=50, callbacks=[stopper])
    out["stopped_at"] = len(study.trials)
    timed = mod.create_study(study_name=name + "-t", **kw)
    timed.optimize(lambda t: t.suggest_float("y", 0, 1), n_trials=3, timeout=600)
    out["n_trials_with_timeout"] = len(timed.trials)
    return out


def test_an_optuna_script_behaves_the_same_against_a_server(server: ServerProcess) -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    level = logging.getLogger("tuneport").level
    logging.getLogger("tuneport").setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the NaN value, the tell of nothing: Optuna's warnings, in both
            under_optuna = _script(optuna, None)
            under_tuneport = _script(tp, server.endpoint)
    finally:
        logging.getLogger("tuneport").setLevel(level)
    assert under_tuneport == under_optuna
