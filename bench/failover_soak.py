"""Crash soak across servers: several `tuneport serve` processes on one PostgreSQL database, many
Python workers (the real client, failing over between the endpoints), and the server that owns the
study SIGKILLed again and again (and restarted on its port).

Checked at the end, from the database:
  - no acknowledged tell lost: every `complete()` that returned is a COMPLETE trial with its value;
  - no duplicate trial number, and no two workers told the same trial;
  - no grid point handed out twice (retries of a lost trial excepted: they say whose retry they are);
and measured: after each kill, the time until another server serves the study (`max_takeover_s`).

    python bench/failover_soak.py --servers 3 --workers 32 --kills 10 --out bench/results/failover.json

The study is a grid (one point per trial), so a point handed out twice would show. Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq

import tuneport as tp
from tuneport._protocol import Channel, make_request

ROOT = Path(__file__).resolve().parent.parent
CLI = ROOT / "dist" / "cli" / "main.js"
STUDY = "soak"
#: How long the soak waits for a server it started to answer `hello`: a bound on a hang, not a
#: timing. At load ~25 three servers started together did not answer within the client's 30 s
#: outage budget, and the soak failed at its first request.
START_LIMIT_S = 600.0


def start_postgres(durable: bool = False) -> tuple[subprocess.Popen[str], str]:
    """A throw-away PostgreSQL (bench/pg-server.mjs); it stops when our end of its stdin closes."""
    proc = subprocess.Popen(
        ["node", str(ROOT / "bench" / "pg-server.mjs"), *(["--durable"] if durable else [])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        proc.communicate()
        raise RuntimeError("PostgreSQL did not start (bench/pg-server.mjs needs `make dist-bench/.stamp`)")
    return proc, str(json.loads(line)["url"])


def stop_postgres(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


class Server:
    """One `tuneport serve` on a fixed loopback port."""

    def __init__(self, url: str, port: int, ownership_ttl: float) -> None:
        self.url, self.port, self.ttl = url, port, ownership_ttl
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Starts the server and returns once it answers `hello` (``wait_serving``)."""
        self.spawn()
        self.wait_serving()

    def spawn(self) -> None:
        self.proc = subprocess.Popen(
            ["node", str(CLI), "serve", "--storage", self.url, "--bind", self.endpoint,
             "--ownership-ttl", str(self.ttl), "--log-level", "warn", "--lease-ttl", "60"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def wait_serving(self, limit_s: float = START_LIMIT_S) -> None:
        """Returns once the server answers `hello`, asked with 5 s to answer and again until it does.
        @raises RuntimeError when it exits first, or after ``limit_s`` (a hang)."""
        assert self.proc is not None
        t0 = time.monotonic()
        while True:
            code = self.proc.poll()
            if code is not None:
                raise RuntimeError(f"the server on {self.endpoint} exited with {code} before answering hello")
            try:
                with tp.connect(self.endpoint, timeout=5.0, retries=0, connect_timeout=5.0,
                                outage_budget_s=5.0, heartbeat=False):
                    return
            except tp.TimeoutError:
                if time.monotonic() - t0 > limit_s:
                    raise RuntimeError(f"the server on {self.endpoint} did not answer hello in {limit_s:.0f} s") from None

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: list[tuple[int, float, str]] = field(default_factory=list)
    lease_lost: int = 0
    errors: Counter[str] = field(default_factory=Counter)


def worker(endpoints: list[str], index: int, stop: threading.Event, tally: Tally, timeout: float) -> None:
    # Retries cover a takeover: silence on a dead server moves on to the next endpoint.
    with tp.connect(endpoints, timeout=timeout, retries=30) as client:
        study = client.load_study(STUDY)
        n = 0
        while not stop.is_set():
            try:
                trial = study.ask()
            except tp.SearchSpaceExhaustedError:
                return
            except tp.TuneportError as err:
                with tally.lock:
                    tally.errors[type(err).__name__] += 1
                continue
            value = float(trial.params["a"]) * 1000 + float(trial.params["b"])
            time.sleep(0.005)  # "training"
            try:
                trial.complete(value)
            except tp.LeaseLostError:
                with tally.lock:
                    tally.lease_lost += 1
                continue
            except tp.TuneportError as err:
                with tally.lock:
                    tally.errors[type(err).__name__] += 1
                continue
            n += 1
            with tally.lock:
                tally.acknowledged.append((trial.number, value, f"w{index}"))


_ctx = zmq.Context.instance()


def owner_of(endpoints: list[str], timeout: float = 0.5) -> str | None:
    """The endpoint that serves the study now: the one that answers get_study without a redirect
    (a raw channel: the client would follow the redirect) within ``timeout`` seconds."""
    for ep in endpoints:
        ch = Channel(_ctx, ep, timeout=timeout, retries=0)
        try:
            reply = ch.request(make_request("get_study", {"study": STUDY}))
            if isinstance(reply, dict) and reply.get("ok") is True:
                return ep
        except tp.TimeoutError:
            continue
        finally:
            ch.close()
    return None


def wait_for_owner(endpoints: list[str], limit_s: float, timeout: float = 0.5) -> str | None:
    """``owner_of`` asked again until one of ``endpoints`` serves the study (None past ``limit_s``)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        owner = owner_of(endpoints, timeout)
        if owner is not None:
            return owner
        time.sleep(0.02)
    return None


def find_victim(endpoints: list[str], limit_s: float) -> str | None:
    """The owner to kill next. Asked with 5 s to answer, and again until one does: on a loaded
    machine the owner, busy with the workers' tells, can take longer than ``owner_of``'s 0.5 s
    probe, and a single pass then found no owner and skipped the kill (the soak in the test suite
    failed so, "kill 1: no owner found", with the suite's two halves side by side)."""
    return wait_for_owner(endpoints, limit_s, timeout=5.0)


def serving_after(endpoints: list[str], dead: str, limit_s: float) -> float | None:
    """Seconds until a server other than `dead` serves the study (None past `limit_s`); probes of
    0.5 s, so that the figure is not stretched by a server still starting."""
    t0 = time.monotonic()
    owner = wait_for_owner([e for e in endpoints if e != dead], limit_s)
    return None if owner is None else time.monotonic() - t0


def run(*, servers: int, workers: int, kills: int, ownership_ttl: float, interval_s: float,
        grid: int, base_port: int, timeout: float, log: Any = sys.stderr) -> dict[str, Any]:
    pg, pg_url = start_postgres()
    url = f"{pg_url}&schema=soak"
    procs = [Server(url, base_port + i, ownership_ttl) for i in range(servers)]
    endpoints = [s.endpoint for s in procs]
    stop = threading.Event()
    tally = Tally()
    threads: list[threading.Thread] = []
    takeovers: list[float | None] = []
    try:
        # All started at once, then each waited for: at load ~25 none answered within the admin
        # client's outage budget (30 s) after its start.
        for s in procs:
            s.spawn()
        for s in procs:
            s.wait_serving()
        with tp.connect(endpoints, timeout=5.0, retries=20) as admin:
            admin.create_study(
                STUDY, strategy="grid", direction="minimize",
                space={"a": tp.Int(0, grid - 1), "b": tp.Int(0, grid - 1)},
            )
        threads = [threading.Thread(target=worker, args=(endpoints, i, stop, tally, timeout), daemon=True) for i in range(workers)]
        for t in threads:
            t.start()
        for k in range(kills):
            time.sleep(interval_s)
            owner = find_victim(endpoints, limit_s=20 * ownership_ttl + 30)
            victim = next((s for s in procs if s.endpoint == owner), None)
            if victim is None:
                print(f"kill {k + 1}: no owner found; skipped", file=log)
                takeovers.append(None)
                continue
            victim.kill()
            took = serving_after(endpoints, victim.endpoint, limit_s=20 * ownership_ttl + 30)
            takeovers.append(took)
            print(f"kill {k + 1}/{kills}: {victim.endpoint} SIGKILLed; served again after {took}s; "
                  f"{len(tally.acknowledged)} tells acknowledged", file=log)
            victim.start()
        time.sleep(interval_s)
        stop_workers(stop, threads)
        verdict = check(endpoints, tally)
    finally:
        # Checked only when the run got this far: after a failure (a server that did not start), the
        # check's NOT_FOUND took the place of the error that said why.
        stop_workers(stop, threads)
        for s in procs:
            s.stop()
        stop_postgres(pg)
    measured = [t for t in takeovers if t is not None]
    return {
        "servers": servers,
        "workers": workers,
        "kills": len(measured),
        "kills_attempted": kills,
        "ownership_ttl_s": ownership_ttl,
        "acknowledged_tells": len(tally.acknowledged),
        **verdict,
        "max_takeover_s": round(max(measured), 3) if measured else None,
        "takeover_s": [round(t, 3) if t is not None else None for t in takeovers],
        "lease_lost": tally.lease_lost,
        "client_errors": dict(tally.errors),
    }


def stop_workers(stop: threading.Event, threads: list[threading.Thread]) -> None:
    stop.set()
    for t in threads:
        t.join(timeout=120)


def check(endpoints: list[str], tally: Tally) -> dict[str, Any]:
    with tp.connect(endpoints, timeout=5.0, retries=20, heartbeat=False) as c:
        trials = c.load_study(STUDY).trials
    by_number = Counter(t.number for t in trials)
    numbers_twice = sum(1 for n, k in by_number.items() if k > 1)
    told = Counter(n for n, _, _ in tally.acknowledged)
    told_twice = sum(1 for n, k in told.items() if k > 1)
    final = {t.number: t for t in trials}
    missing = sum(
        1 for n, v, _ in tally.acknowledged
        if n not in final or final[n].state != "COMPLETE" or final[n].value != v
    )
    points = Counter(
        (t.params["a"], t.params["b"]) for t in trials if "retry_of" not in t.system_attrs
    )
    return {
        "trials": len(trials),
        "missing": missing,
        "duplicates": numbers_twice + told_twice,
        "grid_points_twice": sum(1 for k in points.values() if k > 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--servers", type=int, default=3)
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--ownership-ttl", type=float, default=2.0)
    ap.add_argument("--interval", type=float, default=4.0, help="seconds between kills")
    ap.add_argument("--grid", type=int, default=300, help="grid side (grid² points)")
    ap.add_argument("--base-port", type=int, default=25510)
    ap.add_argument("--timeout", type=float, default=1.0, help="client timeout per attempt")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    t0 = time.time()
    result = run(servers=a.servers, workers=a.workers, kills=a.kills, ownership_ttl=a.ownership_ttl,
                 interval_s=a.interval, grid=a.grid, base_port=a.base_port, timeout=a.timeout)
    result["wall_s"] = round(time.time() - t0, 1)
    result["command"] = "python " + " ".join(["bench/failover_soak.py", *sys.argv[1:]])
    print(json.dumps(result, indent=2))
    if a.out:
        Path(a.out).write_text(json.dumps(result, indent=2) + "\n")
    ok = result["missing"] == 0 and result["duplicates"] == 0 and result["grid_points_twice"] == 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
