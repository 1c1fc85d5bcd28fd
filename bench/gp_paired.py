"""Paired comparison of two optimizers' quality.py curves on the (problem, seed) cells both finished.

Each side is FILE:OPTIMIZER (curves files as bench/quality.py --curves writes them; several files may
be given with commas: the later wins). Per problem: median best-found regret of each side and its wins;
overall: wins/losses over all cells, a two-sided sign test and a Wilcoxon signed-rank test on the
per-cell log ratio of regrets. With --field FILES, also the mean rank of per-problem medians when B
replaces A in the field of those files (sequential mode).

    python bench/gp_paired.py --a q-all.jsonl:tuneport-gp --b /tmp/new.jsonl:tuneport-gp:fullfit [--budget 100]
        [--field q-all.jsonl]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import quality  # noqa: E402


def load(spec: str, budget: int, workers: int) -> dict[tuple[str, int], float]:
    files, opt = spec.split(":", 1)
    out: dict[tuple[str, int], float] = {}
    for path in files.split(","):
        with open(path) as fh:
            for line in fh:
                r: dict[str, Any] = json.loads(line)
                if r["optimizer"] != opt or r.get("workers", 1) != workers or len(r["observed"]) < budget:
                    continue
                out[(r["problem"], r["seed"])] = quality.bests_of(r["observed"], r["true"], [budget])[budget]
    return out


def main() -> None:
    from scipy.stats import binomtest, rankdata, wilcoxon

    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--field", help="curves files whose field B joins in A's place (mean rank)")
    args = ap.parse_args()
    a, b = load(args.a, args.budget, args.workers), load(args.b, args.budget, args.workers)
    cells = sorted(set(a) & set(b), key=lambda c: ([p.name for p in quality.PROBLEMS].index(c[0]), c[1]))
    fstar: dict[str, float] = {}
    for p in quality.PROBLEMS:
        fstar[p.name] = p.f_star if p.f_star is not None else min([v for (q, _), v in {**a, **b}.items() if q == p.name], default=0.0)
    reg = lambda v, p: max(0.0, v - fstar[p])  # noqa: E731
    wins = losses = 0
    logratios: list[float] = []
    print(f"{'problem':24} {'seeds':>5} {'A median':>11} {'B median':>11}  B better/worse")
    for p in dict.fromkeys(c[0] for c in cells):
        cs = [c for c in cells if c[0] == p]
        ra = [reg(a[c], p) for c in cs]
        rb = [reg(b[c], p) for c in cs]
        bw = sum(1 for x, y in zip(ra, rb) if y < x)
        bl = sum(1 for x, y in zip(ra, rb) if y > x)
        wins += bw
        losses += bl
        for x, y in zip(ra, rb):
            if x != y:
                logratios.append(math.log(max(y, 1e-12)) - math.log(max(x, 1e-12)))
        print(f"{p:24} {len(cs):5} {np.median(ra):11.4g} {np.median(rb):11.4g}  {bw}/{bl}")
    n = wins + losses
    sign = binomtest(wins, n).pvalue if n else float("nan")
    wil = wilcoxon(logratios).pvalue if len(logratios) > 1 else float("nan")
    print(f"\nB better in {wins}, worse in {losses} of {len(cells)} cells; sign test p = {sign:.3g};"
          f" Wilcoxon on log regret ratio p = {wil:.3g} (median log10 ratio {np.median(logratios) / math.log(10):+.3f})")
    if args.field:
        field: dict[tuple[str, str, int], float] = {}
        for path in args.field.split(","):
            with open(path) as fh:
                for line in fh:
                    r = json.loads(line)
                    if r.get("workers", 1) != args.workers or len(r["observed"]) < args.budget or r["optimizer"] not in quality.FIELD:
                        continue
                    field[(r["problem"], r["optimizer"], r["seed"])] = quality.bests_of(r["observed"], r["true"], [args.budget])[args.budget]
        a_opt = args.a.split(":", 1)[1]
        for label, src in (("A", a), ("B", b)):
            ranks: dict[str, list[float]] = {}
            others = [o for o in quality.FIELD if o not in (a_opt, "tuneport-auto")]
            for p in dict.fromkeys(c[0] for c in cells):
                # The seeds every optimizer of the field finished on this problem.
                seeds = [c[1] for c in cells if c[0] == p and all((p, o, c[1]) in field for o in others)]
                if len(seeds) < 3:
                    continue
                opts = others
                meds = [float(np.median([reg(field[(p, o, s)], p) for s in seeds])) for o in opts]
                meds.append(float(np.median([reg(src[(p, s)], p) for s in seeds])))
                for o, r in zip(opts + [label], rankdata(meds)):
                    ranks.setdefault(o, []).append(float(r))
            full = max(len(v) for v in ranks.values())
            top = sorted(((float(np.mean(v)), o) for o, v in ranks.items() if len(v) == full))[:4]
            print(f"mean rank with {label} in the field (the seeds every optimizer finished, {full} problems): " + ", ".join(f"{o} {m:.2f}" for m, o in top))


if __name__ == "__main__":
    main()
