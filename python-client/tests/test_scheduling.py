"""Pruning and multi-fidelity through the client, against a real server with each scheduler."""

from __future__ import annotations

import math
from typing import Any

import pytest

import tuneport as tp

BOX = {"x": tp.Float(0.0, 1.0)}


def run_curve(trial: tp.Trial, level: float, steps: range) -> float:
    """Reports ``level + 1/(1+t)`` at each step and returns the last value."""
    value = math.nan
    for t in steps:
        value = level + 1.0 / (1 + t)
        trial.report(value, t)
    return value


# ---------------------------------------------------------------- median


def median_study(client: tp.Client, name: str) -> tp.Study:
    study = client.create_study(
        name, space=BOX, strategy="tpe", scheduler={"name": "median", "options": {"n_startup_trials": 2}}, seed=1
    )
    for _ in range(2):
        with study.ask() as trial:
            assert trial.budget is None and trial.resume_from is None and trial.rung is None
            assert not trial.should_prune()
            trial.complete(run_curve(trial, 0.1, range(5)))
    return study


def test_median_prunes_a_bad_trial_and_the_with_block_records_pruned(client: tp.Client, name: str) -> None:
    study = median_study(client, name)
    with study.ask() as bad:
        decision = bad.report(1.0, 0)  # at step 0 the median of the complete trials is 1.1
        assert decision.action == "continue" and not bad.should_prune()
        bad.report(0.9, 1)  # median 0.6 at step 1: best so far 0.9 is worse
        raise AssertionError("report should have raised TrialPruned")  # pragma: no cover
    assert bad.should_prune() and bad.state == "PRUNED"
    frozen = study.trial(bad.number)
    assert frozen.state == "PRUNED"
    assert frozen.value == 0.9  # the last reported value
    assert frozen.system_attrs["pruned_at_step"] == 1
    assert frozen.intermediate == [(0.0, 1.0), (1.0, 0.9)]


def test_a_good_trial_is_not_pruned(client: tp.Client, name: str) -> None:
    study = median_study(client, name)
    with study.ask() as good:
        good.complete(run_curve(good, 0.05, range(5)))
    assert study.trial(good.number).state == "COMPLETE" and not good.should_prune()


def test_raise_on_prune_false_returns_the_decision(client: tp.Client, name: str) -> None:
    """The Optuna pattern: report, then check ``should_prune`` and stop yourself."""
    study = median_study(client, name)
    with study.ask() as bad:
        decision = bad.report(7.0, 0, raise_on_prune=False)
        assert decision.action == "prune" and decision.reason and bad.should_prune()
        if bad.should_prune():
            raise tp.TrialPruned(decision.reason)
    assert study.trial(bad.number).state == "PRUNED"


def test_nan_reports_are_the_worst_value(client: tp.Client, name: str) -> None:
    """A trial whose every value so far is NaN is pruned (median, like Optuna); the NaN is stored."""
    study = median_study(client, name)
    with study.ask() as diverged:
        diverged.report(math.nan, 0)
    frozen = study.trial(diverged.number)
    assert frozen.state == "PRUNED" and frozen.value is None  # no finite value to record
    assert len(frozen.intermediate) == 1 and math.isnan(frozen.intermediate[0][1])


@pytest.mark.parametrize(
    "scheduler",
    [
        "median",
        {"name": "percentile", "options": {"percentile": 25}},
        {"name": "threshold", "options": {"upper": 10.0}},
        {"name": "patient", "options": {"patience": 2}},
        {"name": "patient", "options": {"patience": 2, "wrapped": {"name": "median"}}},
        "successive-halving",  # min_resource "auto": no ladder before the first completion
        "hyperband",
        "asha",
        "bohb",
    ],
    ids=lambda s: s if isinstance(s, str) else f"{s['name']}-{len(s['options'])}",
)
def test_a_nan_report_stops_the_first_trial_under_every_scheduler(client: tp.Client, name: str, scheduler: str | dict[str, Any]) -> None:
    """README: "A NaN report stops a trial at once under every scheduler" -- also in a fresh study,
    before any trial completed, and under ``patient`` whatever its patience."""
    study = client.create_study(name, space=BOX, strategy="random", scheduler=scheduler, max_resource=27, seed=1)
    with study.ask() as trial:
        assert trial.report(1.0, 1).action == "continue"
        decision = trial.report(math.nan, 2, raise_on_prune=False)
        assert decision.action == "prune" and decision.reason, decision
        raise tp.TrialPruned(decision.reason)
    frozen = study.trial(trial.number)
    assert frozen.state == "PRUNED" and frozen.system_attrs["pruned_at_step"] == 2


def test_step_rules_and_reports_after_the_end(client: tp.Client, name: str) -> None:
    study = median_study(client, name)
    with study.ask() as trial:
        trial.report(0.5, 0)
        trial.report(0.5, 0)  # the same step and value again: harmless
        with pytest.warns(UserWarning, match="already reported"):
            trial.report(0.4, 0)  # the same step with another value: ignored with a warning, as in Optuna
        trial.report(0.3, 2.5)  # steps need not be integers (seconds, fractions of an epoch)
        with pytest.raises(tp.InvalidArgumentError, match="steps must increase"):
            trial.report(0.3, 1)  # out of order
        with pytest.raises(tp.InvalidArgumentError):
            trial.report(0.3, -1)
        with pytest.raises(tp.InvalidArgumentError):
            trial.report(0.3, math.inf)
        trial.complete(0.3)
    with pytest.raises(tp.FailedPreconditionError, match="COMPLETE"):
        trial.report(0.2, 3)
    # The server says the same to a worker whose object does not know the trial finished.
    with pytest.raises(tp.FailedPreconditionError, match="not RUNNING"):
        client.call("report", study=name, trial=trial.number, token=trial.lease.token, step=3, value=0.2)
    assert study.trial(trial.number).intermediate == [(0.0, 0.5), (2.5, 0.3)]


# ---------------------------------------------------------------- ASHA


def test_asha_stopping_gives_the_budget_and_stops_a_bad_trial(client: tp.Client, name: str) -> None:
    sched = {"name": "asha", "options": {"min_resource": 1, "max_resource": 9, "reduction_factor": 3}}
    study = client.create_study(name, space=BOX, strategy="random", scheduler=sched, seed=2)
    with study.ask() as good:
        assert good.budget == 9 and good.resume_from is None
        good.complete(run_curve(good, 0.1, range(1, int(good.budget) + 1)))
    with study.ask() as bad:
        assert bad.budget == 9
        bad.report(3.0, 0.5)  # below the first rung (1): nothing to compare
        bad.report(3.0, 1)  # rung 0 holds 0.6; 3.0 is worse than its cut-off
    frozen = study.trial(bad.number)
    assert bad.should_prune() and frozen.state == "PRUNED" and frozen.system_attrs["pruned_at_step"] == 1
    assert frozen.system_attrs["budget"] == 9


def test_the_study_budget_is_the_schedulers_max_resource(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=BOX, scheduler="asha", max_resource=9, seed=2)
    assert study.max_resource == 9.0
    assert study.scheduler is not None and study.scheduler["options"]["max_resource"] == 9
    assert study.strategy["name"] == "auto"  # the default strategy under a scheduler
    with study.ask() as trial:
        assert trial.budget == 9
        trial.complete(run_curve(trial, 0.1, range(1, 10)))
    assert client.load_study(name).max_resource == 9.0
    with pytest.raises(tp.InvalidArgumentError, match="max_resource"):
        client.create_study(name, space=BOX, load_if_exists=True, max_resource=27)


def test_asha_promotion_resumes_the_best_configuration(client: tp.Client, name: str) -> None:
    sched = {"name": "asha", "options": {"mode": "promotion", "min_resource": 1, "max_resource": 9, "reduction_factor": 3}}
    study = client.create_study(name, space=BOX, strategy="random", scheduler=sched, seed=3)
    finals: dict[int, float] = {}
    for level in (0.3, 0.1, 0.2):
        with study.ask() as trial:
            assert trial.rung == 0 and trial.budget == 1 and trial.resume_from is None and trial.resume_budget is None
            trial.complete(run_curve(trial, level, range(1, int(trial.budget) + 1)))
            finals[trial.number] = level
    best = min(finals, key=lambda n: finals[n])
    with study.ask() as promoted:
        assert promoted.rung == 1 and promoted.budget == 3
        assert promoted.resume_from == best and promoted.resume_budget == 1
        assert promoted.params == study.trial(best).params
        # Train on from the resumed budget to the new one (the checkpoint of `resume_from`).
        start = int(promoted.resume_budget) + 1
        promoted.complete(run_curve(promoted, 0.1, range(start, int(promoted.budget) + 1)))
    with study.ask() as fresh:  # nothing else is promotable: a new configuration at rung 0
        assert fresh.rung == 0 and fresh.budget == 1 and fresh.resume_from is None
        fresh.report(math.nan, 1)  # promotion mode prunes a diverged run at once
    assert study.trial(fresh.number).state == "PRUNED"


# ---------------------------------------------------------------- Hyperband


def test_hyperband_assigns_brackets_and_prunes_within_a_bracket(client: tp.Client, name: str) -> None:
    sched = {"name": "hyperband", "options": {"min_resource": 1, "max_resource": 9, "reduction_factor": 3}}
    study = client.create_study(name, space=BOX, strategy="random", scheduler=sched, seed=4)
    good_in: set[int] = set()
    pruned_in: set[int] = set()
    for _ in range(60):
        with study.ask() as trial:
            assert trial.budget == 9 and trial.bracket in (0, 1, 2)
            bracket = trial.bracket
            assert bracket is not None
            if bracket not in good_in:
                trial.complete(run_curve(trial, 0.1, range(1, 10)))
                good_in.add(bracket)
                continue
            trial.complete(run_curve(trial, 3.0, range(1, 10)))  # pruned at its bracket's first rung
        if bracket == 2:  # bracket 2 has no rung below max_resource: it never prunes
            assert trial.state == "COMPLETE"
        else:
            assert trial.state == "PRUNED"
            assert study.trial(trial.number).system_attrs["pruned_at_step"] == (1 if bracket == 0 else 3)
            pruned_in.add(bracket)
        if pruned_in == {0, 1}:
            break
    assert pruned_in == {0, 1}
