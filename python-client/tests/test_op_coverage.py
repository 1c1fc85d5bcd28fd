"""Drift guard for the op table (protocol/ops.json, generated from src/service/ops/ops.ts).

Every op the table says the Python client exposes must name members that exist, and a session
through the public API must really send it; every mutating op sent twice with the same request id
must be applied once (the Python half of the TypeScript table-driven retry test).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from tuneport import _background, _client, _connection, _protocol, _study, _trial

OPS = json.loads((Path(__file__).resolve().parents[2] / "protocol" / "ops.json").read_text())["ops"]
MODULES = (_client, _study, _trial, tp)  # tp: its submodules' functions ("importance.get_param_importances")


def _member(path: str) -> Any:
    cls_name, member = path.split(".", 1)
    for mod in MODULES:
        cls = getattr(mod, cls_name, None)
        if cls is not None:
            return getattr(cls, member, None)
    return None


def test_the_table_lists_every_op_with_its_python_exposure() -> None:
    assert len(OPS) >= 18
    for entry in OPS:
        exposure = entry["python"]
        if "hidden" in exposure:
            assert len(exposure["hidden"]) > 20, entry["op"]
            continue
        for path in exposure["via"]:
            assert _member(path) is not None, f"{entry['op']}: {path} does not exist in the Python client"


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    ops: list[str] = []
    real = _protocol.make_request

    def recording(op: str, args: Any, **kw: Any) -> dict[str, Any]:
        ops.append(op)
        return real(op, args, **kw)

    monkeypatch.setattr(_protocol, "make_request", recording)
    monkeypatch.setattr(_connection, "make_request", recording)  # the Client's requests
    monkeypatch.setattr(_background, "make_request", recording)  # the background thread's
    yield ops


def test_a_session_through_the_public_api_sends_every_exposed_op(server: Any, name: str, sent: list[str]) -> None:
    with tp.connect(server.endpoint, timeout=5.0, retries=1, heartbeat_interval_s=0.05) as client:
        client.catalogue()
        study = client.create_study(name, space={"x": tp.Float(0.0, 1.0)}, strategy="random", seed=1)
        client.list_studies()
        client.load_study(name)
        study.enqueue({"x": 0.5})
        queued = study.enqueue({"x": 0.9})
        study.cancel_trial(queued.number, "changed my mind")
        study.add_trial(params={"x": 0.1}, value=0.3)
        trial = study.ask()
        trial.suggest_float("y", 0.0, 1.0)
        trial.report(0.5, 0)
        trial.set_user_attrs({"note": "a"})
        import time

        deadline = time.monotonic() + 10
        while "heartbeat" not in sent and time.monotonic() < deadline:
            time.sleep(0.05)
        trial.complete(0.25)
        study.get_trials(states=["COMPLETE"])
        study.trial(trial.number)
        study.trajectory(trial.number)
        study.best_trial  # a property, as in Optuna
        study.best_trials  # the Pareto front (op best_trials)
        study.lineage()
        with pytest.warns(UserWarning, match="needs at least 4 COMPLETE trials with a finite value"):  # two COMPLETE trials
            tp.importance.get_param_importances(study, params=["x"])
        study.plot("history")
        study.set_user_attrs({"owner": "me"})
        study.update(notes="tried random first")
        list(study.export())
        study.stop(all_workers=True)
        study.resume()
        client.delete_study(name)
    exposed = {e["op"] for e in OPS if "via" in e["python"]}
    missing = exposed - set(sent)
    assert not missing, f"ops the table says Python exposes but the session never sent: {sorted(missing)}"


MUTATING = [e["op"] for e in OPS if e["mutating"]]


@pytest.mark.parametrize("op", MUTATING)
def test_every_mutating_op_sent_twice_with_one_id_is_applied_once(client: tp.Client, name: str, op: str) -> None:
    space = {"x": {"type": "float", "low": 0, "high": 1}}
    args: dict[str, Any]
    if op == "create_study":
        args = {"name": name, "space": space, "strategy": "random"}
    else:
        client.call("create_study", name=name, space=space, strategy="random", seed=2)
        a = None if op in ("ask", "enqueue", "delete_study") else client.call("ask", study=name)
        tok = a["lease"]["token"] if a else None
        num = a["trial"]["number"] if a else None
        if op == "cancel_trial":
            client.call("enqueue", study=name, params={"x": 0.75})  # trial 1, queued
        cases: dict[str, dict[str, Any]] = {
            "delete_study": {"study": name},
            "ask": {"study": name},
            "suggest": {"study": name, "trial": num, "token": tok, "name": "y", "distribution": {"type": "int", "low": 0, "high": 9}},
            "report": {"study": name, "trial": num, "token": tok, "step": 1, "value": 0.5},
            "tell": {"study": name, "trial": num, "token": tok, "state": "COMPLETE", "value": 0.5},
            "enqueue": {"study": name, "params": {"x": 0.5}},
            "set_user_attrs": {"study": name, "attrs": {"n": 1}},
            "stop_study": {"study": name},
            "resume_study": {"study": name},
            "cancel_trial": {"study": name, "trial": 1},
            "add_trial": {"study": name, "params": {"x": 0.25}, "value": 0.5},
            "update_study": {"study": name, "space": {"x": {"type": "float", "low": 0, "high": 2}}, "notes": "once"},
        }
        args = cases[op]
    rid = f"py-same-{op}-{name}"
    first = _send(client, op, args, rid)
    snapshot = None if op == "delete_study" else _state(client, name)
    second = _send(client, op, args, rid)
    assert second == first
    if op == "delete_study":
        with pytest.raises(tp.NotFoundError):
            client.load_study(name)
    else:
        assert _state(client, name) == snapshot


def _state(client: tp.Client, name: str) -> str:
    """What a mutation changes: counts, study attributes, and each trial's state, params, curve and attributes."""
    study = client.call("get_study", study=name)["study"]
    trials = client.call("trials", study=name)["trials"]
    keep = [(t["state"], t["params"], t["intermediate"], t["user_attrs"]) for t in trials]
    return json.dumps([study["counts"], study["user_attrs"], keep], sort_keys=True)


def _send(client: tp.Client, op: str, args: dict[str, Any], request_id: str) -> Any:
    channel = client._channel  # noqa: SLF001 - the test pins the request id on purpose
    reply = channel.request(_protocol.make_request(op, args, request_id=request_id))
    return _protocol.parse_reply(reply)
