"""`make bench-protocol`: ask+tell round trips from Python clients.

Systems, all in one run on the same machine:
  zmq-echo               raw pyzmq DEALER -> zeromq.js ROUTER echo of an ask-sized msgpack map
                         (the floor: no decoding, no storage); a "trial" is 2 round trips,
                         the same message count as ask + tell
  tuneport-random-sqlite the Python client against `tuneport serve` (random strategy,
                         durable SQLite, default durability), ask + tell
  optuna-rdb-sqlite      Optuna 5.0, RandomSampler, RDB storage on SQLite, ask + tell
  optuna-journal         Optuna 5.0, RandomSampler, JournalStorage (file), ask + tell

Each with 1 client and with 16 concurrent client processes (aggregate trials/s).
Writes bench/results/protocol.json and the protocol section of docs/BENCHMARKS.md.

    python bench/protocol.py [--quick] [--trials N] [--clients 1,16]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any, Callable

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, Server, free_port, machine, percentile, update_benchmarks_md, wait_for_port, write_results  # noqa: E402

SPACE_KW = {"x": ("float", 0.0, 1.0), "y": ("float", 0.0, 1.0)}


def objective(x: float, y: float) -> float:
    return (x - 0.3) ** 2 + (y - 0.7) ** 2


# ---------------------------------------------------------------- workers (run in child processes)

def worker_echo(endpoint: str, n: int, q: "mp.Queue[list[float]]") -> None:
    ctx = zmq.Context.instance()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    lat: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        for op in ("ask", "tell"):
            s.send(msgpack.packb({"v": 1, "id": uuid.uuid4().hex, "op": op, "study": "bench-0001", "trial": 1, "token": "x" * 16}))
            msgpack.unpackb(s.recv())
        lat.append(time.perf_counter() - t0)
    s.close()
    q.put(lat)


def worker_tuneport(endpoint: str, study: str, n: int, q: "mp.Queue[list[float]]") -> None:
    import tuneport as tp

    lat: list[float] = []
    with tp.connect(endpoint) as client:
        st = client.load_study(study)
        for _ in range(n):
            t0 = time.perf_counter()
            trial = st.ask()
            trial.complete(objective(float(trial.params["x"]), float(trial.params["y"])))  # type: ignore[arg-type]
            lat.append(time.perf_counter() - t0)
    q.put(lat)


def worker_optuna(storage_url: str, study: str, n: int, q: "mp.Queue[list[float]]") -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage: Any = storage_url
    if storage_url.startswith("journal:"):
        storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(storage_url[len("journal:"):]))
    st = optuna.load_study(study_name=study, storage=storage, sampler=optuna.samplers.RandomSampler())
    dists = {
        "x": optuna.distributions.FloatDistribution(0, 1),
        "y": optuna.distributions.FloatDistribution(0, 1),
    }
    lat: list[float] = []
    failed = 0
    for _ in range(n):
        t0 = time.perf_counter()
        try:
            t = st.ask(dists)
            st.tell(t, objective(t.params["x"], t.params["y"]))
        except Exception:  # noqa: BLE001 - StorageInternalError or sqlalchemy OperationalError
            # RDB on SQLite under many writers: "database is locked" surfaces here. Count it (the
            # row says how many) instead of dying, which would leave the parent waiting forever.
            failed += 1
            continue
        lat.append(time.perf_counter() - t0)
    q.put(lat + [-1.0] * failed)  # -1 marks a failed trial


#: trials that failed in the last run_clients call (Optuna RDB's "database is locked").
FAILED = [0]


def run_clients(target: Callable[..., None], args: tuple[Any, ...], clients: int, per_client: int) -> tuple[list[float], float]:
    q: "mp.Queue[list[float]]" = mp.Queue()
    procs = [mp.Process(target=target, args=(*args, per_client, q)) for _ in range(clients)]
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    lat: list[float] = []
    FAILED[0] = 0
    for _ in procs:
        part = q.get()
        FAILED[0] += sum(1 for x in part if x < 0)
        lat += [x for x in part if x >= 0]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise RuntimeError(f"{target.__name__} worker failed with exit code {p.exitcode}")
    return lat, wall


def row(system: str, clients: int, lat: list[float], wall: float) -> dict[str, Any]:
    return {
        "system": system,
        "clients": clients,
        "trials": len(lat),
        "trials_per_s": len(lat) / wall,
        "p50_ms": percentile(lat, 0.5) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000,
        "failed_trials": FAILED[0],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny run to check the harness (figures meaningless)")
    ap.add_argument("--trials", type=int, default=2000, help="trials per single client")
    ap.add_argument("--clients", default="1,16")
    ap.add_argument("--no-write-docs", action="store_true")
    args = ap.parse_args()
    n1 = 40 if args.quick else args.trials
    optuna_n1 = 20 if args.quick else max(200, args.trials // 5)
    client_counts = [int(c) for c in args.clients.split(",")]
    runs: list[dict[str, Any]] = []

    def per(clients: int, n: int) -> int:
        return max(5, n // clients) if clients > 1 else n

    # zmq echo floor
    ep = f"tcp://127.0.0.1:{free_port()}"
    echo = subprocess.Popen(["node", str(ROOT / "bench" / "echo-server.mjs"), ep], stdout=subprocess.PIPE, text=True)
    try:
        wait_for_port(ep, echo)
        for c in client_counts:
            lat, wall = run_clients(worker_echo, (ep,), c, per(c, n1))
            runs.append(row("zmq-echo", c, lat, wall))
            print(runs[-1], flush=True)
    finally:
        echo.terminate()
        echo.wait()

    # tuneport
    import tuneport as tp

    for c in client_counts:
        with Server() as server:
            with tp.connect(server.endpoint) as client:
                client.create_study("bench", strategy="random", seed=1, space={"x": tp.Float(0, 1), "y": tp.Float(0, 1)})
            lat, wall = run_clients(worker_tuneport, (server.endpoint, "bench"), c, per(c, n1))
            runs.append(row("tuneport-random-sqlite", c, lat, wall))
            print(runs[-1], flush=True)

    # optuna
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    for system in ("optuna-rdb-sqlite", "optuna-journal"):
        for c in client_counts:
            d = tempfile.mkdtemp(prefix="optuna-bench-")
            if system == "optuna-rdb-sqlite":
                url = f"sqlite:///{d}/optuna.db"
                storage: Any = url
            else:
                url = f"journal:{d}/journal.log"
                storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(f"{d}/journal.log"))
            optuna.create_study(study_name="bench", storage=storage, sampler=optuna.samplers.RandomSampler(seed=1))
            lat, wall = run_clients(worker_optuna, (url, "bench"), c, per(c, optuna_n1))
            runs.append(row(system, c, lat, wall))
            print(runs[-1], flush=True)

    meta = {"command": "make bench-protocol", "machine": machine(), "quick": args.quick}
    path = write_results("protocol" if not args.quick else "protocol-quick", runs, meta)
    print(f"wrote {path}")
    if not args.quick and not args.no_write_docs:
        update_benchmarks_md("protocol", render(runs))
    print(render(runs))
    return 0


def render(runs: list[dict[str, Any]]) -> str:
    def get(system: str, clients: int) -> dict[str, Any] | None:
        return next((r for r in runs if r["system"] == system and r["clients"] == clients), None)

    lines = [
        "## Protocol: ask + tell round trips (issue 2)",
        "",
        f"Command: `make bench-protocol` (`python bench/protocol.py`). Machine: {machine()}; shared and noisy, so",
        "compare ratios within one run. A trial is one ask plus one tell (two round trips); the echo floor",
        "sends the same two messages to a zeromq.js ROUTER that echoes them without decoding.",
        "",
        "| system | clients | trials | trials/s | p50 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in runs:
        failed = f" ({r['failed_trials']} failed)" if r.get("failed_trials") else ""
        lines.append(f"| {r['system']} | {r['clients']} | {r['trials']}{failed} | {r['trials_per_s']:.0f} | {r['p50_ms']:.3f} | {r['p99_ms']:.3f} |")
    lines.append("")
    for c in sorted({r["clients"] for r in runs}):
        tp_, echo, rdb, journal = (get(s, c) for s in ("tuneport-random-sqlite", "zmq-echo", "optuna-rdb-sqlite", "optuna-journal"))
        if tp_ and echo and rdb and journal:
            lines.append(
                f"- {c} client(s): tuneport p50 is {tp_['p50_ms'] / echo['p50_ms']:.2f}× the echo floor; "
                f"{tp_['trials_per_s'] / rdb['trials_per_s']:.0f}× Optuna RDB's trials/s and "
                f"{tp_['trials_per_s'] / journal['trials_per_s']:.1f}× JournalStorage's."
            )
    lines.append("")
    lines.append("Raw runs: `bench/results/protocol.json`.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
