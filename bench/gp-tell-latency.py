"""`make bench-overhead` (second part): does a GP suggestion being computed delay other clients?

One real `tuneport serve`. Study `gp6` (strategy gp, 6-D Hartmann) is pre-filled with N random
trials through the client (enqueue → ask → tell), then a "GP load" process loops ask/tell on it,
so a GP suggestion (run in a worker thread by the server) is nearly always in flight. Meanwhile
a "probe" client on a separate random study loops: ask, an explicit heartbeat of its lease,
tell; each heartbeat and tell is timed. Both phases, without and with the GP load, run for the
same time in the same server. Writes bench/results/gp-tell-latency.json and a section of
docs/BENCHMARKS.md.

    python bench/gp-tell-latency.py [--history 250] [--seconds 30] [--no-docs]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import Server, machine, percentile, update_benchmarks_md, write_results  # noqa: E402
from suite import hartmann6  # noqa: E402


def h6(p: dict[str, Any]) -> float:
    return hartmann6(np.array([float(p[f"x{i}"]) for i in range(6)]))


def gp_load(endpoint: str, stop: Any, counter: Any) -> None:
    import tuneport as tp

    with tp.connect(endpoint, timeout=120.0) as client:
        st = client.load_study("gp6")
        while not stop.is_set():
            trial = st.ask()
            trial.complete(h6(dict(trial.params)))
            with counter.get_lock():
                counter.value += 1


def probe(endpoint: str, seconds: float) -> dict[str, list[float]]:
    import tuneport as tp

    tells: list[float] = []
    beats: list[float] = []
    with tp.connect(endpoint, heartbeat=False) as client:
        st = client.load_study("probe")
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            trial = st.ask()
            t0 = time.perf_counter()
            client._call("heartbeat", {"leases": [{"study": "probe", "trial": trial.number, "token": trial.lease.token}]})
            beats.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            trial.complete(float(trial.params["x"]) ** 2)  # type: ignore[operator]
            tells.append(time.perf_counter() - t0)
            time.sleep(0.005)  # a worker that also does work: ~200 tells/s at most
    return {"tell": tells, "heartbeat": beats}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--history", type=int, default=250)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--no-docs", action="store_true")
    args = ap.parse_args()
    import tuneport as tp

    rows: list[dict[str, Any]] = []
    with Server() as server:
        with tp.connect(server.endpoint) as client:
            gp = client.create_study("gp6", strategy="gp", space={f"x{i}": tp.Float(0, 1) for i in range(6)}, seed=1)
            client.create_study("probe", strategy="random", space={"x": tp.Float(-1, 1)}, seed=2)
            rng = np.random.default_rng(0)
            for _ in range(args.history):
                gp.enqueue({f"x{i}": float(v) for i, v in enumerate(rng.uniform(0, 1, 6))})
                trial = gp.ask()
                trial.complete(h6(dict(trial.params)))
        for phase in ("idle", "gp-load"):
            stop = mp.Event()
            counter = mp.Value("i", 0)
            load = mp.Process(target=gp_load, args=(server.endpoint, stop, counter)) if phase == "gp-load" else None
            if load is not None:
                load.start()
                time.sleep(2)
            c0 = counter.value
            res = probe(server.endpoint, args.seconds)
            gp_asks = counter.value - c0
            if load is not None:
                stop.set()
                load.join(timeout=120)
            for op, lat in res.items():
                rows.append({"phase": phase, "op": op, "count": len(lat), "p50_ms": percentile(lat, 0.5) * 1000,
                             "p99_ms": percentile(lat, 0.99) * 1000, "max_ms": max(lat) * 1000,
                             "gp_asks_during": gp_asks, "seconds": args.seconds})
                print(rows[-1], flush=True)
    meta = {"machine": machine(), "history": args.history, "command": f"python bench/gp-tell-latency.py --history {args.history} --seconds {args.seconds:g}"}
    write_results("gp-tell-latency", rows, meta)
    lines = ["## Tell latency while GP suggestions are computed (`bench/gp-tell-latency.py`)", "",
             f"Machine: {meta['machine']}; 2 cores shared with other work (noisy). Command: `{meta['command']}`. A GP "
             f"study (6-D Hartmann, {args.history} random trials pre-filled, then the GP's own) is asked in a loop by one "
             "client while a probe client on a separate random study does ask → heartbeat → tell; "
             "heartbeat and tell are timed (round trip from Python, SQLite storage, default durability).", "",
             "| phase | op | count | p50 ms | p99 ms | max ms | GP asks served during the phase |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        lines.append(f"| {r['phase']} | {r['op']} | {r['count']} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.1f} | {r['gp_asks_during']} |")
    md = "\n".join(lines)
    print(md)
    if not args.no_docs:
        update_benchmarks_md("gp-tell-latency", md)


if __name__ == "__main__":
    main()
