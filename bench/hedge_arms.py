"""What `auto`'s GP/TPE hedge does on the suite's problems, sequentially and with asynchronous workers.

Runs bench/quality.py's discrete-event loop (`simulate`: W workers, lognormal evaluation times) against
a real `tuneport serve`, then reads each study's trials back and prints, per (problem, workers), over
the seeds:
- GP's share of the hedged suggestions in trials 10-49 and 50-99 (system attribute `auto_arm`);
- how many new bests (in completion order, from trial 10 on) each arm's proposals made;
- how many proposals came within 0.02 (Euclidean, in the unit cube; a categorical mismatch counts 1)
  of a trial pending at that ask, out of the asks made while one was pending (near-duplicates);
- each arm's mean credit from trial 40 on under the default `portfolio_credit: "blend"` (the mean of
  the share of the rivals it beat and of the best 8 rivals it beat), with the rivals the hedge uses
  (earlier-numbered finished trials) and with only those finished before the proposal was asked;
- the median best true value after 100 trials.
docs/BENCHMARKS.md, issue 17, "The default with 4 workers: why it misses, and TPE's pending trials".

    python bench/hedge_arms.py --problems rosenbrock5,int-ellipsoid --workers 1,4 --seeds 6 [--optimizer tuneport-auto:no-liar]

TUNEPORT_CLI and TUNEPORT_BENCH_PORTS as for bench/quality.py.
"""
from __future__ import annotations

import argparse
import collections
import math
import statistics as st
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality as q  # noqa: E402
from common import Server  # noqa: E402

N = 100


class Tracing(q.TuneportAsker):
    """quality.py's tuneport asker, counting proposals near a pending trial and keeping the trials."""

    def __init__(self, endpoint: str, opt: str, prob: q.Problem, seed: int) -> None:
        super().__init__(endpoint, opt, prob, seed, N)
        self.prob = prob
        self.near = 0
        self.asks_pending = 0
        self.trials: list[Any] = []

    def distance(self, a: q.Params, b: q.Params) -> float:
        s = 0.0
        for p in self.prob.space:
            if p.kind == "cat":
                s += 0.0 if a[p.name] == b[p.name] else 1.0
                continue
            f = math.log if p.log else float
            s += ((f(a[p.name]) - f(b[p.name])) / (f(p.high) - f(p.low))) ** 2
        return math.sqrt(s)

    def ask(self) -> tuple[Any, q.Params] | None:
        pending = [dict(t.params) for t in self.open]
        got = super().ask()
        if got is not None and pending:
            self.asks_pending += 1
            if min(self.distance(p, got[1]) for p in pending) < 0.02:
                self.near += 1
        return got

    def close(self) -> None:
        self.trials = sorted(self.study.trials, key=lambda t: t.number)
        super().close()


def credit(t: Any, finished: dict[int, tuple[Any, float]], known_at_ask: bool) -> float | None:
    rivals = [v for n, (done, v) in finished.items() if (done <= t.datetime_start if known_at_ask else n < t.number)]
    if not rivals:
        return None
    beat = lambda against: sum(1.0 if t.value < v else 0.5 if t.value == v else 0.0 for v in against) / len(against)  # noqa: E731
    return (beat(rivals) + beat(sorted(rivals)[:8])) / 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", required=True, help="comma-separated suite or held-out problems")
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--seeds", type=int, default=6)
    ap.add_argument("--optimizer", default="tuneport-auto", help="tuneport-auto or a variant, e.g. tuneport-auto:no-liar")
    args = ap.parse_args()
    with Server() as server:
        for name in args.problems.split(","):
            prob = q.BY_NAME[name]
            for w in (int(x) for x in args.workers.split(",")):
                share = [[], []]
                new_best = collections.Counter()
                near = asks = 0
                bests = []
                credits: dict[tuple[str, bool], list[float]] = collections.defaultdict(list)
                for seed in range(args.seeds):
                    a = Tracing(server.endpoint, args.optimizer, prob, seed)
                    _, true = q.simulate(a, prob.make(seed), N, w, seed)
                    bests.append(min(true))
                    near, asks = near + a.near, asks + a.asks_pending
                    arms = [t.system_attrs.get("auto_arm") for t in a.trials]
                    for k, part in enumerate((arms[10:50], arms[50:])):
                        hedged = [x for x in part if x]
                        if hedged:
                            share[k].append(sum(x == "gp" for x in hedged) / len(hedged))
                    done = [t for t in a.trials if t.value is not None]
                    best = math.inf
                    for t in sorted(done, key=lambda t: t.datetime_complete):
                        if t.value < best:
                            if t.number >= 10 and t.system_attrs.get("auto_arm"):
                                new_best[t.system_attrs["auto_arm"]] += 1
                            best = t.value
                    finished = {t.number: (t.datetime_complete, t.value) for t in done}
                    for t in done:
                        arm = t.system_attrs.get("auto_arm")
                        if arm and t.number >= 40:
                            for known in (False, True):
                                c = credit(t, finished, known)
                                if c is not None:
                                    credits[(arm, known)].append(c)
                mean = lambda xs: st.mean(xs) if xs else float("nan")  # noqa: E731
                print(f"{name} w={w}: GP share {mean(share[0]):.2f} (trials 10-49), {mean(share[1]):.2f} (50-99); "
                      f"new bests gp {new_best['gp']}, tpe {new_best['tpe']}; near a pending trial {near}/{asks}; "
                      f"median best {st.median(bests):.4g}", flush=True)
                for known in (False, True):
                    g, t_ = credits[("gp", known)], credits[("tpe", known)]
                    if g and t_:
                        print(f"    credit, rivals {'finished before the ask' if known else 'earlier-numbered'}: "
                              f"gp {mean(g):.3f} ({len(g)}), tpe {mean(t_):.3f} ({len(t_)})", flush=True)


if __name__ == "__main__":
    main()
