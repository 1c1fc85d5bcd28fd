"""A Ray Tune user's scheduler options, refused with where each name went (real server, real client).

Ray Tune's ASHAScheduler(max_t=..., grace_period=..., time_attr=..., metric=..., mode="min"),
HyperBandScheduler / HyperBandForBOHB(max_t=...) and MedianStoppingRule(grace_period=...,
min_samples_required=...) ported as `scheduler={"name": ..., "options": {...}}` were refused with
the list of tuneport's options only (and asha's `mode: "min"` as a bad enum value), where PBT's
refusals already said where Ray's names went."""

from __future__ import annotations

from typing import Any

import pytest

import tuneport as tp

SPACE = {"lr": tp.Float(1e-3, 1.0, log=True)}


def refusal(client: tp.Client, name: str, scheduler: str, options: dict[str, Any]) -> str:
    with pytest.raises(tp.InvalidArgumentError) as err:
        client.create_study(name, space=SPACE, max_resource=9, scheduler={"name": scheduler, "options": options})
    return str(err.value)


def test_asha_ray_names_say_where_they_went(client: tp.Client, name: str) -> None:
    msg = refusal(client, name, "asha", {"max_t": 9, "grace_period": 1, "time_attr": "training_iteration", "metric": "loss"})
    assert "max_t: Ray Tune's name; here max_resource" in msg
    assert "grace_period: Ray Tune's name; here min_resource" in msg
    assert "time_attr: Ray Tune's name; here the step each report carries" in msg
    assert "metric: Ray Tune's name; here the value each report carries" in msg


def test_asha_ray_mode_is_the_direction(client: tp.Client, name: str) -> None:
    msg = refusal(client, name, "asha", {"mode": "min"})
    assert "'stopping'" in msg and "'promotion'" in msg
    assert "Ray Tune's mode 'min'/'max' is the study's direction" in msg
    # Not a Ray value: the plain enum refusal, no hint.
    assert "Ray Tune" not in refusal(client, name, "asha", {"mode": "stop"})


@pytest.mark.parametrize("scheduler", ["hyperband", "bohb"])
def test_hyperband_and_bohb_ray_names(client: tp.Client, name: str, scheduler: str) -> None:
    msg = refusal(client, name, scheduler, {"max_t": 9, "mode": "max"})
    assert "max_t: Ray Tune's name; here max_resource" in msg
    assert "mode: Ray Tune's metric mode ('min'/'max'); here the study's direction" in msg


def test_median_stopping_rule_names(client: tp.Client, name: str) -> None:
    msg = refusal(client, name, "median", {"grace_period": 2, "min_samples_required": 3})
    assert "grace_period: Ray Tune's name; here n_warmup_steps" in msg
    assert "min_samples_required: Ray Tune's name; here n_min_trials" in msg


@pytest.mark.parametrize("scheduler", ["asha", "hyperband", "bohb"])
def test_stop_last_trials_says_where_it_went(client: tp.Client, name: str, scheduler: str) -> None:
    """Ray's ASHAScheduler, HyperBandScheduler and HyperBandForBOHB all take stop_last_trials."""
    msg = refusal(client, name, scheduler, {"stop_last_trials": False})
    assert "stop_last_trials: Ray Tune's name (stop a trial at max_t); here a trial trains to its budget" in msg


def test_median_pausing_names_say_there_is_no_pausing(client: tp.Client, name: str) -> None:
    """MedianStoppingRule's hard_stop=False pauses instead of stopping, for min_time_slice at least."""
    msg = refusal(client, name, "median", {"hard_stop": False, "min_time_slice": 60})
    assert "hard_stop: Ray Tune's name; here a pruned trial always stops" in msg
    assert "min_time_slice: Ray Tune's name (how long a paused trial runs before it yields); no counterpart" in msg


def test_the_translated_options_run(client: tp.Client, name: str) -> None:
    """What the hints name is accepted: Ray's ASHAScheduler(max_t=9, grace_period=1)."""
    study = client.create_study(name, space=SPACE, max_resource=9, scheduler={"name": "asha", "options": {"min_resource": 1}})
    assert study.scheduler is not None and study.scheduler["options"]["max_resource"] == 9
