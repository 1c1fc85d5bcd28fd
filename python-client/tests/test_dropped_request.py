"""A request the server drops the connection on, every time it is sent (a ZeroMQ frame over twice
the server's ``--max-message-bytes``, which a client told a larger limit at connect still sends),
against real servers: it gives up after a few resends, saying why, instead of being resent for ever
(each reconnection started the outage budget afresh) with a warning for each; then the client learns
the server's limits again and raises MessageTooLargeError, the TimeoutError as its cause."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path

import pytest

import tuneport as tp
from conftest import ServerProcess


def test_a_request_the_restarted_server_drops_every_time_gives_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    srv = ServerProcess(tmp_path / "t.db", extra=["--max-message-bytes", str(8 << 20)]).start()
    try:
        with tp.connect(srv.endpoint, timeout=5.0, retries=1, outage_budget_s=30) as c:
            study = c.create_study("s", space={"x": tp.Float(0, 1)})
            srv.stop()
            # The default limit, 1 MiB: frames over 2 MiB disconnect their sender.
            srv = ServerProcess(srv.db, port=srv.port).start()
            # In a thread, so that a client that resends for ever fails this test instead of hanging it.
            outcome: list[BaseException | None] = []

            def send() -> None:
                try:
                    study.set_user_attr("big", "x" * (3 << 20))
                    outcome.append(None)
                except BaseException as err:  # noqa: BLE001 - checked below
                    outcome.append(err)

            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="tuneport"):
                worker = threading.Thread(target=send, daemon=True)
                worker.start()
                worker.join(60)
                if not outcome:
                    srv.stop()  # ends the resending: the client then waits out its outage budget
                    worker.join(60)
                    pytest.fail("still resending after 60 s")
            # The client then asks the server's limits again: the request is over the new one.
            too_large = outcome[0]
            assert isinstance(too_large, tp.MessageTooLargeError), too_large
            assert "exceeds the server's limit of 1048576 (learnt again" in str(too_large) and c.limits["max_message_bytes"] == 1 << 20
            err = too_large.__cause__
            assert isinstance(err, tp.TimeoutError), err
            assert re.search(r"closed the connection 4 times while 'set_user_attrs' \(3,1\d\d,\d\d\d bytes\)", str(err)), err
            assert err.data["dropped"] == 4
            lost = [r for r in caplog.records if "lost the connection" in r.getMessage()]
            assert len(lost) <= 5  # one per drop (and the restart's own, when noticed only now)
            # The connection is usable afterwards, and a request within the new limit is answered.
            study.set_user_attr("small", "y")
            assert c.load_study("s").user_attrs["small"] == "y"
    finally:
        srv.stop()
