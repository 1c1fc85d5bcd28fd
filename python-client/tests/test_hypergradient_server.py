"""The hypergradient strategy end to end: a real server process, the client's
``report(..., hypergradients=...)`` and ``Study.trajectory`` (the example runs in test_examples.py)."""

from __future__ import annotations

import math

import pytest

import tuneport as tp


def test_report_with_hypergradients_returns_bounded_log_aware_updates(client: tp.Client, name: str) -> None:
    study = client.create_study(
        name, strategy={"name": "hypergradient", "options": {"lr": 0.1, "step_rule": "adam"}}, seed=1,
        space={"lr": tp.Float(1e-4, 1.0, log=True), "wd": tp.Float(0.0, 0.1), "act": tp.Categorical(["relu", "gelu"])},
    )
    trial = study.ask()
    start = dict(trial.params)
    with trial:
        d = trial.report(0.9, 0, hypergradients={"lr": 3.0, "wd": -0.5, "act": 1.0, "nope": float("nan")})
        assert d.action == "update"
        # Adam's first step is lr (0.1) of the internal range (ln-range for lr, linear for wd), clipped to the bounds.
        assert math.log(num(trial.params["lr"])) == pytest_approx(
            max(math.log(1e-4), math.log(num(start["lr"])) - 0.1 * math.log(1e4))
        )
        assert num(trial.params["wd"]) == pytest_approx(min(0.1, num(start["wd"]) + 0.01))
        assert num(trial.params["lr"]) < num(start["lr"]) or num(start["lr"]) == 1e-4
        assert trial.params["act"] == start["act"]
        trial.report(0.8, 1, hypergradients={"lr": 3.0})
        trial.report(0.7, 2)  # no hypergradients: nothing changes
        trial.complete(0.7)
    path = study.trajectory(trial.number)
    assert [p.step for p in path] == [None, 0, 1]
    assert path[0].params == {"lr": start["lr"], "wd": start["wd"]}
    assert path[-1].params == {"lr": trial.params["lr"], "wd": trial.params["wd"]}
    assert [p.value for p in path] == [None, 0.9, 0.8]
    warnings = study.trial(trial.number).system_attrs["hg_warnings"]
    assert any("'act' is not a tuned" in w for w in warnings)
    assert any("'nope' is not a tuned" in w for w in warnings)


def num(x: object) -> float:
    assert isinstance(x, (int, float)) and not isinstance(x, bool)
    return float(x)


def pytest_approx(x: float) -> object:
    return pytest.approx(x, rel=1e-6, abs=1e-12)
