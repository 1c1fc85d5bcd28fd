"""`make bench-overhead`: suggestion time per trial against history size and dimension.

  tuneport-<strategy>  bench/overhead-strategies.ts (compiled to dist-bench/): `strategy.suggest`
                       in process on a synthetic history; CPU time of the optimizer's work only
  optuna-<sampler>     the same here: an in-memory study pre-filled by `add_trials` with n random
                       COMPLETE trials, one untimed ask/tell, then `study.ask(distributions)` timed
                       (CPU time, `time.process_time`), `REPS` times; torch on 1 thread
  pycma                `es.ask()` + `es.tell()` per generation, divided by the population size

Dimensions 2, 6, 20; n = 10, 30, 100, 300, 1000 (GP samplers to 500). Also the resident memory
(VmRSS) of `tuneport serve` after 10,000 trials in one study (random strategy, real client).
Writes bench/results/overhead.json ({"meta", "runs": [{"optimizer", "dim", "n_trials",
"ms_per_suggest"}]}) and the overhead section of docs/BENCHMARKS.md.

    python bench/overhead.py [--quick] [--skip-rss] [--optimizers gp,tpe]

--optimizers reruns only the named tuneport strategies beside their Optuna counterparts (and
pycma for cmaes), in one run, and replaces just those rows of an existing overhead.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from typing import Any

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, Server, machine, update_benchmarks_md, write_results  # noqa: E402


def objective(x: list[float]) -> float:
    """The same synthetic objective as overhead-strategies.ts."""
    return sum((v - 0.3 - 0.04 * (i % 5)) ** 2 + 0.05 * math.sin(12 * (v - 0.3 - 0.04 * (i % 5))) for i, v in enumerate(x))


def optuna_times(kind: str, dim: int, n: int, reps: int) -> dict[str, Any]:
    import numpy as np
    import optuna
    from optuna.distributions import FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    sampler: Any = {"optuna-random": optuna.samplers.RandomSampler, "optuna-tpe": optuna.samplers.TPESampler,
                    "optuna-gp": optuna.samplers.GPSampler}[kind](seed=0)
    dists = {f"x{i}": FloatDistribution(0, 1) for i in range(dim)}
    study = optuna.create_study(sampler=sampler)
    rng = np.random.default_rng(dim * 1000 + n)
    trials = []
    for _ in range(n):
        x = rng.uniform(0, 1, dim)
        trials.append(optuna.trial.create_trial(params={f"x{i}": float(v) for i, v in enumerate(x)}, distributions=dists,
                                                value=objective(list(x))))
    study.add_trials(trials)
    # One untimed ask/tell first, as for tuneport's GP: the sampler's caches (GPSampler keeps
    # the last kernel parameters as its warm start) start warm, as in a running study.
    t = study.ask(dists)
    study.tell(t, objective([t.params[f"x{i}"] for i in range(dim)]))
    cpu, wall = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        t = study.ask(dists)
        c1, t1 = time.process_time(), time.perf_counter()
        study.tell(t, objective([t.params[f"x{i}"] for i in range(dim)]))
        cpu.append((c1 - c0) * 1000)
        wall.append((t1 - t0) * 1000)
    return {"optimizer": kind, "dim": dim, "n_trials": n, "ms_per_suggest": sum(cpu) / reps, "wall_ms_per_suggest": sum(wall) / reps, "reps": reps}


def pycma_times(dim: int, n: int) -> dict[str, Any]:
    import cma

    es = cma.CMAEvolutionStrategy([0.5] * dim, 1 / 6, {"bounds": [0, 1], "seed": 1, "verbose": -9})
    done, cpu, count = 0, 0.0, 0
    while done < n + 20:
        c0 = time.process_time()
        xs = es.ask()
        c1 = time.process_time()
        fs = [objective(list(x)) for x in xs]
        c2 = time.process_time()
        es.tell(xs, fs)
        c3 = time.process_time()
        if done >= n:
            cpu += (c1 - c0) + (c3 - c2)
            count += len(xs)
        done += len(xs)
    return {"optimizer": "pycma", "dim": dim, "n_trials": n, "ms_per_suggest": cpu * 1000 / count, "reps": count}


def server_rss(n: int) -> dict[str, Any]:
    import tuneport as tp

    with Server() as server:
        before = server.rss_mib()
        with tp.connect(server.endpoint) as client:
            st = client.create_study("rss", space={f"x{i}": tp.Float(0, 1) for i in range(6)}, seed=0)
            t0 = time.perf_counter()
            for _ in range(n):
                trial = st.ask()
                trial.complete(objective([float(trial.params[f"x{i}"]) for i in range(6)]))  # type: ignore[arg-type]
            wall = time.perf_counter() - t0
            after_random = server.rss_mib()
            # One TPE study over the same 10,000-trial history size would take minutes; the
            # random study's RSS is the storage + cache cost, which is what grows with n.
        return {"trials": n, "rss_start_mib": before, "rss_end_mib": after_random, "seconds": wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--rss-only", action="store_true", help="measure the server RSS and add it to an existing overhead.json")
    ap.add_argument("--optimizers", help="comma-separated tuneport strategies (e.g. gp): rerun only these and their "
                    "Optuna counterparts, replacing their rows in bench/results/overhead.json")
    ap.add_argument("--dims", help="with --optimizers: only these dimensions (e.g. 6)")
    ap.add_argument("--gp-ns", help="with --optimizers: the GP history sizes (e.g. 300,1000)")
    args = ap.parse_args()
    if args.optimizers:
        rerun(args.optimizers.split(","), [int(d) for d in args.dims.split(",")] if args.dims else None,
              [int(n) for n in args.gp_ns.split(",")] if args.gp_ns else None)
        return
    if args.rss_only:
        path = ROOT / "bench" / "results" / "overhead.json"
        data = json.loads(path.read_text())
        data["meta"]["server_rss"] = server_rss(10_000)
        write_results("overhead", data["runs"], data["meta"])
        meta = data["meta"]
        update_benchmarks_md("overhead", markdown(data["runs"], [2, 6, 20], [10, 30, 100, 300, 1000], [10, 30, 100, 300, 500], meta))
        print(meta["server_rss"])
        return
    dims = [2, 6] if args.quick else [2, 6, 20]
    ns = [10, 30] if args.quick else [10, 30, 100, 300, 1000]
    gp_ns = [10, 30] if args.quick else [10, 30, 100, 300, 500]
    t_start = time.perf_counter()
    runs: list[dict[str, Any]] = []
    node = subprocess.run(
        ["node", str(ROOT / "dist-bench" / "bench" / "overhead-strategies.js"), ",".join(map(str, dims)), ",".join(map(str, ns)),
         ",".join(map(str, gp_ns))], check=True, capture_output=True, text=True)
    runs += [json.loads(line) for line in node.stdout.splitlines() if line.strip()]
    print(f"tuneport strategies done ({time.perf_counter() - t_start:.0f} s)", flush=True)
    for kind in ("optuna-random", "optuna-tpe", "optuna-gp"):
        for d in dims:
            for n in (gp_ns if kind == "optuna-gp" else ns):
                reps = 5 if kind == "optuna-gp" and n >= 300 else 10 if kind == "optuna-gp" else 20
                runs.append(optuna_times(kind, d, n, reps))
                print(json.dumps(runs[-1]), flush=True)
    for d in dims:
        for n in ns:
            runs.append(pycma_times(d, n))
    rss = None if args.skip_rss else server_rss(1000 if args.quick else 10_000)
    meta = {"machine": machine(), "wall_s": time.perf_counter() - t_start, "server_rss": rss, "quick": args.quick,
            "command": "python bench/overhead.py" + (" --quick" if args.quick else "")}
    write_results("overhead-quick" if args.quick else "overhead", runs, meta)
    md = markdown(runs, dims, ns, gp_ns, meta)
    print(md)
    if not args.quick:
        update_benchmarks_md("overhead", md)


def rerun(names: list[str], only_dims: list[int] | None = None, only_gp_ns: list[int] | None = None) -> None:
    """Times the named tuneport strategies and their Optuna counterparts (by default the same dims and
    sizes as the full run) and swaps those rows into the existing overhead.json and docs section."""
    path = ROOT / "bench" / "results" / "overhead.json"
    data = json.loads(path.read_text())
    dims, ns, gp_ns = [2, 6, 20], [10, 30, 100, 300, 1000], [10, 30, 100, 300, 500]
    table_dims, table_gp_ns = dims, sorted(set(gp_ns) | set(only_gp_ns or []))
    dims, gp_ns = only_dims or dims, only_gp_ns or gp_ns
    t_start = time.perf_counter()
    node = subprocess.run(
        ["node", str(ROOT / "dist-bench" / "bench" / "overhead-strategies.js"), ",".join(map(str, dims)), ",".join(map(str, ns)),
         ",".join(map(str, gp_ns)), ",".join(names)], check=True, capture_output=True, text=True)
    runs = [json.loads(line) for line in node.stdout.splitlines() if line.strip()]
    for r in runs:
        print(json.dumps(r), flush=True)
    kinds = [f"optuna-{n}" for n in names if n in ("random", "tpe", "gp")]
    for kind in kinds:
        for d in dims:
            for n in (gp_ns if kind == "optuna-gp" else ns):
                reps = 5 if kind == "optuna-gp" and n >= 300 else 10 if kind == "optuna-gp" else 20
                runs.append(optuna_times(kind, d, n, reps))
                print(json.dumps(runs[-1]), flush=True)
    if "cmaes" in names:
        kinds.append("pycma")
        runs += [pycma_times(d, n) for d in dims for n in ns]
    replaced = {f"tuneport-{n}" for n in names} | set(kinds)
    order = [r["optimizer"] for r in data["runs"]]
    fresh = {(r["optimizer"], r["dim"], r["n_trials"]) for r in runs}
    kept = [r for r in data["runs"] if (r["optimizer"], r["dim"], r["n_trials"]) not in fresh]
    merged = sorted(kept + runs, key=lambda r: order.index(r["optimizer"]) if r["optimizer"] in order else len(order))
    meta = data["meta"]
    cmd = f"python bench/overhead.py --optimizers {','.join(names)}"
    if only_dims:
        cmd += f" --dims {','.join(map(str, only_dims))}"
    if only_gp_ns:
        cmd += f" --gp-ns {','.join(map(str, only_gp_ns))}"
    meta.setdefault("reruns", []).append({"optimizers": sorted(replaced), "machine": machine(),
                                          "wall_s": time.perf_counter() - t_start, "command": cmd,
                                          "cells": sorted(f"{o} {d}-D n={n}" for o, d, n in fresh)})
    write_results("overhead", merged, meta)
    md = markdown(merged, table_dims, ns, table_gp_ns, meta)
    print(md)
    update_benchmarks_md("overhead", md)


def markdown(runs: list[dict[str, Any]], dims: list[int], ns: list[int], gp_ns: list[int], meta: dict[str, Any]) -> str:
    opts = []
    for r in runs:
        if r["optimizer"] not in opts:
            opts.append(r["optimizer"])
    by = {(r["optimizer"], r["dim"], r["n_trials"]): r["ms_per_suggest"] for r in runs}
    lines = ["## Optimizer overhead (`make bench-overhead`)", "",
             f"Machine: {meta['machine']}; 2 cores shared with other work (load average often > 10), so compare "
             "within this table only. CPU milliseconds per suggestion (the optimizer's own work, no objective, "
             f"no transport). Command: `{meta['command']}` ({meta['wall_s']:.0f} s).", ""]
    for r in meta.get("reruns", []):
        what = f"Cells {', '.join(r['cells'])}" if "cells" in r else f"Rows of {', '.join(r['optimizers'])}"
        lines += [f"{what} rerun together on {r['machine']}: `{r['command']}` "
                  f"({r['wall_s']:.0f} s); compare those with each other.", ""]
    all_ns = sorted(set(ns) | set(gp_ns))
    for d in dims:
        lines += [f"### {d}-D", "", "| optimizer | " + " | ".join(f"n={n}" for n in all_ns) + " |", "| --- |" + " --- |" * len(all_ns)]
        for o in opts:
            cells = [f"{by[(o, d, n)]:.3g}" if (o, d, n) in by else "–" for n in all_ns]
            lines.append(f"| {o} | " + " | ".join(cells) + " |")
        lines.append("")
    ratios = []
    for a, b, d, n in [("tuneport-gp", "optuna-gp", 6, 300), ("tuneport-gp", "optuna-gp", 6, 1000), ("tuneport-tpe", "optuna-tpe", 6, 1000),
                       ("tuneport-tpe", "optuna-tpe", 20, 1000)]:
        if (a, d, n) in by and (b, d, n) in by:
            ratios.append(f"- {a} / {b} at n = {n}, {d}-D: {by[(a, d, n)]:.3g} / {by[(b, d, n)]:.3g} ms = **{by[(a, d, n)] / by[(b, d, n)]:.2f}×**")
    if ("tuneport-gp", 6, 1000) in by:
        ratios.append(f"- tuneport-gp at n = 1000, 6-D: {by[('tuneport-gp', 6, 1000)]:.3g} ms (goal ≤ 250 ms: "
                      f"{'met' if by[('tuneport-gp', 6, 1000)] <= 250 else 'not met'})")
    lines += ["Ratios (goals: GP ≤ 1/3 of Optuna's at n = 300 and ≤ 250 ms at n = 1000; TPE ≤ 1/5 at n = 1000, 6-D):", "", *ratios, ""]
    rss = meta.get("server_rss")
    if rss:
        lines.append(f"Server memory: `tuneport serve` VmRSS {rss['rss_start_mib']:.0f} MiB at start, "
                     f"{rss['rss_end_mib']:.0f} MiB after {rss['trials']:,} trials in one study (6-D, random strategy, "
                     f"Python client ask/tell, {rss['seconds']:.0f} s).")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
