"""A signal handler that closes the client, run on the thread whose request is letting go of the
connection (``FailoverChannel._let_go``): that thread held ``_handoff`` (a plain lock) there, and the
handler's ``close()`` (``stop_at``, then the channel's ``close``) waited for it for ever."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from conftest import ServerProcess

# The child process: a SIGTERM handler closes the client (a service's graceful stop). The hook fires
# the signal at the chosen moment, as the request's ``_let_go`` releases the channel's turn, where
# ``_handoff`` is held: just before (the turn still taken: the handler's close() leaves the sockets
# and its callback to ``_let_go``) or just after (the turn free: the close() closes them itself);
# ``signal.raise_signal`` runs the Python handler before it returns. Either way the sockets end
# closed and the ZeroMQ context terminated (the callback called): with only the lock made
# re-entrant, the close() left to ``_let_go`` was lost and the context stayed open.
CHILD = textwrap.dedent(
    """
    import signal, sys, threading
    import tuneport as tp

    client = tp.connect(sys.argv[1], timeout=5.0, retries=1)
    channel = client._channel
    handled = []

    def on_term(signum, frame):
        client.close()
        handled.append(client.closed)

    signal.signal(signal.SIGTERM, on_term)

    class Hooked:
        # The channel's turn (``_lock``), firing SIGTERM once as ``_let_go`` releases it.
        def __init__(self, inner):
            self.inner, self.armed = inner, False

        def acquire(self, *args, **kwargs):
            return self.inner.acquire(*args, **kwargs)

        def release(self):
            fire = self.armed and sys._getframe(1).f_code.co_name == "_let_go"
            if fire and sys.argv[2] == "before":
                self.armed = False
                signal.raise_signal(signal.SIGTERM)
            self.inner.release()
            if fire and sys.argv[2] == "after":
                self.armed = False
                signal.raise_signal(signal.SIGTERM)

        def locked(self):
            return self.inner.locked()

    hooked = channel._lock = Hooked(channel._lock)
    hooked.armed = True
    client.list_studies()
    assert not hooked.armed, "the hook did not fire"
    assert handled == [True], handled
    assert client.closed
    assert not channel._channels, "the sockets were left open"
    assert client._context.closed, "the ZeroMQ context was not terminated (close's callback was lost)"
    try:
        client.list_studies()
    except tp.ClientClosedError:
        pass
    else:
        raise AssertionError("a call after close() was sent")
    print("closed in the handler")
    """
)


@pytest.mark.parametrize("landing", ["before", "after"])
def test_close_from_a_signal_handler_landing_in_let_go(server: ServerProcess, landing: str) -> None:
    # Without the fix the child hangs in the handler's close(); the timeout only catches that hang.
    try:
        done = subprocess.run([sys.executable, "-c", CHILD, server.endpoint, landing], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as err:
        raise AssertionError(f"the handler's close() hung (deadlock on _handoff); output: {err.stdout!r} {err.stderr!r}") from None
    assert done.returncode == 0, done.stderr
    assert "closed in the handler" in done.stdout
