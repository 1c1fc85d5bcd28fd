"""Ctrl-C in ``optimize(n_jobs > 1)`` while the server is away: the trials still running in the
loop's threads are told FAIL, interrupted, each with one short attempt (``Trial._tell_interrupted``:
a second for its turn on the trial, one for the connection...). They were told one after another,
and each waited its second for the trial's turn and its second for the connection, both held by
its worker's blocking report waiting out the outage: the interrupt propagated after 2 s per job
(8.1 s with n_jobs=4 here), not after one short attempt. Now they are told at once.

By order, not by time: each hurried FAIL waits at a barrier of all of them before it is sent,
which they reach together only when told at once (one after another, the first waits there alone
until the barrier's hang guard breaks it). Real ``tuneport serve``, killed, and a real SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, until
from tuneport import _optimize


# Ctrl-C must raise KeyboardInterrupt here, whatever shell started the tests (conftest).
pytestmark = pytest.mark.usefixtures("ctrl_c_raises")


JOBS = 4


def test_ctrl_c_in_optimize_tells_the_open_trials_fail_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=5, retries=0, outage_budget_s=30)
    study = client.create_study("s")
    running = threading.Barrier(JOBS + 1)
    together = threading.Barrier(JOBS, timeout=60)  # the hang guard of a FAIL told alone
    broken: list[BaseException] = []
    tell = _optimize._Run.tell_interrupted

    def tell_together(self: _optimize._Run, trial: tp.Trial, exc: BaseException) -> None:
        try:
            together.wait()
        except threading.BrokenBarrierError as err:
            broken.append(err)
        tell(self, trial, exc)

    monkeypatch.setattr(_optimize._Run, "tell_interrupted", tell_together)

    def objective(trial: tp.Trial) -> float:
        running.wait(60)
        step = 0
        while True:  # blocking reports: once the server is gone, one waits out the outage
            trial.report(0.1, step)
            step += 1

    main = threading.main_thread()
    assert threading.current_thread() is main

    def ctrl_c() -> None:
        running.wait(60)
        srv.kill()
        # A worker's report waits for the server, holding the connection (the others wait their turn).
        until(lambda: client._channel._lock.locked(), "a worker's report waits for the server")  # noqa: SLF001
        os.kill(os.getpid(), signal.SIGINT)

    interrupter = threading.Thread(target=ctrl_c, daemon=True)
    try:
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            interrupter.start()
            with pytest.raises(KeyboardInterrupt):
                study.optimize(objective, n_trials=JOBS, n_jobs=JOBS)
        interrupter.join(60)
        assert broken == [], "the open trials' FAILs were told one after another"
        # The server is away: each FAIL was tried once and named as not told.
        told: Any = [r.getMessage() for r in caplog.records if "could not tell trial" in r.getMessage()]
        assert len(told) == JOBS, [r.getMessage() for r in caplog.records]
    finally:
        client.close()
        srv.kill()
