"""Differential audit of tuneport's Python client against Optuna 5.0.

Runs the SAME user code twice, once with ``import optuna`` (an in-memory study) and once with
``import tuneport`` against a real ``tuneport serve``, and compares what the code can observe:
return types, attribute names, the exceptions raised (by the class Optuna raises, looked up under the
same name in ``tuneport.exceptions`` or the builtins, so that ``except optuna.exceptions.X`` or
``except ValueError`` in a ported script still catches), dataframe columns and dtypes, the order of
trials, what callbacks receive, ``optimize``'s n_trials/timeout/catch/n_jobs/stop rules, and the
errors of misuse. The user code only depends on what both libraries promise: objectives return values
computed from the trial number, never from sampled parameters, so the two samplers may differ.

Each observation is ``same``, ``documented`` (a difference python-client/README.md's "Coming from
Optuna" section or docs/MIGRATING-FROM-OPTUNA.md states on purpose; KNOWN below names where) or
``NEW``. With ``--strict`` the exit status is 1 when any is NEW (the test
python-client/tests/test_optuna_parity.py runs it so). Needs optuna (5.x) and pandas.

    python bench/optuna_parity.py                      # starts its own server (TUNEPORT_BENCH_PORTS, TUNEPORT_CLI)
    python bench/optuna_parity.py --endpoint tcp://127.0.0.1:5555 --json out.json --strict
"""

from __future__ import annotations

import argparse
import builtins
import json
import logging
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import optuna_parity_cases as objects  # noqa: E402
import optuna_parity_loop as loop  # noqa: E402
import optuna_parity_values as values  # noqa: E402
from optuna_parity_cases import Obs, Side, builtin_base  # noqa: E402

CASES: list[Callable[[Side], Obs]] = [objects.case_best_when_empty, objects.case_optimize_basic,
    objects.case_dataframe, loop.case_catch, loop.case_loop_rules, objects.case_ask_tell, objects.case_suggest,
    objects.case_report, objects.case_study_misc, objects.case_live_trial, objects.case_pruned_value,
    objects.case_dataframe_edges, objects.case_dataframe_dtypes,
    objects.case_summaries, objects.case_values_and_arguments,
    objects.case_pruner_and_queue, loop.case_threads_and_catch, objects.case_frozen_protocol, loop.case_log_lines,
    values.case_numpy_values]

# Differences stated on purpose, key -> where and why (python-client/README.md "Coming from Optuna").
KNOWN: dict[str, str] = {
    "report.returns": "report returns the scheduler's Decision (Optuna: None)",
    "frozen.distribution_types": "distributions are tuneport's classes (Float, Int, Categorical)",
    "frozen.system_attrs_keys": "system_attrs holds the server's worker (and fail_reason, ...)",
    "dataframe.columns": "more system_attrs_* columns (worker, fail_reason, ...)",
    "dataframe.dtypes": "more system_attrs_* columns (worker, fail_reason, ...)",
    "state.enum": "TrialState members are strings: str(state) and state.value are the name; WAITING first",
    "study.sampler": "no sampler/pruner attribute: the server runs them (study.strategy, study.scheduler)",
    "multi.direction": "a multi-objective study's direction is the first objective's (Optuna: RuntimeError)",
    "multi.trial_value": "a multi-objective trial's value is None (Optuna: RuntimeError)",
    "tell.inf": "an infinite value fails the trial (Optuna completes it with inf)",
    "report.step_float": "steps are numbers: a float step is taken (multi-fidelity budgets)",
    "report.lower_step": "a report below the last step is refused (Optuna takes steps in any order)",
    "suggest.categorical_repeat": "categorical choices must be distinct (Optuna accepts a repeat)",
    "suggest.float_nan": "a NaN bound is a ValueError (Optuna's OverflowError comes from its own rounding, not a check)",
    "study.both_directions": "direction=d with directions=[d] is accepted when they agree (Optuna refuses both)",
    "optimize.callbacks_not_iterable": "optimize checks its arguments before the first trial (Optuna: after it)",
    "mixed.trial_pruned": "tuneport's exceptions are not subclasses of Optuna's (Optuna is optional): mix no imports",
    "value.tell_numeric_string": "a string is not a number: tell fails the trial with Optuna's warning (Optuna 5.0: TypeError, trial left RUNNING)",
    "value.tell_values_numeric_string": "a string is not a number: tell fails the trial with Optuna's warning (Optuna 5.0: TypeError, trial left RUNNING)",
    "value.tell_complete_numeric_string": "tell(t, '1.5', state=COMPLETE) raises InvalidArgumentError, a ValueError as for any value that cannot be cast (Optuna 5.0: TypeError from its NaN check); RUNNING in both",
    "value.return_numeric_string": "an objective returning a string fails its trial (Optuna 5.0: AssertionError, trial left RUNNING)",
    "sampler.grid": "GridSampler is refused with the space= and strategy='grid' to write (the grid enumerates the declared space)",
    "stop.other_thread": "study.stop() from another thread while optimize runs ends the loop (Optuna: RuntimeError, the loop goes on)",
    "dataframe.mixed_cells": "a FAIL trial keeps the enqueued values it did not suggest in params (for its retry)",
    "dataframe.mixed_dtypes": "a FAIL trial keeps the enqueued values it did not suggest in params (for its retry)",
    "enqueue.skip_whole_float": "skip_if_exists compares numbers by value: n=2.0 repeats n=2 (Optuna: another type, enqueued)",
    "user_attr.not_json": "attributes are JSON, as in Optuna's RDB and journal storages (its in-memory one keeps any object)",
    "suggest.numpy_choices": "a numpy array's choices come back as Python values (docs/MIGRATING-FROM-OPTUNA.md)",
    "frozen.setter": "FrozenTrial fields are read-only (dataclasses.replace or create_trial)",
}


# ---- comparing ----

def _catches(opt_err: BaseException, tp_err: BaseException, tp: Any) -> bool:
    """``except <the class Optuna raised>`` in a ported script (where ``optuna`` is tuneport) catches
    tuneport's error, and both are the same builtin exception."""
    name = type(opt_err).__name__
    cls = getattr(tp.exceptions, name, None) or getattr(tp, name, None) or getattr(builtins, name, None)
    return isinstance(cls, type) and isinstance(tp_err, cls) and builtin_base(opt_err) == builtin_base(tp_err)


def same(a: Any, b: Any, tp: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == 2 and a[0] == b[0] == "raised":
        return _catches(a[1], b[1], tp)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y, tp) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k], tp) for k in a)
    return bool(a == b) if not isinstance(a, BaseException) else False


def printable(v: Any) -> Any:
    if isinstance(v, BaseException):
        return f"{type(v).__name__}({builtin_base(v)})"
    if isinstance(v, (list, tuple)):
        return [printable(x) for x in v]
    if isinstance(v, dict):
        return {k: printable(x) for k, x in v.items()}
    if isinstance(v, set):
        return sorted(printable(x) for x in v)
    return v


def _run_case(case: Callable[[Side], Obs], side: Side) -> Obs:
    try:
        return case(side)
    except Exception as err:  # noqa: BLE001 - a case that raises is one observation
        return {case.__name__[5:]: ("raised", err)}


def run(endpoint: str) -> list[dict[str, Any]]:
    import optuna

    import tuneport as tp

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("tuneport").setLevel(logging.ERROR)
    sides = (Side(optuna, optuna.storages.InMemoryStorage()), Side(tp, endpoint))
    rows: list[dict[str, Any]] = []
    for case in CASES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = [_run_case(case, side) for side in sides]
        a, b = got
        for key in sorted(set(a) | set(b), key=lambda k: (k not in a, k)):
            va, vb = a.get(key, "<absent>"), b.get(key, "<absent>")
            status = "same" if same(va, vb, tp) else ("documented" if key in KNOWN else "NEW")
            rows.append({"case": case.__name__[5:], "key": key, "status": status, "optuna": printable(va),
                         "tuneport": printable(vb), "why": KNOWN.get(key, "") if status != "same" else ""})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", help="a running tuneport server (default: start one on a temporary SQLite file)")
    parser.add_argument("--json", type=Path, help="write every observation here")
    parser.add_argument("--all", action="store_true", help="print the observations that are the same too")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a difference is not documented (NEW)")
    args = parser.parse_args(argv)
    server = None
    if args.endpoint is None:
        from common import Server

        server = Server()
    try:
        rows = run(args.endpoint or server.endpoint)  # type: ignore[union-attr]
    finally:
        if server is not None:
            server.stop()
    for row in rows:
        if args.all or row["status"] != "same":
            print(f"{row['status']:<10} {row['key']}\n    optuna:   {row['optuna']}\n    tuneport: {row['tuneport']}"
                  + (f"\n    why:      {row['why']}" if row["why"] else ""))
    counts = {s: sum(r["status"] == s for r in rows) for s in ("same", "documented", "NEW")}
    print(f"{len(rows)} observations: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str) + "\n")
    return 1 if args.strict and counts["NEW"] else 0


if __name__ == "__main__":
    sys.exit(main())
