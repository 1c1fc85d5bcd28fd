"""Several endpoints: redirects to a study's owner, failover past a silent server, and a small crash
soak across three real servers on a real PostgreSQL (bench/failover_soak.py, the full one is
`make soak-failover`)."""

from __future__ import annotations

import importlib.util
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import tuneport as tp
from tuneport._protocol import DEFAULT_OUTAGE_BUDGET_S

from conftest import SERVER_MAIN, FakeServer, _port_band, err, free_port, ok

ROOT = Path(__file__).resolve().parents[2]


def moved(msg: dict[str, Any], endpoint: str) -> dict[str, Any]:
    reply = err(msg, "UNAVAILABLE", "served elsewhere")
    reply["error"]["data"] = {"reason": "moved", "study": "s", "endpoint": endpoint}
    return reply


def test_a_redirect_is_followed_with_the_same_request_id() -> None:
    with FakeServer(lambda m: ok(m, {"studies": []})) as owner, FakeServer(lambda m: moved(m, owner.endpoint)) as other:
        with tp.connect([other.endpoint], timeout=1.0, retries=0, heartbeat=False) as client:
            assert client.list_studies() == []
            assert [m["id"] for m in other.received] == [m["id"] for m in owner.received]
            client.list_studies()  # the client now talks to the owner directly
            assert len(other.received) == 1 and len(owner.received) == 2


def test_a_silent_server_is_skipped_for_the_next_endpoint() -> None:
    with FakeServer(lambda m: None) as dead, FakeServer(lambda m: ok(m, {"studies": []})) as live:
        # hello goes to the first endpoint: start with the live one, then make it point at the dead one.
        with tp.connect([live.endpoint, dead.endpoint], timeout=0.3, retries=2, heartbeat=False) as client:
            client._endpoints.moved(dead.endpoint)  # noqa: SLF001 - as after a redirect to a server that then died
            assert client.list_studies() == []
            assert len(dead.received) == 1 and live.received[-1]["id"] == dead.received[0]["id"]


def test_the_client_names_the_endpoint_that_answered_not_the_first_one_given() -> None:
    """``client.endpoint`` (its repr, "A new study created on ...") is the server it talks to: with
    the first endpoint down, connect's hello is answered by the second, and naming the first sent
    an operator to the dead server."""
    with FakeServer(lambda m: ok(m, {"studies": []})) as live:
        # Picked once the live server holds its port: picked before, it could be the very port the
        # live server then took (1 in 100 in a band of 100 ports: TUNEPORT_TEST_PORTS).
        dead = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
        with tp.connect([dead, live.endpoint], timeout=0.3, connect_timeout=0.3, retries=0, heartbeat=False) as client:
            assert client.endpoint == live.endpoint
            assert live.endpoint in repr(client) and dead not in repr(client)
            assert client.list_studies() == []


def test_a_redirect_to_a_dead_owner_waits_for_the_takeover() -> None:
    calls: list[str] = []

    def other_handler(m: dict[str, Any]) -> dict[str, Any]:
        calls.append(m["id"])
        # Redirects to the dead owner until, on the fourth try, this server has taken the study over.
        return moved(m, dead.endpoint) if len(calls) < 4 else ok(m, {"studies": []})

    with FakeServer(lambda m: None) as dead, FakeServer(other_handler) as other:
        with tp.connect([other.endpoint, dead.endpoint], timeout=0.3, retries=3, heartbeat=False) as client:
            assert client.list_studies() == []
            assert len(set(calls)) == 1 and len(calls) == 4
            assert len(dead.received) == 1  # tried once, then avoided while suspect


def test_a_redirect_to_an_owner_not_reachable_at_first_is_followed_once_it_is() -> None:
    """The owner a server redirects to has no connection yet (a slow link, a restart): a short look
    at it finds none, and it is looked at again after the next redirect, not made suspect and its
    redirects waited out as a takeover (which never comes here: UnavailableError)."""
    owner = FakeServer(lambda m: ok(m, {"studies": []}))
    redirects: list[str] = []

    def other_handler(m: dict[str, Any]) -> dict[str, Any]:
        redirects.append(m["id"])
        if len(redirects) == 3:
            owner.__enter__()  # the owner is up from the third redirect on
        return moved(m, owner.endpoint)  # never takes the study over

    try:
        with FakeServer(other_handler) as other:
            with tp.connect([other.endpoint], timeout=5.0, retries=1, heartbeat=False) as client:
                assert client.list_studies() == []
                assert [m["id"] for m in owner.received] == redirects[:1], (redirects, owner.received)
                # Followed at the next redirect or so (a look of 0.5 s then, 1 s after two more), not
                # redirected on and on while the owner is avoided as suspect (15 s here; ~20 redirects).
                assert len(redirects) <= 6, redirects
    finally:
        if len(redirects) >= 3:
            owner.__exit__()


def test_without_a_takeover_the_redirect_comes_back_as_unavailable() -> None:
    with FakeServer(lambda m: None) as dead, FakeServer(lambda m: moved(m, dead.endpoint)) as other:
        with tp.connect([other.endpoint], timeout=0.2, retries=1, heartbeat=False) as client:
            with pytest.raises(tp.UnavailableError):
                client.list_studies()


def _soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("failover_soak", ROOT / "bench" / "failover_soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    setattr(module, "CLI", SERVER_MAIN)  # the server the other tests run ($TUNEPORT_CLI, else dist/)
    return module


def free_port_run(n: int) -> int:
    """The first of ``n`` consecutive loopback ports that were free a moment ago (the soak restarts
    each server on ``base_port + i``), drawn like ``free_port`` within its band below the ephemeral range,
    so that two test runs at once do not collide and no outgoing connection holds one."""
    for _ in range(100):
        base = free_port()
        if base + n > _port_band()[1]:
            continue
        try:
            for port in range(base + 1, base + n):
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no {n} consecutive free loopback ports")


def test_crash_soak_across_three_servers() -> None:
    """3 servers, 8 workers, the owner SIGKILLed 3 times: nothing acknowledged is lost or doubled."""
    log = io.StringIO()
    result: dict[str, Any] = _soak().run(
        servers=3, workers=8, kills=3, ownership_ttl=1.0, interval_s=2.5, grid=120,
        base_port=free_port_run(3), timeout=0.5, log=log,
    )
    assert result["kills"] == 3, log.getvalue()
    assert result["acknowledged_tells"] > 0
    assert result["missing"] == 0
    assert result["duplicates"] == 0
    assert result["grid_points_twice"] == 0
    assert result["trials"] >= result["acknowledged_tells"]


def test_the_scaling_recipe_worker_shares_one_budget_across_servers_and_workers() -> None:
    """examples/scaling_worker.py as a Slurm array would run it (SLURM_ARRAY_TASK_ID 0..3), against
    two servers on one PostgreSQL: the four workers finish exactly max_trials trials between them."""
    soak = _soak()
    pg, url = soak.start_postgres()
    servers = [soak.Server(f"{url}&schema=recipe", free_port(), 2.0) for _ in range(2)]
    try:
        for s in servers:
            s.start()
        endpoints = ",".join(s.endpoint for s in servers)
        env = {**os.environ, "TUNEPORT_ENDPOINTS": endpoints}
        workers = [
            subprocess.Popen([sys.executable, str(ROOT / "examples" / "scaling_worker.py"), "--study", "recipe", "--max-trials", "40"],
                             env={**env, "SLURM_ARRAY_TASK_ID": str(i)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(4)
        ]
        outs = [w.communicate(timeout=240) for w in workers]
        for w, (out, errs) in zip(workers, outs):
            assert w.returncode == 0, errs[-2000:]
        done = [int(out.split(":")[1].split()[0]) for out, _ in outs]
        assert sum(done) == 40
        with tp.connect(endpoints.split(","), timeout=5.0, retries=5, heartbeat=False) as client:
            summary = client.load_study("recipe").summary()
        assert summary.counts["COMPLETE"] == 40
    finally:
        for s in servers:
            s.stop()
        soak.stop_postgres(pg)


@pytest.mark.parametrize("endpoints", [1, 2])
def test_a_hurried_request_does_not_wait_for_a_study_changing_hands(endpoints: int) -> None:
    """A trial's last word after Ctrl-C (``hurry``: INTERRUPTED_WAIT_S, 1 s) on a study with no live
    owner (``moved`` with no endpoint: a takeover in progress) gives up within its own budget, not the
    client's failover window (timeout × (retries + 1): 40 s by default): it asked again after the
    reply's ``retry_after_s`` (2 s here) until that window ended, so Ctrl-C waited up to 40 s."""

    def changing_hands(m: dict[str, Any]) -> dict[str, Any]:
        reply = moved(m, "")
        reply["error"]["data"]["retry_after_s"] = 2.0
        return reply

    with FakeServer(changing_hands) as first, FakeServer(changing_hands) as second:
        given = [first.endpoint, second.endpoint][:endpoints]
        with tp.connect(given, timeout=3.0, retries=0, heartbeat=False) as client:
            assert client._channel.failover_s == 3.0  # noqa: SLF001
            with pytest.raises(tp.UnavailableError):
                client._call("get_study", {"study": "s"}, outage_budget_s=1.0, hurry=True)  # noqa: SLF001
            asked = [m for m in first.received + second.received if m["op"] == "get_study"]
            # Once: asking again after 2 s would pass the hurried request's 1 s.
            assert len(asked) == 1, asked
            # Not hurried, it is asked again within the failover window (same id each time).
            with pytest.raises(tp.UnavailableError):
                client._call("get_study", {"study": "s"})  # noqa: SLF001
            again = [m for m in first.received + second.received if m["op"] == "get_study"][1:]
            assert len(again) > 1 and len({m["id"] for m in again}) == 1


def test_the_soak_finds_an_owner_slower_to_answer_than_one_probe() -> None:
    """The soak picks its victim by asking who serves the study; on a loaded machine the owner's
    answer can take longer than one 0.5 s probe, and the soak then skipped the kill ("no owner
    found"): its victim is now asked with room to answer, and again until one does."""
    def slow_owner(msg: dict[str, Any]) -> dict[str, Any]:
        time.sleep(1.0)
        return ok(msg, {"name": "soak"})

    with FakeServer(slow_owner) as owner:
        assert _soak().find_victim([owner.endpoint], limit_s=60) == owner.endpoint


def _resume(proc: subprocess.Popen[bytes], resumed: list[int]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGCONT)
        resumed.append(proc.pid)


def test_the_soak_waits_for_its_servers_to_answer_hello_after_their_start() -> None:
    """At load ~25 the soak's servers did not answer ``hello`` within the admin client's outage budget
    (30 s) after their start: its create_study failed, and the check after it with NOT_FOUND. The
    soak now waits for each server to answer (a bound on a hang of minutes); here its server is
    stopped (SIGSTOP) from its start for longer than that budget, then resumed."""
    soak = _soak()
    spawn = soak.Server.spawn
    timers: list[tuple[threading.Timer, subprocess.Popen[bytes]]] = []
    resumed: list[int] = []

    def stopped_spawn(server: Any) -> None:
        spawn(server)
        os.kill(server.proc.pid, signal.SIGSTOP)
        timer = threading.Timer(DEFAULT_OUTAGE_BUDGET_S + 10, _resume, args=(server.proc, resumed))
        timer.start()
        timers.append((timer, server.proc))

    soak.Server.spawn = stopped_spawn  # this module's own copy (_soak loads a fresh one)
    try:
        result = soak.run(servers=1, workers=2, kills=0, ownership_ttl=1.0, interval_s=2.0, grid=20,
                          base_port=free_port(), timeout=0.5, log=io.StringIO())
    finally:
        for timer, proc in timers:
            timer.cancel()
            _resume(proc, [])
    assert len(resumed) == 1  # the server was resumed by the timer, after the budget, not here
    assert result["missing"] == 0 and result["duplicates"] == 0
    assert result["trials"] >= result["acknowledged_tells"]


def test_a_soak_server_that_exits_at_start_is_named_not_hidden_by_the_check() -> None:
    """A server that exits at its start (its port taken) fails the soak with that said; the check
    after it, on a study never created, raised NOT_FOUND (or a timeout) in its place."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError, match=f"server on tcp://127.0.0.1:{port} exited"):
            _soak().run(servers=1, workers=1, kills=0, ownership_ttl=1.0, interval_s=1.0, grid=10,
                        base_port=port, timeout=0.5, log=io.StringIO())
