"""Which ASHA setting shows the asynchronous advantage? 8 simulated workers on the
learning-curve problem (the setting of `make bench-multifidelity`'s async section), ASHA
variants on the real server against synchronous Hyperband (the paper's Algorithm 1).

    python bench/asha_async_variants.py [--seeds 10]

Prints, per optimizer, the median simulated time to reach the target: the median over seeds
of full-budget random search's final quality (as in bench/multifidelity.py), and how many
seeds reach it within the horizon. Writes bench/results/asha-async-variants.json.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import multifidelity as mf  # noqa: E402
from mf_report import first_reach  # noqa: E402
from common import Server, machine, write_results  # noqa: E402

import tuneport as tp  # noqa: E402

HORIZON = 1200.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=10)
    args = ap.parse_args()
    curve = mf.LearningCurve()
    r = curve.R
    variants = {
        "asha-stopping-min1": {"name": "asha", "options": {"min_resource": 1, "max_resource": r, "reduction_factor": 3}},
        "asha-stopping-min9": {"name": "asha", "options": {"min_resource": 9, "max_resource": r, "reduction_factor": 3}},
        "asha-promotion-min1": {"name": "asha", "options": {"mode": "promotion", "min_resource": 1, "max_resource": r, "reduction_factor": 3}},
    }
    points: list[dict[str, object]] = []
    finals: list[float] = []
    with Server() as server, tp.connect(server.endpoint) as client:
        for seed in range(args.seeds):
            rand = mf.sim_random_full(curve, seed, HORIZON, 8)
            finals.append(min(p["best"] for p in rand if p["best"] is not None))
            points += mf.sim_sync_hyperband(curve, seed, HORIZON, 8)
            for name, sched in variants.items():
                # tpe, as when the results file was recorded (the default strategy came later, issue 17)
                mf.TUNEPORT[name] = ({"name": "tpe", "options": {}}, str(sched["name"]), dict(sched["options"]))
                run = mf.sim_server(client, curve, name, seed, HORIZON, 8)
                for p in run:
                    p["optimizer"] = name
                points += run
            print(f"seed {seed} done", flush=True)
    target = statistics.median(finals)
    rows = []
    for opt in ["hyperband-sync", *variants]:
        times = [first_reach([p for p in points if p["optimizer"] == opt and p["seed"] == s], target, "time")
                 for s in range(args.seeds)]
        reached = [t for t in times if math.isfinite(t)]
        med = statistics.median(times)
        rows.append({"optimizer": opt, "median_time": med, "reached": len(reached), "seeds": args.seeds})
        print(f"{opt:22s} median time to target {med:8.1f}   reached in {len(reached)}/{args.seeds} seeds")
    write_results("asha-async-variants", points, {"machine": machine(), "target": target, "horizon": HORIZON, "summary": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
