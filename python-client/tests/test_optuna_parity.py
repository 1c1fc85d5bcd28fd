"""Optuna 5.0's loop rules that a ported script relies on, against a real server."""

from __future__ import annotations

import math
import uuid

import pytest

import tuneport as tp
from conftest import ServerProcess


def test_a_spent_budget_runs_no_trial_as_in_optuna(server: ServerProcess) -> None:
    """`n_trials=100 - len(study.trials)` or `timeout=deadline - time.time()` can come out negative:
    Optuna then runs no trial and returns; tuneport raised ValueError. A NaN timeout, which would
    never end the loop, is still refused."""
    study = tp.create_study(study_name=f"spent-{uuid.uuid4().hex[:8]}", storage=server.endpoint)
    ran: list[int] = []

    def objective(trial: tp.Trial) -> float:
        ran.append(trial.number)
        return 1.0

    study.optimize(objective, n_trials=-3)
    study.optimize(objective, timeout=-0.5)
    study.optimize(objective, n_trials=5, timeout=-0.5, n_jobs=2)
    assert ran == [] and study.trials == []
    with pytest.raises(ValueError, match="NaN"):
        study.optimize(objective, n_trials=1, timeout=math.nan)
    study.optimize(objective, n_trials=1)
    assert ran == [0]
