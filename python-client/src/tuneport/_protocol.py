"""Protocol v1 framing and the request socket.

One request is one ZeroMQ message holding one MessagePack map in the standard profile
(string keys, no extension types): ``{v, id, op, ...args}``. The reply is
``{v, id, ok: true, result}`` or ``{v, id, ok: false, error: {code, message, data?}}``.

``Channel`` sends requests over a DEALER socket with the Lazy Pirate pattern: wait for the
reply up to ``timeout`` seconds; on silence, close the socket (dropping anything queued on
it), open a new one and send the *same* bytes again — same request id, so the server answers
a repeated mutation with its first reply and changes nothing twice — up to ``retries`` times.
Each resend carries a ``hello`` beside it: a server that answers neither within LIVENESS_LOOK_S is
hung, and that attempt ends then, not after a whole ``timeout``.

A socket monitor tells those two cases apart from a server that is not there at all: while
there is no connection (a restart, a crash), a request waits up to an *outage budget* for the
server to come back and resends the moment it does; ``check_endpoint`` refuses malformed
endpoints before any socket exists.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import re
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack
import zmq

from ._errors import (
    ClientClosedError,
    InvalidArgumentError,
    MalformedMessageError,
    TimeoutError,
    UnauthenticatedError,
    error_from_wire,
)

log = logging.getLogger("tuneport")

#: Protocol versions this client speaks, preferred last.
PROTOCOL_VERSIONS: tuple[int, ...] = (1,)


def _plain(obj: Any) -> Any:
    """What MessagePack cannot pack as is: numpy scalars and arrays and tensors (anything with
    ``tolist``) as plain numbers and lists, as user attributes, enqueued params and the like
    often are (``trial.set_user_attr("best_epoch", np.argmax(scores))``); Optuna's in-memory
    storage keeps such values, so scripts moved over pass them. An int beyond 64 bits raises
    InvalidArgumentError, as the server answers one beyond ±(2^53 − 1)."""
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(obj, int):
        # MessagePack holds 64 bits; the server refuses more than 53 with the same words.
        raise InvalidArgumentError(
            f"integer {obj} is beyond ±(2^53 − 1), which the server cannot keep exactly (its numbers "
            "are doubles); send it as a string"
        )
    raise TypeError(
        f"can not serialize {type(obj).__name__!r} object: values sent to the server (user attributes, "
        "params, report data) must be numbers, strings, bytes, None, lists or dicts of them"
    )


def json_attrs(attrs: Mapping[Any, Any], what: str = "user attribute") -> dict[str, Any]:
    """User attributes with every map key, at any depth, a string as JSON writes it (``1`` ->
    ``"1"``, ``1.5`` -> ``"1.5"``, ``True`` -> ``"true"``, ``None`` -> ``"null"``): Optuna's RDB and
    journal storages keep attributes as JSON, so ``trial.set_user_attr("per_class", {0: 0.9})``
    reads back ``{"0": 0.9}`` there, and the server takes string keys only. Tuples become lists
    (as JSON makes them). @raises TypeError with JSON's words for another key (a tuple)."""
    return {_json_key(k, what): _json_keys(v, what) for k, v in attrs.items()}


def _json_keys(value: Any, what: str) -> Any:
    if isinstance(value, Mapping):
        return json_attrs(value, what)
    if isinstance(value, (list, tuple)):
        return [_json_keys(v, what) for v in value]
    return value


def _json_key(key: Any, what: str) -> str:
    if isinstance(key, str):
        return str(key)
    if key is None or isinstance(key, bool):
        return {None: "null", True: "true", False: "false"}[key]
    if isinstance(key, int):
        return str(int(key))
    if isinstance(key, float):
        return "NaN" if math.isnan(key) else "Infinity" if key == math.inf else "-Infinity" if key == -math.inf else repr(float(key))
    item = getattr(key, "item", None)  # a numpy scalar (np.int64(3), np.bool_): its Python value
    if callable(item):
        plain = item()
        if plain is None or isinstance(plain, (str, int, float, bool)):
            return _json_key(plain, what)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__} (in a {what}: values are kept as JSON)")


def encode(message: Mapping[str, Any]) -> bytes:
    """Packs one message in the standard MessagePack profile (str as str, bytes as bin, float64);
    numpy values and tensors go as plain numbers and lists (see ``_plain``)."""
    packed = msgpack.packb(message, use_bin_type=True, default=_plain)
    assert isinstance(packed, bytes)
    return packed


def unpack_request(payload: bytes) -> Any:
    """A request ``encode`` packed, unpacked as the server reads it (a map key that is not a
    string kept, for the server to refuse as when sent at once). Arrays come back as tuples, which
    pack as arrays again: one that was a map key (a tuple, ``{(0, 1): 5}``) must stay hashable,
    where a list raised ``TypeError: unhashable type`` in place of the server's refusal."""
    return msgpack.unpackb(payload, raw=False, strict_map_key=False, use_list=False)


def decode(frame: bytes) -> Any:
    """Unpacks one frame. @raises MalformedMessageError when it is not valid MessagePack."""
    try:
        return msgpack.unpackb(frame, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types on bad input
        raise MalformedMessageError(f"reply is not valid MessagePack: {exc}") from exc


class _RequestIds:
    """Request ids: 32 hex characters, a 80-bit random prefix drawn once per process (again in a
    forked child) followed by a 48-bit counter. As unique as ``uuid4().hex`` across processes
    and unguessable without the prefix, but without a ``getrandom`` system call per request:
    right after a training step (cold caches, an idle CPU) that call alone cost about 40 µs of
    the non-blocking report's time (docs/BENCHMARKS.md, "The non-blocking report call itself")."""

    def __init__(self) -> None:
        self._reseed()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = os.urandom(10).hex()
        self._count = itertools.count(int.from_bytes(os.urandom(4), "big"))

    def next(self) -> str:
        # next() on itertools.count is atomic under the GIL: safe from several threads.
        return f"{self._prefix}{next(self._count) & 0xFFFFFFFFFFFF:012x}"


_request_ids = _RequestIds()


def new_request_id() -> str:
    """A fresh request id (32 hex characters, unique per process and request; see ``_RequestIds``)."""
    return _request_ids.next()


class _Nil:
    """The type of ``NIL``."""

    def __repr__(self) -> str:
        return "NIL"


NIL: Any = _Nil()
"""An argument sent as MessagePack nil (None means "left out"): ``update_study``'s
``scheduler: nil`` removes the scheduler, ``max_trials: nil`` the budget."""


def make_request(op: str, args: Mapping[str, Any], *, version: int = 1, request_id: str | None = None) -> dict[str, Any]:
    """The envelope of one request; arguments whose value is None are left out, ``NIL`` ones sent as nil."""
    msg: dict[str, Any] = {"v": version, "id": request_id or new_request_id(), "op": op}
    for k, v in args.items():
        if k in msg:
            raise ValueError(f"argument {k!r} clashes with an envelope field")
        if v is NIL:
            msg[k] = None
        elif v is not None:
            msg[k] = v
    return msg


def parse_reply(reply: Any) -> Any:
    """The ``result`` of a reply map. @raises the TuneportError subclass of its ``error``;
    MalformedMessageError for a reply that breaks the envelope (PROTOCOL.md "Reply"): a result that
    is no map, or one without the request's id (only an error may have a null id), or an ``ok``
    that is neither true nor false. Each of those used to reach the caller as a KeyError or a
    TypeError from the code that read the result."""
    if not isinstance(reply, dict) or "ok" not in reply:
        raise MalformedMessageError(f"reply is not an envelope map: {reply!r:.200}")
    if reply["ok"] is True:
        result = reply.get("result")
        if reply.get("id") is None:
            raise MalformedMessageError(f"reply has a result but no request id (only an error may have a null id): {reply!r:.200}")
        if not isinstance(result, dict):
            raise MalformedMessageError(f"reply's result is not a map: {result!r:.200}")
        return result
    if reply["ok"] is not False:
        raise MalformedMessageError(f"reply's 'ok' is neither true nor false: {reply['ok']!r:.200}")
    raise error_from_wire(reply.get("error"))


@dataclass(frozen=True)
class CurveKeys:
    """CURVE keys for an encrypting server (``tuneport serve --curve-secret ... --curve-allow ...``):
    the server's public key and this client's key pair, as 40-character Z85 strings.
    ``from_files`` reads the files ``tuneport keygen`` writes."""

    server_public_key: str
    public_key: str
    #: Left out of ``repr``: logs, debuggers and error reporters that print a frame's locals show
    #: the keys, and anyone holding this one can pass for the client.
    secret_key: str = field(repr=False)

    @classmethod
    def from_files(cls, server_public: str | os.PathLike[str], client_secret: str | os.PathLike[str]) -> CurveKeys:
        """Reads ``server.pub`` and the client's ``NAME.key`` (which holds its public key too)."""
        import zmq.auth

        server_pub, _ = zmq.auth.load_certificate(os.fspath(server_public))
        pub, sec = zmq.auth.load_certificate(os.fspath(client_secret))
        if sec is None:
            raise ValueError(f"{os.fspath(client_secret)} holds no secret key (pass the .key file, not the .pub)")
        return cls(server_pub.decode("ascii"), pub.decode("ascii"), sec.decode("ascii"))


#: What ``Channel.request`` waits for a lost server when nobody says otherwise (seconds).
DEFAULT_OUTAGE_BUDGET_S = 30.0
#: Once a request gave up on an unreachable server, later ones look this long before giving up
#: too, instead of spending a whole budget each (a with-block's tell after a failed report).
GAVE_UP_GRACE_S = 1.0
#: A request resent after this many lost connections (or ``1 + retries``, when more) and lost again
#: gives up (``Channel.request``): a server restarted mid-request comes back once, not every time.
MIN_DROPS = 3

#: A request resent after a silent attempt (Lazy Pirate) sends a ``hello`` beside it: a server that
#: answers neither within this look (once connected) is taken to be hung (connected, silent), and
#: the attempt ends then instead of after its whole timeout; one that answers the hello is alive
#: and gets the whole timeout for the request. A hung server cost ``1 + retries`` timeouts (40 s
#: with the defaults), now ``timeout + retries`` looks.
LIVENESS_LOOK_S = 1.0

#: A wait on the socket that returned this much later than asked means the process was not running
#: (stopped, suspended): ``Channel.request`` does not count that time against the attempt. Once, and
#: again after each wait that returned on time (the process ran between two freezes), not at two late
#: waits in a row: a thread held up after every wait is not told from a frozen process by one wait.
STALL_S = 1.0

#: The longest a request waits on its socket at a time (the loop looks again): how soon a request
#: under way in another thread sees a stop that ``client.close()`` made after the wait began
#: (``Channel.stop``); a stop time known before it (close's deadline) ends the wait then.
CLOSED_LOOK_S = 1.0

#: How long a request over a limit the client knows (``limits``, from ``hello``) waits for a
#: connection to the server, when it has none, to ask its limits again before the known limit
#: refuses it: a server restarted with a larger limit takes it, one that is away costs this look.
#: ZeroMQ reconnects every 0.1 s, so a server back already is connected within it.
RELEARN_LOOK_S = 0.25

_TCP = re.compile(r"^tcp://(?P<host>\[[0-9A-Fa-f:.%a-z]+\]|[^\s:/\[\]*]+):(?P<port>[0-9]{1,5})$")
_MONITORED = (
    zmq.EVENT_CONNECTED
    | zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_DISCONNECTED
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
)
_HANDSHAKE_FAILED = (
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL,
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL,
    zmq.EVENT_HANDSHAKE_FAILED_AUTH,
)


#: How long ``probe_mechanism`` waits for a greeting; and how long its answer stands for an
#: endpoint whose handshakes keep failing (ZeroMQ reconnects every 100 ms).
PROBE_TIMEOUT_S = 1.0
PROBE_REUSE_S = 5.0


def _recv_upto(sock: socket.socket, n: int, deadline: float) -> bytes:
    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(data))
        except OSError:  # a timeout or a reset
            break
        if not chunk:
            break
        data += chunk
    return data


def probe_mechanism(endpoint: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """The security mechanism (``"NULL"``, ``"CURVE"``, ``"PLAIN"``...) that the ZeroMQ peer at
    ``endpoint`` announces in its ZMTP 3 greeting, or None when it announces none: it closes the
    connection, stays silent for ``timeout`` seconds, or does not speak ZMTP. Opens one plain
    connection, exchanges the greeting's first 11 bytes (signature and major version: the peer then
    sends the rest, mechanism included, before reading ours) and closes it: no message is sent.

    A failed ZeroMQ handshake says little by itself: a CURVE server drops a plaintext client with
    the same "no detail" event as a port forward whose server is down; this tells them apart."""
    deadline = time.monotonic() + timeout
    try:
        if endpoint.startswith("tcp://"):
            m = _TCP.match(endpoint)
            if m is None:
                return None
            sock = socket.create_connection((m.group("host").strip("[]"), int(m.group("port"))), timeout=timeout)
        elif endpoint.startswith("ipc://") and hasattr(socket, "AF_UNIX"):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(endpoint[len("ipc://"):])
            except BaseException:
                sock.close()
                raise
        else:
            return None
    except OSError:
        return None
    with sock:
        signature = _recv_upto(sock, 10, deadline)
        if len(signature) < 10 or signature[0] != 0xFF or not signature[9] & 1:
            return None
        try:
            sock.sendall(b"\xff" + bytes(8) + b"\x7f\x03")  # our signature and major version 3
        except OSError:
            return None
        rest = _recv_upto(sock, 22, deadline)  # major, minor, then the 20-byte mechanism
        if len(rest) < 22 or rest[0] < 3:
            return None
        mechanism = rest[2:22].rstrip(b"\x00")
        try:
            return mechanism.decode("ascii") or None
        except UnicodeDecodeError:
            return None


def check_endpoint(endpoint: object) -> str:
    """``endpoint`` when a client can connect to it (``tcp://host:port``, ``ipc://path``,
    ``inproc://name``). @raises InvalidArgumentError at once, with a hint, for anything else
    (ZeroMQ would otherwise fail deep inside, or wait forever)."""
    if not isinstance(endpoint, str):
        raise InvalidArgumentError(f"endpoint must be a string like 'tcp://127.0.0.1:5555', not {endpoint!r}")
    for scheme in ("ipc://", "inproc://"):
        if endpoint.startswith(scheme) and len(endpoint) > len(scheme):
            return endpoint
    m = _TCP.fullmatch(endpoint)  # not match: its $ lets a trailing newline through (to a bare EINVAL)
    if m and 1 <= int(m.group("port")) <= 65535:
        return endpoint
    raise InvalidArgumentError(
        f"{endpoint!r} is not an endpoint a tuneport client can connect to: {_endpoint_hint(endpoint)}",
        {"endpoint": endpoint},
    )


def _other_programs_sqlite(path: str) -> bool:
    """Whether ``path`` is a SQLite file that a tuneport server refuses as another program's (an
    Optuna storage's): tables but no tuneport schema version, the server's rule (open-checks.ts).
    False when it is not there or cannot be read."""
    try:
        with open(path, "rb") as f:
            head = f.read(100)
        wal_pending = os.path.isfile(f"{path}-wal") and os.path.getsize(f"{path}-wal") > 0
    except OSError:
        return False
    if len(head) < 100 or not head.startswith(b"SQLite format 3\x00") or wal_pending:
        return False
    schema_cookie, user_version = int.from_bytes(head[40:44], "big"), int.from_bytes(head[60:64], "big")
    return user_version == 0 and schema_cookie != 0


def _endpoint_hint(endpoint: str) -> str:
    stripped = endpoint.strip()
    if stripped != endpoint and stripped:
        # A value read from a file or a comma-separated list ("tcp://a:5555, tcp://b:5555").
        return f"remove the whitespace around it: {stripped!r}"
    if re.match(r"^(tcp|ipc)://", endpoint, re.IGNORECASE) and not re.match(r"^(tcp|ipc)://", endpoint):
        return f"write the scheme in lower case: {endpoint[:3].lower() + endpoint[3:]!r}"
    if m := re.match(r"^(tcp://(\[[^\]]+\]|[^:/\s]+):[0-9]{1,5})/", endpoint):
        return f"drop the path: {m.group(1)!r} (a ZeroMQ endpoint has none)"
    if re.match(r"^(\[[^\]]+\]|[\w.-]+):[0-9]+$", endpoint):
        return f"add the scheme: 'tcp://{endpoint}'"
    if re.match(r"^https?://", endpoint):
        return (
            "workers speak ZeroMQ, not HTTP: use tcp://host:port, the --bind address of `tuneport serve` "
            "(--mcp-http serves MCP agents, not workers)"
        )
    if m := re.match(r"^tcp://(\[[^\]]+\]|[^:/]+)/?$", endpoint):
        return f"add the server's port: 'tcp://{m.group(1)}:5555' (use the port `tuneport serve --bind` listens on)"
    if re.match(r"^tcp://(\*|0\.0\.0\.0|\[::\]):", endpoint):
        return "'*' and 0.0.0.0 are for binding; connect to the server's address, e.g. tcp://127.0.0.1:5555"
    if m := re.match(r"^sqlite:///(?P<path>.+)$", endpoint):
        path = m.group("path")
        if _other_programs_sqlite(path):
            # The migrating script's own database: a tuneport server refuses a file with another
            # program's tables (open-checks.ts), so name one beside it and how to copy the trials.
            root, ext = os.path.splitext(path)
            return (
                f"that is an Optuna storage URL; {path} holds an Optuna database, which a tuneport server does not open: "
                f"start one on a file of its own (`npx tuneport serve --storage {root}-tuneport{ext or '.db'} --bind "
                "tcp://127.0.0.1:5555`), pass storage='tcp://127.0.0.1:5555', and copy the Optuna study's trials into "
                "the new study with Optuna itself (import optuna): "
                f"study.add_trials(optuna.load_study(study_name=..., storage={endpoint!r}).trials)"
            )
        return (
            "that is an Optuna storage URL; a tuneport study lives on a server, which keeps it in such a file: "
            f"start one (`npx tuneport serve --storage {m.group('path')} --bind tcp://127.0.0.1:5555`) and pass "
            "storage='tcp://127.0.0.1:5555'"
        )
    if re.match(r"^postgres(ql)?(\+\w+)?://", endpoint):
        url = re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", endpoint)
        return (
            "that is an Optuna storage URL; a tuneport study lives on a server, which can keep it in PostgreSQL: "
            f"start one (`npx tuneport serve --storage '{url}' --bind tcp://127.0.0.1:5555`) and pass "
            "storage='tcp://127.0.0.1:5555'"
        )
    if re.match(r"^(mysql|mariadb|oracle|mssql)(\+\w+)?://", endpoint):
        return (
            "that is an Optuna storage URL; a tuneport study lives on a tuneport server (storage: a SQLite file or "
            "PostgreSQL): start one with `npx tuneport serve --bind tcp://127.0.0.1:5555` and pass storage='tcp://127.0.0.1:5555'"
        )
    if "://" not in endpoint:
        return (
            "that looks like a file, not a server address; start a server on it "
            f"(`npx tuneport serve --storage {endpoint} --bind tcp://127.0.0.1:5555`) and connect to tcp://127.0.0.1:5555"
        )
    return "use tcp://host:port (e.g. tcp://127.0.0.1:5555)"


class Channel:
    """One DEALER socket with Lazy Pirate retries. Thread-safe: one request at a time.

    A monitor on the socket tells a silent server (connected, no reply: wait ``timeout``, resend,
    up to ``retries`` times) from an unreachable one (no connection: wait up to
    ``outage_budget_s`` for it to come back, e.g. a restart, and resend the moment it does)."""

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        *,
        timeout: float,
        retries: int,
        curve: CurveKeys | None = None,
        outage_budget_s: float = DEFAULT_OUTAGE_BUDGET_S,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if not outage_budget_s >= 0:
            raise ValueError("outage_budget_s must be >= 0 (math.inf: wait forever)")
        self._context = context
        self._endpoint = check_endpoint(endpoint)
        self.timeout = timeout
        self.retries = retries
        self.outage_budget_s = outage_budget_s
        self._lock = threading.Lock()
        self._socket: zmq.Socket[bytes] | None = None
        self._monitor: zmq.Socket[bytes] | None = None
        self._poller = zmq.Poller()
        self._closed = False
        self._stop_at: float | None = None
        """When a request under way is stopped (``stop``: close's deadline, monotonic); None: not."""
        self._curve = curve
        self._connected = False
        self._ever_connected = False
        self._tcp_seen = False
        self._handshaking_since: float | None = None
        """When the connection in its ZeroMQ handshake now was accepted (None: no such connection)."""
        self._closed_in_handshake = False
        """A handshake failed without a sign of CURVE: the peer closed the connection (a port forward
        or tunnel to a server that is down) or timed it out; an outage, not a refusal."""
        self._handshake_error: tuple[str, str | None] | None = None
        """Why the server refused the handshake, and the mechanism it announced (see ``_refusal``)."""
        self._probed: tuple[float, str | None] | None = None
        self._unreachable_since: float | None = None
        self._outage_started: float | None = None
        self._lost = False
        self._gave_up = False

    @property
    def gave_up(self) -> bool:
        """The last request waited out the whole outage budget (the next looks GAVE_UP_GRACE_S only)."""
        return self._gave_up

    def end_grace(self) -> None:
        """The server answered another channel since this one gave up on it: this one's next request
        waits the whole outage budget again, as after a reply of its own."""
        with self._lock:
            self._gave_up = False

    def _open(self) -> zmq.Socket[bytes]:
        sock = self._context.socket(zmq.DEALER)
        monitor: zmq.Socket[bytes] | None = None
        try:
            sock.setsockopt(zmq.LINGER, 0)
            if self._curve is not None:
                sock.setsockopt(zmq.CURVE_SERVERKEY, self._curve.server_public_key.encode("ascii"))
                sock.setsockopt(zmq.CURVE_PUBLICKEY, self._curve.public_key.encode("ascii"))
                sock.setsockopt(zmq.CURVE_SECRETKEY, self._curve.secret_key.encode("ascii"))
            monitor = sock.get_monitor_socket(_MONITORED)
            sock.connect(self._endpoint)
        except BaseException as exc:
            # Close what was opened: a socket left open makes the context's term() wait forever.
            if monitor is not None:
                sock.disable_monitor()
                monitor.close(linger=0)
            sock.close(linger=0)
            if isinstance(exc, zmq.ZMQError):
                raise InvalidArgumentError(f"cannot connect to {self._endpoint!r}: {exc}", {"endpoint": self._endpoint}) from exc
            raise
        self._socket, self._monitor = sock, monitor
        self._poller = zmq.Poller()
        self._poller.register(sock, zmq.POLLIN)
        self._poller.register(monitor, zmq.POLLIN)
        self._connected = False
        return sock

    def _drop_socket(self) -> None:
        if self._socket is not None:
            if self._monitor is not None:
                try:
                    self._socket.disable_monitor()
                except zmq.ZMQError:
                    pass
                self._monitor.close(linger=0)
                self._monitor = None
            self._socket.close(linger=0)
            self._socket = None
            # A fresh socket delivers what is sent on it once connected: nothing to resend.
            self._connected = self._lost = False
            self._handshaking_since = None

    def _drain_events(self, now: float) -> bool:
        """Reads the monitor's events; True when the connection came back after being lost."""
        assert self._monitor is not None
        came_back = False
        while self._monitor.poll(0, zmq.POLLIN):
            frames = self._monitor.recv_multipart()
            event, value = struct.unpack("=HI", frames[0][:6]) if frames and len(frames[0]) >= 6 else (0, 0)
            if event == zmq.EVENT_CONNECTED:
                self._tcp_seen = True
                if self._handshaking_since is None:
                    self._handshaking_since = now
            else:
                self._handshaking_since = None
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                came_back = self._lost
                if self._outage_started is not None:
                    log.warning("the tuneport server at %s is back after %.1fs", self._endpoint, now - self._outage_started)
                    self._outage_started = None
                self._connected = self._ever_connected = True
                self._unreachable_since = None
                self._lost = self._gave_up = self._closed_in_handshake = False
                self._handshake_error = None
                self._probed = None
            elif event == zmq.EVENT_DISCONNECTED:
                if self._connected:
                    self._lost = True
                    self._unreachable_since = self._outage_started = now
                    budget = "forever" if math.isinf(self.outage_budget_s) else f"up to {self.outage_budget_s:g}s"
                    log.warning(
                        "lost the connection to the tuneport server at %s; waiting %s for it to come back (outage_budget_s)",
                        self._endpoint,
                        budget,
                    )
                self._connected = False
            elif event in _HANDSHAKE_FAILED:
                refusal = self._refusal(int(event), int(value))
                if refusal is None:
                    self._closed_in_handshake = True
                else:
                    self._handshake_error = refusal
        return came_back

    def _mechanism(self) -> str | None:
        """The mechanism the server announces (``probe_mechanism``), probed again after PROBE_REUSE_S."""
        now = time.monotonic()
        if self._probed is None or now - self._probed[0] > PROBE_REUSE_S:
            self._probed = (time.monotonic(), probe_mechanism(self._endpoint))
        return self._probed[1]

    def _refusal(self, event: int, value: int) -> tuple[str, str | None] | None:
        """Why a failed handshake is a refusal of this client's security (the detail and the
        server's mechanism), or None when nothing says so: then it is treated as an outage (the
        request waits, and its timeout asks whether a tuneport server runs there). A refusal needs
        evidence: the server denied the key (ZAP), or the mechanism it announces is not ours, or
        it is CURVE as ours and closed our CURVE handshake (a wrong server key)."""
        if event == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            return (f"its authenticator refused this client, status {value}", "CURVE" if self._curve is not None else None)
        ours = "NULL" if self._curve is None else "CURVE"
        theirs = self._mechanism()
        if theirs is None:
            return None  # closed or silent before its greeting: no server speaks there
        if theirs != ours:
            return (f"security mechanism mismatch: the server uses {theirs}, this client {ours}", theirs)
        if ours == "CURVE" and not self._ever_connected:
            # These keys never got through: a wrong server key (the server cannot read our HELLO).
            # Once they did, a closed handshake is a server going down or restarting, not a refusal.
            return ("the server closed the CURVE handshake", theirs)
        return None

    def request(
        self,
        message: Mapping[str, Any],
        *,
        timeout: float | None = None,
        retries: int | None = None,
        outage_budget_s: float | None = None,
        payload: bytes | None = None,
        handshake_wait: float | None = None,
    ) -> Any:
        """Sends ``message`` (``payload``: its encoding, when the caller already made it) and returns the reply map whose ``id`` matches (or whose ``id`` is null:
        the server could not read ours). While connected, each attempt waits ``timeout`` seconds and
        silence resends the same bytes on a fresh socket. While the server is unreachable, the
        request waits up to ``outage_budget_s`` for it to come back and resends at once when it does.
        ``handshake_wait`` (``connect``'s hello): give up after that long when something accepted
        the TCP connection but neither completed nor refused the ZeroMQ handshake (not a ZeroMQ
        peer, or a hung one), instead of waiting out the outage budget as for a server not up yet.
        @raises TimeoutError after ``1 + retries`` silent attempts or a spent outage budget;
        UnauthenticatedError when the server refuses the ZeroMQ handshake (CURVE keys)."""
        request_id = message["id"]
        # With the envelope's ``attempt`` (the client sets 0 when the server reads it), every send
        # after the first counts up, so the server knows a resend from a first send; a caller's
        # ``payload`` holds the first send's bytes.
        counted = message if isinstance(message, dict) and "attempt" in message else None
        if payload is None or (counted is not None and counted["attempt"] != 0):
            payload = encode(message)

        def wire() -> bytes:
            nonlocal payload
            if payload is None:
                payload = encode(message)
            out = payload
            if counted is not None:
                counted["attempt"] += 1
                payload = None
            return out

        wait = self.timeout if timeout is None else timeout
        attempts = 1 + (self.retries if retries is None else retries)
        budget = self.outage_budget_s if outage_budget_s is None else outage_budget_s
        # Only a request that waited out the whole outage budget gives up on the server for the next
        # ones: a heartbeat's short look (its timeout) left the background thread's next report a
        # second's grace instead of the budget, so a restart longer than that failed the trial.
        whole_budget = budget >= self.outage_budget_s
        with self._lock:
            if self._gave_up:
                budget = min(budget, GAVE_UP_GRACE_S)
            silent = 0
            # Connections lost while this request was in flight, each followed by a resend: a server
            # that drops the connection on this very request (a frame over twice its max_message_bytes,
            # which a client told a larger limit at connect still sends) was resent for ever, the
            # outage budget starting afresh at each reconnection, a warning for each.
            dropped = 0
            # connect's hello (``handshake_wait``) to a server never reached, which may not be up yet
            # (containers start in any order): after ``wait`` it says once that it waits for one, as a
            # lost connection is told, so that a wrong address does not wait out the budget in silence.
            to_tell = handshake_wait is not None and not self._ever_connected and budget > wait
            while True:
                if self._stopped(time.monotonic()):
                    raise ClientClosedError("the client is closed")
                sock = self._socket if self._socket is not None else self._open()
                # A resend after a silent attempt asks the server's hello beside it (LIVENESS_LOOK_S):
                # a server that answers neither within the look is hung (connected, silent), and the
                # attempt ends then instead of after a whole ``wait``; one that answers the hello is
                # alive and gets the whole ``wait`` for the request. The hello goes first: behind a
                # big request on a slow link it reached a live server after the look, and every
                # resend was cut off mid-way as hung.
                probe = make_request("hello", {"versions": list(PROTOCOL_VERSIONS)}) if silent and wait > LIVENESS_LOOK_S else None
                probe_bytes = encode(probe) if probe is not None else b""
                if probe is not None:
                    sock.send(probe_bytes)
                sent = wire()
                sock.send(sent)
                alive = probe is None
                look_until: float | None = None
                now = time.monotonic()
                deadline = now + wait
                start = now
                # A late wait is given back only when the one before it was on time (see STALL_S):
                # given back at each, a thread held up after every wait (starved of the GIL, a
                # machine loaded for seconds at a time) never reached its deadline, and a hung or
                # stopped server was waited on for ever (tests/test_late_waits_end.py); given back
                # once per attempt, a process frozen twice in one attempt took the second freeze for
                # silence (TimeoutError with retries=0, the server's answer unread: test_frozen_twice.py).
                creditable = True
                while True:
                    if not self._connected and self._unreachable_since is None:
                        self._unreachable_since = start
                    stalled = handshake_wait is not None and self._handshaking_since is not None
                    limit = budget
                    if handshake_wait is not None and self._handshaking_since is not None:
                        limit = min(budget, self._handshaking_since + handshake_wait - (self._unreachable_since or now))
                    if silent:
                        # A socket reopened after a silent attempt (Lazy Pirate) gets ``wait`` to connect:
                        # with a short budget (0: fail at once in an outage) a live server's retry was
                        # reported as a lost connection before its TCP connection could form.
                        limit = max(limit, wait)
                    if self._connected and not alive and look_until is None:
                        look_until = now + LIVENESS_LOOK_S  # the look starts with the connection
                    answer_by = deadline if alive or look_until is None else min(deadline, look_until)
                    until = answer_by if self._connected else (self._unreachable_since or now) + limit
                    if to_tell and not self._connected and not stalled:
                        if now - start < wait:
                            until = min(until, start + wait)  # wake up then to say so
                        else:
                            to_tell = False
                            log.warning(
                                "no connection to %s yet; waiting %s for a tuneport server there (outage_budget_s)",
                                self._endpoint,
                                "forever" if math.isinf(budget) else f"up to {budget:g}s",
                            )
                    remaining = until - now
                    # At most CLOSED_LOOK_S per poll: the loop looks again (an infinite outage budget,
                    # math.inf, has no milliseconds), and sees a close made meanwhile by another
                    # thread (``stop``), which no longer waits for this request (it waited for ever
                    # with an infinite budget: tests/test_close_beside_request.py). Past the deadline it still looks,
                    # without waiting: a reply that arrived while this thread was not running (another
                    # thread held the GIL, a long C call) waits in the socket, and was dropped with it
                    # as silence (tests/test_blocked_caller.py); only an empty socket is silence.
                    # A stop time (close's deadline) ends the wait then, not at the slice's end.
                    stop_in = math.inf if self._stop_at is None else self._stop_at - now
                    asked = max(0, math.ceil(min(remaining, CLOSED_LOOK_S, stop_in) * 1000))
                    ready = dict(self._poller.poll(asked))
                    polled, now = now, time.monotonic()
                    late = now - polled - asked / 1000 > STALL_S
                    if not late:
                        creditable = True  # it ran: a freeze after this one is a new one
                    elif creditable:
                        creditable = False
                        not_run = now - polled  # how much of it ran is unknown: all of it is given back
                        # The process did not run (SIGSTOP, a suspended VM, a debugger): neither did
                        # ZeroMQ's I/O thread, so a reply that reached the machine meanwhile may not be
                        # in the socket yet, and the request may not even have left. Not silence: the
                        # attempt (and an outage's budget) gets back the time of that wait. With
                        # retries=0 a freeze longer than ``timeout`` failed the request in flight with
                        # TimeoutError on resume (a non-blocking report: the 9,999 queued behind it
                        # dropped as if the server were unreachable), instead of the answer, or the
                        # LEASE_LOST, that the server gave (tests/test_frozen_worker.py).
                        deadline += not_run
                        start += not_run
                        if look_until is not None:
                            look_until += not_run
                        if self._unreachable_since is not None:
                            self._unreachable_since += not_run
                    if self._monitor in ready:
                        was_connected = self._connected
                        if self._drain_events(now):
                            dropped += 1
                            if dropped > max(attempts, MIN_DROPS):
                                self._drop_socket()
                                raise self._dropped_error(message, dropped, len(sent))
                            if not alive:
                                sock.send(probe_bytes)  # first, as above
                                look_until = None
                            sent = wire()
                            sock.send(sent)  # lost with the old connection; same id, so applied once
                            deadline = now + wait
                            continue
                        if self._connected and not was_connected:
                            deadline = max(deadline, now + wait)  # the wait for a reply starts with the connection
                    if self._handshake_error is not None and not self._connected:
                        self._raise_handshake_error(message)
                    if sock in ready:
                        reply = decode(sock.recv_multipart()[-1])
                        rid = reply.get("id") if isinstance(reply, dict) else None
                        if rid == request_id or (isinstance(reply, dict) and rid is None):
                            self._gave_up = False
                            return reply
                        if probe is not None and rid == probe["id"]:
                            alive = True  # the server answers: this request is slow, not lost
                        continue  # a late reply to an earlier request on this socket: not ours
                    if self._stopped(now):
                        # Closed by another thread (``stop``) while this request waited, and its
                        # grace (close's deadline) spent: it ends here, and its socket with it
                        # (this thread's to close).
                        self._drop_socket()
                        raise ClientClosedError("the client was closed while this request waited for its reply")
                    if self._connected:
                        if look_until is None and not alive:
                            look_until = now + LIVENESS_LOOK_S  # connected just now: the look starts
                        # Read again: the connection (just formed) moves the deadline.
                        if now >= (deadline if alive or look_until is None else min(deadline, look_until)):
                            break
                    elif now >= (self._unreachable_since or now) + limit:
                        error = self._unreachable_error(message, now, budget, stalled_s=handshake_wait if limit < budget else None)
                        # The next request looks once more (GAVE_UP_GRACE_S) on a fresh socket.
                        self._gave_up = self._gave_up or whole_budget
                        self._unreachable_since = None
                        self._drop_socket()
                        raise error
                # Silence on a live connection: the socket may hold a half-sent request; start afresh.
                silent += 1
                self._drop_socket()
                if silent >= attempts:
                    hint = " (CURVE keys not accepted by the server?)" if self._curve is not None else ""
                    hung = "" if alive else (
                        f" (connected, but it did not answer a hello either within {LIVENESS_LOOK_S:g}s of each resend: is it hung?)"
                    )
                    raise TimeoutError(
                        f"no reply to {message.get('op')!r} from {self._endpoint} after {attempts} attempt(s) of {wait:g}s{hung}{hint}",
                        {"op": message.get("op"), "id": request_id, "attempts": attempts, "endpoint": self._endpoint, "hung": not alive},
                    )

    def _dropped_error(self, message: Mapping[str, Any], dropped: int, size: int) -> TimeoutError:
        op = message.get("op")
        return TimeoutError(
            f"the tuneport server at {self._endpoint} closed the connection {dropped} times while {op!r} "
            f"({size:,} bytes) was in flight, and came back each time: it drops a request larger than twice "
            "its max_message_bytes without a reply (was it restarted with a smaller --max-message-bytes than "
            "this client was told at connect? see client.limits), or it "
            "stops on this request",
            {"op": op, "id": message["id"], "endpoint": self._endpoint, "dropped": dropped, "bytes": size},
        )

    def _unreachable_error(self, message: Mapping[str, Any], now: float, budget: float, stalled_s: float | None = None) -> TimeoutError:
        op = message.get("op")
        data = {"op": op, "id": message["id"], "endpoint": self._endpoint, "unreachable_s": round(now - (self._unreachable_since or now), 3)}
        if stalled_s is not None:
            text = (
                f"something at {self._endpoint} accepted the connection but never completed the ZeroMQ handshake "
                f"within {stalled_s:g}s: is it a tuneport server, and is it answering? (a stopped or hung server still accepts "
                "connections, as does a program that is not a tuneport server)"
            )
        elif self._ever_connected:
            text = (
                f"lost the connection to the tuneport server at {self._endpoint} and it did not come back "
                f"within {budget:g}s ({'outage_budget_s' if budget == self.outage_budget_s else 'it was already unreachable'}); "
                f"{op!r} was not answered. Is the server still running?"
            )
        elif self._closed_in_handshake:
            text = (
                f"something at {self._endpoint} accepted the TCP connection but closed it before the ZeroMQ handshake "
                f"completed, for {budget:g}s: is a tuneport server running at {self._endpoint}? (a port forward or "
                "tunnel, such as ssh -L or kubectl port-forward, does this while the server behind it is down)"
            )
        elif self._tcp_seen:
            text = (
                f"something at {self._endpoint} accepted the connection but never completed the ZeroMQ handshake "
                f"within {budget:g}s: is it a tuneport server, and is it answering? (a stopped or hung server still accepts "
                "connections, as does a program that is not a tuneport server)"
            )
        else:
            knob = " (outage_budget_s)" if budget == self.outage_budget_s else ""
            text = (
                f"no connection to {self._endpoint} within {budget:g}s{knob}: is a tuneport server running at {self._endpoint}? "
                f"(start one with `npx tuneport serve --bind {self._endpoint}`)"
            )
        return TimeoutError(text, data)

    def _raise_handshake_error(self, message: Mapping[str, Any]) -> None:
        assert self._handshake_error is not None
        detail, theirs = self._handshake_error
        self._drop_socket()
        self._handshake_error = None
        self._probed = None
        if self._curve is None:
            text = (
                f"the server at {self._endpoint} refused the ZeroMQ handshake ({detail}): it requires CURVE "
                "(connect(..., curve=tp.CurveKeys.from_files(...)))"
                if theirs == "CURVE"
                else f"the server at {self._endpoint} refused the ZeroMQ handshake ({detail})"
            )
        elif theirs is not None and theirs != "CURVE":
            text = (
                f"the server at {self._endpoint} refused the ZeroMQ handshake ({detail}): it does not use CURVE; "
                "connect without curve=, or start the server with --curve-secret and --curve-allow"
            )
        else:
            text = (
                f"the server at {self._endpoint} refused the ZeroMQ handshake ({detail}): CURVE keys not accepted by the server? "
                "(its public key must be that server's server.pub, and this client's public key in its --curve-allow)"
            )
        raise UnauthenticatedError(text, {"op": message.get("op"), "endpoint": self._endpoint, "mechanism": theirs})

    def close(self) -> None:
        """Closes the socket (LINGER 0); later requests raise ClientClosedError. Waits for a request
        under way in another thread to end (see ``stop``)."""
        with self._lock:
            self._closed = True
            self._drop_socket()

    def stop(self) -> None:
        """Marks the channel closed without waiting for a request under way in another thread (which
        holds the socket: only it may close it): that request raises ClientClosedError at its next
        look at the socket (within CLOSED_LOOK_S, or at the stop time ``stop_at`` gave it) and closes
        the socket; later ones raise it at once."""
        self._closed = True

    def stop_at(self, at: float | None) -> None:
        """A stop time (monotonic: close's deadline) for the requests under way: one still waiting
        then raises ClientClosedError, and so does one that starts after it. A stop time known while
        a request waits ends its wait then; one set during a wait is seen at its next look (within
        CLOSED_LOOK_S). None takes it back (a close interrupted: the client stays open)."""
        self._stop_at = at

    def _stopped(self, now: float) -> bool:
        """Closed, or its stop time (``stop``) came."""
        return self._closed or (self._stop_at is not None and now >= self._stop_at)


__all__ = [
    "PROTOCOL_VERSIONS",
    "Channel",
    "CurveKeys",
    "check_endpoint",
    "decode",
    "encode",
    "make_request",
    "new_request_id",
    "parse_reply",
    "probe_mechanism",
]
