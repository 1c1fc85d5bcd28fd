"""tuneport-tpe against optuna-tpe on many seeds: is a 10-seed gap in bench/quality.py real?

Same problems, objective shifts, budgets and code paths as bench/quality.py (tuneport through
the real server, Optuna in process), on more seeds. Prints and writes, per problem and budget,
the median best value of each, per-seed wins and a paired Wilcoxon test, to
bench/results/tpe-seeds.json and the `tpe-seeds` section of docs/BENCHMARKS.md.

    python bench/tpe_seeds.py [--problems rosenbrock5:0:100,rastrigin4:0:100,kernel-ridge-diabetes:10:50] [--n 200]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import quality  # noqa: E402
from common import RESULTS, Server, machine, update_benchmarks_md  # noqa: E402


def one(task: tuple[str, str, int, int, str]) -> tuple[str, str, int, list[float]]:
    prob_name, opt, seed, n, endpoint = task
    prob = next(p for p in quality.PROBLEMS if p.name == prob_name)
    vals = quality.run_tuneport(endpoint, "tpe", prob, seed, n) if opt == "tuneport-tpe" else quality.run_optuna("optuna-tpe", prob, seed, n)
    return prob_name, opt, seed, vals


def main() -> None:
    from scipy.stats import wilcoxon

    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", default="rosenbrock5:0:100,rastrigin4:0:100,kernel-ridge-diabetes:10:50",
                    help="problem:first_seed:end_seed, comma-separated")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    spec = [(p, int(a), int(b)) for p, a, b in (x.split(":") for x in args.problems.split(","))]
    t0 = time.perf_counter()
    with Server() as server:
        tasks = [(p, o, s, args.n, server.endpoint) for p, a, b in spec for s in range(a, b) for o in ("tuneport-tpe", "optuna-tpe")]
        with mp.get_context("fork").Pool(args.jobs) as pool:
            done = list(pool.imap_unordered(one, tasks))
    wall = time.perf_counter() - t0
    best: dict[tuple[str, str, int], list[float]] = {(p, o, s): v for p, o, s, v in done}
    rows: list[dict[str, Any]] = []
    for p, a, b in spec:
        for budget in (50, 100, 200):
            if budget > args.n:
                continue
            t = np.array([min(best[(p, "tuneport-tpe", s)][:budget]) for s in range(a, b)])
            o = np.array([min(best[(p, "optuna-tpe", s)][:budget]) for s in range(a, b)])
            d = t - o
            rows.append({"problem": p, "seeds": f"{a}–{b - 1}", "budget": budget, "tuneport_median": float(np.median(t)),
                         "optuna_median": float(np.median(o)), "tuneport_wins": int(np.sum(d < 0)), "optuna_wins": int(np.sum(d > 0)),
                         "p": float("nan") if np.all(d == 0) else float(wilcoxon(d).pvalue)})
    meta = {"machine": machine(), "command": "python bench/tpe_seeds.py" + (f" --problems {args.problems}" if args.problems else ""),
            "n": args.n, "wall_s": wall}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "tpe-seeds.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    md = ["## TPE against Optuna on more seeds (`bench/tpe_seeds.py`)", "",
          f"Machine: {meta['machine']}. Command: `{meta['command']}` ({wall:.0f} s wall). Same problems, shifts and code paths as "
          "the quality bench (tuneport through the server), more seeds; best value found (lower is better).", "",
          "| problem | seeds | budget | tuneport-tpe median | optuna-tpe median | tuneport wins | optuna wins | Wilcoxon p |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        md.append(f"| {r['problem']} | {r['seeds']} | {r['budget']} | {r['tuneport_median']:.6g} | {r['optuna_median']:.6g} | "
                  f"{r['tuneport_wins']} | {r['optuna_wins']} | {r['p']:.3g} |")
    text = "\n".join(md)
    print(text)
    update_benchmarks_md("tpe-seeds", text)


if __name__ == "__main__":
    main()
