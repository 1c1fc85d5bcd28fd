"""The server's per-trial limit on intermediate values (``tuneport serve --max-intermediate``),
against a real server: a blocking report past it raises InvalidArgumentError, a non-blocking one
raises it at the next report with one warning, later reports wait for their answer (none queued),
nothing past the limit is stored, a repeat of the last step does not count, the trial can still be
told, and a server restarted with a larger limit takes the trial's next reports."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess

LIMIT = 5


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tp.Client]:
    srv = ServerProcess(tmp_path_factory.mktemp("capped") / "t.db", extra=["--max-intermediate", str(LIMIT)]).start()
    try:
        with tp.connect(srv.endpoint, timeout=5.0, retries=1) as c:
            yield c
    finally:
        srv.stop()


def stored_steps(study: tp.Study, number: int) -> list[float]:
    return [s for s, _ in study.trial(number).intermediate]


def test_a_blocking_report_past_the_limit_is_refused_and_the_trial_is_told(capped: tp.Client, name: str) -> None:
    study = capped.create_study(name, space={"x": tp.Float(0, 1)})
    trial = study.ask()
    for step in range(LIMIT):
        trial.report(0.1 * step, step)
    trial.report(0.1 * (LIMIT - 1), LIMIT - 1)  # the last step again: stores nothing, counts nothing
    with pytest.raises(tp.InvalidArgumentError, match=r"holds at most 5 intermediate values \(serve --max-intermediate 5\)") as refused:
        trial.report(1.0, LIMIT)
    assert refused.value.data["reason"] == "max_intermediate"
    assert refused.value.data["max_intermediate"] == LIMIT
    trial.complete(0.5)
    assert stored_steps(study, trial.number) == [float(s) for s in range(LIMIT)]
    assert study.trial(trial.number).state == "COMPLETE"


def test_hello_tells_the_limit_and_the_first_non_blocking_report_past_it_is_refused_by_that_call(capped: tp.Client, name: str) -> None:
    # Learnt only from a refusal before: the first report past the limit was queued, refused in the
    # background, warned of, and raised by the next report.
    with tp.connect(capped.endpoint, timeout=5.0, retries=1) as fresh:  # told by hello alone, no refusal yet
        assert fresh.limits["max_intermediate"] == LIMIT
        study = fresh.create_study(name, space={"x": tp.Float(0, 1)})
        trial = study.ask()
        for step in range(LIMIT):
            trial.report(0.1, step, wait=False)
        trial.report(0.1, LIMIT - 1, wait=False)  # the last step again: not past the limit, queued
        with pytest.raises(tp.InvalidArgumentError, match="max-intermediate 5") as refused:
            trial.report(0.2, LIMIT, wait=False)
        assert refused.value.data["reason"] == "max_intermediate"
        trial.complete(0.5)
        assert stored_steps(study, trial.number) == [float(s) for s in range(LIMIT)]


def test_non_blocking_reports_past_the_limit_raise_at_the_next_report_with_one_warning(
    capped: tp.Client, name: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server older than 2026-12-06 does not say its limit in hello: the client learns it from the refusal.
    monkeypatch.setattr(capped, "limits", {k: v for k, v in capped.limits.items() if k != "max_intermediate"})
    study = capped.create_study(name, space={"x": tp.Float(0, 1)})
    trial = study.ask()
    with caplog.at_level(logging.WARNING, logger="tuneport"):
        refused: tp.InvalidArgumentError | None = None
        for step in range(LIMIT + 20):
            try:
                trial.report(0.1, step, wait=False)
            except tp.InvalidArgumentError as err:  # the refusal of an earlier one, already answered
                refused = err
                break
        if refused is None:
            with pytest.raises(tp.InvalidArgumentError) as raised:
                trial.flush_reports()
            refused = raised.value
        assert refused.data["reason"] == "max_intermediate"
        # Known now: a later report waits for its answer, blocking or not (none queued behind it).
        sent: list[str] = []
        real_call, real_submit = capped._call, capped._submit_report

        def call(op: str, *a: Any, **k: Any) -> Any:
            sent.append(op)
            return real_call(op, *a, **k)

        def submit(*a: Any, **k: Any) -> Any:
            sent.append("queued")
            return real_submit(*a, **k)

        monkeypatch.setattr(capped, "_call", call)
        monkeypatch.setattr(capped, "_submit_report", submit)
        for wait in (False, True):
            with pytest.raises(tp.InvalidArgumentError, match="max-intermediate"):
                trial.report(0.2, LIMIT + 100, wait=wait)
        assert sent == ["report", "report"]
        assert capped.limits["max_intermediate"] == LIMIT  # the refusal named it
        monkeypatch.undo()
    warnings = [r for r in caplog.records if "non-blocking report" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    trial.complete(0.5)
    assert stored_steps(study, trial.number) == [float(s) for s in range(LIMIT)]


def test_the_limit_flag_is_checked(tmp_path: Path) -> None:
    import subprocess

    from conftest import SERVER_MAIN

    out = subprocess.run(
        ["node", str(SERVER_MAIN), "serve", "--storage", str(tmp_path / "t.db"), "--max-intermediate", "0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode != 0
    assert "--max-intermediate must be an integer in [1, 100000000]" in out.stderr


def test_a_server_restarted_with_a_larger_limit_takes_the_next_reports(tmp_path: Path) -> None:
    # The operator's remedy that the refusal names: the worker's trial goes on reporting, no local
    # refusal naming the old limit left behind.
    srv = ServerProcess(tmp_path / "t.db", extra=["--max-intermediate", str(LIMIT)]).start()
    try:
        with tp.connect(srv.endpoint, timeout=5.0, retries=3, outage_budget_s=60) as c:
            study = c.create_study("grown", space={"x": tp.Float(0, 1)})
            trial = study.ask()
            for step in range(LIMIT):
                trial.report(0.1, step)
            with pytest.raises(tp.InvalidArgumentError, match="max-intermediate 5"):
                trial.report(0.1, LIMIT)
            srv.stop()
            srv = ServerProcess(srv.db, port=srv.port, extra=["--max-intermediate", str(LIMIT * 2)]).start()
            assert c.limits["max_intermediate"] == LIMIT
            trial.report(0.2, LIMIT, wait=False)  # past the known limit: waits for its answer, taken
            assert c.limits["max_intermediate"] == LIMIT * 2  # taken past it: hello asked again
            assert stored_steps(study, trial.number) == [float(s) for s in range(LIMIT + 1)]
            trial.report(0.3, LIMIT + 1, wait=False)
            trial.flush_reports()
            trial.complete(0.5)
            assert stored_steps(study, trial.number) == [float(s) for s in range(LIMIT + 2)]
    finally:
        srv.stop()


def test_a_server_restarted_with_a_smaller_limit_refuses_and_the_client_learns_it(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db", extra=["--max-intermediate", str(LIMIT * 2)]).start()
    try:
        with tp.connect(srv.endpoint, timeout=5.0, retries=3, outage_budget_s=60) as c:
            study = c.create_study("shrunk", space={"x": tp.Float(0, 1)})
            trial = study.ask()
            for step in range(LIMIT):
                trial.report(0.1, step)
            srv.stop()
            srv = ServerProcess(srv.db, port=srv.port, extra=["--max-intermediate", str(LIMIT)]).start()
            with pytest.raises(tp.InvalidArgumentError, match="max-intermediate 5"):
                trial.report(0.2, LIMIT)
            assert c.limits["max_intermediate"] == LIMIT  # the refusal named it
            with pytest.raises(tp.InvalidArgumentError, match="max-intermediate 5"):
                trial.report(0.2, LIMIT + 1, wait=False)  # refused by this very call, as after any refusal
            trial.complete(0.5)
            assert stored_steps(study, trial.number) == [float(s) for s in range(LIMIT)]
    finally:
        srv.stop()


def test_intermediate_holds_only_what_the_server_stored_after_non_blocking_reports_were_refused(capped: tp.Client, name: str) -> None:
    # The client recorded each non-blocking report when it queued it, and kept the steps the server
    # refused at its limit: trial.intermediate said 8 values where the server held 5.
    study = capped.create_study(name, space={"x": tp.Float(0, 1)})
    trial = study.ask()
    refused: list[tp.InvalidArgumentError] = []
    for step in range(LIMIT + 3):
        try:
            trial.report(0.1 * step, step, wait=False)
        except tp.InvalidArgumentError as err:  # the refusal of an earlier one, already answered
            refused.append(err)
    try:
        trial.flush_reports()
    except tp.InvalidArgumentError as err:
        refused.append(err)
    assert refused and refused[0].data["reason"] == "max_intermediate"
    assert trial.intermediate == study.trial(trial.number).intermediate
    assert [s for s, _ in trial.intermediate] == [float(s) for s in range(LIMIT)]
    assert trial.frozen().intermediate_values == {s: 0.1 * s for s in range(LIMIT)}
    trial.complete(0.5)


def test_a_retry_that_starts_full_is_refused_saying_its_values_were_carried_over(capped: tp.Client, name: str) -> None:
    # A retry (keep_intermediate) of a trial that reached the limit starts with no room: its every
    # report was refused "it has 5 already", nothing saying that none of the 5 were its own.
    study = capped.create_study(name, space={"x": tp.Float(0, 1)}, max_retries=1, retry_on_fail=True, keep_intermediate=True)
    first = study.ask()
    for step in range(LIMIT):
        first.report(0.1, step)
    first.fail("preempted")
    retry = study.ask()
    assert retry.system_attrs["retry_of"] == first.number and len(retry.intermediate) == LIMIT
    with pytest.raises(tp.InvalidArgumentError, match=rf"5 of them carried over from trial {first.number}, the failed attempt it retries.*keep_intermediate") as refused:
        retry.report(0.2, LIMIT + 10)
    assert refused.value.data["carried"] == LIMIT and refused.value.data["retry_of"] == first.number
    assert [s for s, _ in retry.intermediate] == [float(s) for s in range(LIMIT)]
    retry.complete(0.5)
