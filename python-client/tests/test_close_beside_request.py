"""``client.close()`` while another thread's request holds the client's connection, waiting out an
outage (the server killed) or a server that does not answer (stopped with SIGSTOP).

close closed the client's channel under the channel's lock, which the request holds for its whole
wait: close (and the exit's close of every client) waited for that request, up to its outage
budget (for ever with ``outage_budget_s=math.inf``) or ``(1 + retries) x timeout``, well past the
``timeout`` it promises. Now close does not wait for it: the request ends with ClientClosedError at
its next look at the socket (within a second) and closes the sockets as it ends; the ZeroMQ context
is terminated by whichever lets go of it last.

Real ``tuneport serve``; the 60 s joins only catch a hang."""

from __future__ import annotations

import logging
import math
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, in_thread, until
from tuneport._failover import FailoverChannel


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

        def validation() -> None:
            try:
                out["outcome"] = client.list_studies()
            except BaseException as err:  # noqa: BLE001 - recorded for the assertions
                out["outcome"] = err

        other = threading.Thread(target=validation, daemon=True)
        other.start()
        until(lambda: in_thread(other, "poll") or not other.is_alive(), "the other thread's request waits for the server")
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
        # The report in flight is answered by a server back at its address: the thread ends.
        back = ServerProcess(tmp_path / "t.db", port=srv.port).start()
        until(lambda: not background._thread.is_alive(), "the background thread ends once answered")  # noqa: SLF001
        back.kill()
