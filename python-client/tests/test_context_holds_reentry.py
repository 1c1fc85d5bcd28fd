"""``Client._hold_context`` / ``_let_go_context`` with a signal handler landing at every bytecode.

A handler that calls the client runs on the thread it interrupts; its request can let go of the
channel and call ``_let_go_context`` there (tests/test_signal_context_lock.py). Python 3.9 runs a
handler between any two bytecodes (3.10+ only at calls and backward jumps), so also between the read
and the write of ``self._context_holders += 1`` under the (re-entrant) lock: the handler's -1 was
overwritten, the count never reached 0 and the ZeroMQ context was never terminated. The tracer below
raises the signal before each opcode of those two methods in turn, as 3.9's eval breaker may.
"""

from __future__ import annotations

import dis
import signal
import sys
import threading
from types import FrameType
from typing import Any

import pytest

from tuneport._connection import Client


class _Context:
    def __init__(self) -> None:
        self.terms = 0

    def term(self) -> None:
        self.terms += 1


def _client(holds: int) -> Any:
    """The counting part of a Client, ``holds`` holders. ``_context_holders`` is also set in the
    instance: the count itself in a client that keeps an int (the class attribute of one that derives
    it from its list of holds is a property, which an instance attribute does not shadow)."""
    c: Any = object.__new__(Client)
    c._context_lock = threading.RLock()
    c._context = _Context()
    c._context_holds, c._context_terms = [None] * holds, [None]
    c.__dict__["_context_holders"] = holds
    return c


def _offsets(method: Any) -> list[int]:
    return [i.offset for i in dis.get_instructions(method)]


def _with_handler_before(method: Any, offset: int, run: Any, handler: Any) -> bool:
    """Runs ``run()``; SIGTERM (``handler``) is raised before ``method``'s opcode at ``offset``. True if it fired."""
    fired: list[bool] = []
    code = method.__code__

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code is not code:
            return None
        frame.f_trace_opcodes = True
        if event == "opcode" and frame.f_lasti == offset and not fired:
            fired.append(True)
            signal.raise_signal(signal.SIGTERM)
        return tracer

    previous = signal.signal(signal.SIGTERM, lambda *_: handler())
    sys.settrace(tracer)
    try:
        run()
    finally:
        sys.settrace(None)
        signal.signal(signal.SIGTERM, previous)
    return bool(fired)


@pytest.mark.parametrize("offset", _offsets(Client._hold_context))
def test_a_let_go_in_a_handler_inside_a_hold_is_not_lost(offset: int) -> None:
    c = _client(3)
    fired = _with_handler_before(Client._hold_context, offset, c._hold_context, c._let_go_context)
    assert c._context_holders == (3 if fired else 4)
    assert c._context.terms == 0


@pytest.mark.parametrize("offset", _offsets(Client._let_go_context))
def test_the_last_two_let_go_one_in_a_handler_terminate_the_context_once(offset: int) -> None:
    c = _client(2)
    fired = _with_handler_before(Client._let_go_context, offset, c._let_go_context, c._let_go_context)
    assert c._context_holders == (0 if fired else 1)
    assert c._context.terms == (1 if fired else 0)
