"""`make bench-postgres`: tuneport on PostgreSQL, tuneport on SQLite, and Optuna 5.0's RDBStorage on
the same PostgreSQL server, in one run; 1, 32 and 128 workers; random and TPE.

- PostgreSQL: a throw-away server (bench/pg-server.mjs --durable) with the default durability
  settings (fsync, synchronous_commit on), shared by tuneport and Optuna.
- tuneport: `bench/load.mjs` (N worker processes doing ask → report → tell with a zero-cost
  objective against one `tuneport serve`, on a fresh schema of that server or a fresh SQLite file;
  SQLite twice: its default `--durability process`, which does not fsync each commit, and
  `--durability power`, which does, like PostgreSQL here).
- Optuna: `bench/load_optuna.py --storage rdb-pg` (N worker processes, each with its own
  RDBStorage on one fresh database of that server, as Optuna documents distributed optimization;
  psycopg2 driver).
- Each configuration runs for the same time window. Recorded per row: trials/s, p50 and p99 of
  ask + tell (ms, one trial's ask plus its tell, as a worker sees them), and server CPU per trial
  (ms; tuneport's process, and the PostgreSQL server's backends — Optuna's only server).

Rows `{system, storage, clients, strategy, trials_per_s, p50_ms, p99_ms, ...}` go to
bench/results/postgres.json; docs/BENCHMARKS.md has the reading.

    .venv/bin/python bench/postgres.py [--seconds 20] [--workers 1,32,128] [--strategies random,tpe] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "postgres.json"


def start_postgres() -> tuple[subprocess.Popen[str], str, int]:
    proc = subprocess.Popen(["node", str(ROOT / "bench" / "pg-server.mjs"), "--durable"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    postmaster = int(Path(info["dir"], "data", "postmaster.pid").read_text().split("\n")[0])
    return proc, str(info["url"]), postmaster


def run(cmd: list[str]) -> None:
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def rows_of(raw: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for label, entry in raw.items():
        for r in entry["rows"]:
            system = "optuna 5.0 RDBStorage" if label.startswith("optuna") else "tuneport"
            storage = "postgresql" if label.endswith("pg") else "sqlite (power)" if label.endswith("power") else "sqlite"
            out.append({
                "system": system,
                "storage": storage,
                "clients": r["clients"],
                "strategy": r["strategy"],
                "trials_per_s": round(r["trials_per_s"], 1),
                "p50_ms": r["ask_tell"]["p50_ms"],
                "p99_ms": r["ask_tell"]["p99_ms"],
                "server_cpu_ms_per_trial": r.get("server_cpu_ms_per_trial"),
                "trials": r["trials"],
                "errors": r.get("errors", 0),
            })
    return out


def goals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def tps(system: str, storage: str, strategy: str, clients: int) -> float | None:
        for r in rows:
            if r["system"] == system and r["storage"] == storage and r["strategy"] == strategy and r["clients"] == clients:
                return float(r["trials_per_s"])
        return None

    out: dict[str, Any] = {}
    for strategy in sorted({r["strategy"] for r in rows}):
        pg = tps("tuneport", "postgresql", strategy, 32)
        lite = tps("tuneport", "sqlite", strategy, 32)
        opt = tps("optuna 5.0 RDBStorage", "postgresql", strategy, 32)
        vs_optuna = pg / opt if pg and opt else None
        vs_sqlite = pg / lite if pg and lite else None
        out[strategy] = {
            "tuneport_pg_vs_optuna_pg_at_32": round(vs_optuna, 1) if vs_optuna else None,
            "goal_30x_met": bool(vs_optuna and vs_optuna >= 30),
            "tuneport_pg_vs_tuneport_sqlite_at_32": round(vs_sqlite, 2) if vs_sqlite else None,
            "goal_half_of_sqlite_met": bool(vs_sqlite and vs_sqlite >= 0.5),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--workers", default="1,32,128")
    ap.add_argument("--strategies", default="random,tpe")
    ap.add_argument("--quick", action="store_true", help="5 s windows, 1 and 8 workers (a smoke run; results not written)")
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--cli", help="tuneport's dist/cli/main.js to run (default: this checkout's; pass a copy to keep rebuilding while it runs)")
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.workers = 5.0, "1,8"
    workers = [int(w) for w in a.workers.split(",")]
    strategies = a.strategies.split(",")
    raw_path = Path(tempfile.mkdtemp(prefix="bench-postgres-")) / "raw.json"
    pg, url, postmaster = start_postgres()
    t0 = time.time()
    try:
        caps = ",".join(f"{s}=10000000" for s in strategies)
        common = ["--clients", ",".join(map(str, workers)), "--strategies", ",".join(strategies), "--trials", caps,
                  "--seconds", str(a.seconds), "--out", str(raw_path), *(["--cli", a.cli] if a.cli else [])]
        run(["node", "bench/load.mjs", *common, "--storage-url", url, "--pg-pid", str(postmaster), "--label", "tuneport-pg"])
        run(["node", "bench/load.mjs", *common, "--label", "tuneport-sqlite"])
        # Like for like: PostgreSQL fsyncs every commit, SQLite's default ("process") does not.
        run(["node", "bench/load.mjs", *common, "--durability", "power", "--label", "tuneport-sqlite-power"])
        for strategy in strategies:
            for w in workers:
                run([sys.executable, "bench/load_optuna.py", "--workers", str(w), "--storage", "rdb-pg", "--url", url,
                     "--pg-pid", str(postmaster), "--sampler", strategy, "--seconds", str(a.seconds),
                     "--out", str(raw_path), "--label", "optuna-pg"])
    finally:
        if pg.stdin is not None:
            pg.stdin.close()
        pg.wait(timeout=120)
    rows = rows_of(json.loads(raw_path.read_text()))
    result = {
        "command": "make bench-postgres  # .venv/bin/python bench/postgres.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_at_end": [round(x, 1) for x in os.getloadavg()],
                    "note": "2 cores shared with other jobs; PostgreSQL 15 with fsync and synchronous_commit on"},
        "seconds_per_row": a.seconds,
        "wall_s": round(time.time() - t0),
        "rows": rows,
        "goals": goals(rows),
    }
    print(json.dumps(result, indent=2))
    if not a.quick:
        Path(a.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
