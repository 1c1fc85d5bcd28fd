"""A hung server: connected, takes the request, answers nothing (its event loop stuck, say),
against a scripted ZeroMQ server on a thread (a real server cannot be made to hang so while its
ZeroMQ handshakes still complete). The client waited a whole ``timeout`` for each of its
``1 + retries`` attempts (40 s with the defaults). Now each resend asks a ``hello`` beside it and
ends after a short look (LIVENESS_LOOK_S) when the server answers neither; a server that answers the
hello is alive and still gets the whole timeout for a slow request. Resends keep the request's id."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import zmq

import tuneport as tp
from tuneport import _protocol
from conftest import HELLO_RESULT, free_port, ok


class ScriptedServer:
    """A ROUTER on a thread: answers ``hello`` unless ``hung``; records each request (op, id,
    arrival); answers the ``answer_on``-th arrival of a request after ``delay_s`` (None: never)."""

    def __init__(self, answer_on: int | None = None, delay_s: float = 0.0) -> None:
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.hung = False
        self.answer_on, self.delay_s = answer_on, delay_s
        self.received: list[tuple[str, str, float]] = []
        self._ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        sock = self._ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(self.endpoint)
        later: list[tuple[float, list[bytes]]] = []
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                for due, frames in [x for x in later if x[0] <= now]:
                    later.remove((due, frames))
                    sock.send_multipart(frames)
                if not sock.poll(10, zmq.POLLIN):
                    continue
                frames = sock.recv_multipart()
                msg = _protocol.decode(frames[-1])
                if msg.get("op") == "hello":
                    if not self.hung:
                        sock.send_multipart([*frames[:-1], _protocol.encode(ok(msg, HELLO_RESULT))])
                    continue
                self.received.append((msg["op"], msg["id"], time.monotonic()))
                if self.answer_on is not None and len(self.received) == self.answer_on:
                    reply = ok(msg, {"study": {"name": "s"}})
                    later.append((time.monotonic() + self.delay_s, [*frames[:-1], _protocol.encode(reply)]))
        finally:
            sock.close(linger=0)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._ctx.term()


TIMEOUT_S = 8.0


def test_a_hung_server_costs_one_timeout_then_a_short_look_per_resend() -> None:
    with ScriptedServer() as srv, tp.connect(srv.endpoint, timeout=TIMEOUT_S, retries=3, heartbeat=False) as client:
        srv.hung = True
        with pytest.raises(tp.TimeoutError) as caught:
            client.call("get_study", study="s")
        sends = [(op, rid, at) for op, rid, at in srv.received]
        assert [op for op, _, _ in sends] == ["get_study"] * 4
        assert len({rid for _, rid, _ in sends}) == 1  # every resend the same request (id)
        gaps = [b[2] - a[2] for a, b in zip(sends[1:], sends[2:])]
        # The first attempt waits the whole timeout; each resend after it ended with its look, not
        # with a whole timeout of its own (it waited TIMEOUT_S each, before).
        assert all(gap < TIMEOUT_S for gap in gaps), gaps
        assert "did not answer a hello either" in caught.value.message
        assert isinstance(caught.value.data, dict) and caught.value.data["hung"] is True


def test_a_slow_but_alive_server_still_gets_the_whole_timeout() -> None:
    # The request's resend is answered 2.5 s after it arrives: past the look (1 s), within the
    # timeout (4 s); the hello sent beside it is answered at once, so the attempt waits on.
    with ScriptedServer(answer_on=2, delay_s=2.5) as srv, tp.connect(srv.endpoint, timeout=4.0, retries=1, heartbeat=False) as client:
        assert client.call("get_study", study="s") == {"study": {"name": "s"}}
        assert [op for op, _, _ in srv.received] == ["get_study", "get_study"]


def test_with_several_endpoints_a_hung_one_is_left_after_its_first_timeout() -> None:
    with ScriptedServer() as hung, ScriptedServer(answer_on=1) as other:
        with tp.connect([hung.endpoint, other.endpoint], timeout=2.0, retries=3, heartbeat=False) as client:
            assert client.endpoint == hung.endpoint
            hung.hung = True
            assert client.call("get_study", study="s") == {"study": {"name": "s"}}
            assert [op for op, _, _ in hung.received] == ["get_study"]  # one attempt there, not 1 + retries
            assert [op for op, _, _ in other.received] == ["get_study"]
            assert hung.received[0][1] == other.received[0][1]  # the same request (id) moved on
            assert client.endpoint == other.endpoint


class SlowLink:
    """A TCP relay to ``port`` that carries the client's bytes at ``rate`` bytes/s (a slow uplink)
    and the server's at once; each ZeroMQ (re)connection gets its own relayed connection."""

    def __init__(self, port: int, rate: float) -> None:
        import socket

        self._port, self._rate = port, rate
        self._listener = socket.create_server(("127.0.0.1", free_port()))
        self.endpoint = f"tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self._socks: list[Any] = [self._listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                down, _ = self._listener.accept()
            except OSError:
                return
            up = socket.create_connection(("127.0.0.1", self._port))
            self._socks += [down, up]
            threading.Thread(target=self._pump, args=(down, up, self._rate), daemon=True).start()
            threading.Thread(target=self._pump, args=(up, down, None), daemon=True).start()

    @staticmethod
    def _pump(src: Any, dst: Any, rate: float | None) -> None:
        try:
            while data := src.recv(8192):
                if rate is not None:
                    time.sleep(len(data) / rate)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.close()
            except OSError:
                pass

    def close(self) -> None:
        for s in self._socks:
            try:
                s.close()
            except OSError:
                pass


def test_a_big_request_resent_over_a_slow_link_is_not_taken_for_a_hung_server() -> None:
    # 600 KB at 200 KB/s: each send takes about 3 s on the wire. The first attempt goes unanswered;
    # its resend's hello went behind the request, reached the server after the look (1 s) and the
    # attempt ended as hung, the request cut off mid-way: every resend so. The hello goes first now,
    # is answered at once, and the request gets the whole timeout.
    with ScriptedServer(answer_on=2) as srv:
        link = SlowLink(int(srv.endpoint.rsplit(":", 1)[1]), rate=200_000)
        try:
            with tp.connect(link.endpoint, timeout=6.0, retries=1, heartbeat=False) as client:
                assert client.call("get_study", study="s", note="x" * 600_000) == {"study": {"name": "s"}}
                assert [op for op, _, _ in srv.received] == ["get_study", "get_study"]
                assert len({rid for _, rid, _ in srv.received}) == 1
        finally:
            link.close()
