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
        d = trial.report(0.9, 0, hypergradients={"lr": 3.0, "wd": -0.5})
        assert d.action == "update"
        # Adam's first step is lr (0.1) of the internal range (ln-range for lr, linear for wd), clipped to the bounds.
        assert math.log(num(trial.params["lr"])) == pytest_approx(
            max(math.log(1e-4), math.log(num(start["lr"])) - 0.1 * math.log(1e4))
        )
        assert num(trial.params["wd"]) == pytest_approx(min(0.1, num(start["wd"]) + 0.01))
        assert num(trial.params["lr"]) < num(start["lr"]) or num(start["lr"]) == 1e-4
        assert trial.params["act"] == start["act"]
        trial.report(0.8, 1, hypergradients={"lr": 3.0, "wd": float("nan")})  # a NaN is ignored, with a warning
        trial.report(0.7, 2)  # no hypergradients: nothing changes
        trial.complete(0.7)
    path = study.trajectory(trial.number)
    assert [p.step for p in path] == [None, 0, 1]
    assert path[0].params == {"lr": start["lr"], "wd": start["wd"]}
    assert path[-1].params == {"lr": trial.params["lr"], "wd": trial.params["wd"]}
    assert [p.value for p in path] == [None, 0.9, 0.8]
    assert study.trial(trial.number).system_attrs["hg_warnings"] == ["step 1: hypergradient of 'wd' is NaN; ignored"]


def test_a_hypergradient_the_strategy_would_ignore_is_refused_naming_the_valid_ones(client: tp.Client, name: str) -> None:
    """A misspelt name (or a categorical's) was sent and ignored by the server, noted only in the
    trial's hg_warnings: the rate the loop meant to tune never moved and nothing said why."""
    space = {"lr": tp.Float(1e-4, 1.0, log=True), "wd": tp.Float(0.0, 0.1), "act": tp.Categorical(["relu", "gelu"])}
    study = client.create_study(name, strategy="hypergradient", seed=1, space=space)
    with study.ask() as trial:
        for wrong in ("learning_rate", "act"):
            with pytest.raises(tp.InvalidArgumentError, match=rf"\['{wrong}'\].*\['lr', 'wd'\]") as err:
                trial.report(0.9, 0, hypergradients={"lr": 1.0, wrong: 1.0}, wait=False)
            assert err.value.data["valid"] == ["lr", "wd"]
        assert trial.report(0.9, 0, hypergradients={"lr": 1.0}).action == "update"
        trial.complete(0.9)
    assert [s for s, _ in study.trial(trial.number).intermediate] == [0.0]  # the refused reports were not sent
    assert "hg_warnings" not in study.trial(trial.number).system_attrs


def test_a_misspelt_name_in_the_params_option_is_refused_at_the_first_report(client: tp.Client, name: str) -> None:
    # options.params names what to tune; 'lrr' tuned nothing, and 'lr' was then ignored in silence.
    study = client.create_study(
        name, strategy={"name": "hypergradient", "options": {"params": ["lrr", "wd"]}}, seed=1,
        space={"lr": tp.Float(1e-4, 1.0, log=True), "wd": tp.Float(0.0, 0.1)},
    )
    with study.ask() as trial:
        with pytest.raises(tp.InvalidArgumentError, match=r"option params is \['lrr', 'wd'\].*\['lrr'\] in params name no float parameter"):
            trial.report(0.9, 0, hypergradients={"lr": 1.0})
        assert trial.report(0.9, 0, hypergradients={"wd": 1.0}).action == "update"  # 'wd' is tuned
        trial.complete(0.9)


def num(x: object) -> float:
    assert isinstance(x, (int, float)) and not isinstance(x, bool)
    return float(x)


def pytest_approx(x: float) -> object:
    return pytest.approx(x, rel=1e-6, abs=1e-12)
