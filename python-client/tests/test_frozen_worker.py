"""A worker process frozen (SIGSTOP) for longer than its lease and its request timeout, then let go
on (SIGCONT), learns that its lease was lost: ``LeaseLostError``, the documented error, not a
``TimeoutError`` for a server that answered all along.

With ``retries=0`` the request in flight when the process stopped had one attempt, and the freeze
used it up: on resume its deadline had passed, and ZeroMQ's I/O thread, frozen too, had not yet
put the server's reply in the socket (nor maybe even sent the request), so it counted as silence.
A non-blocking report's background thread then dropped the 9,999 reports queued behind it as if the
server were unreachable, and the training loop got TimeoutError (3 runs in 4 measured). The wait on
the socket now gives the attempt back the time the process did not run (``Channel.request``).

The worker talks to the server through a TCP relay in this test, which holds the server's replies
while the worker is stopped and lets them through only once it runs again: the reply then surely
is not in the socket when the worker resumes, which the unfixed client took for silence every time
(without the relay, whether the I/O thread read the reply first was a race: 3 in 4). The worker
stays stopped until the server has failed its trial (its lease ran out), then past its request
timeout; its replies come a second after it runs again."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import tuneport as tp
from conftest import ServerProcess, free_port

WORKER = textwrap.dedent(
    """
    import sys
    import tuneport as tp

    client = tp.connect(sys.argv[1], timeout=3.0, retries=0, outage_budget_s=3.0)
    study = client.load_study(sys.argv[2])
    trial = study.ask()
    print("trial", trial.number, flush=True)
    step = 0
    try:
        while step < 1_000_000:
            trial.report(float(step), step, wait=False)  # the background thread sends them back to back
            step += 1
            if step == 100:
                print("reporting", flush=True)
        print("never lost", flush=True)
    except BaseException as err:
        print("raised", type(err).__name__, err, flush=True)
    client.close()
    """
)


class _Relay:
    """A TCP relay to ``target`` on a thread: bytes from the clients go through at once, the
    server's replies are held while ``hold`` is set and sent when it is cleared."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.hold = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", free_port()))
        self.endpoint = f"tcp://127.0.0.1:{self.listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pairs: list[tuple[socket.socket, socket.socket, bytearray]] = []  # (client, server, held replies)
        while not self._stop.is_set():
            socks = [self.listener] + [s for c, srv, _ in pairs for s in (c, srv)]
            ready, _, _ = select.select(socks, [], [], 0.05)
            if self.listener in ready:
                c, _ = self.listener.accept()
                pairs.append((c, socket.create_connection(("127.0.0.1", self.target_port)), bytearray()))
            for pair in list(pairs):
                c, srv, held = pair
                try:
                    if c in ready:
                        data = c.recv(65536)
                        if not data:
                            raise ConnectionError
                        srv.sendall(data)
                    if srv in ready:
                        data = srv.recv(65536)
                        if not data:
                            raise ConnectionError
                        held += data
                    if held and not self.hold.is_set():
                        c.sendall(held)
                        held.clear()
                except OSError:
                    c.close()
                    srv.close()
                    pairs.remove(pair)
        for c, srv, _ in pairs:
            c.close()
            srv.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.listener.close()


def test_a_worker_frozen_past_its_lease_gets_lease_lost_not_a_timeout(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    relay = _Relay(srv.port)
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in [str(Path(tp.__file__).parents[1]), os.environ.get("PYTHONPATH", "")] if p)}
    try:
        with tp.connect(srv.endpoint, heartbeat=False) as client:
            for round_ in range(2):
                study = client.create_study(f"frozen{round_}", lease_ttl_s=2.0, max_retries=0)
                worker = subprocess.Popen(
                    [sys.executable, str(script), relay.endpoint, study.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
                )
                try:
                    assert worker.stdout is not None
                    first = worker.stdout.readline().split()
                    assert first[:1] == ["trial"], first
                    number = int(first[1])
                    assert worker.stdout.readline().strip() == "reporting"
                    relay.hold.set()  # the report in flight now gets its reply only after the freeze
                    time.sleep(0.5)  # well within its timeout (3 s): the background thread waits for that reply
                    worker.send_signal(signal.SIGSTOP)
                    end = time.monotonic() + 60  # a hang guard only
                    while study.trial(number).state != "FAIL":  # the lease ran out on the server
                        assert time.monotonic() < end, "the frozen worker's lease never ran out"
                        time.sleep(0.05)
                    time.sleep(3.0)  # and past the request's timeout (3 s), which the freeze used to use up
                    worker.send_signal(signal.SIGCONT)
                    # The unfixed client gave up the moment it ran again; the reply comes later, well
                    # within the timeout that the resumed request has again (a set-up pause, no assertion).
                    time.sleep(1.0)
                    relay.hold.clear()
                    out, _ = worker.communicate(timeout=120)
                finally:
                    worker.send_signal(signal.SIGCONT)
                    relay.hold.clear()
                    worker.kill()
                    worker.wait()
                assert "raised LeaseLostError" in out, out
                assert "TIMEOUT" not in out and "dropped" not in out, out
    finally:
        relay.close()
        srv.kill()
