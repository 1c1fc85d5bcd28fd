"""A client thread that is not running while its reply arrives: another thread holds the GIL (a long
synchronous CUDA call, a C extension that does not release it) or the thread itself is held up.
The reply waits in the socket; when the thread runs again its attempt's deadline has passed. The
channel used to declare the attempt silent without reading the socket again, drop the socket with the
reply in it and resend, and after ``1 + retries`` such attempts give the request up with a
TimeoutError although the server had answered every one in time. Now an attempt past its deadline
reads what is waiting first (a poll that does not wait), and only a socket with nothing in it counts
as silence.

The delay is injected deterministically: a profile hook in the requesting thread sleeps right after
``zmq.Poller.poll`` returned with the request socket readable (its reply there), as a thread blocked
at that moment would be. The server is a real ``tuneport serve``, paused with SIGSTOP for the first
attempt so that the second one (which also asks ``hello`` beside the request, Channel.request) runs."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import zmq

import tuneport as tp
from conftest import ServerProcess

TIMEOUT_S = 4.0  # over LIVENESS_LOOK_S (resends ask a hello beside the request), and time for a server just resumed on a busy machine to answer


def _blocked_after_reply(message: dict[str, Any], hold_s: float) -> Any:
    """A profile function for the requesting thread: once the request was resent (its ``attempt``
    counted up to 2), the first ``Poller.poll`` that returns with the DEALER socket readable is
    followed by ``hold_s`` seconds in which the thread does not run (time.sleep here, as a thread
    waiting for the GIL)."""
    held = [False]

    def hook(frame: FrameType, event: str, arg: Any) -> None:
        if held[0] or event != "return" or frame.f_code.co_name != "poll" or not isinstance(arg, list):
            return  # not Poller.poll's return (Socket.poll returns a number)
        if message.get("attempt", 0) >= 2 and any(getattr(s, "type", None) == zmq.DEALER for s, _ in arg):
            held[0] = True
            time.sleep(hold_s)

    return hook


def test_a_reply_that_arrived_while_the_thread_was_held_up_is_read_not_resent(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, timeout=TIMEOUT_S, retries=1, heartbeat=False) as client:
            client.create_study("s")
            message = client._message("get_study", {"study": "s"})  # noqa: SLF001 - to watch its attempts
            out: dict[str, Any] = {}

            def request() -> None:
                sys.setprofile(_blocked_after_reply(message, hold_s=2 * TIMEOUT_S))
                try:
                    out["result"] = client._request(message)  # noqa: SLF001
                except tp.TuneportError as err:
                    out["error"] = err
                finally:
                    sys.setprofile(None)

            assert srv.proc is not None
            os.kill(srv.proc.pid, signal.SIGSTOP)  # the first attempt meets silence
            thread = threading.Thread(target=request)
            try:
                thread.start()
                end = time.monotonic() + 60
                while message.get("attempt", 0) < 2 and time.monotonic() < end:
                    time.sleep(0.01)  # until the resend is on its way
            finally:
                os.kill(srv.proc.pid, signal.SIGCONT)
            thread.join(60)
            assert not thread.is_alive()
            # Answered in time (the server was running again before the resend connected): the
            # reply held in the socket while the thread was held up is the request's answer. It
            # was dropped with the socket, and with retries=1 that was the last attempt.
            assert "error" not in out, out
            assert out["result"]["study"]["name"] == "s"
            assert message["attempt"] == 2, "answered by the resend, not by a third send"
    finally:
        srv.kill()
