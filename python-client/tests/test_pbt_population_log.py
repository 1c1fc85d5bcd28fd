"""`optimize`/`ask_many` on a PBT study whose population is taken ends saying so (real server).

A Ray Tune user running PBT over two worker processes, each with `ask_many(2)` on a
population of 2, saw the second ask of each worker end with "the search space is exhausted": PBT
has no search space to exhaust; the server's refusal (`reason: population_full`) says every
member is running, waiting or complete, and that is what the loop now logs."""

from __future__ import annotations

import logging

import pytest

import tuneport as tp


def test_ask_many_logs_the_full_population(client: tp.Client, name: str, caplog: pytest.LogCaptureFixture) -> None:
    study = client.create_study(
        name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=0,
        strategy={"name": "pbt", "options": {"population_size": 2, "perturbation_interval": 2}},
    )
    members = [study.ask(), study.ask()]
    with caplog.at_level(logging.INFO, logger="tuneport"):
        assert list(study.ask_many(1)) == []
    text = caplog.text
    assert "every one of the 2 PBT members is running, waiting or complete" in text
    assert "search space is exhausted" not in text
    for m in members:
        m.complete(1.0)
    # A population that completed: the same words, not "exhausted".
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="tuneport"):
        study.optimize(lambda t: 1.0, n_trials=1)
    assert "PBT members is running, waiting or complete" in caplog.text
    assert "search space is exhausted" not in caplog.text
