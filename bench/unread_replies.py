"""A client that asks for big pages of trials and never reads them: the server's memory.

Starts `tuneport serve` on a temporary SQLite file, adds 300 trials with 60 KB of user attributes
each, then one DEALER (receive queue of 1, 4 KiB socket buffer) sends N `trials` requests (each
reply ~8 MiB) and reads nothing for 20 s while another client keeps calling `get_study`. Prints the
server's RSS, the other client's worst wait, what the flood's replies were once read, and whether
a big read works after the flood left.

    .venv/bin/python bench/unread_replies.py [--requests 400] [--cli dist/cli/main.js] [-- serve options]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import msgpack
import zmq

ctx = zmq.Context.instance()


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return -1


def request(sock: zmq.Socket, op: str, timeout: float = 30.0, **args: object) -> dict | None:
    rid = uuid.uuid4().hex
    sock.send(msgpack.packb({"v": 1, "id": rid, "op": op, **args}))
    deadline = time.time() + timeout
    while sock.poll(max(1, int((deadline - time.time()) * 1000))):
        reply = msgpack.unpackb(sock.recv(), raw=False)
        if reply.get("id") == rid:
            return reply
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--cli", default=str(Path(__file__).resolve().parent.parent / "dist" / "cli" / "main.js"))
    ap.add_argument("--port", type=int, default=47231)
    ap.add_argument("serve", nargs="*", help="more `tuneport serve` options (after --)")
    a = ap.parse_args()
    ep = f"tcp://127.0.0.1:{a.port}"
    db = Path(tempfile.mkdtemp(prefix="unread-replies-")) / "s.db"
    server = subprocess.Popen(["node", a.cli, "serve", "--storage", str(db), "--bind", ep, "--log-level", "warn", *a.serve],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        s = ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(ep)
        while request(s, "hello", timeout=0.5) is None:
            if server.poll() is not None:
                raise SystemExit("the server did not start")
        request(s, "create_study", name="a", space={"x": {"type": "float", "low": 0, "high": 1}})
        for _ in range(300):
            request(s, "add_trial", study="a", params={"x": 0.5}, state="COMPLETE", value=1.0, user_attrs={"blob": "u" * 60000})
        print(f"server RSS after the fill: {rss_mb(server.pid)} MB", flush=True)
        worst, peak, stop = [0.0], [0], threading.Event()

        def probe() -> None:
            p = ctx.socket(zmq.DEALER)
            p.setsockopt(zmq.LINGER, 0)
            p.connect(ep)
            while not stop.is_set():
                t = time.time()
                request(p, "get_study", study="a", timeout=60)
                worst[0] = max(worst[0], time.time() - t)
                peak[0] = max(peak[0], rss_mb(server.pid))
                time.sleep(0.25)
            p.close()

        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        flood = ctx.socket(zmq.DEALER)
        for opt, v in ((zmq.LINGER, 0), (zmq.RCVHWM, 1), (zmq.RCVBUF, 4096)):
            flood.setsockopt(opt, v)
        flood.connect(ep)
        for i in range(a.requests):
            flood.send(msgpack.packb({"v": 1, "id": f"f{i}", "op": "trials", "study": "a", "limit": 100000}))
        for k in range(4):
            time.sleep(5)
            print(f"t+{5 * k + 5} s: server RSS {rss_mb(server.pid)} MB, the other client's worst get_study {worst[0]:.2f} s", flush=True)
        stop.set()
        prober.join()
        flood.setsockopt(zmq.RCVTIMEO, 2000)
        codes: dict[str, int] = {}
        try:
            while True:
                r = msgpack.unpackb(flood.recv(), raw=False)
                k = "ok" if r["ok"] else r["error"]["code"]
                codes[k] = codes.get(k, 0) + 1
        except zmq.Again:
            pass
        flood.close()
        time.sleep(2)
        after = request(s, "trials", study="a", limit=100000)
        print(f"peak RSS {peak[0]} MB; the flood's replies: {codes}; server alive: {server.poll() is None}")
        print(f"a big read after the flood left: {'ok' if after and after['ok'] else after and after['error']['code']}; RSS {rss_mb(server.pid)} MB")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
