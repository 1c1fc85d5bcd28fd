"""A signal handler that calls the client (a study method, or ``close()``) on the main thread while
that thread holds ``Client._context_lock`` (closing the client: ``_hold_context``), with a request of
another thread still under way. The handler's request waits its turn, is refused (closed), and as it
lets go of the channel it closes the sockets that close() left to the request under way, calling
close's callback, ``_let_go_context``: on the main thread, which held ``_context_lock`` (a plain
lock) below the handler, so it waited for itself for ever."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import ServerProcess

# The child: a SIGTERM handler calls the client. The server is stopped (SIGSTOP) so that another
# thread's request is under way when the main thread closes; the hook fires SIGTERM as close takes
# ``_context_lock`` after the channel's close was left to that request. ``turn``: who takes the
# channel's turn when that request ends: the handler's request ("handler", held so: the other thread
# waits, after releasing the turn, until the handler's request has it) or the other thread ("thread").
CHILD = textwrap.dedent(
    """
    import os, signal, sys, threading, time
    import tuneport as tp

    endpoint, pid, turn = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    client = tp.connect(endpoint, timeout=2.0, retries=1, heartbeat=False)
    channel = client._channel
    client.list_studies()
    handled = []
    main = threading.main_thread()
    handler_has_turn = threading.Event()

    def on_term(signum, frame):
        try:
            client.list_studies()
            handled.append("listed")
        except tp.ClientClosedError:
            handled.append("refused")
        client.close()  # the client's close is under way below: returns at once
        handled.append("closed")

    signal.signal(signal.SIGTERM, on_term)

    class Turn:
        # The channel's turn (``_lock``).
        def __init__(self, inner):
            self.inner = inner

        def acquire(self, *args, **kwargs):
            got = self.inner.acquire(*args, **kwargs)
            if got and threading.current_thread() is main and handled == [] and fired:
                handler_has_turn.set()
            return got

        def release(self):
            self.inner.release()
            if turn == "handler" and threading.current_thread() is not main and sys._getframe(1).f_code.co_name == "_let_go":
                handler_has_turn.wait(10)  # the handler's request takes the turn first

        def locked(self):
            return self.inner.locked()

    fired = []

    class Context:
        # ``_context_lock``: SIGTERM once close holds it after leaving the sockets to the request under way.
        def __init__(self, inner):
            self.inner = inner

        def __enter__(self):
            self.inner.acquire()
            if not fired and threading.current_thread() is main and channel._when_closed is not None:
                fired.append(sys._getframe(1).f_code.co_name)
                signal.raise_signal(signal.SIGTERM)
            return self

        def __exit__(self, *exc):
            self.inner.release()

    channel._lock = Turn(channel._lock)
    client._context_lock = Context(client._context_lock)
    out = []

    def request():
        try:
            client.list_studies()
            out.append("answered")
        except tp.TuneportError as err:
            out.append(type(err).__name__)

    os.kill(pid, signal.SIGSTOP)
    try:
        other = threading.Thread(target=request)
        other.start()
        while not channel._lock.locked():
            time.sleep(0.01)
        time.sleep(0.1)  # sent, waiting for the stopped server's answer
        client.close()
        other.join(30)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert fired == ["_hold_context"], fired
    assert handled == ["refused", "closed"], handled
    assert out == ["ClientClosedError"], out
    assert not other.is_alive()
    assert client.closed and not channel._channels, "the sockets were left open"
    assert client._context_holders == 0 and client._context.closed, "the ZeroMQ context was not terminated"
    print("closed beside the handler")
    """
)


@pytest.mark.parametrize("turn", ["handler", "thread"])
def test_a_signal_handler_calling_the_client_while_close_holds_the_context_lock(server: ServerProcess, turn: str) -> None:
    # Without the fix the child hangs ("handler"); the timeout only catches that hang.
    assert server.proc is not None
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, server.endpoint, str(server.proc.pid), turn], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"the child hung (deadlock on _context_lock); output: {err.stdout!r} {err.stderr!r}") from None
    finally:
        server.proc.send_signal(__import__("signal").SIGCONT)  # a hung child left the server stopped
    assert done.returncode == 0, done.stderr
    assert "closed beside the handler" in done.stdout
