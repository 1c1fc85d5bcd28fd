"""Optuna 5.0 side of the load benchmark (bench/load.mjs is tuneport's side).

N worker processes share one study on one storage and run ask -> report -> tell loops with
the same four-parameter space and a zero-cost objective, for a fixed wall-clock window after
a common start instant: every worker imports optuna, loads the study and reports ready
before the clock starts (imports and storage set-up are not timed).

    .venv/bin/python bench/load_optuna.py --workers 32 --storage rdb --sampler random --seconds 20

Storages: rdb = RDBStorage on SQLite (sqlite:///FILE, 60 s busy timeout), journal =
JournalStorage(JournalFileBackend(FILE)), rdb-pg = RDBStorage on PostgreSQL through psycopg2
(--url postgresql://..., each run in a fresh database; --pg-pid counts that server's CPU). Samplers: random = RandomSampler, tpe =
TPESampler() with Optuna 5.0 defaults. Prints one JSON row; --out appends it to a JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

SPACE_NOTE = "lr log-float [1e-5, 1e-1], dropout float [0, 0.5], layers int [1, 8], act categorical 3"


def make_storage(kind: str, path: str, url: str | None = None):
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if kind == "rdb":
        return RDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 60}})
    if kind == "journal":
        return JournalStorage(JournalFileBackend(path))
    if kind == "rdb-pg":
        # Optuna's documented distributed set-up: every worker its own RDBStorage on one PostgreSQL
        # database (SQLAlchemy's default pool; heartbeats off, as by default).
        return RDBStorage(url)
    raise SystemExit(f"unknown storage {kind}")


def make_sampler(kind: str, seed: int):
    import optuna

    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    raise SystemExit(f"unknown sampler {kind}")


def worker(args: argparse.Namespace) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = make_storage(args.storage, args.path, args.url)
    study = optuna.load_study(study_name="load", storage=storage, sampler=make_sampler(args.sampler, os.getpid()))
    lat: dict[str, list[float]] = {"ask": [], "report": [], "tell": [], "ask_tell": []}
    errors = 0
    # Barrier: say ready, then wait for the coordinator's start instant.
    open(os.path.join(args.sync, f"ready-{os.getpid()}"), "w").close()
    go = os.path.join(args.sync, "go")
    while not os.path.exists(go):
        time.sleep(0.05)
    time.sleep(0.05)
    with open(go) as f:
        start_at = float(f.read())
    delay = start_at - time.time()
    late = max(0.0, -delay)
    if delay > 0:
        time.sleep(delay)
    stop = start_at + args.seconds
    done = 0
    while time.time() < stop:
        try:
            t = time.perf_counter()
            trial = study.ask()
            p = {
                "lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True),
                "dropout": trial.suggest_float("dropout", 0.0, 0.5),
                "layers": trial.suggest_int("layers", 1, 8),
                "act": trial.suggest_categorical("act", ["relu", "gelu", "tanh"]),
            }
            u = time.perf_counter()
            lat["ask"].append((u - t) * 1000)
            value = sum(v * v if isinstance(v, (int, float)) else 0.5 for v in p.values())
            trial.report(value + 1, 0)
            t = time.perf_counter()
            lat["report"].append((t - u) * 1000)
            study.tell(trial, value)
            lat["tell"].append((time.perf_counter() - t) * 1000)
            lat["ask_tell"].append(lat["ask"][-1] + lat["tell"][-1])
            done += 1
        except Exception:  # noqa: BLE001 - counted: lock timeouts under contention
            errors += 1
    print(json.dumps({"done": done, "errors": errors, "late_s": late, **lat}))


def fresh_database(url: str, name: str) -> str:
    """Creates database `name` on the server of `url` and returns the SQLAlchemy URL of it."""
    import psycopg2
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    conn = psycopg2.connect(urlunsplit(parts._replace(scheme="postgresql")))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name}")
        cur.execute(f"CREATE DATABASE {name}")
    conn.close()
    return urlunsplit(parts._replace(scheme="postgresql+psycopg2", path=f"/{name}"))


def pg_cpu_s(postmaster: int) -> float:
    """CPU seconds of a PostgreSQL server: the postmaster, its reaped backends and its live ones."""

    def fields(pid: str) -> list[str]:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].split()

    f = fields(str(postmaster))
    total = sum(int(x) for x in f[11:15])
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            g = fields(d)
        except OSError:
            continue
        if int(g[1]) == postmaster:
            total += int(g[11]) + int(g[12])
    return total / os.sysconf("SC_CLK_TCK")


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--storage", choices=["rdb", "journal", "rdb-pg"], default="rdb")
    ap.add_argument("--url", help="rdb-pg: a postgresql:// URL of a server (a database is created per run)")
    ap.add_argument("--pg-pid", type=int, help="rdb-pg: the postmaster's pid, to count the server's CPU")
    ap.add_argument("--label", default="optuna")
    ap.add_argument("--sampler", choices=["random", "tpe"], default="random")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--out")
    ap.add_argument("--worker", action="store_true")
    ap.add_argument("--path")
    ap.add_argument("--sync")
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    d = tempfile.mkdtemp(prefix="optuna-load-")
    path = os.path.join(d, "load.db" if args.storage == "rdb" else "journal.log")
    if args.storage == "rdb-pg":
        args.url = fresh_database(args.url, f"optuna_{args.sampler}_{args.workers}_{os.getpid()}")
    optuna.create_study(study_name="load", storage=make_storage(args.storage, path, args.url), direction="minimize")
    sync = os.path.join(d, "sync")
    os.mkdir(sync)
    cmd = [sys.executable, __file__, "--worker", "--storage", args.storage, "--sampler", args.sampler,
           "--seconds", str(args.seconds), "--path", path, "--sync", sync, *(["--url", args.url] if args.url else [])]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE) for _ in range(args.workers)]
    # every worker imported optuna and loaded the study: start together
    while len([f for f in os.listdir(sync) if f.startswith("ready-")]) < args.workers:
        if any(p.poll() not in (None, 0) for p in procs):
            raise SystemExit("a worker failed to start")
        time.sleep(0.1)
    start_at = time.time() + 1.0
    with open(os.path.join(sync, "go.tmp"), "w") as f:
        f.write(str(start_at))
    os.rename(os.path.join(sync, "go.tmp"), os.path.join(sync, "go"))
    time.sleep(max(0.0, start_at - time.time()))
    cpu0 = pg_cpu_s(args.pg_pid) if args.pg_pid else None
    time.sleep(args.seconds)
    cpu1 = pg_cpu_s(args.pg_pid) if args.pg_pid else None
    rows = [json.loads(p.communicate()[0]) for p in procs]
    done = sum(r["done"] for r in rows)
    ops = {op: {"p50_ms": pct([x for r in rows for x in r[op]], 50), "p99_ms": pct([x for r in rows for x in r[op]], 99)} for op in ("ask", "report", "tell")}
    row = {
        "system": f"optuna {optuna.__version__}",
        "storage": {"rdb": "RDBStorage sqlite", "journal": "JournalStorage file", "rdb-pg": "RDBStorage postgresql"}[args.storage],
        "strategy": args.sampler,
        "clients": args.workers,
        "trials": done,
        "errors": sum(r["errors"] for r in rows),
        "max_late_start_s": round(max(r["late_s"] for r in rows), 2),
        "seconds": args.seconds,
        "trials_per_s": done / args.seconds,
        "ops": ops,
        "ask_tell": {"p50_ms": pct([x for r in rows for x in r["ask_tell"]], 50), "p99_ms": pct([x for r in rows for x in r["ask_tell"]], 99)},
        "server_cpu_ms_per_trial": {"postgres": (cpu1 - cpu0) * 1000 / done} if cpu0 is not None and cpu1 is not None and done else None,
    }
    print(json.dumps(row), file=sys.stderr)
    if args.out:
        try:
            with open(args.out) as f:
                data = json.load(f)
        except FileNotFoundError:
            data = {}
        data.setdefault(args.label, {"command": "bench/load_optuna.py", "space": SPACE_NOTE, "rows": []})["rows"].append(row)
        with open(args.out, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
