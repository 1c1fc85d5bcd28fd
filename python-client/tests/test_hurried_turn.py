"""A trial's FAIL after Ctrl-C (``hurry``: one short attempt, ``INTERRUPTED_WAIT_S``) while another
thread's request holds the client's connection, waiting out an outage. The FAIL waited its turn on
the channel (``FailoverChannel._take_turn``) for as long as that request waited, its whole outage
budget (21.8 s with 20 s), not the second the README promises ("at most a second for its queued
reports and a second for the reply; then the interrupt propagates"); with ``outage_budget_s=math.inf``
for ever. Now it waits its turn for its own budget at most, and the interrupt propagates.

Real ``tuneport serve``, stopped with SIGSTOP while the other thread's request waits (connected,
silent). The assertion is about order, not time: the interrupt propagated while the other request
was still waiting (it gives up only after its budget, the server still stopped)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import tuneport as tp
from conftest import ServerProcess


def test_a_hurried_fail_does_not_wait_out_another_threads_request(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    try:
        with tp.connect(srv.endpoint, timeout=5, retries=1, heartbeat=False, outage_budget_s=20) as client:
            study = client.create_study("s")
            trial = study.ask()
            other: dict[str, Any] = {}

            def validation() -> None:
                try:
                    client.list_studies()
                    other["outcome"] = "answered"
                except tp.TuneportError as err:
                    other["outcome"] = err.code

            os.kill(srv.proc.pid, signal.SIGSTOP)
            thread = threading.Thread(target=validation)
            try:
                thread.start()
                end = time.monotonic() + 60
                while not client._channel._lock.locked() and time.monotonic() < end:  # noqa: SLF001 - its request holds the connection
                    time.sleep(0.01)
                interrupted = False
                try:
                    with trial:
                        raise KeyboardInterrupt  # what Ctrl-C raises in the with-block's body
                except KeyboardInterrupt:
                    interrupted = True
                # The interrupt propagated while the other request still waited (nothing answers it).
                still_waiting = "outcome" not in other
            finally:
                os.kill(srv.proc.pid, signal.SIGCONT)
            thread.join(120)
            assert not thread.is_alive()
            assert interrupted
            assert still_waiting, f"the FAIL waited until the other thread's request ended ({other})"
    finally:
        srv.kill()
