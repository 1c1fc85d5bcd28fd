"""A non-blocking report made while ``client.close()`` stops the background thread is sent, named in
close's warning, or refused with ClientClosedError: it never vanishes.

``_Background.stop`` looked at the queue (the last report queued), waited for that one, then set its
stop flag. A report queued between the look and the flag was neither waited for nor refused: the
thread, woken by the flag, left its loop and cleared the queue, and nothing said so (the report's
call had returned None; close() warned only when its wait ran out).

The interleaving is forced: the background thread is asleep in its polling wait (REPORT_POLL_S
raised to 60 s so that it stays there; a report queued while it polls wakes nobody), and the
training loop's report is made from a profile hook in the closing thread, just after close() looked
at the queue. Stack and lock inspection say where each thread is; nothing is timed. Real
``tuneport serve``."""

from __future__ import annotations

import logging
import sys
import threading
from types import FrameType
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, background_asleep, until
from tuneport import _client


def _stored(srv: ServerProcess, study: str, number: int) -> dict[float, float]:
    with tp.connect(srv.endpoint, heartbeat=False) as other:
        return dict(other.load_study(study).trial(number).intermediate_values)


def test_a_report_made_just_after_close_looked_at_the_queue_is_not_lost_in_silence(
    server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    client = tp.connect(server.endpoint, heartbeat=False, timeout=5, retries=1)
    try:
        trial = client.create_study(name).ask()
        background = background_asleep(trial, monkeypatch)  # it sleeps through the race below

        out: dict[str, Any] = {}

        def loop() -> None:
            try:
                out["nowait"] = trial.report(1.0, 1, wait=False)
            except BaseException as err:  # noqa: BLE001 - recorded for the assertions
                out["nowait"] = err

        reporter = threading.Thread(target=loop, daemon=True)

        def hook(frame: FrameType, event: str, arg: Any) -> None:
            # Once close() has looked at what is queued, and before it stops the thread.
            if event == "return" and frame.f_code.co_name == "_last_wanted" and not reporter.is_alive() and "nowait" not in out:
                sys.setprofile(None)
                reporter.start()
                # Where close() holds the queue's lock while it looks, the report waits for it (and
                # the hook must not): then it is made after close decided, whatever that was.
                if not background._cond._is_owned():  # type: ignore[attr-defined]  # noqa: SLF001
                    reporter.join(60)
                    assert "nowait" in out, "the report did not return"

        with caplog.at_level(logging.WARNING, logger="tuneport"):
            sys.setprofile(hook)
            try:
                client.close()
            finally:
                sys.setprofile(None)
            reporter.join(60)
        assert not reporter.is_alive() and "nowait" in out, out
        warned = " ".join(r.getMessage() for r in caplog.records if "not sent" in r.getMessage())
        refused = isinstance(out["nowait"], tp.ClientClosedError)
        named = f"trial {trial.number} of '{name}'" in warned and "steps 1" in warned
        stored = _stored(server, name, trial.number)
        assert refused or named or stored == {0: 0.5, 1: 1.0}, (
            f"the report of step 1 returned {out['nowait']!r}, was not stored ({stored}) and no warning named it ({warned!r})"
        )
        if not refused:
            assert out["nowait"] is None, out
    finally:
        client.close()


def test_a_report_taken_just_before_close_stopped_the_thread_is_not_sent_once_named_as_not_sent(
    server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The background thread takes the report at the head of its queue, then sends the heartbeat that
    is due, then the report. close() stopping it meanwhile names that report as not sent (none is in
    flight yet): the thread, back from the heartbeat, must not send it after all (the server would
    store a report the warning said was lost).

    The heartbeat due with the report taken is held (``_Background._beat`` patched, the period made 0
    once armed, so that one is due); close() runs out its timeout waiting for the report, then stops
    the thread; the heartbeat is let go after close returned. Real ``tuneport serve``."""
    armed, holding, let_go = threading.Event(), threading.Event(), threading.Event()
    period, beat = _client._Background._period, _client._Background._beat  # noqa: SLF001

    def due_at_once(self: _client._Background, trials: list[tp.Trial]) -> float:
        return 0.0 if armed.is_set() else period(self, trials)

    def held_beat(self: _client._Background, channel: Any, trials: list[tp.Trial]) -> None:
        if not armed.is_set():
            beat(self, channel, trials)
        elif sys._getframe(1).f_locals.get("job") is not None:  # noqa: SLF001 - the report is taken
            holding.set()
            let_go.wait(60)

    monkeypatch.setattr(_client._Background, "_period", due_at_once)  # noqa: SLF001
    monkeypatch.setattr(_client._Background, "_beat", held_beat)  # noqa: SLF001
    client = tp.connect(server.endpoint, timeout=1, retries=0)
    try:
        trial = client.create_study(name).ask()
        background = client._background  # noqa: SLF001
        assert background is not None
        armed.set()
        assert trial.report(1.0, 1, wait=False) is None
        until(holding.is_set, "the background thread took the report and sends the heartbeat due first")
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            client.close()
        let_go.set()
        background._thread.join(60)  # noqa: SLF001
        assert not background._thread.is_alive()  # noqa: SLF001
        warned = " ".join(r.getMessage() for r in caplog.records if "not sent" in r.getMessage())
        assert f"trial {trial.number} of '{name}': steps 1" in warned, warned
        stored = _stored(server, name, trial.number)
        assert stored == {}, f"the report of step 1, named as not sent, was sent after close: {stored}"
    finally:
        let_go.set()
        client.close()
