"""The user code of bench/optuna_parity.py (optimize's loop rules are in optuna_parity_loop.py): each
``case_*`` runs once with Optuna and once with tuneport (``Side``) and returns its observations by key.
Objectives return values computed from the trial number, never from sampled parameters, so that the two
libraries' samplers may differ."""

from __future__ import annotations

import math
import uuid
import warnings
from collections.abc import Callable
from typing import Any

Obs = dict[str, Any]


def builtin_base(err: BaseException) -> str:
    return next(c.__name__ for c in type(err).__mro__ if c.__module__ == "builtins")


def outcome(f: Callable[[], Any]) -> Any:
    """("ok", shape of the result) or ("raised", the exception object): compared by ``same``."""
    try:
        return ("ok", shape(f()))
    except Exception as err:  # noqa: BLE001 - the outcome is what is compared
        return ("raised", err)


def shape(v: Any) -> Any:
    """What a script can rely on of a value: its kind, and the value itself where it is not a sample."""
    if v is None or isinstance(v, (bool, int, str, BaseException)):
        return v
    if isinstance(v, float):
        return "nan" if math.isnan(v) else v
    if isinstance(v, (list, tuple)):
        return [type(v).__name__, *[shape(x) for x in v]]
    if isinstance(v, dict):
        return {str(k): shape(x) for k, x in v.items()}
    return f"<{type(v).__name__}>"


class Side:
    """One library, one storage: ``study(...)`` creates a study with a fresh name there."""

    def __init__(self, mod: Any, storage: Any) -> None:
        self.mod, self.storage, self.name = mod, storage, mod.__name__

    def study(self, **kw: Any) -> Any:
        kw.setdefault("study_name", f"parity-{uuid.uuid4().hex[:10]}")
        return self.mod.create_study(storage=self.storage, **kw)


def _number(trial: Any) -> float:
    return float(trial.number)


# ---- the cases: each is user code, run once per library; it returns observations by key ----

def case_best_when_empty(s: Side) -> Obs:
    study = s.study()
    return {"best.trial": outcome(lambda: study.best_trial), "best.value": outcome(lambda: study.best_value),
            "best.params": outcome(lambda: study.best_params), "best.trials": outcome(lambda: study.best_trials)}


def case_optimize_basic(s: Side) -> Obs:
    study = s.study(direction="maximize")
    seen: list[Any] = []

    def objective(trial: Any) -> float:
        trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        trial.suggest_float("drop", 0.0, 0.5, step=0.1)
        trial.suggest_int("layers", 1, 4)
        trial.suggest_int("units", 16, 128, log=True)
        trial.suggest_categorical("act", ["relu", "tanh", None])
        trial.set_user_attr("n", trial.number)
        return _number(trial)

    def callback(st: Any, frozen: Any) -> None:
        seen.append((st is study, type(frozen).__name__, frozen.number, frozen.state.name, shape(frozen.value)))

    ret = study.optimize(objective, n_trials=3, callbacks=[callback])
    t = study.trials[-1]
    fields = ("number", "state", "value", "values", "params", "distributions", "datetime_start", "datetime_complete",
              "duration", "intermediate_values", "user_attrs", "system_attrs", "last_step")
    return {
        "optimize.returns": shape(ret),
        "optimize.callbacks": seen,
        "trials.numbers": [x.number for x in study.trials],
        "trials.states": [x.state.name for x in study.trials],
        "frozen.field_types": {f: type(getattr(t, f, AttributeError)).__name__ for f in fields},
        "frozen.param_types": {k: type(v).__name__ for k, v in sorted(t.params.items()) if k != "act"},
        "frozen.categorical_in_choices": [x.params["act"] in ("relu", "tanh", None) for x in study.trials],
        "frozen.distribution_types": {k: type(v).__name__ for k, v in sorted(t.distributions.items())},
        "frozen.values": shape(t.values),
        "frozen.user_attrs": t.user_attrs,
        "frozen.system_attrs_keys": sorted(t.system_attrs),
        "frozen.duration_matches": t.duration == t.datetime_complete - t.datetime_start,
        "best.after": (study.best_trial.number, study.best_value, sorted(study.best_params)),
        "best.trials_after": [x.number for x in study.best_trials],
        "direction": (study.direction.name, [d.name for d in study.directions]),
        "trials.type": type(study.trials).__name__,
        "get_trials.complete": [x.number for x in study.get_trials(deepcopy=False, states=(s.mod.trial.TrialState.COMPLETE,))],
        "get_trials.none": study.get_trials(states=()),
        "suggest.float_nan": "a NaN bound is a ValueError (Optuna's OverflowError comes from its own rounding, not a check)",
    "study.both_directions": "direction=d with directions=[d] is accepted when they agree (Optuna refuses both)",
    "optimize.callbacks_not_iterable": "optimize checks its arguments before the first trial (Optuna: after it)",
    "mixed.trial_pruned": "tuneport's exceptions are not subclasses of Optuna's (Optuna is optional): mix no imports",
    "frozen.setter": outcome(lambda: setattr(t, "value", 1.0)),
        "frozen.suggest": (t.suggest_int("layers", 1, 4) == t.params["layers"], shape(t.report(1.0, 1)), t.should_prune()),
        "study.sampler": outcome(lambda: type(study.sampler).__name__),
    }


def case_dataframe(s: Side) -> Obs:
    study = s.study()
    study.optimize(lambda t: t.suggest_float("x", 0, 1) * 0 + t.suggest_int("n", 1, 3) * 0 + _number(t), n_trials=2)
    df = study.trials_dataframe()
    multi = s.study(directions=["minimize", "maximize"])
    multi.optimize(lambda t: (t.suggest_float("x", 0, 1) * 0 + _number(t), 1.0), n_trials=2)
    mdf = multi.trials_dataframe(multi_index=True)
    return {
        "dataframe.columns": list(df.columns),
        "dataframe.dtypes": {c: str(d) for c, d in df.dtypes.items()},
        "dataframe.values": [list(df["number"]), list(df["value"]), list(df["state"])],
        "dataframe.multi_columns": [c for c in mdf.columns if not str(c[0]).startswith("system_attrs")],
        "dataframe.attrs": list(study.trials_dataframe(attrs=("number", "value", "state")).columns),
    }


def case_ask_tell(s: Side) -> Obs:
    TS = s.mod.trial.TrialState
    study = s.study()
    out: Obs = {}
    trial = study.ask()
    out["ask.type"] = type(trial).__name__
    out["ask.number"] = trial.number
    frozen = study.tell(trial, 1.0)
    out["tell.returns"] = (type(frozen).__name__, frozen.state.name, frozen.value)
    out["tell.twice"] = outcome(lambda: study.tell(trial, 2.0))
    out["tell.twice_number"] = outcome(lambda: study.tell(trial.number, 2.0))
    out["tell.skip_if_finished"] = outcome(lambda: study.tell(trial, 2.0, skip_if_finished=True).value)
    out["tell.after_finish_suggest"] = outcome(lambda: trial.suggest_float("x", 0, 1))
    out["tell.after_finish_attr"] = outcome(lambda: trial.set_user_attr("a", 1))
    for label, args, kw in (("nan", (float("nan"),), {}), ("inf", (float("inf"),), {}), ("none", (), {}),
                            ("wrong_length", ([1.0, 2.0],), {}), ("fail_with_value", (1.0,), {"state": TS.FAIL}),
                            ("complete_without", (), {"state": TS.COMPLETE}), ("running", (1.0,), {"state": TS.RUNNING}),
                            ("pruned_with_value", (1.0,), {"state": TS.PRUNED}), ("str_value", ("abc",), {})):
        t = study.ask()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = outcome(lambda: study.tell(t, *args, **kw).state.name)
        state = study.trials[t.number].state.name
        out[f"tell.{label}"] = (res, state, sorted({w.category.__name__ for w in caught}))
        if state == "RUNNING":
            study.tell(t, state=TS.FAIL)
    out["tell.unknown_number"] = outcome(lambda: study.tell(10_000, 1.0))
    t = study.ask()
    out["user_attr.int_key"] = outcome(lambda: t.set_user_attr(1, "x"))
    out["user_attr.not_json"] = (outcome(lambda: t.set_user_attr("k", object())), outcome(lambda: study.set_user_attr("k", {1, 2})))
    study.tell(t, 1.0)
    out["tell.should_prune_after"] = outcome(t.should_prune)
    multi = s.study(directions=["minimize", "maximize"])
    t = multi.ask()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = outcome(lambda: multi.tell(t, [1.0]).state.name)
    out["tell.multi_wrong_length"] = (res, multi.trials[t.number].state.name, sorted({w.category.__name__ for w in caught}))
    t = multi.ask()
    out["multi.tell"] = outcome(lambda: multi.tell(t, [1.0, 2.0]).values)
    out["multi.best"] = (outcome(lambda: multi.best_trial), outcome(lambda: multi.best_value), [x.number for x in multi.best_trials])
    out["multi.direction"] = outcome(lambda: multi.direction)
    out["multi.trial_value"] = outcome(lambda: multi.trials[-1].value)
    return out


def case_suggest(s: Side) -> Obs:
    study = s.study()
    trial = study.ask()
    out: Obs = {
        "suggest.float_type": type(trial.suggest_float("f", 0, 1)).__name__,
        "suggest.float_int_bounds": type(trial.suggest_float("g", 0, 10, step=1)).__name__,
        "suggest.int_type": type(trial.suggest_int("i", 0, 10, step=2)).__name__,
        "suggest.categorical": [type(trial.suggest_categorical(n, [c])).__name__ for n, c in (("c1", None), ("c2", True), ("c3", 2), ("c4", 2.5), ("c5", "s"))],
    }
    out["suggest.repeat_same"] = trial.suggest_float("f", 0, 1) == trial.params["f"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = outcome(lambda: trial.suggest_float("f", 0, 2) == trial.params["f"])
    out["suggest.repeat_other_range"] = (res, sorted({w.category.__name__ for w in caught}))
    out["suggest.other_kind"] = outcome(lambda: trial.suggest_int("f", 0, 1))
    out["suggest.other_kind_cat"] = outcome(lambda: trial.suggest_categorical("i", [0, 2]))
    for label, f in (("low_gt_high", lambda: trial.suggest_float("a", 1, 0)), ("log_zero", lambda: trial.suggest_float("b", 0, 1, log=True)),
                     ("log_and_step", lambda: trial.suggest_float("c", 0.1, 1, log=True, step=0.1)),
                     ("int_step_0", lambda: trial.suggest_int("d", 0, 10, step=0)), ("int_log_step", lambda: trial.suggest_int("e", 1, 10, step=2, log=True)),
                     ("int_low_gt_high", lambda: trial.suggest_int("h", 5, 1)), ("categorical_empty", lambda: trial.suggest_categorical("k", [])),
                     ("categorical_repeat", lambda: trial.suggest_categorical("l", ["a", "a", "b"])),
                     ("float_nan", lambda: trial.suggest_float("m", float("nan"), 1)),
                     ("int_step_positional", lambda: trial.suggest_int("o", 0, 10, 2))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[f"suggest.{label}"] = outcome(f)
    np = __import__("numpy")
    out["suggest.numpy_bounds"] = [type(v).__name__ for v in (trial.suggest_int("q", np.int64(1), np.int64(9)),
                                   trial.suggest_float("r", np.float32(0.5), np.float64(2)), trial.suggest_int("u", 1, 9, step=np.int64(2)),
                                   trial.suggest_float("w", 0, 1, step=np.float64(0.25)))]
    out["suggest.numpy_choices"] = type(trial.suggest_categorical("y", np.array([1, 2]))).__name__
    out["suggest.keywords"] = outcome(lambda: trial.suggest_float(name="p", low=0.0, high=1.0, step=None, log=False) * 0)
    study.tell(trial, 0.0)
    return out


def case_report(s: Side) -> Obs:
    study = s.study()
    trial = study.ask()
    out: Obs = {"report.returns": outcome(lambda: trial.report(0.5, 0))}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trial.report(0.7, 0)
    out["report.same_step"] = sorted({w.category.__name__ for w in caught})
    out["report.str_value"] = outcome(lambda: trial.report("abc", 1))
    out["report.step_float"] = outcome(lambda: trial.report(0.4, 1.5))
    out["report.step_negative"] = outcome(lambda: trial.report(0.4, -1))
    trial.report(0.3, 5)
    out["report.lower_step"] = outcome(lambda: trial.report(0.4, 3))
    clean = study.ask()
    for step, v in ((0, 0.5), (1, 2), (5, True)):
        clean.report(v, step)
    study.tell(clean, 1)
    out["report.intermediate_clean"] = sorted((type(k).__name__, k, type(v).__name__, v) for k, v in study.trials[1].intermediate_values.items())
    out["report.should_prune"] = type(trial.should_prune()).__name__
    study.tell(trial, 0.3)
    out["report.last_step"] = shape(study.trials[0].last_step)
    study = s.study()

    def pruned(trial: Any) -> float:
        raise s.mod.TrialPruned()

    study.optimize(pruned, n_trials=1)
    out["pruned.state"] = (study.trials[0].state.name, shape(study.trials[0].value))
    return out


def case_study_misc(s: Side) -> Obs:
    TS = s.mod.trial.TrialState
    study = s.study(direction="minimize")
    name = study.study_name
    out: Obs = {"study.duplicate": outcome(lambda: s.mod.create_study(study_name=name, storage=s.storage))}
    out["study.load_if_exists"] = outcome(lambda: s.mod.create_study(study_name=name, storage=s.storage, load_if_exists=True).study_name == name)
    out["study.load_missing"] = outcome(lambda: s.mod.load_study(study_name=name + "-none", storage=s.storage))
    out["study.load"] = outcome(lambda: s.mod.load_study(study_name=name, storage=s.storage).study_name == name)
    out["study.names"] = name in s.mod.get_all_study_names(storage=s.storage)
    study.set_user_attr("k", [1, "a"])
    out["study.user_attrs"] = shape(study.user_attrs)
    out["study.both_directions"] = outcome(lambda: s.mod.create_study(direction="minimize", directions=["minimize"], storage=s.storage))
    out["study.bad_direction"] = outcome(lambda: s.mod.create_study(direction="up", storage=s.storage))
    out["enqueue.returns"] = shape(study.enqueue_trial({"x": 0.25, "n": 2}))
    study.enqueue_trial({"x": 0.25, "n": 2}, skip_if_exists=True)
    got: list[Any] = []

    def recorded(t: Any) -> float:
        got.append((t.suggest_float("x", 0, 1), t.suggest_int("n", 0, 3)))
        return _number(t)

    study.optimize(recorded, n_trials=2)
    out["enqueue.used"] = got[0]
    out["enqueue.count"] = len(study.trials)
    out["enqueue.ask_params"] = study.trials[0].params
    after = s.study()
    after.enqueue_trial({"x": 0.5, "n": 2})
    after.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 0, 3), n_trials=1)
    for params in ({"x": 0.5, "n": 2}, {"n": 2, "x": 0.5}, {"x": 0.5}):
        after.enqueue_trial(params, skip_if_exists=True)
    out["enqueue.skip_after_complete"] = [(t.state.name, sorted(t.system_attrs.get("fixed_params", {}).items())) for t in after.trials]
    after.enqueue_trial({"x": 0.5, "n": 2.0}, skip_if_exists=True)  # a whole float for the int parameter
    out["enqueue.skip_whole_float"] = len(after.trials)
    ordered = s.study()
    ordered.enqueue_trial({"m": 1, "z": 0.5})
    live: list[Any] = []

    def in_order(t: Any) -> float:
        t.suggest_float("z", 0, 1)
        t.suggest_categorical("a", ["x", "y"])
        t.suggest_int("m", 0, 3)
        live.append(list(t.params))
        return _number(t)

    ordered.optimize(in_order, n_trials=2)
    out["params.order"] = ([list(t.params) for t in ordered.trials], [list(t.distributions) for t in ordered.trials], list(ordered.best_params), live)
    out["state.names"] = sorted(m.name for m in TS)
    out["state.enum"] = [str(TS.COMPLETE), shape(TS.COMPLETE.value), [m.name for m in TS]]
    out["state.is_finished"] = sorted((m.name, m.is_finished()) for m in TS)
    out["study.delete"] = outcome(lambda: s.mod.delete_study(study_name=name, storage=s.storage))
    out["study.delete_missing"] = outcome(lambda: s.mod.delete_study(study_name=name, storage=s.storage))
    return out


def case_live_trial(s: Side) -> Obs:
    study = s.study()
    out: Obs = {}

    def objective(trial: Any) -> float:
        trial.suggest_float("x", 0, 1)
        trial.suggest_int("same", 3, 3)
        trial.suggest_float("point", 2.0, 2.0)
        trial.set_user_attr("u", {"a": [1, 2]})
        out["live.study_is"] = trial.study is study
        out["live.attrs"] = {f: type(getattr(trial, f, AttributeError)).__name__ for f in
                             ("number", "params", "distributions", "user_attrs", "datetime_start")}
        out["live.params"] = sorted(trial.params)
        out["live.degenerate"] = (trial.params["same"], trial.params["point"])
        out["live.user_attrs"] = trial.user_attrs
        cfg, attrs, dists = trial.params, trial.user_attrs, trial.distributions  # a script that changes them
        cfg["epochs"], dists["epochs"] = 10, dists["x"]
        attrs["u"]["a"].append(3)
        out["live.copies"] = (sorted(trial.params), sorted(trial.distributions), trial.user_attrs)
        out["live.nested_optimize"] = outcome(lambda: study.optimize(_number, n_trials=1))
        return _number(trial)

    study.optimize(objective, n_trials=1)
    out["live.after_nested"] = len(study.trials)
    t = study.trials[0]
    out["frozen.unknown_suggest"] = outcome(lambda: t.suggest_float("nope", 0, 1))
    out["frozen.other_range_suggest"] = outcome(lambda: type(t.suggest_float("x", 5, 6)).__name__)
    out["frozen.last_step_none"] = t.last_step
    out["frozen.copy"] = (study.trials[0] is not study.trials[0], study.trials[0] == study.trials[0])
    mutated = study.get_trials(deepcopy=True)[0]
    mutated.params["x"] = 99
    out["frozen.deepcopy"] = study.trials[0].params["x"] != 99
    out["best.params_copy"] = (study.best_params.pop("x", None) is not None, "x" in study.best_params)
    return out


def case_pruned_value(s: Side) -> Obs:
    TS = s.mod.trial.TrialState
    study = s.study()

    def objective(trial: Any) -> float:
        trial.report(0.5, 0)
        trial.report(0.25, 1)
        raise s.mod.TrialPruned()

    study.optimize(objective, n_trials=1)
    t = study.ask()
    t.report(0.75, 2)
    told = study.tell(t, state=TS.PRUNED)
    t2 = study.ask()
    t2.report(float("nan"), 0)
    study.tell(t2, state=TS.PRUNED)
    only_pruned = s.study()
    only_pruned.optimize(objective, n_trials=1)
    return {"pruned.value_optimize": shape(study.trials[0].value), "pruned.value_tell": (shape(told.value), shape(study.trials[1].value)),
            "pruned.value_nan": shape(study.trials[2].value),
            "pruned.best": outcome(lambda: study.best_trial.number), "pruned.only_best": outcome(lambda: only_pruned.best_value)}


def case_dataframe_edges(s: Side) -> Obs:
    TS = s.mod.trial.TrialState
    study = s.study()
    empty = study.trials_dataframe()
    running = study.ask()
    running.suggest_float("x", 0, 1)
    failed = study.ask()
    failed.suggest_float("x", 0, 1)
    failed.set_user_attr("note", "f")
    study.tell(failed, state=TS.FAIL)
    done = study.ask()
    done.report(0.5, 0)
    study.tell(done, 1.0)
    df = study.trials_dataframe(attrs=("number", "value", "datetime_complete", "params", "user_attrs", "state", "intermediate_values"))
    return {"dataframe.empty": (list(empty.columns), len(empty)),
            "dataframe.mixed": [list(df.columns), [str(v) for v in df["state"]], [str(v) for v in df["value"]],
                                [str(type(v).__name__) for v in df["datetime_complete"]], [str(v) for v in df["user_attrs_note"]]],
            "dataframe.intermediate": outcome(lambda: str(df["intermediate_values"].dtype)) if "intermediate_values" in df else "absent"}


def case_dataframe_dtypes(s: Side) -> Obs:
    """Columns of mixed content: a None choice, bools, an int param a FAIL trial never drew, whole floats."""
    study = s.study()
    for c, n, b in ((None, 2, True), ("a", 3, False), ("a", 4, True)):
        study.enqueue_trial({"c": c, "n": n, "b": b})

    def objective(t: Any) -> float:
        t.suggest_categorical("c", [None, "a"])
        t.suggest_categorical("b", [True, False])
        if t.number == 2:
            raise ValueError("before n")
        t.suggest_int("n", 0, 5)
        t.set_user_attr("f", 1.5 if t.number else 2)
        return 1.0

    study.optimize(objective, n_trials=3, catch=(ValueError,))
    df = study.trials_dataframe(attrs=("number", "value", "params", "user_attrs", "state", "duration"))
    return {"dataframe.mixed_dtypes": {c: str(d) for c, d in df.dtypes.items()},
            "dataframe.mixed_cells": [[repr(v) for v in df[c]] for c in ("params_c", "params_n", "user_attrs_f", "value")]}


def case_summaries(s: Side) -> Obs:
    study = s.study(direction="maximize")
    study.optimize(_number, n_trials=2)
    study.set_user_attr("k", "v")
    summaries = [x for x in s.mod.get_all_study_summaries(storage=s.storage) if x.study_name == study.study_name]
    x = summaries[0]
    fields = ("study_name", "direction", "directions", "best_trial", "user_attrs", "n_trials", "datetime_start")
    cb = s.mod.study.MaxTrialsCallback(3, states=(s.mod.trial.TrialState.COMPLETE,))
    study.optimize(_number, n_trials=10, callbacks=[cb])
    return {"summary.fields": {f: type(getattr(x, f, AttributeError)).__name__ for f in fields},
            "summary.values": (x.direction.name, x.n_trials, x.best_trial.number if x.best_trial else None, x.user_attrs),
            "callback.max_trials": len(study.trials)}


def case_values_and_arguments(s: Side) -> Obs:
    TS = s.mod.trial.TrialState
    out: Obs = {}
    study = s.study()
    for label, ret in (("int", 3), ("bool", True), ("big_int", 2**60)):
        study.optimize(lambda t: ret, n_trials=1)
        out[f"value.{label}"] = (type(study.trials[-1].value).__name__, study.trials[-1].value, type(study.trials[-1].values[0]).__name__)
    out["value.best_type"] = type(study.best_value).__name__
    study.enqueue_trial({"f": 1, "i": 2.0}, user_attrs={"from": "queue"})
    study.optimize(lambda t: t.suggest_float("f", 0, 2) * 0 + t.suggest_int("i", 0, 5) * 0, n_trials=1)
    last = study.trials[-1]
    out["enqueue.types"] = ({k: type(v).__name__ for k, v in sorted(last.params.items())}, last.user_attrs)
    t = study.ask()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t.suggest_int("k", 1, 10, step=3)
        t.suggest_float("g", 0, 1, step=0.3)
        t.suggest_categorical("c", ("a", "b"))
    d = t.distributions
    out["suggest.high_adjusted"] = ((d["k"].high, round(d["g"].high, 9), type(d["c"].choices).__name__),
                                   sorted({w.category.__name__ for w in caught}))
    out["suggest.int_float_bounds"] = outcome(lambda: type(t.suggest_int("fb", 0.0, 10.0)).__name__)
    out["tell.values_keyword"] = outcome(lambda: study.tell(t, values=1.0).value)
    t = study.ask()
    out["tell.one_element_list"] = outcome(lambda: study.tell(t, [2.0]).value)
    out["tell.not_a_trial"] = outcome(lambda: study.tell("abc", 1.0))
    study = s.study()
    for v in (2.0, 1.0, 1.0, 3.0):
        study.optimize(lambda t, v=v: v, n_trials=1)
    out["best.tie"] = study.best_trial.number
    out["study.user_attrs_copy"] = (study.user_attrs.setdefault("z", 1), "z" in study.user_attrs)
    for label, kw in (("catch_none", {"catch": None, "n_trials": 1}), ("n_trials_negative", {"n_trials": -1}), ("timeout_negative", {"timeout": -1, "n_trials": 1}),
                      ("n_jobs_0", {"n_jobs": 0, "n_trials": 1}), ("callbacks_not_iterable", {"callbacks": lambda st, ft: None, "n_trials": 1}),
                      ("n_trials_float", {"n_trials": 1.5})):
        st = s.study()
        out[f"optimize.{label}"] = (outcome(lambda: st.optimize(_number, **kw)), len(st.trials), [x.state.name for x in st.trials])
    out["study.directions_empty"] = outcome(lambda: s.study(directions=[]))
    out["study.direction_enum"] = outcome(lambda: s.study(direction=s.mod.study.StudyDirection.MAXIMIZE).direction.name)
    out["study.direction_upper"] = outcome(lambda: s.study(direction="MAXIMIZE").direction.name)
    multi = s.study(directions=["minimize", "maximize"])
    multi.set_metric_names(["loss", "acc"])
    multi.optimize(lambda t: (1.0, 2.0), n_trials=1)
    out["multi.metric_columns"] = [c for c in multi.trials_dataframe().columns if c.startswith("value")]
    out["multi.metric_names"] = multi.metric_names
    import optuna

    np = __import__("numpy")
    one, two = ["minimize"], ["minimize", "maximize"]
    for label, given, directions in (("numeric_string", "1.5", one), ("numpy_array_1", np.array([1.0]), one),
                                     ("numpy_0d", np.array(1.0), one), ("numpy_array_2_multi", np.array([1.0, 2.0]), two),
                                     ("numpy_array_1_multi", np.array([1.0]), two), ("numpy_2d", np.array([[1.0]]), one)):
        st = s.study(directions=directions)
        t = st.ask()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[f"value.tell_{label}"] = outcome(lambda: st.tell(t, given).state.name)
            t = st.ask()
            out[f"value.tell_values_{label}"] = outcome(lambda: st.tell(t, values=given).state.name)
            t = st.ask()
            out[f"value.tell_complete_{label}"] = (outcome(lambda: st.tell(t, given, state=TS.COMPLETE).state.name),
                                                   st.trials[-1].state.name)
        st = s.study(directions=directions)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = outcome(lambda: st.optimize(lambda t: given, n_trials=1))
        out[f"value.return_{label}"] = (res, [x.state.name for x in st.trials])
    out["mixed.trial_pruned"] = (issubclass(s.mod.TrialPruned, optuna.TrialPruned),
                                 issubclass(s.mod.exceptions.DuplicatedStudyError, optuna.exceptions.DuplicatedStudyError))
    _ = TS
    return out


def case_pruner_and_queue(s: Side) -> Obs:
    TS = s.mod.trial.TrialState
    out: Obs = {}
    study = s.study(pruner=s.mod.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
    first = study.ask()
    first.report(1.0, 0)
    study.tell(first, 1.0)
    worse, better = study.ask(), study.ask()
    worse.report(5.0, 0)
    better.report(0.5, 0)
    out["pruner.should_prune"] = (worse.should_prune(), better.should_prune())
    out["pruner.tell"] = (study.tell(worse, state=TS.PRUNED).value, study.tell(better, 0.5).state.name)
    import optuna  # Optuna's own objects, as a ported script passes them

    for label, kw in (("random", {"sampler": optuna.samplers.RandomSampler(seed=1)}),
                      ("tpe_options", {"sampler": optuna.samplers.TPESampler(n_startup_trials=3, seed=1), "pruner": optuna.pruners.NopPruner()}),
                      ("grid", {"sampler": optuna.samplers.GridSampler({"x": [0.25, 0.5]})})):
        def grid_objective(t: Any) -> float:
            return float(t.suggest_float("x", 0, 1) * 0 + _number(t))

        out[f"sampler.{label}"] = outcome(lambda: s.study(**kw).optimize(grid_objective, n_trials=2))
    study = s.study()
    study.enqueue_trial({"x": 0.5})
    study.enqueue_trial({"x": 0.75})
    out["queue.states"] = [(t.number, t.state.name) for t in study.trials]
    out["queue.waiting"] = [t.number for t in study.get_trials(states=(TS.WAITING,))]
    out["queue.dataframe_states"] = [str(v) for v in study.trials_dataframe(attrs=("number", "state"))["state"]]
    t = study.ask()
    out["queue.ask"] = (t.number, t.suggest_float("x", 0, 1))
    study.tell(t, 1.0)
    d = study.trials[0].distributions["x"]
    out["distribution.attrs"] = {a: shape(getattr(d, a, AttributeError)) for a in ("low", "high", "log", "step", "single")}
    study.optimize(lambda t: t.suggest_categorical("c", [1, 2]) * 0.0 + t.suggest_int("n", 0, 4, step=2) * 0.0, n_trials=1)
    last = study.trials[-1].distributions
    out["distribution.int_cat"] = ({a: shape(getattr(last["n"], a, AttributeError)) for a in ("low", "high", "log", "step", "single")},
                                   shape(last["c"].choices))
    return out


def case_frozen_protocol(s: Side) -> Obs:
    study = s.study()
    study.optimize(_number, n_trials=2)
    a, b = study.trials
    running = study.ask()
    running.suggest_float("x", 0, 1)
    running.set_user_attr("a", 1)
    running.report(0.5, 0)
    seen = study.trials[-1]
    out_running = (seen.state.name, sorted(seen.params), seen.user_attrs, seen.intermediate_values, seen.last_step)
    now = __import__("datetime").datetime.now()
    return {"frozen.naive_datetimes": (a.datetime_start.tzinfo, running.datetime_start.tzinfo, abs((now - a.datetime_start).total_seconds()) < 3600),
            "frozen.running_fields": (study.trials[-1].duration, study.trials[-1].datetime_complete, study.trials[-1].value),
            "frozen.ordering": ([t.number for t in sorted([b, a])], a < b, a == study.trials[0]),
            "frozen.hash": outcome(lambda: hash(a) is not None), "frozen.running_visible": out_running}
