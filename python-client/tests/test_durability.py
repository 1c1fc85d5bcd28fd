"""A server killed right after a reply loses nothing."""

from __future__ import annotations

from pathlib import Path

import tuneport as tp
from conftest import ServerProcess
from tuneport import _protocol


def test_sigkill_right_after_a_tell_reply_loses_nothing(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "kill.db").start()
    try:
        with tp.connect(srv.endpoint, timeout=5.0, heartbeat=False) as client:
            study = client.create_study("durable", space={"x": tp.Float(0.0, 1.0)})
            trial = study.ask()
            trial.report(0.75, 0)
            tell = _protocol.make_request(
                "tell", {"study": "durable", "trial": trial.number, "token": trial.lease.token, "state": "COMPLETE", "value": 0.375}
            )
            first = _protocol.parse_reply(client._channel.request(tell))
            srv.kill()  # SIGKILL the moment the reply is in
        assert first["trial"]["state"] == "COMPLETE"
        srv.start()  # same file, same port
        with tp.connect(srv.endpoint, timeout=5.0, heartbeat=False) as client:
            frozen = client.load_study("durable").trial(trial.number)
            assert frozen.state == "COMPLETE" and frozen.value == 0.375
            assert frozen.intermediate == [(0.0, 0.75)]
            # The same request id after the restart gets the first answer and changes nothing.
            again = _protocol.parse_reply(client._channel.request(tell))
            assert again == first
            assert client.load_study("durable").summary().n_trials == 1
    finally:
        srv.stop()
