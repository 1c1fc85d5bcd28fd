"""A request whose every wait on the socket returns more than ``STALL_S`` late (the requesting thread
starved of the GIL by another thread's long C calls, a machine so loaded that the thread is not
scheduled for seconds) still gives up on a server that does not answer.

A wait that returns over ``STALL_S`` later than asked is taken for a frozen process (SIGSTOP, a
suspended VM: tests/test_frozen_worker.py) and gives the attempt, and an outage's budget, the time
of that wait back. Given back at every such wait, a thread held up after each one never reached
its deadline: a hung server (connected, silent) or one that is down was waited on for ever (the
request here ran past the 60 s guard with ``timeout=2``, ``retries=0``, ``outage_budget_s=2``).

The hold-ups are injected deterministically: a profile hook in the requesting thread sleeps
``HOLD_S`` after each ``zmq.Poller.poll`` returns (as a thread waiting for the GIL would). The server
is a real ``tuneport serve``, stopped with SIGSTOP (hung) or killed (down)."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess
from tuneport._protocol import STALL_S

HOLD_S = STALL_S + 0.5


@pytest.mark.parametrize("server", ["hung", "down"])
def test_a_thread_held_up_after_every_wait_still_gives_up_on_a_silent_server(tmp_path: Path, server: str) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    stop_holding = threading.Event()
    try:
        with tp.connect(srv.endpoint, timeout=2.0, retries=0, outage_budget_s=2.0, heartbeat=False) as client:
            client.create_study("s")
            assert srv.proc is not None
            if server == "hung":
                srv.proc.send_signal(signal.SIGSTOP)
            else:
                srv.kill()
            message = client._message("get_study", {"study": "s"})  # noqa: SLF001
            out: dict[str, Any] = {}

            def hook(frame: FrameType, event: str, arg: Any) -> None:
                if event == "return" and frame.f_code.co_name == "poll" and isinstance(arg, list) and not stop_holding.is_set():
                    time.sleep(HOLD_S)  # the thread does not run for a while after each wait

            def request() -> None:
                sys.setprofile(hook)
                try:
                    out["result"] = client._request(message)  # noqa: SLF001
                except tp.TuneportError as err:
                    out["error"] = err
                finally:
                    sys.setprofile(None)

            thread = threading.Thread(target=request, daemon=True)
            thread.start()
            thread.join(60)  # a hang guard only: it takes a few waits
            ended = not thread.is_alive()
            stop_holding.set()  # let a request still under way end, whatever the assertion says
            thread.join(30)
            assert ended, "a request whose waits all returned late was never given up on (the silent server waited on for ever)"
            assert isinstance(out.get("error"), tp.TimeoutError), out
    finally:
        stop_holding.set()
        if srv.proc is not None and srv.proc.poll() is None:
            srv.proc.send_signal(signal.SIGCONT)
        srv.kill()
