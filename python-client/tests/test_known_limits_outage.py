"""A request over a limit the client already knows (``client.limits``, from ``hello``) while the
server is away, against a real server that is stopped: the client asked the server's limits again
first (a restarted one may have larger ones) and waited a whole request timeout, or the outage
budget for a report past ``max_intermediate``, before the refusal it already knew. Now it looks for
the server briefly (RELEARN_LOOK_S) and refuses. The timeouts and outage budgets here are 600 s:
the old client would still be waiting when the generous join below gives up (a hang, not a speed
measurement)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import tuneport as tp
from conftest import ServerProcess

SMALL = 4096
HANG_S = 120.0


def _in_thread(fn: Any) -> BaseException | None:
    """Runs ``fn`` on a thread; returns what it raised (None: nothing). Fails when it hangs."""
    out: list[BaseException | None] = []

    def run() -> None:
        try:
            fn()
            out.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(HANG_S)
    assert out, "the request still waits for a server that is away"
    return out[0]


def test_a_request_over_the_known_message_limit_is_refused_while_the_server_is_away(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db", extra=["--max-message-bytes", str(SMALL)]).start()
    try:
        with tp.connect(srv.endpoint, timeout=600, retries=0, outage_budget_s=600, heartbeat=False) as c:
            assert c.limits["max_message_bytes"] == SMALL
            study = c.create_study("s", space={"x": tp.Float(0, 1)})
            srv.stop()
            err = _in_thread(lambda: study.set_user_attr("blob", "x" * (2 * SMALL)))
            assert isinstance(err, tp.MessageTooLargeError), err
            assert f"limit of {SMALL}" in str(err)
            # The server back (with the same limit), the client goes on.
            srv = ServerProcess(srv.db, port=srv.port, extra=["--max-message-bytes", str(SMALL)]).start()
            study.set_user_attr("small", 1)
            assert study.user_attrs == {"small": 1}
    finally:
        srv.stop()


def test_a_report_past_the_known_intermediate_limit_is_refused_while_the_server_is_away(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db", extra=["--max-intermediate", "3"]).start()
    try:
        with tp.connect(srv.endpoint, timeout=600, retries=0, outage_budget_s=600, heartbeat=False) as c:
            assert c.limits["max_intermediate"] == 3
            study = c.create_study("s", space={"x": tp.Float(0, 1)})
            trial = study.ask()
            for step in range(3):
                trial.report(0.5, step)
            srv.stop()
            err = _in_thread(lambda: trial.report(0.5, 3, wait=False))
            assert isinstance(err, tp.InvalidArgumentError), err
            assert isinstance(err.data, dict) and err.data["reason"] == "max_intermediate" and err.data["max_intermediate"] == 3
            assert [s for s, _ in trial.intermediate] == [0, 1, 2]
    finally:
        srv.stop()
