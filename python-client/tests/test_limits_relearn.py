"""The server's limits (``client.limits``, from ``hello``) after a restart with other ones, against
real servers: the client learnt them once, at connect, so a request the new server takes was refused
unsent with the old limit, and one over the new limit was sent and refused (or its connection
dropped, every resend) while ``client.limits`` still said the old one."""

from __future__ import annotations

from pathlib import Path

import pytest

import tuneport as tp
from conftest import ServerProcess, free_port

SMALL = 4096


def _user_attrs(n: int) -> dict[str, str]:
    return {"blob": "x" * n}


def test_a_server_restarted_with_a_larger_limit_takes_what_the_old_one_refused(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db", extra=["--max-message-bytes", str(SMALL)]).start()
    try:
        with tp.connect(srv.endpoint, timeout=5.0, retries=1, outage_budget_s=60, heartbeat=False) as c:
            assert c.limits["max_message_bytes"] == SMALL
            with pytest.raises(tp.MessageTooLargeError, match=f"limit of {SMALL}"):
                c.create_study("big", space={"x": tp.Float(0, 1)}, user_attrs=_user_attrs(2 * SMALL))
            srv.stop()
            srv = ServerProcess(srv.db, port=srv.port).start()  # the default limit, 1 MiB
            study = c.create_study("big", space={"x": tp.Float(0, 1)}, user_attrs=_user_attrs(2 * SMALL))
            assert study.user_attrs["blob"] == "x" * (2 * SMALL)
            assert c.limits["max_message_bytes"] == 1 << 20
    finally:
        srv.stop()


@pytest.mark.parametrize("size", [SMALL + SMALL // 2, 4 * SMALL], ids=["refused", "connection-dropped"])
def test_a_server_restarted_with_a_smaller_limit_is_learnt_from_its_refusal(tmp_path: Path, size: int) -> None:
    # Up to twice its limit the server answers MESSAGE_TOO_LARGE naming it; past that it closes the
    # connection on the request, which the client resent until it gave up with a TimeoutError.
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, timeout=5.0, retries=1, outage_budget_s=60, heartbeat=False) as c:
            study = c.create_study("s", space={"x": tp.Float(0, 1)})
            srv.stop()
            srv = ServerProcess(srv.db, port=srv.port, extra=["--max-message-bytes", str(SMALL)]).start()
            with pytest.raises(tp.MessageTooLargeError, match=f"limit of {SMALL}"):
                study.set_user_attr("blob", "x" * size)
            assert c.limits["max_message_bytes"] == SMALL
            study.set_user_attr("small", 1)  # the client goes on
            assert study.user_attrs == {"small": 1}
    finally:
        srv.stop()


def test_with_several_endpoints_a_request_the_server_drops_is_refused_naming_the_new_limit(tmp_path: Path) -> None:
    # The FailoverChannel turned the server's "closed the connection on it each time" into "no reply
    # after N attempts", losing what said so, and resent the request to the other endpoint (nothing
    # there) first: a TimeoutError, client.limits still the old one, the server's resends counted.
    srv = ServerProcess(tmp_path / "t.db").start()
    nothing = f"tcp://127.0.0.1:{free_port()}"
    try:
        with tp.connect([srv.endpoint, nothing], timeout=2.0, retries=1, outage_budget_s=60, heartbeat=False) as c:
            study = c.create_study("s", space={"x": tp.Float(0, 1)})
            srv.stop()
            srv = ServerProcess(srv.db, port=srv.port, extra=["--max-message-bytes", str(SMALL)]).start()
            with pytest.raises(tp.MessageTooLargeError, match=f"limit of {SMALL}") as info:
                study.set_user_attr("blob", "x" * (4 * SMALL))
            assert isinstance(info.value.__cause__, tp.TimeoutError)
            assert "dropped" in (info.value.__cause__.data or {})
            assert c.limits["max_message_bytes"] == SMALL
            study.set_user_attr("small", 1)
            assert study.user_attrs == {"small": 1}
    finally:
        srv.stop()
