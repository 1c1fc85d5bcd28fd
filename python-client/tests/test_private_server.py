"""``create_study()`` with no server to talk to starts a private one for the process, as Optuna
keeps a study in memory without storage (``_private.py``). Real server processes throughout."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from conftest import ServerProcess, free_port
from tuneport import _client, _private

HANG = 60.0  # only catches a hang


@pytest.fixture
def no_server_at_default(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The default endpoint moved to a port nothing listens on, and no ``$TUNEPORT_ENDPOINT``."""
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setattr(_client, "DEFAULT_ENDPOINT", endpoint)
    monkeypatch.delenv("TUNEPORT_ENDPOINT", raising=False)
    yield endpoint
    _client._stop_private_server()


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie is gone too: it waits only for its parent to read its status.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def wait_until(condition: object, what: str) -> None:
    end = time.monotonic() + HANG
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_create_study_without_a_server_starts_a_private_one_that_the_other_calls_share(
    no_server_at_default: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="tuneport"):
        study = tp.create_study(direction="minimize", study_name="private")
    server = _private.private_server()
    assert server is not None and server.endpoint.startswith("ipc://")
    assert any("started a private one" in r.getMessage() and no_server_at_default in r.getMessage() for r in caplog.records)
    study.optimize(lambda t: (t.suggest_float("x", -5, 5) - 1) ** 2, n_trials=8)
    # Later calls without storage reach the same server, as Optuna's in-memory studies stay in the process.
    assert tp.get_all_study_names() == ["private"]
    assert tp.load_study(study_name="private").best_value == study.best_value
    assert len(tp.load_study(study_name=None).trials) == 8
    # A second study starts no second server.
    tp.create_study(study_name="second")
    assert _private.private_server() is server and sorted(tp.get_all_study_names()) == ["private", "second"]

    pid, directory = server.process.pid, server.directory
    _client._stop_private_server()
    assert server.process.returncode == 0, server.log_tail()  # stopped cleanly, not killed
    assert gone(pid) and not directory.exists()
    assert _private.private_server() is None


def test_a_server_at_the_default_endpoint_is_used_and_none_started(server: ServerProcess, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TUNEPORT_ENDPOINT", raising=False)
    monkeypatch.setattr(_client, "DEFAULT_ENDPOINT", server.endpoint)
    study = tp.create_study(study_name=name)
    assert _private.private_server() is None
    with tp.connect(server.endpoint) as direct:
        assert name in [s.name for s in direct.list_studies()]
    assert study.study_name == name


def test_an_endpoint_named_by_the_environment_never_falls_back(no_server_at_default: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEPORT_ENDPOINT", f"tcp://127.0.0.1:{free_port()}")
    # A short outage budget for the shared client: with the default (30 s) it waited half a minute
    # for the TimeoutError (test_fake_server's connect to nothing keeps the default). The short
    # connect timeout is passed the same way: patching DEFAULT_CONNECT_TIMEOUT_S changed nothing,
    # connect's default argument having been bound when it was defined.
    monkeypatch.setattr(_client, "connect", functools.partial(_client.connect, outage_budget_s=1.0, connect_timeout=0.5))
    with pytest.raises(tp.TimeoutError):
        tp.create_study()
    assert _private.private_server() is None


def test_no_tuneport_command_says_how_to_run_a_server(no_server_at_default: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_private, "server_command", lambda: None)
    with pytest.raises(tp.TuneportError, match="npx tuneport serve"):
        tp.create_study()
    assert _private.private_server() is None


def test_a_server_that_cannot_start_is_reported_with_its_output(no_server_at_default: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_private, "server_command", lambda: [sys.executable, "-c", "import sys; print('no such luck'); sys.exit(3)"])
    made: list[str] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(**kw: Any) -> str:
        made.append(real_mkdtemp(**kw))
        return made[-1]

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    with pytest.raises(tp.TuneportError, match=r"exited at start \(3\): no such luck"):
        tp.create_study()
    assert _private.private_server() is None
    assert len(made) == 1 and not Path(made[0]).exists()


def test_a_script_killed_with_sigkill_leaves_no_server_behind(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time
            import tuneport as tp
            from tuneport import _client, _private
            _client.DEFAULT_ENDPOINT = "tcp://127.0.0.1:{free_port()}"
            study = tp.create_study(study_name="doomed")
            study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
            server = _private.private_server()
            print(server.process.pid, server.directory, flush=True)
            time.sleep(600)
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "TUNEPORT_ENDPOINT"}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        assert len(line) == 2 and line[0].isdigit(), line
        server_pid, directory = int(line[0]), Path(line[1])
        assert not gone(server_pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=HANG)
        # Its stdin closed with the script: the server stops by itself.
        wait_until(lambda: gone(server_pid), "the private server to stop")
        # Its studies stay in the temporary directory: the killed script could not remove it.
        assert (directory / "studies.db").exists()
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        if "directory" in locals():
            shutil.rmtree(directory, ignore_errors=True)
