"""Optuna 5.0's GPSampler (and RandomSampler) on bench/gp-bounds.ts's problems, for the same table.

    node dist-bench/bench/gp-bounds.js --seeds 3 --dump /tmp/gpb.jsonl
    python bench/gp_bounds_optuna.py /tmp/gpb.jsonl [--trials 80] [--problems rastrigin,ackley]

Each JSON line holds a problem's per-seed shift and rotation; the functions below are the same
formulas as the TypeScript script's. Prints median [IQR] best value and the median share of
proposals (after the 10 start-up trials) with a coordinate on a bound of the unit cube.
"""

from __future__ import annotations

import argparse
import json
import math
import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np
import optuna


def rastrigin(z: np.ndarray) -> float:
    return float(10 * len(z) + np.sum(z * z - 10 * np.cos(2 * math.pi * z)))


def ackley(z: np.ndarray) -> float:
    n = len(z)
    return float(-20 * math.exp(-0.2 * math.sqrt(np.sum(z * z) / n)) - math.exp(np.sum(np.cos(2 * math.pi * z)) / n) + 20 + math.e)


def levy(z: np.ndarray) -> float:
    w = 1 + z / 4
    s = math.sin(math.pi * w[0]) ** 2
    s += float(np.sum((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2)))
    return s + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)


def griewank(z: np.ndarray) -> float:
    return float(1 + np.sum(z * z) / 4000 - np.prod(np.cos(z / np.sqrt(np.arange(1, len(z) + 1)))))


def ellipsoid(z: np.ndarray) -> float:
    n = len(z)
    return float(np.sum(10 ** (6 * np.arange(n) / max(1, n - 1)) * z * z))


def rosenbrock(z: np.ndarray) -> float:
    return float(np.sum(100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2))


FUNCS = {"rastrigin": rastrigin, "ackley": ackley, "levy": levy, "griewank": griewank, "ellipsoid": ellipsoid, "rosenbrock": rosenbrock}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dump")
    ap.add_argument("--trials", type=int, default=80)
    ap.add_argument("--problems", default="")
    ap.add_argument("--samplers", default="random,gp")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rows: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    wanted = set(args.problems.split(",")) if args.problems else None
    with open(args.dump) as fh:
        cells = [json.loads(line) for line in fh]
    for cell in cells:
        name, seed, half = cell["problem"], cell["seed"], cell["half"]
        if wanted is not None and name not in wanted:
            continue
        shift, rot = np.array(cell["shift"]), np.array(cell["rot"])
        d = len(shift)
        f = FUNCS[name]
        for sname in args.samplers.split(","):
            sampler = optuna.samplers.GPSampler(seed=seed) if sname == "gp" else optuna.samplers.RandomSampler(seed=seed)
            study = optuna.create_study(sampler=sampler)
            on_bound = 0
            for i in range(args.trials):
                t = study.ask()
                u = np.array([t.suggest_float(f"x{k}", 0.0, 1.0) for k in range(d)])
                if i >= 10 and bool(np.any((u < 1e-6) | (u > 1 - 1e-6))):
                    on_bound += 1
                study.tell(t, f(rot @ ((u * 2 - 1) * half - shift)))
            best, share = rows.setdefault((name, f"optuna-{sname}"), ([], []))
            best.append(study.best_value)
            share.append(on_bound / max(1, args.trials - 10))
    for (name, label), (best, share) in rows.items():
        print(f"{name:<11} {label:<14} best {np.median(best):.4g} [{np.quantile(best, 0.25):.4g}, {np.quantile(best, 0.75):.4g}]"
              f"  on a bound {100 * np.median(share):.0f} %", flush=True)


if __name__ == "__main__":
    main()
