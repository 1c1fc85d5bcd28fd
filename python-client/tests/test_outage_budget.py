"""The outage budget across the client's two channels (an audit of training scripts against a
killed and restarted server, 2026-12-06): the background thread's heartbeats and non-blocking
reports, and the training loop's own requests. Real server processes."""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp

from conftest import ServerProcess

HANG_S = 60.0  # only catches a hang


def test_a_restart_longer_than_a_heartbeat_is_ridden_out_by_the_next_non_blocking_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A heartbeat looks for the server for its timeout only; when it failed, the background
    thread's next report was given a second's grace instead of ``outage_budget_s`` (as if it had
    waited the budget out), so a restart longer than that failed the report, and the trial."""
    srv = ServerProcess(tmp_path / "t.db", extra=("--report-commit-ms", "0")).start()  # every acknowledged report stored
    try:
        with tp.connect(srv.endpoint, timeout=0.5, retries=1, outage_budget_s=HANG_S, heartbeat_interval_s=0.2) as c:
            trial = c.create_study("r").ask()
            trial.report(0.0, 0)
            srv.kill()
            with caplog.at_level(logging.WARNING, logger="tuneport"):
                end = time.monotonic() + HANG_S
                while not any("heartbeat failed" in r.getMessage() for r in caplog.records):
                    assert time.monotonic() < end, "no heartbeat failed"
                    time.sleep(0.05)
            trial.report(1.0, 1, wait=False)
            time.sleep(2.0)  # the server is away longer than the one second's grace
            srv.start()
            trial.flush_reports()  # raised TimeoutError ("no connection ... within 1s")
            trial.complete(1.0)
            assert [t.intermediate_values for t in c.load_study("r").trials] == [{0: 0.0, 1: 1.0}]
    finally:
        srv.kill()


def test_after_a_non_blocking_report_waited_the_outage_out_the_trials_tell_does_not_wait_it_again(tmp_path: Path) -> None:
    """The background thread's report waited ``outage_budget_s`` and failed; the next report raises
    that error, and the with-block's FAIL tell then looks once more (a second) on the client's
    other channel, as it does after a blocking report: it waited a whole second budget, so a worker
    whose server died with wait=False reports gave up after twice the documented time."""
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, timeout=1.0, retries=0, outage_budget_s=3.0, heartbeat=False) as c:
            trial = c.create_study("g").ask()
            srv.kill()
            trial.report(1.0, 1, wait=False)
            with pytest.raises(tp.TimeoutError, match=r"within 3s \(outage_budget_s\)"):
                trial.flush_reports()
            with pytest.raises(tp.TimeoutError) as told:
                trial.fail()
            assert "within 1s (it was already unreachable)" in told.value.message
            srv.start()
            trial.complete(1.0)  # the server is back: a reply ends the grace
            assert trial.state == "COMPLETE"
    finally:
        srv.kill()


def test_a_reply_on_either_channel_ends_the_grace_on_both(tmp_path: Path) -> None:
    """After a non-blocking report waited out the budget, the server came back and answered the
    training loop's requests, yet the background channel still counted itself given up (no reply
    on it yet): in the next restart its report looked for a second only, failed, and marked the
    server given up for the training loop's requests too. A restart shorter than
    ``outage_budget_s`` failed the report, then the trial's tell."""
    budget = 8.0  # longer than the second restart below (2 s away, then the server's start)
    srv = ServerProcess(tmp_path / "t.db", extra=("--report-commit-ms", "0")).start()
    try:
        with tp.connect(srv.endpoint, timeout=1.0, retries=0, outage_budget_s=budget, heartbeat=False) as c:
            trial = c.create_study("b", lease_ttl_s=600).ask()
            srv.kill()
            trial.report(0.0, 0, wait=False)
            with pytest.raises(tp.TimeoutError, match=r"within 8s \(outage_budget_s\)"):
                trial.flush_reports()
            srv.start()
            trial.report(1.0, 1)  # the training loop's channel: the server answers
            srv.kill()
            trial.report(2.0, 2, wait=False)
            time.sleep(2.0)  # away longer than the one second's grace
            srv.start()
            trial.flush_reports()  # raised TimeoutError ("within 1s (it was already unreachable)")
            trial.complete(2.0)
            assert [t.intermediate_values for t in c.load_study("b").trials] == [{1: 1.0, 2: 2.0}]
    finally:
        srv.kill()


def _killing_at_step_5(kill: Callable[[], None], n_jobs: int, monkeypatch: pytest.MonkeyPatch) -> tuple[Callable[[tp.Trial], float], list[int]]:
    """An objective for ``optimize(n_trials=n_jobs, n_jobs=n_jobs)`` that reports every 20 ms and
    calls ``kill`` (the servers die) at the first trial's step 5, and the numbers of the trials the
    threads were handed: each of those has a FAIL tell that cannot be made. A thread whose ask came
    after the kill (started late on a loaded machine), or timed out, has no trial and no tell: the
    tests counted 4 "could not tell" lines and saw 3. The last thread asks after the kill here."""
    from tuneport import _study

    killed = threading.Event()
    killing = threading.Lock()
    asked: list[int] = []
    real = _study.Study._ask_or_none
    asks = itertools.count(1)

    def late(self: _study.Study) -> Any:
        if next(asks) == n_jobs:
            assert killed.wait(60), "no trial reached step 5"
        trial = real(self)
        if trial is not None:
            asked.append(trial.number)
        return trial

    monkeypatch.setattr(_study.Study, "_ask_or_none", late)

    def objective(trial: tp.Trial) -> float:
        for step in range(10_000):
            trial.report(0.1, step)
            time.sleep(0.02)
            if step == 5:
                with killing:  # two threads at step 5 together: one kills, the other waits for it
                    if not killed.is_set():
                        kill()
                        killed.set()
        return 1.0

    return objective, asked


def test_optimize_threads_share_one_outage_budget_when_the_server_is_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """n_jobs threads share the client's channel, one request at a time: after one report waited
    out the budget, each thread's report and then each FAIL tell looked once more, a second each,
    one after another (the reports had all been waiting their turn through the outage): a worker of
    n_jobs=4 whose server died gave up about 7 seconds after the budget, 2 more per thread. A
    request that waited its turn while the server was found unreachable fails at once now; only
    the first request made after that looks once more."""
    srv = ServerProcess(tmp_path / "t.db").start()
    objective, asked = _killing_at_step_5(srv.kill, 4, monkeypatch)

    try:
        with tp.connect(srv.endpoint, timeout=1.0, retries=0, outage_budget_s=3.0, heartbeat=False) as c:
            study = c.create_study("n", space={"x": tp.Float(0, 1)})
            with caplog.at_level(logging.WARNING, logger="tuneport"), pytest.raises(tp.TimeoutError):
                study.optimize(objective, n_trials=4, n_jobs=4)
    finally:
        srv.kill()
    tells = [r.getMessage() for r in caplog.records if r.getMessage().startswith("could not tell trial")]
    assert len(tells) == len(asked) and len(asked) < 4, (tells, asked)  # the last thread asked once the server was gone
    looked = [t for t in tells if "it was already unreachable" in t]
    assert len(looked) <= 1, "\n".join(tells)  # the first tell after the report gave up looks once more
    assert all("waited its turn" in t for t in tells if t not in looked), tells


def test_optimize_threads_with_several_servers_stop_waiting_in_turn_once_all_are_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several endpoints: each request tries (1 + retries) attempts over them, and the n_jobs
    threads' requests, queued on the shared channel through the outage, each waited all of theirs,
    one after another, and then each FAIL tell as long again. Once a request found every server
    silent, those that waited their turn meanwhile fail at once, and the next looks at each once."""
    servers = [ServerProcess(tmp_path / f"t{i}.db").start() for i in range(2)]

    def kill_all() -> None:
        for srv in servers:
            srv.kill()

    objective, asked = _killing_at_step_5(kill_all, 4, monkeypatch)

    try:
        with tp.connect([s.endpoint for s in servers], timeout=0.5, retries=3, outage_budget_s=1.0, heartbeat=False) as c:
            study = c.create_study("n", space={"x": tp.Float(0, 1)})
            with caplog.at_level(logging.WARNING, logger="tuneport"), pytest.raises(tp.TimeoutError):
                study.optimize(objective, n_trials=4, n_jobs=4)
    finally:
        for srv in servers:
            srv.kill()
    tells = [r.getMessage() for r in caplog.records if r.getMessage().startswith("could not tell trial")]
    assert len(tells) == len(asked) and len(asked) < 4, (tells, asked)  # the last thread asked once the server was gone
    waited = [t for t in tells if "waited its turn" not in t]
    assert len(waited) <= 1, "\n".join(tells)  # the first tell after the reports gave up looks once more


def test_several_servers_gone_share_one_outage_budget_from_the_first_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several endpoints, every server gone: the first request looked at each for the whole timeout
    (or the budget, when shorter), 1 + retries looks, before the outage budget meant anything (4
    looks of 2 s here, 8 s for a 2 s budget; 3 x timeout for three servers and retries=2). Now each
    endpoint is looked at in turn for a short while, the looks sharing one outage budget; the next
    request looks once more (GAVE_UP_GRACE_S), and a server back at one of them is found. Counted
    in looks and the waits they were allowed, not in wall-clock time."""
    from tuneport import _failover, _protocol

    looks: list[tuple[str, float]] = []
    real = _protocol.Channel.request

    servers = [ServerProcess(tmp_path / f"t{i}.db").start() for i in range(3)]
    endpoints = [s.endpoint for s in servers]

    def counted(self: _protocol.Channel, message: Any, **kw: Any) -> Any:
        # This test's endpoints only: a client an earlier test left in this process (a background
        # thread still sending to its own server) goes through the same method.
        if self._endpoint in endpoints:  # noqa: SLF001
            looks.append((self._endpoint, kw.get("outage_budget_s") or self.outage_budget_s))  # noqa: SLF001
        return real(self, message, **kw)
    budget = 2.0
    try:
        with tp.connect(endpoints, timeout=30.0, retries=3, outage_budget_s=budget, heartbeat=False) as c:
            c.list_studies()
            for srv in servers:
                srv.kill()
            monkeypatch.setattr(_protocol.Channel, "request", counted)
            with pytest.raises(tp.TimeoutError) as gone:
                c.list_studies()
            assert {e for e, _ in looks} == set(endpoints), looks  # each looked at
            assert len(looks) > len(endpoints), looks  # in turn, more than once: short looks
            assert sum(w for _, w in looks) <= budget + _failover.PROBE_S, looks  # within one budget, all together
            assert re.search(r"no connection to any tuneport server .* within 2s \(outage_budget_s\)", gone.value.message), gone.value
            looks.clear()
            with pytest.raises(tp.TimeoutError, match="already unreachable"):
                c.list_studies()
            assert {e for e, _ in looks} == set(endpoints), looks
            assert sum(w for _, w in looks) <= _protocol.GAVE_UP_GRACE_S + _failover.PROBE_S, looks
            servers[2] = ServerProcess(servers[2].db, port=servers[2].port).start()
            looks.clear()
            assert c.list_studies() == []
            assert looks[-1][0] == servers[2].endpoint, looks
    finally:
        for srv in servers:
            srv.kill()


def test_several_servers_gone_and_one_suspect_share_one_outage_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One server was found silent lately (suspect: ``pick`` avoids it for suspect_s, 3 x timeout)
    and the other is gone: the short looks went to the gone one only, again and again, the request
    ending only when the suspicion did (90 s of looks for a 2 s budget here), and a suspect server
    that is back was not looked at meanwhile. Counted in looks and the waits they were allowed."""
    from tuneport import _failover, _protocol

    looks: list[tuple[str, float]] = []
    real = _protocol.Channel.request

    servers = [ServerProcess(tmp_path / f"t{i}.db").start() for i in range(2)]
    suspect, gone = (s.endpoint for s in servers)

    def counted(self: _protocol.Channel, message: Any, **kw: Any) -> Any:
        if self._endpoint in (suspect, gone):  # noqa: SLF001 - this test's endpoints only (see above)
            looks.append((self._endpoint, kw.get("outage_budget_s") or self.outage_budget_s))  # noqa: SLF001
        return real(self, message, **kw)
    budget = 2.0
    try:
        with tp.connect([suspect, gone], timeout=30.0, retries=3, outage_budget_s=budget, heartbeat=False) as c:
            c.list_studies()
            c._endpoints.silent(suspect)  # noqa: SLF001 - as after it did not answer a whole attempt (SIGSTOP)
            for srv in servers:
                srv.kill()
            monkeypatch.setattr(_protocol.Channel, "request", counted)
            with pytest.raises(tp.TimeoutError, match=r"within 2s \(outage_budget_s\)"):
                c.list_studies()
            assert {e for e, _ in looks} == {suspect, gone}, looks
            assert sum(w for _, w in looks) <= budget + _failover.PROBE_S, looks
            servers[0] = ServerProcess(servers[0].db, port=servers[0].port).start()
            c._endpoints.silent(suspect)  # noqa: SLF001 - silent lately, but back now
            c._endpoints.answered(gone)  # noqa: SLF001 - a new outage: a request looks for the whole budget again
            looks.clear()
            assert c.list_studies() == []
            assert looks[-1][0] == suspect, looks
            assert sum(w for _, w in looks) <= budget + _failover.PROBE_S, looks
    finally:
        for srv in servers:
            srv.kill()
