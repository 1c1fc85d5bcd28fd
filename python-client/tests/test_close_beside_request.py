"""``client.close()`` while another thread's request holds the client's connection, waiting out an
outage (the server killed) or a server that does not answer (stopped with SIGSTOP).

close closed the client's channel under the channel's lock, which the request holds for its whole
wait: close (and the exit's close of every client) waited for that request, up to its outage
budget (for ever with ``outage_budget_s=math.inf``) or ``(1 + retries) x timeout``, well past the
``timeout`` it promises. Now close does not wait for it: the request is given until close's deadline
(``timeout`` from the start of close) to be answered, then ends with ClientClosedError and closes the
sockets as it ends; the ZeroMQ context is terminated by whichever lets go of it last. So is the
background thread's report in flight at that deadline: dropped, and named.

Real ``tuneport serve``; the 60 s joins only catch a hang."""

from __future__ import annotations

import logging
import math
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
import zmq

import tuneport as tp
from conftest import ServerProcess, in_thread, until
from tuneport._failover import FailoverChannel


def _waiting_validation(client: tp.Client, out: dict[str, Any]) -> threading.Thread:
    """Another thread's call (a validation thread's), started and waiting for the server: what it
    returns or raises goes in ``out["outcome"]``."""

    def validation() -> None:
        try:
            out["outcome"] = client.list_studies()
        except BaseException as err:  # noqa: BLE001 - recorded for the assertions
            out["outcome"] = err

    other = threading.Thread(target=validation, daemon=True)
    other.start()
    until(lambda: in_thread(other, "poll") or not other.is_alive(), "the other thread's request waits for the server")
    return other


@pytest.mark.parametrize("server_is", ["killed", "stopped"])
def test_close_does_not_wait_for_another_threads_request(tmp_path: Path, server_is: str) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    # Killed: the request waits for ever (math.inf). Stopped: 1000 attempts of 1 s at least.
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=1, retries=1000, outage_budget_s=math.inf)
    stopped = False
    out: dict[str, Any] = {}
    try:
        client.create_study("s")
        if server_is == "killed":
            srv.kill()
        else:
            srv.proc.send_signal(signal.SIGSTOP)
            stopped = True

        other = _waiting_validation(client, out)
        closer = threading.Thread(target=client.close, daemon=True)
        closer.start()
        closer.join(60)
        assert not closer.is_alive(), "close() waited for another thread's request to end"
        assert client.closed
        other.join(60)
        assert not other.is_alive(), "the request under way went on after close"
        assert isinstance(out.get("outcome"), tp.ClientClosedError), out
        until(lambda: client._context.closed, "the ZeroMQ context is terminated once the request let go of it")  # noqa: SLF001
    finally:
        if stopped and srv.proc is not None:
            srv.proc.send_signal(signal.SIGCONT)
        client.close()
        srv.kill()


def test_a_request_interrupted_as_it_closes_the_sockets_leaves_the_connection_to_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request under way that ``close`` left the sockets to closes them as it lets go of the
    connection; an interrupt there (Ctrl-C landing just then: it is raised here on purpose) left the
    connection's lock held for ever: every later call on the closed client waited its turn for ever
    instead of raising ClientClosedError, and the ZeroMQ context was never terminated. Now the lock
    is let go however that ends, and the next call raises ClientClosedError and terminates the context."""
    srv = ServerProcess(tmp_path / "t.db").start()
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=1, retries=0, outage_budget_s=math.inf)
    out: dict[str, Any] = {}
    try:
        client.create_study("s")
        srv.kill()
        close_sockets = FailoverChannel._close_sockets

        def interrupted(self: FailoverChannel) -> None:
            close_sockets(self)
            if threading.current_thread() is other:
                raise KeyboardInterrupt  # what Ctrl-C raises, landing as the request lets go

        monkeypatch.setattr(FailoverChannel, "_close_sockets", interrupted)

        def call(key: str) -> None:
            try:
                out[key] = client.list_studies()
            except BaseException as err:  # noqa: BLE001 - recorded for the assertions
                out[key] = err

        other = threading.Thread(target=call, args=("first",), daemon=True)
        other.start()
        until(lambda: in_thread(other, "poll") or not other.is_alive(), "the request waits for the server")
        client.close()
        other.join(60)
        assert isinstance(out.get("first"), KeyboardInterrupt), out
        later = threading.Thread(target=call, args=("later",), daemon=True)
        later.start()
        later.join(60)
        assert not later.is_alive(), "a call on the closed client waited for a lock left held"
        assert isinstance(out.get("later"), tp.ClientClosedError), out
        until(lambda: client._context.closed, "the ZeroMQ context is terminated")  # noqa: SLF001
    finally:
        client.close()
        srv.kill()


@pytest.mark.parametrize("waits_in", ["poll", "wait_for"])
def test_a_with_block_ended_by_close_does_not_wait_for_its_report_in_flight(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, waits_in: str
) -> None:
    """A worker's call ended by ``close`` in another thread (ClientClosedError) ends its with-block,
    which tells FAIL; a tell first waits for the trial's non-blocking reports, and the one the
    background thread still has in flight (close goes on without it) is answered only when the
    server comes back: the FAIL waited for it without limit (``outage_budget_s=math.inf``), as did
    any blocking call on the trial after close, and a blocking report waiting for the queued ones
    as close began (``wait_for``). Now that wait ends once the client is closed, and the call
    raises ClientClosedError. ``poll``: the worker's call waits for the server; ``wait_for``: a
    blocking report waits for the one in flight."""
    srv = ServerProcess(tmp_path / "t.db").start()
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=1, retries=0, outage_budget_s=math.inf)
    background = client._background  # noqa: SLF001
    assert background is not None
    out: dict[str, Any] = {}
    try:
        trial = client.create_study("s").ask()
        srv.kill()

        def loop() -> None:
            try:
                with trial:
                    trial.report(1.0, 1, wait=False)  # in flight on the background thread, for ever
                    until(lambda: background._sending is not None, "the background thread sends step 1")  # noqa: SLF001
                    if waits_in == "poll":
                        client.list_studies()  # waits for the server too, until close
                    else:
                        trial.report(2.0, 2)  # waits for step 1 first
            except BaseException as err:  # noqa: BLE001 - recorded for the assertions
                out["raised"] = err

        worker = threading.Thread(target=loop, daemon=True)
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            worker.start()
            until(lambda: in_thread(worker, waits_in) or not worker.is_alive(), "the worker's call waits")
            client.close()
            worker.join(60)
        assert not worker.is_alive(), "the with-block's FAIL waited for a report in flight after close"
        assert isinstance(out.get("raised"), tp.ClientClosedError), out
        assert any(f"could not tell trial {trial.number}" in r.getMessage() for r in caplog.records), caplog.text
    finally:
        client.close()
        srv.kill()
        # The report in flight was dropped at close's deadline: the thread ends, the server still away.
        until(lambda: not background._thread.is_alive(), "the background thread ends")  # noqa: SLF001


def test_a_report_in_flight_at_closes_deadline_is_dropped_and_named_and_the_context_terminated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The background thread's non-blocking report in flight when close's deadline came went on
    after close, up to its outage budget: with ``outage_budget_s=math.inf`` for ever (a daemon thread
    on a ZeroMQ context never terminated), and close's warning said so. Now it gets close's deadline
    (``timeout``), then is dropped: the warning names it as dropped, the thread ends and the context
    is terminated, the server still away."""
    srv = ServerProcess(tmp_path / "t.db").start()
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=1, retries=0, outage_budget_s=math.inf)
    background = client._background  # noqa: SLF001
    assert background is not None
    try:
        trial = client.create_study("s").ask()
        srv.kill()
        trial.report(1.0, 1, wait=False)
        until(lambda: background._sending is not None and in_thread(background._thread, "poll"), "step 1 is in flight")  # noqa: SLF001
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            client.close()
        background._thread.join(60)  # noqa: SLF001
        assert not background._thread.is_alive(), "the report in flight went on after close"  # noqa: SLF001
        until(lambda: client._context.closed, "the ZeroMQ context is terminated")  # noqa: SLF001
        named = [r.getMessage() for r in caplog.records if "still in flight" in r.getMessage()]
        assert len(named) == 1 and "steps 1" in named[0] and "dropped" in named[0], caplog.text
    finally:
        client.close()
        srv.kill()


def test_another_threads_request_is_given_until_closes_deadline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A request under way in another thread got 0 to 1 s after close (the rest of its wait on the
    socket, CLOSED_LOOK_S) whatever close's deadline: a server answering 2 s later, well within the
    client's ``timeout``, was never heard. Now it is given until close's deadline (``timeout`` from
    the start of close), as the queued reports are; close still does not wait for it. The server is
    stopped (SIGSTOP) and let go once the request waited on its socket twice after close returned,
    each wait at most CLOSED_LOOK_S: it is answered."""
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=60, retries=0)
    polls: dict[int, int] = {}
    poll = zmq.Poller.poll

    def counted(self: zmq.Poller, timeout: int | None = None) -> Any:
        ident = threading.get_ident()
        polls[ident] = polls.get(ident, 0) + 1
        return poll(self, timeout)

    monkeypatch.setattr(zmq.Poller, "poll", counted)
    out: dict[str, Any] = {}
    stopped = False
    try:
        client.create_study("s")
        srv.proc.send_signal(signal.SIGSTOP)
        stopped = True

        other = _waiting_validation(client, out)
        client.close()
        assert client.closed
        assert other.ident is not None
        seen = polls.get(other.ident, 0)
        until(lambda: polls.get(other.ident or 0, 0) >= seen + 2 or not other.is_alive(), "the request waited twice after close")
        srv.proc.send_signal(signal.SIGCONT)
        stopped = False
        other.join(60)
        assert not other.is_alive()
        assert isinstance(out.get("outcome"), list) and [s.name for s in out["outcome"]] == ["s"], out
        until(lambda: client._context.closed, "the ZeroMQ context is terminated once the request let go of it")  # noqa: SLF001
    finally:
        if stopped:
            srv.proc.send_signal(signal.SIGCONT)
        client.close()
        srv.kill()
