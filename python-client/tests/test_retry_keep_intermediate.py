"""A retry that keeps the failed attempt's intermediate values (``keep_intermediate``, Optuna's
``RetryFailedTrialCallback(inherit_intermediate_values=True)``): the server had it, the Python
client could not ask for it."""

from __future__ import annotations

import pytest

import tuneport as tp


@pytest.mark.parametrize("keep", [True, False])
def test_a_retry_starts_with_the_failed_attempts_reports_only_with_keep_intermediate(client: tp.Client, name: str, keep: bool) -> None:
    study = client.create_study(name, space={"x": tp.Float(0, 1)}, strategy="random", max_retries=1, retry_on_fail=True,
                                keep_intermediate=keep)
    first = study.ask()
    first.report(0.5, 1)
    first.report(0.4, 2)
    first.fail("preempted")
    retry = study.ask()
    assert retry.system_attrs["retry_of"] == first.number and retry.params == first.params
    assert retry.intermediate == ([(1.0, 0.5), (2.0, 0.4)] if keep else [])
    retry.report(0.3, 3)  # a worker resuming from its checkpoint reports only later steps
    retry.complete(0.3)
    assert study.trials[-1].intermediate_values == ({1: 0.5, 2: 0.4, 3: 0.3} if keep else {3: 0.3})


def test_optuna_style_create_study_passes_keep_intermediate(server: object, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name, max_retries=2, keep_intermediate=True)  # type: ignore[attr-defined]
    assert study.client.call("get_study", study=name)["study"]["retry"] == {"max_retries": 2, "retry_on_fail": False, "keep_intermediate": True}
