"""``Study.trials_dataframe``: the trials as a pandas DataFrame with Optuna's column names.

pandas is optional (``pip install pandas``); it is imported on the first call only."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ._trial import FrozenTrial

#: Attributes whose values are maps: one column per key, named ``<attr>_<key>``.
_NESTED = ("params", "user_attrs", "system_attrs", "intermediate_values", "values", "constraints")


def _pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError as exc:
        raise ImportError("Study.trials_dataframe() needs pandas: pip install pandas") from exc


def _attr(trial: FrozenTrial, attr: str) -> Any:
    if attr == "number":
        return trial.number
    if attr == "value":
        return trial.value
    if attr == "values":
        # Optuna's multi-objective columns: values_0, values_1, ...
        return dict(enumerate(trial.values or []))
    if attr == "state":
        return str(trial.state)  # the name, as in Optuna's frame
    if attr == "datetime_start":
        return _timestamp(trial.started_at)
    if attr == "datetime_complete":
        return _timestamp(trial.finished_at)
    if attr == "duration":
        return trial.duration  # None while it runs, as in Optuna
    if attr == "params":
        return trial.params
    if attr == "user_attrs":
        return trial.user_attrs
    if attr == "system_attrs":
        return trial.system_attrs
    if attr == "intermediate_values":
        return trial.intermediate_values
    if attr == "constraints":
        # Optuna 5's constraints_<name> columns; the study keeps the values, not their names, so
        # they are numbered in the order they were told (constraints_0, constraints_1, ...).
        return dict(enumerate(trial.constraints or []))
    known = f"trials_dataframe's attrs: number, value, state, datetime_start, datetime_complete, duration, {', '.join(_NESTED)}"
    if hasattr(trial, attr):
        # One the trial has (last_step, distributions: Optuna's frame shows them): not "no attribute".
        raise AttributeError(f"trials_dataframe has no column for FrozenTrial.{attr} ({known})")
    raise AttributeError(f"'FrozenTrial' object has no attribute {attr!r} ({known})")  # Optuna's getattr(FrozenTrial, attr), in its words


def _timestamp(epoch_s: float | None) -> datetime | None:
    return None if epoch_s is None else datetime.fromtimestamp(epoch_s)


def trials_dataframe(
    trials: Sequence[FrozenTrial],
    attrs: Sequence[str],
    multi_index: bool,
    metric_names: Sequence[str] | None = None,
    n_objectives: int = 1,
) -> Any:
    """One row per trial, in ``attrs`` order; nested attributes spread over sorted key columns
    (none when no trial has a key). An empty study gives an empty DataFrame, as in Optuna. With
    ``metric_names`` (``Study.set_metric_names``) the objective columns are named by them, as in
    Optuna: ``value_<name>`` for one objective, ``values_<name>`` in the names' order for several."""
    pd = _pandas()
    if not trials:
        return pd.DataFrame()
    keys: dict[str, set[Any]] = {a: set() for a in attrs if a in _NESTED}
    rows: list[dict[tuple[str, Any], Any]] = []
    for t in trials:
        row: dict[tuple[str, Any], Any] = {}
        for a in attrs:
            v = _attr(t, a)
            if a == "values":
                # A trial without values has None in each objective's column, as in Optuna (so
                # the columns are there while every trial failed or runs).
                told: list[float | None] = list(t.values) if t.values else [None] * n_objectives
                v = dict(zip(metric_names, told)) if metric_names else dict(enumerate(told))
            elif a == "value" and metric_names:
                row[(a, metric_names[0])] = v
                continue
            if a in _NESTED:
                for k, x in v.items():
                    row[(a, k)] = x
                    keys[a].add(k)
            else:
                row[(a, "")] = v
        rows.append(row)
    columns: list[tuple[str, Any]] = []
    for a in attrs:
        if a == "values" and metric_names:
            columns.extend((a, k) for k in metric_names)
        elif a == "value" and metric_names:
            columns.append((a, metric_names[0]))
        elif a in _NESTED:
            columns.extend((a, k) for k in sorted(keys[a], key=lambda k: (str(type(k)), k)))
        else:
            columns.append((a, ""))
    df = pd.DataFrame(rows, columns=pd.MultiIndex.from_tuples(columns))
    if not multi_index:
        df.columns = ["_".join(str(c) for c in col if c != "") for col in columns]
    return df
