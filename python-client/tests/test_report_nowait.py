"""``Trial.report(value, step, wait=False)``: non-blocking reports sent by the client's background
thread, against a real server (order, decisions at the next report/should_prune(), deferred
errors, ordering with blocking calls) and a scripted one (resends keep the request id, heartbeats
and reports take turns)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import pytest

import tuneport as tp
from conftest import FakeServer, ok
from test_fake_server import STUDY_VIEW, TRIAL_VIEW

HANG_S = 60.0  # only catches a hang


def wait_answered(trial: tp.Trial) -> None:
    """Waits (without applying anything) until the trial's queued reports were answered."""
    end = time.monotonic() + HANG_S
    while trial.pending_reports():
        assert time.monotonic() < end, "non-blocking report never answered"
        time.sleep(0.005)


def pruning_study(client: tp.Client, name: str) -> tp.Study:
    """A median-pruned study with one complete trial that reported 0 at steps 0..4."""
    study = client.create_study(
        name, space={"x": tp.Float(0, 1)}, scheduler={"name": "median", "options": {"n_startup_trials": 1}}
    )
    with study.ask() as good:
        for step in range(5):
            good.report(0.0, step)
        good.complete(0.0)
    return study


def test_non_blocking_reports_are_stored_in_order_before_the_tell(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    with study.ask() as trial:
        first = trial.report(0.5, 0, wait=False)
        assert first is None  # nothing was answered before the first report
        for step in range(1, 40):
            trial.report(1.0 / (step + 1), step, wait=False)
        trial.complete(0.01)  # waits for the queued reports: the tell is applied after them
    stored = study.trial(trial.number)
    assert stored.state == "COMPLETE"
    assert [s for s, _ in stored.intermediate] == [float(s) for s in range(40)]
    assert stored.intermediate[1] == (1.0, 0.5)


def test_a_lower_step_is_refused_in_the_callers_thread_not_queued(client: tp.Client, name: str) -> None:
    # Two threads reporting one trial out of order: each such report was queued, refused by the
    # server and logged as a warning of its own (about 50 a trial).
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    with study.ask() as trial:
        trial.report(0.5, 5, wait=False)
        with pytest.raises(tp.InvalidArgumentError, match=r"already reported step 5; steps must increase \(got 3\)"):
            trial.report(0.4, 3, wait=False)
        trial.report(0.3, 6, wait=False)
        trial.complete(0.3)
    assert [s for s, _ in study.trial(trial.number).intermediate] == [5.0, 6.0]


def test_a_blocking_report_goes_after_the_queued_ones(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    with study.ask() as trial:
        for step in range(10):
            trial.report(float(step), step, wait=False)
        decision = trial.report(10.0, 10)  # a lower step than a queued one would be refused
        assert decision.action == "continue"
        trial.complete(1.0)
    assert [s for s, _ in study.trial(trial.number).intermediate] == [float(s) for s in range(11)]


def test_a_prune_decision_is_delivered_at_the_next_report(client: tp.Client, name: str) -> None:
    study = pruning_study(client, name)
    with study.ask() as trial:
        assert trial.report(9.0, 0, wait=False) is None
        wait_answered(trial)
        assert trial.state == "RUNNING"
        with pytest.raises(tp.TrialPruned):
            trial.report(9.0, 1, wait=False)  # delivers the prune; this report is not sent
        assert trial.should_prune()
        trial.prune()
    stored = study.trial(trial.number)
    assert stored.state == "PRUNED"
    assert stored.intermediate == [(0.0, 9.0)]


def test_should_prune_delivers_the_decision_optuna_style(client: tp.Client, name: str) -> None:
    study = pruning_study(client, name)
    with study.ask() as trial:
        trial.report(9.0, 0, wait=False, raise_on_prune=False)
        wait_answered(trial)
        assert trial.should_prune()
        trial.prune()
    assert study.trial(trial.number).state == "PRUNED"


def test_a_continue_is_returned_by_the_next_report_and_sets_the_budget(client: tp.Client, name: str) -> None:
    study = pruning_study(client, name)
    with study.ask() as trial:
        trial.report(-1.0, 0, wait=False)
        wait_answered(trial)
        latest = trial.report(-1.0, 1, wait=False)
        assert latest is not None and latest.action == "continue"
        assert not trial.should_prune()
        final = trial.flush_reports()
        assert final is not None and final.action == "continue"
        assert trial.flush_reports() is None  # nothing new since
        trial.complete(-1.0)


def test_the_error_of_a_queued_report_is_raised_later(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    with study.ask() as trial:
        trial.report(1.0, 5, wait=False)
        trial.flush_reports()
        # A lower step is refused at once (test above); what the server alone refuses waits for the next call.
        trial.report(1.0, 5.5, data={"__proto__": 1}, wait=False)
        with pytest.raises(tp.InvalidArgumentError):
            trial.flush_reports()
        assert trial.report(1.0, 6).action == "continue"  # the error was raised once; the trial goes on
        trial.complete(1.0)
    assert [s for s, _ in study.trial(trial.number).intermediate] == [5.0, 6.0]


def test_a_lost_lease_is_raised_by_the_next_report(server: Any, name: str) -> None:
    with tp.connect(server.endpoint, timeout=5.0, heartbeat=False) as client:
        study = client.create_study(name, space={"x": tp.Float(0, 1)})
        trial = study.ask()
        trial.report(1.0, 0, wait=False)
        wait_answered(trial)
        trial.lease = tp.Lease("not-the-token", trial.lease.expires_at, trial.lease.ttl_s)  # as if it expired
        trial.report(1.0, 1, wait=False)
        wait_answered(trial)
        assert trial.lease_lost  # marked by the background thread
        with pytest.raises(tp.LeaseLostError):
            trial.report(1.0, 2, wait=False)
        assert trial not in client.open_trials()
        assert [s for s, _ in study.trial(trial.number).intermediate] == [0.0]


def test_close_sends_what_is_still_queued(server: Any, name: str) -> None:
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study = client.create_study(name, space={"x": tp.Float(0, 1)})
        trial = study.ask()
        for step in range(20):
            trial.report(float(step), step, wait=False)
    with tp.connect(server.endpoint, timeout=5.0) as reader:
        stored = reader.load_study(name).trial(trial.number)
    assert [s for s, _ in stored.intermediate] == [float(s) for s in range(20)]


def _report_server(drop_first: bool, report_delay_s: float = 0.0) -> tuple[Any, list[str]]:
    """A scripted server: ``ask`` hands out a trial with a 0.6 s lease, reports answer
    ``continue`` after ``report_delay_s`` (the first one dropped when ``drop_first``)."""
    dropped: list[str] = []

    def handler(msg: dict[str, Any]) -> dict[str, Any] | None:
        op = msg["op"]
        if op == "get_study":
            return ok(msg, {"study": STUDY_VIEW})
        if op == "ask":
            return ok(msg, {"study": "s", "trial": TRIAL_VIEW, "lease": {"token": "tok", "expires_at": 2.0, "ttl_s": 0.6}})
        if op == "heartbeat":
            return ok(msg, {"leases": [{"study": "s", "trial": 0, "ok": True} for _ in msg["leases"]]})
        if op == "report":
            if drop_first and not dropped:
                dropped.append(msg["id"])
                return None
            time.sleep(report_delay_s)
            return ok(msg, {"decision": {"action": "continue", "budget": msg["step"] + 1}})
        if op == "tell":
            return ok(msg, {"trial": dict(TRIAL_VIEW, state=msg["state"], value=msg.get("value"))})
        raise AssertionError(op)

    return handler, dropped


def test_a_resent_report_keeps_its_request_id() -> None:
    handler, dropped = _report_server(drop_first=True)
    with FakeServer(handler) as fake, tp.connect(fake.endpoint, timeout=0.3, retries=5, heartbeat=False) as client:
        trial = client.load_study("s").ask()
        trial.report(0.5, 0, wait=False)
        decision = trial.flush_reports()
        assert decision is not None and decision.budget == 1 and trial.budget == 1
        reports = [m for m in fake.received if m["op"] == "report"]
        # Lost once, resent (maybe more than once on a slow machine), always as the same request.
        assert len(reports) >= 2 and {m["id"] for m in reports} == {dropped[0]}
        trial.report(0.25, 1, wait=False)
        trial.complete(0.25)
        ids = [m["id"] for m in fake.received if m["op"] == "report"]
        assert ids[-1] != dropped[0] and fake.received[-1]["op"] == "tell"


def test_heartbeats_and_reports_take_turns() -> None:
    # Each report takes the server 0.15 s; the 0.6 s lease wants a heartbeat every 0.2 s.
    handler, _ = _report_server(drop_first=False, report_delay_s=0.15)
    with FakeServer(handler) as fake, tp.connect(fake.endpoint, timeout=5.0) as client:
        trial = client.load_study("s").ask()
        for step in range(12):
            trial.report(1.0, step, wait=False)
        trial.flush_reports()
        ops = [m["op"] for m in fake.received]
        first, last = ops.index("report"), len(ops) - 1 - ops[::-1].index("report")
        between = ops[first:last]
        # Heartbeats went out while the queue was long (not starved by 1.8 s of reports) ...
        assert between.count("heartbeat") >= 3
        # ... and every report was sent once, in order.
        reports = [m for m in fake.received if m["op"] == "report"]
        assert [m["step"] for m in reports] == list(range(12))
        assert len({m["id"] for m in reports}) == 12
        trial.complete(1.0)


def test_report_data_is_sent_as_it_was_when_the_report_was_queued() -> None:
    """The background thread packed ``data`` when it sent the report: a list the loop appended to
    meanwhile (or a tensor updated in place) went out as it was then, not as reported."""
    handler, _ = _report_server(drop_first=False, report_delay_s=0.3)
    with FakeServer(handler) as fake, tp.connect(fake.endpoint, timeout=5.0, heartbeat=False) as client:
        trial = client.load_study("s").ask()
        trial.report(1.0, 0, wait=False)  # the server takes 0.3 s: the next report waits in the queue
        history = [1.0]
        trial.report(1.0, 1, {"history": history}, wait=False)
        history.append(2.0)
        trial.flush_reports()
        (sent,) = [m["data"] for m in fake.received if m["op"] == "report" and m["step"] == 1]
        # The study is a PBT one: a report queued before the last one's answer is marked blind (and
        # every non-blocking one nowait).
        assert sent == {"history": [1.0], "pbt_blind": True, "pbt_nowait": True}
        trial.complete(1.0)


@pytest.mark.parametrize("what", ["unpackable", "too large"])
def test_report_data_that_cannot_be_sent_is_refused_by_the_call_and_the_thread_lives_on(client: tp.Client, name: str, what: str) -> None:
    """Refused in the caller's thread, as by a blocking report. Packed later by the background
    thread, the TypeError ended that thread: every later report was dropped without a word (and
    flush_reports() returned), heartbeats stopped, and the client's leases ran out; a report over
    the server's limit was raised by the next report, itself lost."""
    trial = client.create_study(name).ask()
    limit = int(client.limits["max_message_bytes"])
    data, error = ({"what": object()}, TypeError) if what == "unpackable" else ({"blob": "x" * limit}, tp.MessageTooLargeError)
    for wait in (True, False):
        with pytest.raises(error):
            trial.report(0.5, 0, data, wait=wait)
    for step in range(3):
        trial.report(float(step), step, wait=False)
    trial.flush_reports()
    trial.complete(2.0)
    (told,) = client.load_study(name).trials
    assert (told.state, told.intermediate_values) == ("COMPLETE", {0: 0.0, 1: 1.0, 2: 2.0})


@pytest.mark.parametrize("wait", [True, False])
def test_report_data_the_server_refuses_is_refused_alike_blocking_or_not(client: tp.Client, name: str, wait: bool) -> None:
    """A tuple as a map key (a confusion matrix keyed by (true, predicted)) packs, and the server
    refuses it: every map key must be a string. Copied for the background thread, the data was
    unpacked with that key as a list, which Python cannot hash: the non-blocking call raised
    ``TypeError: unhashable type: 'list'``, where the blocking one raises the server's words."""
    trial = client.create_study(name).ask()
    with pytest.raises(tp.InvalidArgumentError, match="map key that is not a string"):
        trial.report(0.5, 0, {"confusion": {(0, 1): 5}}, wait=wait)
        trial.flush_reports()
    trial.complete(0.5)
    assert client.load_study(name).trials[0].state == "COMPLETE"


def test_many_threads_report_without_blocking_each_other(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    trials = [study.ask() for _ in range(4)]
    errors: list[BaseException] = []

    def run(trial: tp.Trial) -> None:
        try:
            for step in range(25):
                trial.report(float(step), step, wait=False)
            trial.complete(1.0)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in trials]
    for t in threads:
        t.start()
    for t in threads:
        t.join(HANG_S)
    assert not errors
    for trial in trials:
        assert [s for s, _ in study.trial(trial.number).intermediate] == [float(s) for s in range(25)]


def test_reports_queued_while_the_thread_polls_are_sent_without_waking_it(client: tp.Client, name: str) -> None:
    # After a report was sent the background thread looks at its queue every REPORT_POLL_S for
    # REPORT_LINGER_S: a report queued then must not wake it (that wake-up was most of the call's
    # cost after a training step), and must still be sent.
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    background = client._background
    assert background is not None
    with study.ask() as trial:
        trial.report(0.5, 0, wait=False)
        assert trial.flush_reports() is not None
        end = time.monotonic() + HANG_S
        while not background._polling:
            assert time.monotonic() < end, "the background thread never polled after a report"
            time.sleep(0.001)
        caller = threading.current_thread()
        woken_by_caller: list[int] = []
        notify_all = background._cond.notify_all

        def counting_notify_all() -> None:
            if threading.current_thread() is caller:
                woken_by_caller.append(1)
            notify_all()

        background._cond.notify_all = counting_notify_all  # type: ignore[method-assign]
        try:
            trial.report(0.25, 1, wait=False)
            assert woken_by_caller == []
            decision = trial.flush_reports()  # answered although nobody woke the thread
        finally:
            background._cond.notify_all = notify_all  # type: ignore[method-assign]
        assert decision is not None and decision.action == "continue"
        trial.complete(0.25)
    assert [s for s, _ in study.trial(trial.number).intermediate] == [0.0, 1.0]


def test_request_ids_are_unique_and_fresh_in_a_forked_child() -> None:
    import os

    from tuneport._protocol import new_request_id

    ids = [new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its ids must not repeat the parent's (another prefix)
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.waitpid(pid, 0)
    parent = new_request_id()
    assert len(child) == 32 and child[:20] != parent[:20]


def test_a_non_blocking_report_in_a_forked_child_is_refused_as_a_blocking_one(client: tp.Client, name: str) -> None:
    # The child's copy of the client has no background thread: the report was queued and lost.
    study = client.create_study(name, space={"x": tp.Float(0.0, 1.0)})
    trial = study.ask()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        try:
            trial.report(1.0, 7, wait=False)
            outcome = b"queued"
        except tp.ClientClosedError:
            outcome = b"refused"
        except BaseException:
            outcome = b"other"
        os.write(w, outcome)
        os._exit(0)
    os.close(w)
    outcome = os.read(r, 100)
    os.close(r)
    os.waitpid(pid, 0)
    assert outcome == b"refused"
    trial.complete(0.5)



@pytest.mark.parametrize("heartbeat", [False, True])
def test_a_lost_lease_is_warned_once_not_once_per_queued_report(
    server: Any, name: str, caplog: pytest.LogCaptureFixture, heartbeat: bool
) -> None:
    """Every report queued behind the one that found the lease lost logged its own warning (a
    training loop that reports each step filled the log with the same line); with heartbeats, the
    heartbeat's warning came first and each report added its own."""
    with tp.connect(server.endpoint, timeout=5.0, heartbeat=heartbeat, heartbeat_interval_s=0.05) as client:
        study = client.create_study(name, space={"x": tp.Float(0, 1)})
        trial = study.ask()
        trial.report(1.0, 0, wait=False)
        wait_answered(trial)
        with caplog.at_level("WARNING", logger="tuneport"):
            trial.lease = tp.Lease("not-the-token", trial.lease.expires_at, trial.lease.ttl_s)  # as if it expired
            for step in range(1, 8):
                trial.report(1.0, step, wait=False)
            wait_answered(trial)
            assert trial.lease_lost
        lost = [r.getMessage() for r in caplog.records if "lease" in r.getMessage().lower()]
        assert len(lost) == 1, lost
        with pytest.raises(tp.LeaseLostError):
            trial.flush_reports()


def test_a_trial_finished_elsewhere_is_warned_once_not_once_per_queued_report(
    client: tp.Client, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    trial = study.ask()
    trial.report(1.0, 0, wait=False)
    wait_answered(trial)
    # Told by someone else holding the token (another thread of the worker, an agent): the
    # reports queued after it are all refused the same way.
    client.call("tell", study=name, trial=trial.number, token=trial.lease.token, state="FAIL", reason="elsewhere")
    with caplog.at_level("WARNING", logger="tuneport"):
        for step in range(1, 8):
            trial.report(1.0, step, wait=False)
        wait_answered(trial)
    refused = [r.getMessage() for r in caplog.records if "non-blocking report" in r.getMessage()]
    assert len(refused) == 1 and "FAILED_PRECONDITION" in refused[0], refused
    with pytest.raises(tp.FailedPreconditionError):
        trial.flush_reports()


@pytest.mark.parametrize("wait", [True, False])
def test_a_report_on_a_trial_finished_elsewhere_raises_the_same_error_blocking_or_not(client: tp.Client, name: str, wait: bool) -> None:
    """Optuna's UpdateFinishedTrialError (a RuntimeError), whichever kind of report finds out: the
    non-blocking one raised the bare FailedPreconditionError, so ``except RuntimeError`` (Optuna
    code) caught one kind and not the other."""
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    trial = study.ask()
    client.call("tell", study=name, trial=trial.number, token=trial.lease.token, state="PRUNED")
    with pytest.raises(tp.exceptions.UpdateFinishedTrialError) as raised:
        trial.report(1.0, 0, wait=wait)  # blocking: refused here; non-blocking: in the background,
        wait_answered(trial)
        trial.report(1.0, 1, wait=wait)  # and raised by the next report
    assert isinstance(raised.value, RuntimeError) and raised.value.code == "FAILED_PRECONDITION"


def last_report_prunes(client: tp.Client, name: str) -> tp.Study:
    """A study whose scheduler prunes a report above 1.0 (threshold): report 0.1 at steps 0..3 and
    5.0 at step 4, and only the last report's decision is prune."""
    return client.create_study(name, space={"x": tp.Float(0, 1)}, scheduler={"name": "threshold", "options": {"upper": 1.0}})


def report_to_the_end(trial: tp.Trial) -> float:
    for step in range(4):
        trial.report(0.1, step, wait=False)
        if trial.should_prune():  # Optuna's check; the answer to the last report is not there yet
            raise tp.TrialPruned()
    trial.report(5.0, 4, wait=False)
    return 5.0


def test_complete_after_a_non_blocking_report_decided_prune_tells_pruned_and_raises_in_a_with_block(client: tp.Client, name: str) -> None:
    """complete() waited for the queued reports but dropped their decisions: the trial ended
    COMPLETE although the scheduler pruned it at its last report (Optuna's should_prune() check
    there would have raised TrialPruned)."""
    study = last_report_prunes(client, name)
    after: list[str] = []
    with study.ask() as trial:
        value = report_to_the_end(trial)
        trial.complete(value)  # raises TrialPruned, which the with-block records
        after.append("ran on")
    assert after == []
    stored = study.trial(trial.number)
    assert trial.state == stored.state == "PRUNED" and stored.system_attrs["pruned_at_step"] == 4
    assert [s for s, _ in stored.intermediate] == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_tell_after_a_non_blocking_report_decided_prune_tells_pruned_optuna_ask_and_tell(
    client: tp.Client, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    study = last_report_prunes(client, name)
    trial = study.ask()
    value = report_to_the_end(trial)
    with caplog.at_level("WARNING", logger="tuneport"):
        frozen = study.tell(trial, value)  # outside a with-block: no exception, as Optuna's tell
    assert frozen.state == trial.state == study.trial(trial.number).state == "PRUNED"
    assert trial.should_prune()
    # Nothing else tells this caller that its value was not stored: a warning does.
    assert [r for r in caplog.records if r.levelname == "WARNING" and "told PRUNED instead of COMPLETE" in r.getMessage()]


def test_optimize_records_a_prune_decided_on_the_last_non_blocking_report(client: tp.Client, name: str) -> None:
    study = last_report_prunes(client, name)
    study.optimize(report_to_the_end, n_trials=2)
    assert [t.state for t in study.trials] == ["PRUNED", "PRUNED"]


def test_a_prune_the_loop_saw_and_ignored_stays_its_choice(client: tp.Client, name: str) -> None:
    # Only a decision nobody looked at is applied by complete(): after should_prune() said True,
    # completing is the caller's choice (Optuna's tell(COMPLETE) of a trial it was told to prune).
    study = last_report_prunes(client, name)
    trial = study.ask()
    trial.report(5.0, 0, wait=False)
    wait_answered(trial)
    assert trial.should_prune()
    trial.complete(5.0)
    assert study.trial(trial.number).state == "COMPLETE"
