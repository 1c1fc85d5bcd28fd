"""Which rule should `auto` follow? Counterfactual policies scored on bench/quality.py's finished runs.

`auto` picks GP or TPE per study from what the study looks like (dimension, categorical share,
parallel workers). Both inner strategies behave exactly as the standalone `gp` and `tpe`
strategies with the same seed (auto-strategy.test.ts checks it), so a policy's runs on a problem
ARE the `tuneport-gp` or `tuneport-tpe` runs of that problem. This script scores each candidate
policy as if it were a new optimizer in the field: its mean rank of per-problem median regret
among the field, and the number of problems where it is significantly worse than the best Optuna
sampler (one-sided Mann–Whitney, p < 0.05), per worker count at one budget.

    python bench/auto_policy.py --curves bench/results/tmp/q-seq.jsonl,bench/results/tmp/q-par4.jsonl [--budget 100]

Only (problem, seed, workers) cells that every optimizer of the field finished are used. A rule
chosen here is fitted to these problems: prefer the simplest rule that holds in every worker
mode, and report the held-out check (leave one problem family out) it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict

import numpy as np
from scipy.stats import mannwhitneyu, rankdata

sys.path.insert(0, os.path.dirname(__file__))
from suite import PROBLEMS  # noqa: E402

PEERS = ["optuna-random", "optuna-tpe", "optuna-cmaes", "optuna-gp"]


def load(paths: list[str], budget: int) -> dict[tuple[str, str, int], dict[int, float]]:
    """(problem, optimizer, workers) -> seed -> regret at `budget` (noiseless value of the observed best)."""
    best: dict[tuple[str, str, int], dict[int, float]] = defaultdict(dict)
    for path in paths:
        with open(path) as fh:
            for line in fh:
                r = json.loads(line)
                obs, true = r["observed"][:budget], r["true"][:budget]
                i = int(np.argmin(obs))
                best[(r["problem"], r["optimizer"], int(r.get("workers", 1)))][int(r["seed"])] = true[i]
    f_star: dict[str, float] = {}
    for p in PROBLEMS:
        vals = [v for (q, _, _), s in best.items() if q == p.name for v in s.values()]
        if vals:
            f_star[p.name] = p.f_star if p.f_star is not None else min(vals)
    return {k: {s: max(0.0, v - f_star[k[0]]) for s, v in per.items()} for k, per in best.items()}


def policies() -> dict[str, "callable"]:  # type: ignore[valid-type]
    out = {"gp": lambda p, w: "gp", "tpe": lambda p, w: "tpe"}
    for k in (4, 6, 8, 10, 20):
        out[f"tpe from d>={k}"] = lambda p, w, k=k: "tpe" if p.dim >= k else "gp"
    for c in (0.3, 0.5):
        out[f"tpe from cat>={c}"] = lambda p, w, c=c: "tpe" if p.cat_share >= c else "gp"
        for k in (8, 10):
            out[f"tpe from d>={k} or cat>={c}"] = lambda p, w, k=k, c=c: "tpe" if p.dim >= k or p.cat_share >= c else "gp"
    out["tpe when parallel"] = lambda p, w: "tpe" if w > 1 else "gp"
    for k in (8, 10):
        out[f"tpe from d>={k} or parallel"] = lambda p, w, k=k: "tpe" if p.dim >= k or w > 1 else "gp"
    return out


def score(reg: dict[tuple[str, str, int], dict[int, float]], problems: list[str], w: int, policy) -> tuple[float, int, int, list[str]]:  # type: ignore[no-untyped-def]
    field = sorted({k[1] for k in reg if k[2] == w and ":" not in k[1]})
    ranks: list[float] = []
    worse: list[str] = []
    n = 0
    for name in problems:
        prob = next(q for q in PROBLEMS if q.name == name)
        choice = f"tuneport-{policy(prob, w)}"
        cells = {o: reg.get((name, o, w), {}) for o in field}
        seeds = set.intersection(*(set(v) for v in cells.values())) if cells else set()
        if not seeds or not cells.get(choice):
            continue
        seeds_l = sorted(seeds)
        meds = {o: float(np.median([cells[o][s] for s in seeds_l])) for o in field if o != "tuneport-auto"}
        meds["policy"] = float(np.median([cells[choice][s] for s in seeds_l]))
        names = list(meds)
        r = rankdata([meds[o] for o in names])
        ranks.append(float(r[names.index("policy")]))
        n += 1
        best_peer = min((o for o in PEERS if o in meds), key=lambda o: meds[o])
        a = [cells[choice][s] for s in seeds_l]
        b = [cells[best_peer][s] for s in seeds_l]
        if len(seeds_l) >= 3 and mannwhitneyu(a, b, alternative="greater").pvalue < 0.05:
            worse.append(name)
    return (float(np.mean(ranks)) if ranks else float("nan"), n, len(worse), worse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--curves", required=True, help="comma-separated curves files of bench/quality.py")
    ap.add_argument("--budget", type=int, default=100)
    args = ap.parse_args()
    reg = load(args.curves.split(","), args.budget)
    modes = sorted({k[2] for k in reg})
    problems = [p.name for p in PROBLEMS if any(k[0] == p.name for k in reg)]
    families = sorted({p.family for p in PROBLEMS if p.name in problems})
    for w in modes:
        print(f"\n{w} worker(s), {args.budget} trials: policy, mean rank among the field (lower is better), problems, "
              f"significantly worse than the best Optuna sampler; then the same with each family held out")
        for name, pol in policies().items():
            mr, n, k, worse = score(reg, problems, w, pol)
            held = []
            for fam in families:
                rest = [p for p in problems if next(q for q in PROBLEMS if q.name == p).family != fam]
                held.append(f"{fam} {score(reg, rest, w, pol)[0]:.2f}")
            print(f"  {name:<28} {mr:5.2f}  n={n:<3} worse={k} {worse if worse else ''}   without: {', '.join(held)}")


if __name__ == "__main__":
    main()
