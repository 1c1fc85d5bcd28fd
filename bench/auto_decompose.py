"""Which of the default's losses are its arms' and which the hedge's (issue 17).

For each problem of a quality.json (bench/quality.py's per-budget bests), at one budget and worker
count: the median regret of `tuneport-auto` (the GP/TPE hedge), of each of its arms alone
(`tuneport-gp`, `tuneport-tpe`) and of the best Optuna sampler (lowest median), and the one-sided
Mann-Whitney p that each of the three is worse than that sampler — the test bench/quality.py's goal
count uses. The rows printed are the problems where any of the three is significantly worse
(p < 0.05), then the count per optimizer. A problem where `tuneport-gp` alone is not significantly
worse but `tuneport-auto` is, is a loss of the hedge's split, not of the GP's model.
docs/BENCHMARKS.md, issue 17, "The default's losses: the hedge's, not the GP's".

    python bench/auto_decompose.py [--stored bench/results/quality.json] [--budget 100] [--workers 1,4]
"""
from __future__ import annotations

import argparse
import collections
import json
import statistics as st

from scipy.stats import mannwhitneyu

PEERS = ("optuna-gp", "optuna-tpe", "optuna-cmaes", "optuna-random")
OURS = ("tuneport-auto", "tuneport-gp", "tuneport-tpe")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stored", default="bench/results/quality.json")
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--workers", default="1,4")
    ap.add_argument("--alpha", type=float, default=0.05)
    args = ap.parse_args()
    reg: dict[tuple[str, int, str], dict[int, float]] = collections.defaultdict(dict)
    for r in json.load(open(args.stored))["runs"]:
        if r["budget"] == args.budget:
            reg[(r["problem"], r.get("workers", 1), r["optimizer"])][r["seed"]] = r["regret"]
    for w in (int(x) for x in args.workers.split(",")):
        print(f"\n{args.budget} trials, {w} worker(s): median regret, one-sided Mann-Whitney p (worse than the best Optuna sampler)")
        print("| problem | best Optuna sampler | " + " | ".join(OURS) + " |")
        print("| --- | --- |" + " --- |" * len(OURS))
        worse: dict[str, list[str]] = {o: [] for o in OURS}
        n = 0
        for prob in sorted({k[0] for k in reg if k[1] == w}):
            peers = [o for o in PEERS if reg.get((prob, w, o))]
            if not peers or any(not reg.get((prob, w, o)) for o in OURS):
                continue
            n += 1
            best = min(peers, key=lambda o: st.median(reg[(prob, w, o)].values()))
            b = list(reg[(prob, w, best)].values())
            cells, flagged = [], False
            for o in OURS:
                a = list(reg[(prob, w, o)].values())
                p = float(mannwhitneyu(a, b, alternative="greater").pvalue)
                if p < args.alpha:
                    worse[o].append(prob)
                    flagged = True
                cells.append(f"{st.median(a):.4g} ({'**' if p < args.alpha else ''}p = {p:.3g}{'**' if p < args.alpha else ''}, {len(a)} seeds)")
            if flagged:
                print(f"| {prob} | {best} {st.median(b):.4g} ({len(b)} seeds) | " + " | ".join(cells) + " |")
        for o in OURS:
            print(f"{o}: significantly worse on {len(worse[o])} of {n}: {', '.join(worse[o]) or '-'}")


if __name__ == "__main__":
    main()
