"""The user code of bench/optuna_parity.py about ``optimize``'s loop: ``catch``, ``n_trials``, ``timeout``,
``n_jobs``, ``stop()`` and its log lines (optuna_parity_cases.py holds the rest and the helpers)."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from optuna_parity_cases import Obs, Side, _number, outcome

_TIMEOUT = 1.0
"""optimize's timeout in the cases about a trial running past it: each thread must start its trial
within it, which a loaded machine (2 cores at load 12) can delay past a shorter one (0.3 s was)."""


def _slow(trial: Any) -> float:
    """Runs past the timeout whatever the load: it sleeps longer than the timeout from its own start,
    which comes after optimize's start, where both libraries count the timeout from."""
    time.sleep(_TIMEOUT + 0.2)
    return _number(trial)


def case_catch(s: Side) -> Obs:
    out: Obs = {}
    for label, catch in (("tuple", (ValueError,)), ("class", ValueError), ("list", [ValueError])):
        study = s.study()

        def failing(trial: Any) -> float:
            trial.suggest_float("x", 0, 1)
            if trial.number % 2 == 0:
                raise ValueError("even")
            return _number(trial)

        out[f"catch.{label}"] = (outcome(lambda: study.optimize(failing, n_trials=3, catch=catch)),
                                 [t.state.name for t in study.trials])
    study = s.study()

    def uncaught(trial: Any) -> float:
        raise KeyError("k")

    out["catch.uncaught"] = (outcome(lambda: study.optimize(uncaught, n_trials=3, catch=(ValueError,))),
                             [t.state.name for t in study.trials])
    study = s.study()
    out["catch.returns_none"] = (outcome(lambda: study.optimize(lambda t: None, n_trials=1)), [t.state.name for t in study.trials])
    study = s.study()
    out["catch.returns_str"] = (outcome(lambda: study.optimize(lambda t: "abc", n_trials=1)), [t.state.name for t in study.trials])
    study = s.study()
    out["catch.returns_list"] = (outcome(lambda: study.optimize(lambda t: [1.0, 2.0], n_trials=1)), [t.state.name for t in study.trials])

    def bad_bounds(trial: Any) -> float:
        return float(trial.suggest_float("x", 1, 0))

    study = s.study()
    out["catch.misuse_caught"] = (outcome(lambda: study.optimize(bad_bounds, n_trials=2, catch=(ValueError,))), [t.state.name for t in study.trials])
    study = s.study()
    out["catch.misuse_uncaught"] = (outcome(lambda: study.optimize(bad_bounds, n_trials=2)), [t.state.name for t in study.trials])

    def bad_callback(st: Any, frozen: Any) -> None:
        raise RuntimeError("callback")

    study = s.study()
    out["catch.callback_raises"] = (outcome(lambda: study.optimize(_number, n_trials=2, callbacks=[bad_callback], catch=(RuntimeError,))),
                                    [t.state.name for t in study.trials])
    return out


def case_loop_rules(s: Side) -> Obs:
    out: Obs = {}
    study = s.study()
    study.optimize(_number, n_trials=2)
    study.optimize(_number, n_trials=2)
    out["optimize.twice"] = [t.number for t in study.trials]
    study = s.study()
    out["optimize.n_trials_0"] = (outcome(lambda: study.optimize(_number, n_trials=0)), len(study.trials))
    study = s.study()
    out["optimize.timeout_0"] = (outcome(lambda: study.optimize(_number, n_trials=5, timeout=0)), len(study.trials))

    study = s.study()
    study.optimize(_slow, timeout=_TIMEOUT)  # the first trial runs past the timeout and completes; no second starts
    out["optimize.timeout_past"] = [t.state.name for t in study.trials]
    study = s.study()
    out["optimize.n_jobs_2"] = (outcome(lambda: study.optimize(_number, n_trials=6, n_jobs=2)),
                                sorted(t.number for t in study.trials), {t.state.name for t in study.trials})
    study = s.study()
    out["optimize.n_jobs_-1"] = (outcome(lambda: study.optimize(_number, n_trials=3, n_jobs=-1)), len(study.trials))
    study = s.study()
    threads: set[int] = set()

    def in_threads(trial: Any) -> float:
        threads.add(threading.get_ident())
        if trial.number == 1:
            raise KeyError("k")
        return _number(trial)

    out["optimize.n_jobs_raises"] = outcome(lambda: study.optimize(in_threads, n_trials=4, n_jobs=2))
    study = s.study()
    out["stop.outside"] = outcome(study.stop)

    def stopper(trial: Any) -> float:
        if trial.number == 1:
            trial.study.stop()
        return _number(trial)

    study = s.study()
    study.optimize(stopper, n_trials=10)
    out["stop.in_objective"] = [t.number for t in study.trials]
    study.optimize(_number, n_trials=1)  # a later call runs again
    out["stop.then_optimize"] = len(study.trials)
    study = s.study()
    from_thread: list[Any] = []

    def stopped_from_another_thread(trial: Any) -> float:
        if trial.number == 1:  # another thread (a watchdog, a signal handler's) calls stop() meanwhile
            watchdog = threading.Thread(target=lambda: from_thread.append(outcome(study.stop)))
            watchdog.start()
            watchdog.join()
        return _number(trial)

    study.optimize(stopped_from_another_thread, n_trials=4)
    out["stop.other_thread"] = (from_thread, len(study.trials))
    return out


def case_threads_and_catch(s: Side) -> Obs:
    out: Obs = {}
    study = s.study()

    def objective(trial: Any) -> float:
        if trial.number == 0:
            raise s.mod.TrialPruned()
        if trial.number == 1:
            return float("nan")
        raise RuntimeError("any")

    out["catch.exception_class"] = (outcome(lambda: study.optimize(objective, n_trials=3, catch=(Exception,))),
                                    [t.state.name for t in study.trials])
    study = s.study()
    seen: list[tuple[bool, str]] = []

    def stopper(st: Any, frozen: Any) -> None:
        seen.append((st is study, frozen.state.name))
        if frozen.number >= 1:
            st.stop()

    study.optimize(_number, n_trials=20, n_jobs=2, callbacks=[stopper])
    out["n_jobs.stop"] = (len(study.trials) < 20, {t.state.name for t in study.trials}, all(a for a, _ in seen))

    study = s.study()
    study.optimize(_slow, n_jobs=2, timeout=_TIMEOUT)  # each thread starts one trial, which runs past the timeout
    out["n_jobs.timeout_past"] = sorted(t.state.name for t in study.trials)
    return out


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage().strip()))


def case_log_lines(s: Side) -> Obs:
    """Optuna's per-trial log lines (a script or a log scraper may read them)."""
    study = s.study()

    def objective(trial: Any) -> float:
        trial.suggest_int("n", 1, 1)
        if trial.number == 1:
            raise ValueError("bad")
        if trial.number == 2:
            raise s.mod.TrialPruned()
        return float("nan") if trial.number == 3 else 1.0

    records = _Records()
    logger = logging.getLogger(s.name)  # each library's own logger, its stderr handler set aside meanwhile
    kept = (logger.level, logger.handlers[:], logger.propagate)
    logger.handlers[:], logger.propagate = [records], False
    logger.setLevel(logging.INFO)
    try:
        study.optimize(objective, n_trials=4, catch=(ValueError,))
    finally:
        logger.setLevel(kept[0])
        logger.handlers[:], logger.propagate = kept[1], kept[2]
    return {"log.trial_lines": records.lines}
