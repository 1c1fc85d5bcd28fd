"""What the GP-class optimizers propose on one problem of the suite (issue 17): per run, after the
10-trial random start, how many proposals have a numeric coordinate on a bound of its range, how many
repeat an earlier configuration exactly, how many repeat an earlier trial's integer and categorical
part (an integer-rounding collapse: only the floats differ), and how many lie within 0.02 (∞-norm,
unit cube, numeric coordinates) of the incumbent of the moment; and the run's regret at 100 trials.
bench/quality.py's loop (`simulate`, W asynchronous workers) against a real `tuneport serve`;
Optuna's samplers in process. docs/BENCHMARKS.md, issue 17, "The default's losses: the hedge's, not
the GP's".

    python bench/gp_proposals.py --problem int-ellipsoid --seeds 0,1,2 --optimizers tuneport-gp,optuna-gp,tuneport-auto [--workers 4]

TUNEPORT_CLI and TUNEPORT_BENCH_PORTS as for bench/quality.py. Note: an integer of few values (mlp-digits'
depth 1..3) sits "on a bound" at two of its three values.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality as q  # noqa: E402
from common import Server  # noqa: E402

N = 100


def unit(p: Any, v: float) -> float:
    lo, hi = (p.low - 0.5, p.high + 0.5) if p.kind == "int" else (p.low, p.high)
    f = math.log if p.log else float
    return (f(v) - f(lo)) / (f(hi) - f(lo))


class Recorder(q.Asker):
    """Keeps every proposal of the asker it wraps."""

    def __init__(self, inner: q.Asker) -> None:
        self.inner = inner
        self.proposals: list[q.Params] = []

    def ask(self) -> tuple[Any, q.Params] | None:
        got = self.inner.ask()
        if got is not None:
            self.proposals.append(got[1])
        return got

    def tell(self, handle: Any, value: float) -> None:
        self.inner.tell(handle, value)

    def close(self) -> None:
        self.inner.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problem", default="int-ellipsoid")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--optimizers", default="tuneport-gp,optuna-gp")
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    prob = q.BY_NAME[args.problem]
    numeric = [p for p in prob.space if p.kind != "cat"]
    discrete = [p for p in prob.space if p.kind != "float"]
    with Server() as srv:
        for opt in args.optimizers.split(","):
            for seed in (int(s) for s in args.seeds.split(",")):
                inner = q.TuneportAsker(srv.endpoint, opt, prob, seed, N) if opt.startswith("tuneport-") else q.OptunaAsker(opt, prob, seed)
                rec = Recorder(inner)
                obs, true = q.simulate(rec, prob.make(seed), N, args.workers, seed)
                on_bound = repeats = int_repeats = near = 0
                seen: set[str] = set()
                seen_int: set[str] = set()
                units = [[unit(p, pp[p.name]) for p in numeric] for pp in rec.proposals]
                inc = min(range(10), key=lambda i: obs[i])
                for i, pp in enumerate(rec.proposals):
                    key = json.dumps([pp[p.name] for p in prob.space])
                    ikey = json.dumps([pp[p.name] for p in discrete])
                    if i >= 10:
                        on_bound += any(pp[p.name] in (p.low, p.high) for p in numeric)
                        repeats += key in seen
                        int_repeats += bool(discrete) and ikey in seen_int
                        near += max(abs(a - b) for a, b in zip(units[i], units[inc])) < 0.02
                        if i < len(obs) and obs[i] < obs[inc]:
                            inc = i
                    seen.add(key)
                    seen_int.add(ikey)
                print(f"{opt:16s} w{args.workers} seed {seed}: regret {min(true) - (prob.f_star or 0.0):.5g}, of {len(rec.proposals) - 10} proposals: "
                      f"on a bound {on_bound}, repeats {repeats}, integer-part repeats {int_repeats}, near the incumbent {near}", flush=True)


if __name__ == "__main__":
    main()
