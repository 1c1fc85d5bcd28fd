"""Paired comparison of two runs of tuneport optimizers from bench/quality.py's curves files (--curves),
and, with --goals, issue 17's goal figures with either one standing in for `tuneport-auto`.

    python bench/auto_paired.py --curves A.jsonl [B.jsonl ...] [--a OPT] [--b OPT] [--workers 1|4] [--budget 100]
        [--stored bench/results/quality.json] [--goals]

Per problem: medians of regret and how many seeds each optimizer had the lower regret (ties out),
with the paired Wilcoxon p; pooled: a two-sided sign test over the decided pairs. Regret is the true
value of the trial observed as best minus the stored f* (real tasks: clipped at 0 where a run beats
it). --goals: the other optimizers of the field from --stored at the same budget and workers, the
optimizer in --b or --a as `tuneport-auto`: mean rank of per-problem medians and the problems where it
is significantly worse than the best Optuna sampler (one-sided Mann-Whitney U, p < 0.05), as
bench/quality.py counts them. Used for docs/BENCHMARKS.md "The hedge's GP fitted on schedule".
"""
import argparse, json, math, sys, collections
import numpy as np
from scipy.stats import mannwhitneyu, rankdata, wilcoxon, binomtest
ap = argparse.ArgumentParser()
ap.add_argument("--stored", default="bench/results/quality.json")
ap.add_argument("--curves", nargs="+")
ap.add_argument("--a", default="tuneport-auto:fit-since")
ap.add_argument("--b", default="tuneport-auto")
ap.add_argument("--workers", type=int, default=1)
ap.add_argument("--budget", type=int, default=100)
ap.add_argument("--goals", action="store_true")
args = ap.parse_args()
st = json.load(open(args.stored))
fstar = {}
reg = collections.defaultdict(dict)
for r in st["runs"]:
    fstar[r["problem"]] = r["f_star"]
    reg[(r["problem"], r["optimizer"], r.get("workers", 1), r["budget"])][r["seed"]] = r["regret"]
mine = collections.defaultdict(dict)
for path in args.curves:
    for line in open(path):
        r = json.loads(line)
        w = r.get("workers", 1)
        if w != args.workers: continue
        obs, true = r["observed"], r["true"]
        if len(obs) < args.budget: continue
        bo, bt = math.inf, math.inf
        for o, t in zip(obs[:args.budget], true[:args.budget]):
            if o < bo or (o == bo and t < bt): bo, bt = o, t
        mine[(r["problem"], r["optimizer"])][r["seed"]] = max(0.0, bt - fstar.get(r["problem"], 0.0))
probs = sorted({p for p, o in mine})
W = L = 0
print(f"{'problem':24s} {'A med':>10s} {'B med':>10s} A-better B-better wilcoxon-p")
for p in probs:
    a, b = mine.get((p, args.a), {}), mine.get((p, args.b), {})
    s = sorted(set(a) & set(b))
    if not s: continue
    d = [a[k] - b[k] for k in s]
    w_, l_ = sum(x < 0 for x in d), sum(x > 0 for x in d)
    W += w_; L += l_
    pw = float(wilcoxon(d).pvalue) if any(x != 0 for x in d) and len(s) >= 5 else float("nan")
    print(f"{p:24s} {np.median([a[k] for k in s]):10.4g} {np.median([b[k] for k in s]):10.4g} {w_:5d} {l_:8d}   {pw:.3g}")
print(f"pooled: A better {W}, B better {L}, two-sided sign test p = {binomtest(W, W + L).pvalue:.3g}" if W + L else "no pairs")
if args.goals:
    PEERS = ["optuna-random", "optuna-tpe", "optuna-cmaes", "optuna-gp"]
    for cand in (args.b, args.a):
        field = collections.defaultdict(dict)
        for (p, o, w, b), v in reg.items():
            if w == args.workers and b == args.budget and o != "tuneport-auto" and ":" not in o:
                field[p][o] = v
        for p in list(field):
            if (p, cand) in mine: field[p]["tuneport-auto"] = mine[(p, cand)]
            else: del field[p]
        acc = collections.defaultdict(list); worse = []
        for p, opts in field.items():
            names = sorted(opts)
            for o, rk in zip(names, rankdata([np.median(list(opts[o].values())) for o in names])): acc[o].append(rk)
            peer = min(PEERS, key=lambda o: np.median(list(opts[o].values())))
            ra, rp = list(opts["tuneport-auto"].values()), list(opts[peer].values())
            pv = float(mannwhitneyu(ra, rp, alternative="greater").pvalue) if len(set(ra + rp)) > 1 else 1.0
            if pv < 0.05: worse.append(f"{p} vs {peer} p={pv:.3g}")
        mr = sorted(((np.mean(v), o) for o, v in acc.items()))
        print(f"\n{cand} as tuneport-auto, {len(field)} problems, workers {args.workers}, {args.budget} trials:")
        print("  mean rank: " + ", ".join(f"{o} {m:.2f}" for m, o in mr[:5]))
        print(f"  significantly worse than best Optuna: {len(worse)}: " + "; ".join(worse))
