"""``client.close()`` called again on the thread that is closing the client: a logging handler that
one of close's own warnings runs ("client closed with N non-blocking report(s) not sent") and that
closes the client on trouble.

close's lock is reentrant (the thread that holds it may take it again), so the nested call ran a
close of its own inside the first: it waited for nothing (the queue already stopped), closed the
client's channel a second time, terminated the ZeroMQ context when the background thread had
ended, and marked the client closed while the outer call was still at work. Now the nested call
returns at once and does nothing; the outer one finishes closing.

Real ``tuneport serve``, stopped with SIGSTOP so that the background thread's report stays in
flight past close's deadline (it is resent many times first), which is what makes close warn. Nothing is timed."""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, until


class _CloseOnWarning(logging.Handler):
    """A user's handler that closes ``client`` on a warning containing ``text``, in the thread that
    emits it; what each nested call saw and raised is kept."""

    def __init__(self, client: tp.Client, text: str) -> None:
        super().__init__(logging.WARNING)
        self.client, self.text = client, text
        self.calls: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if self.text not in record.getMessage() or self.calls:
            return
        call: dict[str, Any] = {"thread": threading.current_thread().name}
        self.calls.append(call)
        try:
            self.client.close()
            call["closed_after"] = self.client.closed
        except BaseException as err:  # noqa: BLE001 - logging would swallow it
            call["error"] = err


def test_close_called_again_by_its_own_warning_on_the_same_thread_is_a_no_op(
    tmp_path: Path, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    # The report in flight is resent 1000 times (0.5 s each at least) before it gives up: long past
    # close's deadline (0.5 s).
    client = tp.connect(srv.endpoint, heartbeat=False, timeout=0.5, retries=1000, outage_budget_s=60)
    background = client._background  # noqa: SLF001
    assert background is not None
    closes: list[str] = []
    close_channel = client._channel.close  # noqa: SLF001

    def counted_close(*args: Any, **kwargs: Any) -> bool:
        closes.append(threading.current_thread().name)
        return close_channel(*args, **kwargs)

    client._channel.close = counted_close  # type: ignore[method-assign]  # noqa: SLF001
    handler = _CloseOnWarning(client, "not sent")
    logger = logging.getLogger("tuneport")
    logger.addHandler(handler)
    stopped = False
    try:
        trial = client.create_study(name).ask()
        srv.proc.send_signal(signal.SIGSTOP)
        stopped = True
        assert trial.report(1.0, 1, wait=False) is None
        assert trial.report(2.0, 2, wait=False) is None
        until(lambda: background._sending is not None, "the background thread sends step 1")  # noqa: SLF001
        with caplog.at_level(logging.WARNING, logger="tuneport"):
            client.close()
        assert len(handler.calls) == 1, handler.calls
        nested = handler.calls[0]
        assert nested["thread"] == threading.current_thread().name and "error" not in nested, nested
        # It returned at once, the outer call still at work: it closed nothing itself.
        assert nested["closed_after"] is False, nested
        assert client.closed
        assert len(closes) == 1, f"the client's channel was closed {len(closes)} times"
        assert len([r for r in caplog.records if "not sent" in r.getMessage()]) == 1, caplog.text
    finally:
        logger.removeHandler(handler)
        if stopped:
            srv.proc.send_signal(signal.SIGCONT)
        client.close()
        until(lambda: not background._thread.is_alive(), "the background thread ends once answered")  # noqa: SLF001
        srv.kill()


class _CloseOnTrouble(logging.Handler):
    """On the background thread: the first "heartbeat failed" queues two reports on ``trial`` and
    closes the client there (which names them as not sent); that warning closes it again."""

    def __init__(self, client: tp.Client, trial: tp.Trial) -> None:
        super().__init__(logging.WARNING)
        self.client, self.trial = client, trial
        self.calls: list[dict[str, Any]] = []
        self.done = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        first = "heartbeat failed" in text and not self.calls
        if not (first or ("not sent" in text and len(self.calls) == 1)):
            return
        call: dict[str, Any] = {"thread": threading.current_thread().name}
        self.calls.append(call)
        try:
            if first:
                self.trial.report(1.0, 1, wait=False)
                self.trial.report(2.0, 2, wait=False)
            self.client.close()
            call["closed_after"] = self.client.closed
        except BaseException as err:  # noqa: BLE001 - logging would swallow it
            call["error"] = err
        finally:
            if first:
                self.done.set()


def test_close_called_again_on_the_background_thread_by_its_own_warning_is_a_no_op(tmp_path: Path, name: str) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    client = tp.connect(srv.endpoint, timeout=1, retries=0, outage_budget_s=1, heartbeat_interval_s=0.2)
    logger = logging.getLogger("tuneport")
    handler: _CloseOnTrouble | None = None
    try:
        trial = client.create_study(name).ask()  # an open trial: the thread renews its lease
        handler = _CloseOnTrouble(client, trial)
        logger.addHandler(handler)
        srv.kill()  # the next heartbeat fails, and its warning runs the handler on the background thread
        until(handler.done.is_set, "the background thread ran the handler")
        assert [c["thread"] for c in handler.calls] == ["tuneport-background"] * 2, handler.calls
        outer, nested = handler.calls
        assert "error" not in outer and outer["closed_after"] is True, outer
        assert "error" not in nested and nested["closed_after"] is False, nested  # returned at once
        until(lambda: client._context.closed, "the thread terminated the ZeroMQ context as it ended")  # noqa: SLF001
    finally:
        if handler is not None:
            logger.removeHandler(handler)
        client.close()
        srv.kill()
