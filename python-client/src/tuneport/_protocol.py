"""Protocol v1 framing and the request socket.

One request is one ZeroMQ message holding one MessagePack map in the standard profile
(string keys, no extension types): ``{v, id, op, ...args}``. The reply is
``{v, id, ok: true, result}`` or ``{v, id, ok: false, error: {code, message, data?}}``.

``Channel`` sends requests over a DEALER socket with the Lazy Pirate pattern: wait for the
reply up to ``timeout`` seconds; on silence, close the socket (dropping anything queued on
it), open a new one and send the *same* bytes again — same request id, so the server answers
a repeated mutation with its first reply and changes nothing twice — up to ``retries`` times.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgpack
import zmq

from ._errors import ClientClosedError, MalformedMessageError, TimeoutError, error_from_wire

#: Protocol versions this client speaks, preferred last.
PROTOCOL_VERSIONS: tuple[int, ...] = (1,)


def encode(message: Mapping[str, Any]) -> bytes:
    """Packs one message in the standard MessagePack profile (str as str, bytes as bin, float64)."""
    packed = msgpack.packb(message, use_bin_type=True)
    assert isinstance(packed, bytes)
    return packed


def decode(frame: bytes) -> Any:
    """Unpacks one frame. @raises MalformedMessageError when it is not valid MessagePack."""
    try:
        return msgpack.unpackb(frame, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types on bad input
        raise MalformedMessageError(f"reply is not valid MessagePack: {exc}") from exc


def new_request_id() -> str:
    """A fresh request id (32 hex characters)."""
    return uuid.uuid4().hex


def make_request(op: str, args: Mapping[str, Any], *, version: int = 1, request_id: str | None = None) -> dict[str, Any]:
    """The envelope of one request; arguments whose value is None are left out."""
    msg: dict[str, Any] = {"v": version, "id": request_id or new_request_id(), "op": op}
    for k, v in args.items():
        if k in msg:
            raise ValueError(f"argument {k!r} clashes with an envelope field")
        if v is not None:
            msg[k] = v
    return msg


def parse_reply(reply: Any) -> Any:
    """The ``result`` of a reply map. @raises the TuneportError subclass of its ``error``."""
    if not isinstance(reply, dict) or "ok" not in reply:
        raise MalformedMessageError(f"reply is not an envelope map: {reply!r:.200}")
    if reply["ok"] is True:
        return reply.get("result")
    raise error_from_wire(reply.get("error"))


@dataclass(frozen=True)
class CurveKeys:
    """CURVE keys for an encrypting server (``tuneport serve --curve-secret ... --curve-allow ...``):
    the server's public key and this client's key pair, as 40-character Z85 strings.
    ``from_files`` reads the files ``tuneport keygen`` writes."""

    server_public_key: str
    public_key: str
    secret_key: str

    @classmethod
    def from_files(cls, server_public: str | os.PathLike[str], client_secret: str | os.PathLike[str]) -> CurveKeys:
        """Reads ``server.pub`` and the client's ``NAME.key`` (which holds its public key too)."""
        import zmq.auth

        server_pub, _ = zmq.auth.load_certificate(os.fspath(server_public))
        pub, sec = zmq.auth.load_certificate(os.fspath(client_secret))
        if sec is None:
            raise ValueError(f"{os.fspath(client_secret)} holds no secret key (pass the .key file, not the .pub)")
        return cls(server_pub.decode("ascii"), pub.decode("ascii"), sec.decode("ascii"))


class Channel:
    """One DEALER socket with Lazy Pirate retries. Thread-safe: one request at a time."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        *,
        timeout: float,
        retries: int,
        curve: CurveKeys | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self._context = context
        self._endpoint = endpoint
        self.timeout = timeout
        self.retries = retries
        self._lock = threading.Lock()
        self._socket: zmq.Socket[bytes] | None = None
        self._closed = False
        self._curve = curve

    def _open(self) -> zmq.Socket[bytes]:
        sock = self._context.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        if self._curve is not None:
            sock.setsockopt(zmq.CURVE_SERVERKEY, self._curve.server_public_key.encode("ascii"))
            sock.setsockopt(zmq.CURVE_PUBLICKEY, self._curve.public_key.encode("ascii"))
            sock.setsockopt(zmq.CURVE_SECRETKEY, self._curve.secret_key.encode("ascii"))
        sock.connect(self._endpoint)
        return sock

    def _drop_socket(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    def request(self, message: Mapping[str, Any], *, timeout: float | None = None, retries: int | None = None) -> Any:
        """Sends ``message`` and returns the reply map whose ``id`` matches (or whose ``id`` is null:
        the server could not read ours). @raises TimeoutError after ``1 + retries`` silent attempts."""
        request_id = message["id"]
        payload = encode(message)
        wait = self.timeout if timeout is None else timeout
        attempts = 1 + (self.retries if retries is None else retries)
        with self._lock:
            for _ in range(attempts):
                if self._closed:
                    raise ClientClosedError("the client is closed")
                if self._socket is None:
                    self._socket = self._open()
                sock = self._socket
                sock.send(payload)
                deadline = time.monotonic() + wait
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not sock.poll(max(1, int(remaining * 1000)), zmq.POLLIN):
                        break
                    frames = sock.recv_multipart()
                    reply = decode(frames[-1])
                    rid = reply.get("id") if isinstance(reply, dict) else None
                    if rid == request_id or (isinstance(reply, dict) and rid is None):
                        return reply
                    # A late reply to an earlier request on this socket: not ours, keep waiting.
                # Silence: the socket may hold a half-sent request or a lost peer; start afresh.
                self._drop_socket()
            hint = " (CURVE keys not accepted by the server?)" if self._curve is not None else ""
            raise TimeoutError(
                f"no reply to {message.get('op')!r} from {self._endpoint} after {attempts} attempt(s) of {wait:g}s{hint}",
                {"op": message.get("op"), "id": request_id, "attempts": attempts},
            )

    def close(self) -> None:
        """Closes the socket (LINGER 0); later requests raise ClientClosedError."""
        with self._lock:
            self._closed = True
            self._drop_socket()


__all__ = [
    "PROTOCOL_VERSIONS",
    "Channel",
    "CurveKeys",
    "decode",
    "encode",
    "make_request",
    "new_request_id",
    "parse_reply",
]
