"""Two threads closing one client at once: the second waits for the first, and the ZeroMQ context
is terminated once (both terminating it together aborted the process). Real ``tuneport serve``."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, until


def test_two_threads_closing_one_client_at_once_do_not_terminate_its_context_together(
    server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two threads closing one client at once (a daemon thread leaving its with-block while the main
    thread's exit closes every client) both got past close()'s "already closed" look, and both
    terminated the ZeroMQ context, the second inside the first's zmq_ctx_term: libzmq aborted the
    process ("Assertion failed: pfd.revents & POLLIN (src/signaler.cpp:238)") or left one hung. The
    second close now waits for the first, then finds the client closed.

    Forced: the first close is held in ``_queue_put_aside`` until the second has come to the close
    lock (seen through a wrapper) or, without one, as far as the first; then the first to reach the
    context's term() (``zmq.Context.term`` patched) is held there until the other is waiting at the
    lock, or in term() too. Nothing is timed."""
    client = tp.connect(server.endpoint, heartbeat=False, timeout=5, retries=0)
    client.create_study(name)
    context = client._context  # noqa: SLF001
    term, put_aside = type(context).term, client._queue_put_aside  # noqa: SLF001
    in_term: list[str] = []
    together: list[list[str]] = []
    at_lock, second_closing, first_held = threading.Event(), threading.Event(), threading.Event()

    def held_term(self: Any) -> None:
        if self is not context:
            term(self)
            return
        me = threading.current_thread().name
        if in_term:
            together.append([*in_term, me])
            return  # not a second zmq_ctx_term inside the first's: that aborts this process
        in_term.append(me)
        try:
            until(lambda: at_lock.is_set() or together, "the other close waits for this one, or terminates too")
            term(self)
        finally:
            in_term.remove(me)

    def held_put_aside(deadline: float) -> None:
        if threading.current_thread().name == "second":
            second_closing.set()
        else:
            first_held.set()
            until(lambda: at_lock.is_set() or second_closing.is_set(), "the second close came as far as the first")
        put_aside(deadline)

    class _SeenLock:
        """The client's close lock: says when the second close waits for it."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __enter__(self) -> Any:
            if threading.current_thread().name == "second":
                at_lock.set()
            return self._inner.__enter__()

        def __exit__(self, *exc: object) -> Any:
            return self._inner.__exit__(*exc)

    monkeypatch.setattr(type(context), "term", held_term)
    client._queue_put_aside = held_put_aside  # type: ignore[method-assign]  # noqa: SLF001
    client._close_lock = _SeenLock(client._close_lock)  # type: ignore[assignment]  # noqa: SLF001
    first = threading.Thread(target=client.close, name="first", daemon=True)
    second = threading.Thread(target=client.close, name="second", daemon=True)
    first.start()
    until(first_held.is_set, "the first close is under way")
    second.start()
    first.join(60)
    second.join(60)
    assert not first.is_alive() and not second.is_alive(), "a close did not return"
    assert client.closed
    assert together == [], f"both closes were in the context's term() at once: {together}"
