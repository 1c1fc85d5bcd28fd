"""A worker frozen twice while one request waits for its answer (stopped and let go on twice, a
laptop that sleeps, wakes and sleeps again) gets the answer, as one frozen once does.

A wait on the socket that returns more than ``STALL_S`` later than asked is taken for a frozen
process, and the attempt gets the time of that wait back (tests/test_frozen_worker.py). Once per
attempt only, so that a thread held up after every wait still gives up (tests/test_late_waits_end.py):
a second freeze within the attempt counted as silence, and with ``retries=0`` the report failed with
TimeoutError although the server had answered. A wait that returned on time between the two shows
that the process ran in between: the second freeze is given back too. Waits late one after another
(no on-time wait between) still are not: the last parameter.

The freezes are injected, deterministically: the channel's clock (``_protocol.time``) jumps
``FREEZE_S`` past the end of a frozen wait, and that wait returns nothing (the server's reply, which
a frozen process's I/O thread has not read yet, shows at the next real wait). A wait that "ran"
returns nothing at once, on time. Real ``tuneport serve``; nothing is timed."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import zmq

import tuneport as tp
from conftest import ServerProcess
from tuneport import _protocol

FREEZE_S = 10.0  # past the request's timeout: uncredited, a freeze ends the attempt
TIMEOUT_S = 5.0


class _Clock:
    """``time`` for ``_protocol``: its ``monotonic`` runs ``offset`` seconds ahead of the real one."""

    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.mark.parametrize(
    ("waits", "answered"),
    [
        (["frozen"], True),
        (["frozen", "ran", "frozen"], True),
        (["frozen", "ran", "frozen", "ran", "frozen"], True),
        (["frozen", "frozen"], False),  # held up after each wait: given up on, as before
    ],
)
def test_a_report_whose_wait_is_frozen_again_after_the_process_ran_gets_its_answer(
    server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch, waits: list[str], answered: bool
) -> None:
    clock = _Clock()
    monkeypatch.setattr(_protocol, "time", clock)
    poll = zmq.Poller.poll
    script: list[str] = []
    seen: list[str] = []
    requester = threading.current_thread()

    def scripted_poll(self: zmq.Poller, timeout: int | None = None) -> Any:
        if threading.current_thread() is not requester or not script:
            return poll(self, timeout)
        what = script.pop(0)
        seen.append(what)
        if what == "frozen":
            clock.offset += (timeout or 0) / 1000 + FREEZE_S
        return []

    monkeypatch.setattr(zmq.Poller, "poll", scripted_poll)
    with tp.connect(server.endpoint, timeout=TIMEOUT_S, retries=0, heartbeat=False) as client:
        trial = client.create_study(name).ask()
        script.extend(waits)
        try:
            outcome: object = trial.report(1.0, 1)
        except tp.TimeoutError as err:
            outcome = err
        assert seen == waits, f"the report's request did not wait as scripted: {seen}"
        if answered:
            assert isinstance(outcome, tp.Decision), f"frozen {waits.count('frozen')} times, the report got {outcome!r}"
            assert dict(client.load_study(name).trial(trial.number).intermediate_values) == {1: 1.0}
        else:
            assert isinstance(outcome, tp.TimeoutError), outcome
