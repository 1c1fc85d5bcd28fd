"""Ctrl-C while ``ask`` waits for its reply (``optimize`` with one job spends its time between
trials there): the server starts the trial anyway, and it stayed RUNNING, its lease renewed by
the heartbeats for as long as the client lived, then retried as a lost worker's. The client
now learns which trial it was (the ask sent again with its id: the server answers it once) and
tells it FAIL, interrupted, as it does for a trial that Ctrl-C ends. Real server; the script runs
as a subprocess and gets a real SIGINT."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from conftest import HELLO_RESULT, FakeServer, ServerProcess, err, ok

HANG = 60.0  # only catches a hang

# Python's Ctrl-C handler for every test, the scripts' subprocesses included: a handled SIGINT is
# reset to the default at exec, where the script's Python puts its own back (an ignored one stays ignored).
pytestmark = pytest.mark.usefixtures("ctrl_c_raises")

INTERRUPTED_ASK = """
    import faulthandler, os, signal, sys, threading, time
    import tuneport as tp
    from tuneport import _trial
    _trial.INTERRUPTED_WAIT_S = 30.0  # the paused server's answer is not raced against the usual second
    faulthandler.dump_traceback_later(60, exit=True)
    endpoint, name, server_pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = tp.connect(endpoint, timeout=20.0)
    study = client.create_study(name)
    os.kill(server_pid, signal.SIGSTOP)  # the ask waits for its reply
    def interrupt():
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the ask waits
        time.sleep(0.2)
        os.kill(server_pid, signal.SIGCONT)
    threading.Thread(target=interrupt, daemon=True).start()
    try:
        study.ask()
        print("asked", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    client.close()
"""


def test_ctrl_c_during_ask_tells_the_trial_it_started_fail_interrupted(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    try:
        script = tmp_path / "ask.py"
        script.write_text(textwrap.dedent(INTERRUPTED_ASK))
        env = {k: v for k, v in os.environ.items() if k != "TUNEPORT_ENDPOINT"}
        done = subprocess.run(
            [sys.executable, str(script), srv.endpoint, "s", str(srv.proc.pid)],
            capture_output=True, text=True, env=env, timeout=3 * HANG, check=False,
        )  # fmt: skip
        os.kill(srv.proc.pid, signal.SIGCONT)  # should the script have died before it
        assert "interrupted" in done.stdout, done.stdout + done.stderr
        with tp.connect(srv.endpoint) as client:
            (trial,) = client.load_study("s").trials
        assert trial.state == "FAIL", (trial, done.stdout + done.stderr)
        assert trial.system_attrs.get("interrupted") is True, trial
    finally:
        srv.kill()


def test_an_ask_whose_fixed_distribution_is_refused_leaves_no_running_trial(client: tp.Client, name: str) -> None:
    """The ask started the trial, then the follow-up suggest of a fixed distribution was refused:
    the caller never got the trial, which stayed RUNNING, its lease renewed by this client's
    heartbeats for as long as it lived. It is told FAIL, interrupted (never evaluated)."""
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    with pytest.warns(RuntimeWarning, match="Inconsistent"), pytest.raises(tp.InvalidArgumentError, match="cannot be suggested"):
        study.ask(fixed_distributions={"x": tp.Float(5, 6)})
    (trial,) = study.trials
    assert trial.state == "FAIL", trial
    assert trial.system_attrs.get("interrupted") is True and "fixed_distributions" in trial.system_attrs["fail_reason"], trial
    assert client._trials == {}  # nothing left to renew
    with pytest.raises(tp.InvalidArgumentError, match="not a distribution"):
        study.ask(fixed_distributions={"y": object()})  # refused before any trial starts
    assert len(study.trials) == 1


INTERRUPTED_SUGGEST = """
    import faulthandler, os, signal, sys, threading, time
    import tuneport as tp
    from tuneport import _trial
    _trial.INTERRUPTED_WAIT_S = 30.0  # the paused server's answer is not raced against the usual second
    faulthandler.dump_traceback_later(60, exit=True)
    endpoint, name, server_pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
    client = tp.connect(endpoint, timeout=20.0)
    study = client.create_study(name)
    real = _trial.Trial._suggest
    def paused(self, *a, **k):  # the server stops answering once the ask was answered
        os.kill(server_pid, signal.SIGSTOP)
        def interrupt():
            time.sleep(0.5)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the suggest waits
            time.sleep(0.2)
            os.kill(server_pid, signal.SIGCONT)
        threading.Thread(target=interrupt, daemon=True).start()
        return real(self, *a, **k)
    _trial.Trial._suggest = paused
    try:
        study.ask(fixed_distributions={"lr": tp.Float(0.001, 0.1, log=True)})
        print("asked", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    client.close()
"""


def test_ctrl_c_during_the_fixed_distributions_suggest_tells_the_trial_fail_interrupted(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    try:
        script = tmp_path / "ask.py"
        script.write_text(textwrap.dedent(INTERRUPTED_SUGGEST))
        env = {k: v for k, v in os.environ.items() if k != "TUNEPORT_ENDPOINT"}
        done = subprocess.run(
            [sys.executable, str(script), srv.endpoint, "s", str(srv.proc.pid)],
            capture_output=True, text=True, env=env, timeout=3 * HANG, check=False,
        )  # fmt: skip
        os.kill(srv.proc.pid, signal.SIGCONT)  # should the script have died before it
        assert "interrupted" in done.stdout, done.stdout + done.stderr
        with tp.connect(srv.endpoint) as client:
            (trial,) = client.load_study("s").trials
        assert trial.state == "FAIL", (trial, done.stdout + done.stderr)
        assert trial.system_attrs.get("interrupted") is True, trial
    finally:
        srv.kill()


def test_an_older_server_gets_no_plain_fail_for_a_trial_ask_never_returned(client: tp.Client, name: str) -> None:
    """A server without ``tell.interrupted`` (nor the envelope's ``attempt``) stores a plain FAIL,
    which teaches GP and TPE that the configuration fails, for a trial never evaluated; and the ask
    sent again after Ctrl-C may start a trial of its own. There the lease runs out instead, as
    before (a lost lease teaches nothing): no tell, no second ask, nothing left renewing."""
    client.create_study(name, space={"x": tp.Float(0, 1)})
    study_view = client.call("get_study", study=name)
    asked = client.call("ask", study=name)
    interrupt = {"on": False}

    def handler(msg: dict[str, Any]) -> dict[str, Any] | None:
        if msg["op"] == "get_study":
            return ok(msg, study_view)
        if msg["op"] == "ask":
            if interrupt["on"]:
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the ask waits for its reply
                time.sleep(0.3)
            return ok(msg, asked)
        if msg["op"] == "suggest":
            return err(msg, "INVALID_ARGUMENT", "cannot be suggested as that")
        return ok(msg, {})

    with FakeServer(handler) as fake, tp.connect(fake.endpoint, timeout=5.0, heartbeat=False) as old:
        study = old.load_study(name)
        with pytest.raises(tp.InvalidArgumentError, match="cannot be suggested"):
            study.ask(fixed_distributions={"y": tp.Float(5, 6)})
        assert old._trials == {}  # not renewed: its lease runs out
        interrupt["on"] = True
        with pytest.raises(KeyboardInterrupt):
            study.ask()
        ops = [m["op"] for m in fake.received]
    assert ops == ["get_study", "ask", "suggest", "ask"], ops


@pytest.mark.parametrize(
    ("resent_ask", "tell", "level", "expected"),
    [
        # The first ask was refused (the study's space ran out): no trial was started, nothing is left.
        ("SEARCH_SPACE_EXHAUSTED", None, "INFO", "the ask started no trial (SEARCH_SPACE_EXHAUSTED"),
        ("STUDY_STOPPED", None, "INFO", "the ask started no trial (STUDY_STOPPED"),
        # The ask started a trial, whose tell FAIL was refused: its lease is left to run out.
        (None, "UNAVAILABLE", "WARNING", "could not tell FAIL for trial 0, which it started (UNAVAILABLE"),
        # No answer to the ask sent again: whether it started a trial is not known.
        ("drop", None, "WARNING", "could not learn whether the ask started a trial (TIMEOUT"),
    ],
)
def test_the_log_after_ctrl_c_during_ask_says_what_happened(
    client: tp.Client, name: str, caplog: pytest.LogCaptureFixture, resent_ask: str | None, tell: str | None, level: str, expected: str
) -> None:
    """Ctrl-C while ``ask`` waits; the ask sent again with its id answers what the first did. A
    refusal there means the first started no trial: said so (INFO), not "could not tell FAIL"."""
    client.create_study(name, space={"x": tp.Float(0, 1)})
    study_view = client.call("get_study", study=name)
    asked = client.call("ask", study=name)
    interrupted = {"done": False}

    def handler(msg: dict[str, Any]) -> dict[str, Any] | None:
        if msg["op"] == "get_study":
            return ok(msg, study_view)
        if msg["op"] == "ask":
            if not interrupted["done"]:
                interrupted["done"] = True
                os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the ask waits for its reply
                time.sleep(0.3)
                return None  # its reply is never read: the ask is sent again
            if resent_ask == "drop":
                return None
            return ok(msg, asked) if resent_ask is None else err(msg, resent_ask, "no more trials")
        if msg["op"] == "tell" and tell is not None:
            return err(msg, tell, "busy")
        return ok(msg, {})

    hello = {**HELLO_RESULT, "envelope": ["attempt"], "optional_args": ["tell.interrupted"]}
    with FakeServer(handler, hello=hello) as fake, tp.connect(fake.endpoint, timeout=5.0, heartbeat=False) as c:
        study = c.load_study(name)
        with caplog.at_level(logging.INFO, logger="tuneport"), pytest.raises(KeyboardInterrupt):
            study.ask()
        ops = [m["op"] for m in fake.received]
    said = [(r.levelname, r.getMessage()) for r in caplog.records if "Ctrl-C during ask" in r.getMessage()]
    assert len(said) == 1 and said[0][0] == level and expected in said[0][1], said
    assert ops[:3] == ["get_study", "ask", "ask"], ops
    assert ("tell" in ops) == (resent_ask is None), ops
