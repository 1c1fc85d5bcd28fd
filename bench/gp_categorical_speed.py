"""GP suggestion time at n trials on a 6-D space with 4 categoricals, tuneport's two categorical
kernels against Optuna's GPSampler in the same run (issue 17 item 4's goal: at most 1/3 of
GPSampler's time at n = 300). The tuneport side is bench/gp-categorical-speed.ts (build it with
`npx tsc -p tsconfig.bench.json`); the space, objective and protocol (n − 1 random trials, one
untimed suggestion, 10 timed ones told back) are the same on both sides.

Usage: python bench/gp_categorical_speed.py [--n 300] [--kernels hamming,latent]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import time
from typing import Any

from common import ROOT

CHOICES = ("a", "b", "c", "d")
OFFSET = (0.0, 0.3, 0.05, 0.6)


def objective(p: dict[str, Any]) -> float:
    f = (float(p["x0"]) - 0.3) ** 2 + (float(p["x1"]) - 0.6) ** 2
    for i in range(4):
        f += OFFSET[CHOICES.index(p[f"c{i}"])] * (1 + 0.2 * i)
    return f


def optuna_gp(n: int, reps: int = 10) -> dict[str, Any]:
    import numpy as np
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    dists: dict[str, Any] = {"x0": FloatDistribution(0, 1), "x1": FloatDistribution(0, 1)}
    dists.update({f"c{i}": CategoricalDistribution(CHOICES) for i in range(4)})
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
    rng = np.random.default_rng(6)
    for _ in range(n - 1):
        p: dict[str, Any] = {"x0": float(rng.uniform()), "x1": float(rng.uniform())}
        p.update({f"c{i}": CHOICES[int(rng.integers(4))] for i in range(4)})
        study.add_trial(optuna.trial.create_trial(params=p, distributions=dists, value=objective(p)))
    t = study.ask(dists)
    study.tell(t, objective(t.params))
    cpu, wall = [], []
    for _ in range(reps):
        c0, t0 = time.process_time(), time.perf_counter()
        t = study.ask(dists)
        cpu.append((time.process_time() - c0) * 1000)
        wall.append((time.perf_counter() - t0) * 1000)
        study.tell(t, objective(t.params))
    return {"optimizer": "optuna-gp", "n_trials": n, "ms_per_suggest": sum(cpu) / reps, "wall_ms_per_suggest": sum(wall) / reps, "reps": reps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--kernels", default="hamming,latent")
    args = ap.parse_args()
    out = subprocess.run(["node", str(ROOT / "dist-bench" / "bench" / "gp-categorical-speed.js"), str(args.n), args.kernels],
                         check=True, capture_output=True, text=True).stdout
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    rows.append(optuna_gp(args.n))
    ref = rows[-1]["wall_ms_per_suggest"]
    for r in rows:
        print(json.dumps({**r, "ratio_to_optuna_gp": round(r["wall_ms_per_suggest"] / ref, 3)}))


if __name__ == "__main__":
    main()
