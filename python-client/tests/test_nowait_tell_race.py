"""A non-blocking report of a trial queued by one thread while another thread tells it.

``complete`` (any tell) waits for the trial's queued reports first, so that no report made before
it reaches a finished trial. It read the number of the last one queued, waited for it and then set
it to 0: a report queued by another thread during that wait (a validation thread, a logging
callback) was neither waited for nor refused; the tell went out while it was still queued, and the
server refused it once the trial was finished. That ``report(..., wait=False)`` had returned without
an error and its value was not stored (the error surfaced as a warning, to nobody's next call). Calls
on one trial now take turns (``Trial._order``): the report waits for the tell and then raises
UpdateFinishedTrialError in its own thread, as a report after a tell does.

Deterministic: a profile hook in the client's background thread holds each report back until the
test lets it go, so the interleaving is the one above on every run. Real ``tuneport serve``."""

from __future__ import annotations

import threading
from types import FrameType
from typing import Any

import tuneport as tp
from tuneport.exceptions import UpdateFinishedTrialError
from conftest import ServerProcess, in_thread, until




def test_a_report_queued_by_another_thread_while_the_trial_is_told_is_not_lost(tmp_path: Any) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, heartbeat=False) as client:
            study = client.create_study("s")
            trial = study.ask()
            gates = {1: threading.Event(), 2: threading.Event()}

            def hold(frame: FrameType, event: str, arg: Any) -> None:
                if event == "call" and frame.f_code.co_name == "_send_report":
                    job = frame.f_locals.get("job")
                    gate = gates.get(getattr(job, "seq", 0))
                    if gate is not None:
                        gate.wait(60)  # the background thread holds this report back until let go

            threading.setprofile(hold)  # for the threads started from here: the background thread, at the first report
            try:
                trial.report(1.0, 1, wait=False)
            finally:
                threading.setprofile(None)
            out: dict[str, Any] = {}

            def tell() -> None:
                trial.complete(5.0)

            def report() -> None:
                try:
                    trial.report(2.0, 2, wait=False)
                    out["report"] = "returned"
                except tp.TuneportError as err:
                    out["report"] = err

            teller = threading.Thread(target=tell)
            teller.start()
            until(lambda: in_thread(teller, "wait_for"), "complete() waits for the queued report")
            reporter = threading.Thread(target=report)
            reporter.start()
            # Queued (it returned), or waiting its turn behind the tell.
            until(lambda: not reporter.is_alive() or in_thread(reporter, "turn"), "the second report is queued or waits")
            gates[1].set()  # the first report is answered: complete() goes on and tells
            teller.join(60)
            assert not teller.is_alive()
            gates[2].set()
            reporter.join(60)
            assert not reporter.is_alive()
            background = client._background  # noqa: SLF001
            assert background is not None
            until(lambda: background.pending() == 0, "every queued report is answered")
            stored = study.trial(trial.number)
            assert stored.state == "COMPLETE" and stored.value == 5.0
            # A report that returned is one the server took; one refused says so in its caller's thread.
            if out["report"] == "returned":
                assert 2 in stored.intermediate_values, (out, stored.intermediate_values)
            else:
                assert isinstance(out["report"], UpdateFinishedTrialError), out
            assert out["report"] != "returned", "the report made during the tell's wait waits for its turn"
    finally:
        srv.kill()
