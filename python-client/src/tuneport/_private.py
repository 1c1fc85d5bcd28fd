"""A private server for a script that runs without one, as Optuna's in-memory storage.

``optuna.create_study()`` without ``storage`` keeps the study in the process. A tuneport study
lives on a server, so when ``create_study`` is given no ``storage``, no ``$TUNEPORT_ENDPOINT`` is
set and nothing listens at the default endpoint, the client starts ``tuneport serve`` for this
process alone: storage in a temporary directory, bound to a unix socket there (no port to
collide with), stopped and removed when the process exits. The server also stops when its
standard input closes (``--stop-with-stdin``), so a script killed with SIGKILL leaves no server
behind. Ray does the same: ``ray.init()`` with no cluster to join starts one for the script.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from ._errors import FailedPreconditionError

#: How long the private server may take to start (a cold Node.js and SQLite on a busy machine).
START_TIMEOUT_S = 60.0

#: Where ``node`` is looked for the server's entry point when this package is an editable
#: install of the repository (``pip install -e python-client``): the repository's build.
_REPO_CLI = Path(__file__).resolve().parents[3] / "dist" / "cli" / "main.js"


def server_command() -> list[str] | None:
    """The command that runs ``tuneport``: ``$TUNEPORT_CLI`` (the server's ``cli/main.js``), the
    repository's build for an editable install, else ``tuneport`` on PATH (``npm install -g``);
    None when none is found."""
    node = shutil.which("node")
    env_cli = os.environ.get("TUNEPORT_CLI")
    if env_cli:
        return [node or "node", env_cli]
    if node and _REPO_CLI.is_file():
        return [node, str(_REPO_CLI)]
    on_path = shutil.which("tuneport")
    return [on_path] if on_path else None


def nothing_listens(endpoint: str) -> bool:
    """True when ``endpoint`` is a loopback tcp endpoint whose port refuses connections, which
    says for certain that no server runs there (a timeout or a firewall says nothing)."""
    prefix = "tcp://127.0.0.1:"
    if not endpoint.startswith(prefix) and not endpoint.startswith("tcp://localhost:"):
        return False
    port = int(endpoint.rsplit(":", 1)[1])
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0):
            return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


class PrivateServer:
    """``tuneport serve`` started for this process; ``endpoint`` is where it listens."""

    def __init__(self, command: list[str]) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="tuneport-private-"))
        self.endpoint = f"ipc://{self.directory / 'server.sock'}"
        self.log_path = self.directory / "server.log"
        args = [
            *command, "serve",
            "--storage", str(self.directory / "studies.db"),
            "--bind", self.endpoint,
            "--stop-with-stdin",
            "--log-level", "warn", "--log-format", "json",
        ]  # fmt: skip
        with open(self.log_path, "wb") as log_file:
            # Its own session: a Ctrl-C meant for the script leaves the server up until the
            # script's exit handlers have closed their clients (their last reports included).
            self.process = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._stopped = False
        self._pid = os.getpid()
        self._lock = threading.Lock()
        try:
            self._wait_until_bound()
        except BaseException:
            self.stop()
            raise

    def _wait_until_bound(self) -> None:
        socket_path = self.directory / "server.sock"
        deadline = time.monotonic() + START_TIMEOUT_S
        while not socket_path.exists():
            if self.process.poll() is not None:
                raise FailedPreconditionError(f"the private tuneport server exited at start ({self.process.returncode}): {self.log_tail()}")
            if time.monotonic() > deadline:
                raise FailedPreconditionError(f"the private tuneport server did not start within {START_TIMEOUT_S:.0f} s: {self.log_tail()}")
            time.sleep(0.02)

    def log_tail(self, limit: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:].strip() or "(no output)"
        except OSError:
            return "(no output)"

    def stop(self) -> None:
        """Stops the server cleanly (closing its stdin; SIGKILL after 20 s) and removes its directory.
        Does nothing in a forked child of the process that started it."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        if self._pid != os.getpid():
            return  # a forked child's exit: the server (and its studies) are the parent's
        try:
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


_private: PrivateServer | None = None
_private_lock = threading.Lock()


def private_server() -> PrivateServer | None:
    """The private server if this process started one."""
    return _private


def start_private_server() -> PrivateServer:
    """Starts this process's private server (once). @raises FailedPreconditionError when no ``tuneport``
    command is found or it does not start."""
    global _private
    with _private_lock:
        if _private is not None:
            return _private
        command = server_command()
        if command is None:
            raise FailedPreconditionError(
                "no tuneport server is running and no `tuneport` command was found to start a private one: "
                "run `npx tuneport serve` (or set TUNEPORT_CLI to the server's cli/main.js)"
            )
        _private = PrivateServer(command)
        return _private


def stop_private_server() -> None:
    """Stops this process's private server, if any; its studies are gone."""
    global _private
    with _private_lock:
        server, _private = _private, None
    if server is not None:
        server.stop()
