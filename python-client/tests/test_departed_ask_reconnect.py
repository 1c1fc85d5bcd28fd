"""An ask waiting its turn behind another of its study when the client's connection breaks (a TCP
proxy here). The server drops asks whose every sender's connection has closed by their turn
(``requester_gone``, nothing applied). The client's routing id is libzmq's, which never comes
back, so the reply to the broken connection could reach nobody, dropped or not. The client resends
the same id the moment libzmq has connected it again (its socket monitor sees it), and gets its
trial: the ask was dropped and the resend ran, or the resend joined the ask still waiting. Either
way no trial is suggested for nobody. Fails if the drop's refusal were kept as the id's reply."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import tuneport as tp
from conftest import REPO, ServerProcess, free_port


def _gated_plugins(path: Path, counter: Path, gate: Path) -> Path:
    """Strategy "gated": writes a line to ``counter`` per suggestion, then waits until ``gate`` exists."""
    zod = (REPO / "node_modules" / "zod" / "index.js").as_uri()
    dist = (REPO / "dist" / "index.js").as_uri()
    path.write_text(
        f"""import {{ appendFileSync, existsSync }} from "node:fs";
import {{ z }} from "{zod}";
import {{ BUILTIN_PLUGINS }} from "{dist}";
const pause = new Int32Array(new SharedArrayBuffer(4));
const gated = {{
  name: "gated", description: "waits for a gate file", options: z.object({{}}).strict(), offload: true,
  create: () => ({{
    suggest(req) {{
      appendFileSync({str(counter)!r}, req.trialNumber + "\\n");
      while (!existsSync({str(gate)!r})) Atomics.wait(pause, 0, 0, 10);
      return {{ params: {{ x: 0.5 }} }};
    }},
  }}),
}};
export const plugins = BUILTIN_PLUGINS.with({{ strategies: [gated] }});
"""
    )
    return path


class _Proxy:
    """A TCP proxy from ``port`` to ``target`` on 127.0.0.1; ``cut`` breaks its connections (it goes on listening)."""

    def __init__(self, port: int, target: int) -> None:
        self.target = target
        self.upstream_bytes = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", port))
        self.port: int = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                inbound, _ = self._listener.accept()
            except OSError:
                return
            outbound = socket.create_connection(("127.0.0.1", self.target))
            with self._lock:
                self._sockets += [inbound, outbound]
            threading.Thread(target=self._pump, args=(inbound, outbound, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(outbound, inbound, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                if upstream:
                    with self._lock:
                        self.upstream_bytes += len(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._listener.close()
        self.cut()


def _wait(cond: Any, what: str) -> None:
    """Waits (at most 60 s: a hang, not a measure) until ``cond()``."""
    deadline = time.monotonic() + 60
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def test_an_ask_waiting_its_turn_when_the_connection_breaks_gets_its_trial(tmp_path: Path) -> None:
    counter, gate = tmp_path / "suggestions.txt", tmp_path / "gate"
    plugins = _gated_plugins(tmp_path / "gated.mjs", counter, gate)
    server_port = free_port()
    srv = ServerProcess(tmp_path / "t.db", port=server_port, extra=["--plugins", str(plugins)]).start()
    proxy = _Proxy(0, server_port)
    try:
        with (
            tp.connect(srv.endpoint, heartbeat=False) as other,
            tp.connect(f"tcp://127.0.0.1:{proxy.port}", timeout=2.0, retries=5, heartbeat=False) as client,
        ):
            other.create_study("g", strategy="gated", space={"x": tp.Float(0, 1)})
            got: dict[str, Any] = {}

            def ask(name: str, c: tp.Client) -> None:
                try:
                    got[name] = c.call("ask", study="g")
                except BaseException as err:  # reported by the assertions below
                    got[name] = err

            first = threading.Thread(target=ask, args=("other", other))
            first.start()
            _wait(counter.exists, "the first ask's suggestion")
            sent = proxy.upstream_bytes
            second = threading.Thread(target=ask, args=("client", client))
            second.start()
            # Through the proxy to the server: the ask waits its turn behind the first.
            _wait(lambda: proxy.upstream_bytes > sent, "the client's ask to reach the server")
            proxy.cut()
            gate.write_text("")
            first.join(120)
            second.join(120)
            assert not first.is_alive() and not second.is_alive()
            assert not isinstance(got["client"], BaseException), got["client"]
            assert not isinstance(got["other"], BaseException), got["other"]
            assert sorted(r["trial"]["number"] for r in got.values()) == [0, 1]
            # Two suggestions, both answered: none for the broken connection.
            assert counter.read_text().split() == ["0", "1"]
            assert other.call("get_study", study="g")["study"]["n_trials"] == 2
    finally:
        proxy.close()
        srv.kill()
