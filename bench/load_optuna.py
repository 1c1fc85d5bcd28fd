"""Optuna 5.0 side of the load benchmark (bench/load.mjs is tuneport's side).

N worker processes share one study on one storage and run ask -> report -> tell loops with
the same four-parameter space and a zero-cost objective, for a fixed wall-clock window after
a common start instant: every worker imports optuna, loads the study and reports ready
before the clock starts (imports and storage set-up are not timed).

    .venv/bin/python bench/load_optuna.py --workers 32 --storage rdb --sampler random --seconds 20

Storages: rdb = RDBStorage on SQLite (sqlite:///FILE, 60 s busy timeout), journal =
JournalStorage(JournalFileBackend(FILE)). Samplers: random = RandomSampler, tpe =
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


def make_storage(kind: str, path: str):
    import optuna
    from optuna.storages import JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    if kind == "rdb":
        return RDBStorage(f"sqlite:///{path}", engine_kwargs={"connect_args": {"timeout": 60}})
    if kind == "journal":
        return JournalStorage(JournalFileBackend(path))
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
    storage = make_storage(args.storage, args.path)
    study = optuna.load_study(study_name="load", storage=storage, sampler=make_sampler(args.sampler, os.getpid()))
    lat: dict[str, list[float]] = {"ask": [], "report": [], "tell": []}
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
            done += 1
        except Exception:  # noqa: BLE001 - counted: lock timeouts under contention
            errors += 1
    print(json.dumps({"done": done, "errors": errors, "late_s": late, **lat}))


def pct(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=32)
    ap.add_argument("--storage", choices=["rdb", "journal"], default="rdb")
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
    optuna.create_study(study_name="load", storage=make_storage(args.storage, path), direction="minimize")
    sync = os.path.join(d, "sync")
    os.mkdir(sync)
    cmd = [sys.executable, __file__, "--worker", "--storage", args.storage, "--sampler", args.sampler,
           "--seconds", str(args.seconds), "--path", path, "--sync", sync]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE) for _ in range(args.workers)]
    # every worker imported optuna and loaded the study: start together
    while len([f for f in os.listdir(sync) if f.startswith("ready-")]) < args.workers:
        if any(p.poll() not in (None, 0) for p in procs):
            raise SystemExit("a worker failed to start")
        time.sleep(0.1)
    with open(os.path.join(sync, "go.tmp"), "w") as f:
        f.write(str(time.time() + 1.0))
    os.rename(os.path.join(sync, "go.tmp"), os.path.join(sync, "go"))
    rows = [json.loads(p.communicate()[0]) for p in procs]
    done = sum(r["done"] for r in rows)
    ops = {op: {"p50_ms": pct([x for r in rows for x in r[op]], 50), "p99_ms": pct([x for r in rows for x in r[op]], 99)} for op in ("ask", "report", "tell")}
    row = {
        "system": f"optuna {optuna.__version__}",
        "storage": {"rdb": "RDBStorage sqlite", "journal": "JournalStorage file"}[args.storage],
        "strategy": args.sampler,
        "clients": args.workers,
        "trials": done,
        "errors": sum(r["errors"] for r in rows),
        "max_late_start_s": round(max(r["late_s"] for r in rows), 2),
        "seconds": args.seconds,
        "trials_per_s": done / args.seconds,
        "ops": ops,
    }
    print(json.dumps(row), file=sys.stderr)
    if args.out:
        try:
            with open(args.out) as f:
                data = json.load(f)
        except FileNotFoundError:
            data = {}
        data.setdefault("optuna", {"command": "bench/load_optuna.py", "space": SPACE_NOTE, "rows": []})["rows"].append(row)
        with open(args.out, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
