"""Fixtures: a real tuneport server process, clients, and a scriptable fake server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
import zmq

import tuneport as tp
from tuneport import _background, _client, _protocol

REPO = Path(__file__).resolve().parents[2]
SERVER_MAIN = Path(os.environ["TUNEPORT_CLI"]) if os.environ.get("TUNEPORT_CLI") else REPO / "dist" / "cli" / "main.js"


def _ephemeral_low() -> int:
    """The first port of the kernel's ephemeral range (Linux; 32768 where it cannot be read)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _port_band() -> tuple[int, int]:
    """This process's share of its band of ports: ``TUNEPORT_TEST_PORTS`` ("62200-62299") when set,
    else [20000, ephemeral low). Test runs sharing a machine can each keep to their own band
    (test/helpers.ts' ``freePort`` reads the same variable; `make test` sets none); under
    pytest-xdist (`make test-py` runs two workers) each worker draws from its own part of it, so one
    worker never takes a port that another has just freed for its server to bind (or to restart on)."""
    band = os.environ.get("TUNEPORT_TEST_PORTS", "")
    if band:
        lo, _, hi = band.partition("-")
        if not (lo.isdigit() and hi.isdigit() and 1 <= int(lo) <= int(hi) <= 65535):
            raise ValueError(f"TUNEPORT_TEST_PORTS={band}: expected LO-HI")
        first, low = int(lo), int(hi) + 1
    else:
        first, low = 20000, _ephemeral_low()
    worker, count = os.environ.get("PYTEST_XDIST_WORKER", ""), os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if worker.startswith("gw") and worker[2:].isdigit() and count.isdigit() and int(count) > 1:
        span = (low - first) // int(count)
        if band and span < 1:
            # Each worker's share would be empty, and every free_port "no free loopback port".
            raise ValueError(f"TUNEPORT_TEST_PORTS={band}: fewer ports than the {count} pytest-xdist workers")
        first += int(worker[2:]) * span
        low = first + span
    return first, low


def free_port() -> int:
    """A loopback port that was free a moment ago, below the kernel's ephemeral range: it is released
    before the server binds it, and a port of the ephemeral range could meanwhile be handed to any
    outgoing connection (EADDRINUSE); one below it only to another explicit bind of that number."""
    import random

    first, low = _port_band()
    candidates = [random.randrange(first, low) for _ in range(100)] if low - first >= 1000 else random.sample(range(first, low), low - first)
    for candidate in [*candidates, *([] if os.environ.get("TUNEPORT_TEST_PORTS") else [0])]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            port: int = s.getsockname()[1]
            return port
    raise RuntimeError(f"no free loopback port in [{first}, {low})")



def in_thread(thread: threading.Thread, function: str) -> bool:
    """True when ``thread`` is running ``function`` now (somewhere in its stack)."""
    frame: FrameType | None = sys._current_frames().get(thread.ident or -1)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


def until(condition: Callable[[], object], what: str) -> None:
    """Waits until ``condition()`` is true; the 60 s bound only catches a hang."""
    end = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < end, f"timed out waiting until {what}"
        time.sleep(0.01)


class TurnHeld:
    """Another thread holds ``trial``'s turn (``Trial._order``) as a call under way does, until
    ``release``: ``last`` runs in the turn just before it is given back, ``ended`` is set once it is,
    and ``error`` is what the holder raised (None)."""

    def __init__(self, trial: Any, last: Callable[[], object] | None = None) -> None:
        self.let_go, self.ended = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        taken = threading.Event()

        def hold() -> None:
            try:
                with trial._order:  # noqa: SLF001
                    taken.set()
                    self.let_go.wait(60)
                    if last is not None:
                        last()
            except BaseException as err:  # noqa: BLE001
                self.error = err
            finally:
                self.ended.set()

        self.thread = threading.Thread(target=hold, daemon=True)
        self.thread.start()
        assert taken.wait(60)

    def release(self) -> None:
        """Lets the turn go and waits for the holder to end."""
        self.let_go.set()
        self.thread.join(60)

def background_asleep(trial: tp.Trial, monkeypatch: pytest.MonkeyPatch) -> _client._Background:
    """The background thread of ``trial``'s client asleep in its polling wait, where it stays:
    REPORT_POLL_S raised to 60 s, and a report of step 0 sent (the thread polls after one). A
    non-blocking report made now wakes nobody: it stays queued until the thread is told to look
    (``close``). Returns the client's ``_Background``."""
    monkeypatch.setattr(_background, "REPORT_POLL_S", 60.0)
    monkeypatch.setattr(_background, "REPORT_LINGER_S", 600.0)
    trial.report(0.5, 0, wait=False)
    trial.flush_reports()
    background = trial.study.client._background  # noqa: SLF001
    assert background is not None
    until(lambda: in_thread(background._thread, "wait") and background._polling, "the background thread polls its queue")  # noqa: SLF001
    return background


def _ensure_built() -> None:
    if not SERVER_MAIN.exists():
        subprocess.run(["npm", "run", "build"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def wait_for_hello(endpoint: str, deadline_s: float = 60.0) -> None:
    """Polls ``hello`` until the server answers (it binds a moment after the process starts)."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        channel = _protocol.Channel(ctx, endpoint, timeout=0.25, retries=0)
        try:
            end = time.monotonic() + deadline_s
            while True:
                try:
                    reply = channel.request(_protocol.make_request("hello", {"versions": [1]}))
                    _protocol.parse_reply(reply)
                    return
                except tp.TimeoutError:
                    if time.monotonic() > end:
                        raise
        finally:
            channel.close()
    finally:
        ctx.term()


class ServerProcess:
    """``tuneport serve`` on a SQLite file; start/stop/kill it like an operator would."""

    def __init__(self, db: Path, port: int | None = None, extra: Sequence[str] = ()) -> None:
        self.db = db
        self.extra = list(extra)
        """More ``tuneport serve`` arguments, e.g. ``("--report-commit-ms", "0")``."""
        self.port = port or free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = db.with_suffix(".log")

    def start(self) -> ServerProcess:
        _ensure_built()
        with open(self._log, "ab") as log:
            self.proc = subprocess.Popen(
                ["node", str(SERVER_MAIN), "serve", "--storage", str(self.db), "--bind", self.endpoint, "--log-level", "warn", *self.extra],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_hello(self.endpoint)
        except BaseException:
            self.kill()
            raise RuntimeError(f"server did not start; log:\n{self._log.read_text()}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        """SIGKILL the server and reap it; safe from several threads at once (an objective run by
        ``optimize(n_jobs=4)`` may call it from two): ``os.kill`` after a ``poll()`` that another
        thread's ``wait()`` overtook raised ProcessLookupError (CI, 2026-12-07). ``Popen.kill``
        polls under the reaping lock and ignores a process already gone."""
        proc = self.proc
        if proc is not None:
            proc.kill()
            proc.wait()
        self.proc = None


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("server") / "tuneport.db").start()
    yield srv
    # The Optuna-style functions (tp.create_study(storage=...)) share one client per endpoint, kept
    # until exit; close it while its server still answers, or the exit hook waits out a heartbeat.
    with _client._shared_lock:
        shared = _client._shared_clients.pop(srv.endpoint, None)
    if shared is not None:
        shared.close()
    srv.stop()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[tp.Client]:
    with tp.connect(server.endpoint, timeout=5.0, retries=1) as c:
        yield c


@pytest.fixture
def ctrl_c_raises() -> Iterator[None]:
    """A shell that starts a job in the background (`.ci/run &`, a CI runner) leaves SIGINT ignored,
    and Python then raises no KeyboardInterrupt for it: the handler a terminal's Ctrl-C meets, put
    back for the test and restored after it."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@pytest.fixture
def name() -> str:
    """A study name no other test uses."""
    return f"study-{uuid.uuid4().hex[:10]}"


Handler = Callable[[dict[str, Any]], "dict[str, Any] | None"]

HELLO_RESULT = {
    "version": 1,
    "server": {"name": "fake", "version": "0"},
    "limits": {"max_message_bytes": 1048576, "heartbeat_interval_s": 10},
    "ops": [],
    "idempotent_ops": [],
}


def ok(msg: dict[str, Any], result: Any) -> dict[str, Any]:
    return {"v": 1, "id": msg["id"], "ok": True, "result": result}


def err(msg: dict[str, Any], code: str, message: str = "") -> dict[str, Any]:
    return {"v": 1, "id": msg["id"], "ok": False, "error": {"code": code, "message": message}}


class FakeServer:
    """A ROUTER socket on a thread that answers with ``handler(request)`` (None: drop it).
    ``hello`` is answered automatically; every request is recorded in ``received``."""

    def __init__(self, handler: Handler, hello: dict[str, Any] | None = None) -> None:
        self.handler = handler
        self.hello = HELLO_RESULT if hello is None else hello
        self.received: list[dict[str, Any]] = []
        self.port = free_port()
        self.endpoint = f"tcp://127.0.0.1:{self.port}"
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(self.endpoint)
        self._ready.set()
        try:
            while not self._stop.is_set():
                if not sock.poll(50, zmq.POLLIN):
                    continue
                frames = sock.recv_multipart()
                msg = _protocol.decode(frames[-1])
                if msg.get("op") == "hello":
                    reply: dict[str, Any] | None = ok(msg, self.hello)
                else:
                    self.received.append(msg)
                    reply = self.handler(msg)
                if reply is not None:
                    sock.send_multipart([*frames[:-1], _protocol.encode(reply)])
        finally:
            sock.close(linger=0)

    def __enter__(self) -> FakeServer:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._ctx.term()
