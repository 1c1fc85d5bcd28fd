"""Client behaviour that needs a scripted server: Lazy Pirate retries and report decisions."""

from __future__ import annotations

from typing import Any

import pytest

import tuneport as tp
from conftest import HELLO_RESULT, FakeServer, err, ok

STUDY_VIEW = {
    "name": "s", "direction": "minimize", "space": {"lr": {"type": "float", "low": 0.001, "high": 0.5}},
    "strategy": {"name": "pbt", "options": {}}, "scheduler": None, "seed": 1,
    "retry": {"max_retries": 2, "retry_on_fail": False}, "lease_ttl_s": 30, "user_attrs": {},
    "created_at": 1.5, "n_trials": 0, "counts": {}, "best_trial": None,
}  # fmt: skip
TRIAL_VIEW = {
    "number": 0, "state": "RUNNING", "params": {"lr": 0.25}, "distributions": {"lr": STUDY_VIEW["space"]["lr"]},  # type: ignore[index]
    "value": None, "intermediate": [], "user_attrs": {}, "system_attrs": {}, "created_at": 1.5,
    "started_at": 1.5, "finished_at": None, "duration_s": 0.5,
}  # fmt: skip


def scripted(decisions: list[dict[str, Any]]) -> Any:
    def handler(msg: dict[str, Any]) -> dict[str, Any] | None:
        op = msg["op"]
        if op == "get_study":
            return ok(msg, {"study": STUDY_VIEW})
        if op == "ask":
            return ok(msg, {"study": "s", "trial": TRIAL_VIEW, "lease": {"token": "tok", "expires_at": 31.5, "ttl_s": 30}, "budget": 4})
        if op == "report":
            return ok(msg, {"decision": decisions.pop(0)})
        if op == "tell":
            return ok(msg, {"trial": dict(TRIAL_VIEW, state=msg["state"], value=msg.get("value"))})
        return err(msg, "UNKNOWN_OP", op)

    return handler


def test_timeout_resends_the_same_request_id_on_a_fresh_socket() -> None:
    dropped: list[str] = []

    def handler(msg: dict[str, Any]) -> dict[str, Any] | None:
        if msg["op"] == "list_studies" and not dropped:
            dropped.append(msg["id"])
            return None  # lose the first attempt
        return ok(msg, {"studies": []})

    with FakeServer(handler) as fake, tp.connect(fake.endpoint, timeout=0.3, retries=5, heartbeat=False) as client:
        assert client.list_studies() == []
        attempts = [m for m in fake.received if m["op"] == "list_studies"]
        # At least one resend (more when a slow machine lets a 0.3 s wait run out again), all with one id.
        assert len(attempts) >= 2
        assert {m["id"] for m in attempts} == {dropped[0]}
        client.list_studies()
        assert fake.received[-1]["id"] != dropped[0]  # a new request gets a new id


def test_attempt_counts_the_sends_of_one_id_when_the_server_reads_it() -> None:
    """``attempt: 0`` on an id's first send spares the server a storage lookup; every resend (after
    silence, or after UNAVAILABLE) counts up. A server whose hello does not list it never sees it."""
    seen: list[str] = []

    def handler(msg: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(msg["id"])
        if seen.count(msg["id"]) == 1:
            return None  # lose the first send
        if seen.count(msg["id"]) == 2:
            return err(msg, "UNAVAILABLE", "starting")
        return ok(msg, {"studies": []})

    hello = {**HELLO_RESULT, "envelope": ["v", "id", "op", "attempt"]}
    with FakeServer(handler, hello) as fake, tp.connect(fake.endpoint, timeout=0.3, retries=5, heartbeat=False) as client:
        assert client.list_studies() == []
        sends = [m for m in fake.received if m["op"] == "list_studies"]
        assert len({m["id"] for m in sends}) == 1
        assert [m["attempt"] for m in sends] == list(range(len(sends)))
        client.list_studies()
        again = [m for m in fake.received if m["id"] != sends[0]["id"]]
        assert [m["attempt"] for m in again] == list(range(len(again)))  # a new request starts again at 0
    with FakeServer(handler) as fake, tp.connect(fake.endpoint, timeout=0.3, retries=5, heartbeat=False) as client:
        assert client.list_studies() == []
        assert all("attempt" not in m for m in fake.received)


def test_study_created_at_goes_only_to_a_server_whose_hello_lists_it() -> None:
    """``ask``'s ``study_created_at`` (a loop that outlives a delete ends instead of running a new
    study of the name) is an argument an older server refuses as unknown, which would fail every
    worker's first ask: it is sent only to a server whose hello lists ``ask.study_created_at``."""
    handler = scripted([])
    with FakeServer(handler, {**HELLO_RESULT, "optional_args": ["ask.study_created_at"]}) as fake, tp.connect(fake.endpoint, timeout=2.0, heartbeat=False) as client:
        client.load_study("s").ask()
        assert [m.get("study_created_at") for m in fake.received if m["op"] == "ask"] == [1.5]
    with FakeServer(handler) as fake, tp.connect(fake.endpoint, timeout=2.0, heartbeat=False) as client:
        client.load_study("s").ask()
        asks = [m for m in fake.received if m["op"] == "ask"]
        assert len(asks) == 1 and "study_created_at" not in asks[0]


def test_silence_after_every_attempt_raises_timeout_error() -> None:
    with FakeServer(lambda msg: None) as fake, tp.connect(fake.endpoint, timeout=0.2, retries=2, heartbeat=False) as client:
        with pytest.raises(tp.TimeoutError) as caught:
            client.list_studies()
        assert caught.value.data["attempts"] == 3
        assert len(fake.received) == 3 and len({m["id"] for m in fake.received}) == 1


def test_unavailable_is_retried_with_the_same_id() -> None:
    def handler(msg: dict[str, Any]) -> dict[str, Any]:
        if len(fake.received) == 1:
            return err(msg, "UNAVAILABLE", "starting")
        return ok(msg, {"studies": []})

    with FakeServer(handler) as fake, tp.connect(fake.endpoint, timeout=5.0, retries=2, heartbeat=False) as client:
        assert client.list_studies() == []  # not UnavailableError: it was retried
        assert len(fake.received) >= 2 and len({m["id"] for m in fake.received}) == 1


def test_connect_to_nothing_times_out() -> None:
    from conftest import free_port

    # A short outage budget: with the default 30 s one this test only waited out that budget; the wait
    # itself and its message are test_fail_fast's test_no_server_fails_after_the_outage_budget_*.
    with pytest.raises(tp.TimeoutError):
        tp.connect(f"tcp://127.0.0.1:{free_port()}", timeout=0.2, retries=1, connect_timeout=0.5, outage_budget_s=0.5)


def test_prune_decision_raises_trial_pruned_and_the_block_tells_pruned() -> None:
    decisions: list[dict[str, Any]] = [{"action": "continue", "budget": 8}, {"action": "prune", "reason": "below the median"}]
    with FakeServer(scripted(decisions)) as fake, tp.connect(fake.endpoint, heartbeat=False) as client:
        study = client.load_study("s")
        with study.ask() as trial:
            assert trial.budget == 4
            assert trial.report(0.5, 0).action == "continue"
            assert trial.budget == 8
            with pytest.raises(tp.TrialPruned, match="below the median"):
                trial.report(0.75, 1)
            raise tp.TrialPruned()  # what user code does when it lets it propagate
        tell = fake.received[-1]
        assert tell["op"] == "tell" and tell["state"] == "PRUNED" and tell["token"] == "tok"
        assert trial.state == "PRUNED"


def test_update_decision_changes_params_and_sets_restore() -> None:
    decisions: list[dict[str, Any]] = [
        {"action": "update", "params": {"lr": 0.125}, "restore": {"trial": 3, "checkpoint": "/ckpt/3.pt"}, "budget": 12},
        {"action": "update", "params": {"lr": 0.0625}},
        {"action": "continue"},
    ]
    with FakeServer(scripted(decisions)) as fake, tp.connect(fake.endpoint, heartbeat=False) as client:
        study = client.load_study("s")
        with study.ask() as trial:
            d = trial.report(0.5, 0)
            assert d.action == "update" and d.restore == tp.Restore(3, "/ckpt/3.pt")
            assert trial.params["lr"] == 0.125 and trial.restore == tp.Restore(3, "/ckpt/3.pt") and trial.budget == 12
            trial.report(0.25, 1)
            assert trial.params["lr"] == 0.0625 and trial.restore is None  # explore without exploit
            trial.report(0.125, 2)
            assert trial.restore is None and trial.budget == 12
            trial.complete(0.125)
        reports = [m for m in fake.received if m["op"] == "report"]
        assert [(m["step"], m["value"]) for m in reports] == [(0, 0.5), (1, 0.25), (2, 0.125)]
        assert fake.received[-1]["state"] == "COMPLETE"


def test_a_failed_tell_does_not_hide_the_users_exception() -> None:
    def handler(msg: dict[str, Any]) -> dict[str, Any]:
        if msg["op"] == "tell":
            return err(msg, "INTERNAL", "disk on fire")
        return scripted([])(msg)  # type: ignore[no-any-return]

    with FakeServer(handler) as fake, tp.connect(fake.endpoint, heartbeat=False) as client:
        study = client.load_study("s")
        with pytest.raises(RuntimeError, match="user bug"):
            with study.ask():
                raise RuntimeError("user bug")


def test_get_trials_asks_again_when_a_page_holds_fewer_trials_than_asked() -> None:
    # The server ends a page early once its intermediate values pass a budget (paging.ts), so a
    # page may hold fewer trials than `limit` asked for: the client asks again from there.
    finished = [dict(TRIAL_VIEW, number=n, state="COMPLETE", value=float(n), finished_at=2.0) for n in range(7)]

    def handler(msg: dict[str, Any]) -> dict[str, Any] | None:
        if msg["op"] == "get_study":
            return ok(msg, {"study": STUDY_VIEW})
        if msg["op"] == "trials":
            # Pages after the first continue from the cursor, as the client asks them (the position here).
            start = int(msg["cursor"]) if msg.get("cursor") else msg.get("offset") or 0
            page = finished[start : start + min(2, msg["limit"])]
            return ok(msg, {"trials": page, "total": len(finished), "next_cursor": str(start + len(page)) if start + len(page) < len(finished) else None})
        return err(msg, "UNKNOWN_OP", msg["op"])

    with FakeServer(handler) as fake, tp.connect(fake.endpoint, heartbeat=False) as client:
        study = client.load_study("s")
        assert [t.number for t in study.get_trials(limit=5)] == [0, 1, 2, 3, 4]
        assert [t.number for t in study.trials] == list(range(7))
        asked = [m["limit"] for m in fake.received if m["op"] == "trials"]
        assert asked[:3] == [5, 3, 1]



@pytest.mark.parametrize(
    ("reply", "says"),
    [
        ({"ok": True, "result": {}, "id": None}, "no request id"),
        ({"ok": True}, "result is not a map: None"),
        ({"ok": True, "result": [1]}, r"result is not a map: \[1\]"),
        ({"ok": "yes", "result": {}}, "neither true nor false"),
        ({"ok": False, "error": {"code": None, "message": None}}, "malformed error"),
        ({"ok": False, "error": {"code": "NOT_FOUND", "message": 7}}, "malformed error"),
        ({"ok": False, "error": "boom"}, "malformed error"),
    ],
)
def test_a_reply_that_breaks_the_envelope_is_a_malformed_message_not_a_key_or_type_error(reply: dict[str, Any], says: str) -> None:
    # Each reached the caller as KeyError('studies'), a TypeError, or a TuneportError coded None.
    def handler(msg: dict[str, Any]) -> dict[str, Any] | None:
        return {"v": 1, "id": msg["id"], **reply}

    with FakeServer(handler) as fake, tp.connect(fake.endpoint, timeout=5, retries=0, heartbeat=False) as client:
        with pytest.raises(tp.MalformedMessageError, match=says):
            client.list_studies()
