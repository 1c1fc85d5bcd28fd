"""Side by side: Optuna 5.0's TPESampler internals against tuneport's on the same history.

A history of one bench/quality.py problem (drawn by Optuna's TPE, or by tuneport's TPE through
the real server, with the given seed; or read from --history) is fed to both; printed: whether
the good/bad split, the mixture weights, the kernels per dimension (centres and bandwidths in
the internal space; categorical rows) and log l(x) − log g(x) at common points agree, the
marginals of the candidate distribution l(x) (two-sample KS test) and of the points each
chooses over many RNG streams, and how often a chosen point improves on the best so far.

    npm run build && .venv/bin/python bench/tpe_compare.py [--problem rosenbrock5] [--n 100] [--seed 0]
        [--source optuna|tuneport] [--history FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import quality  # noqa: E402
from common import ROOT, Server  # noqa: E402


def tuneport_history(prob: quality.Problem, seed: int, n: int) -> list[dict[str, Any]]:
    import tuneport as tp

    f = prob.make(seed)
    space = {q.name: (tp.Categorical(list(q.choices)) if q.kind == "cat" else tp.Int(int(q.low), int(q.high)) if q.kind == "int"
                      else tp.Float(q.low, q.high, log=q.log)) for q in prob.space}
    rows = []
    with Server() as server, tp.connect(server.endpoint, timeout=120.0) as client:
        st = client.create_study(f"cmp-{uuid.uuid4().hex[:6]}", direction="minimize", strategy={"name": "tpe", "options": {}},
                                 space=space, seed=seed)
        for _ in range(n):
            t = st.ask()
            p = dict(t.params)
            v = f(p)
            t.complete(v)
            rows.append({"params": p, "value": v})
    return rows


def main() -> None:
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.samplers._tpe.sampler import _split_trials, default_gamma
    from scipy.stats import ks_2samp

    ap = argparse.ArgumentParser()
    ap.add_argument("--problem", default="rosenbrock5")
    ap.add_argument("--n", type=int, default=100, help="history length")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--source", choices=["optuna", "tuneport"], default="optuna", help="which TPE draws the history")
    ap.add_argument("--history", help="JSON list of {params, value}: use its first --n trials")
    ap.add_argument("--samples", type=int, default=20000)
    ap.add_argument("--chosen", type=int, default=300)
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    prob = next(p for p in quality.PROBLEMS if p.name == args.problem)
    f = prob.make(args.seed)
    dists = {q.name: (CategoricalDistribution(list(q.choices)) if q.kind == "cat" else IntDistribution(int(q.low), int(q.high))
                      if q.kind == "int" else FloatDistribution(q.low, q.high, log=q.log)) for q in prob.space}
    tp_space = {q.name: ({"type": "categorical", "choices": list(q.choices)} if q.kind == "cat" else
                         {"type": "int", "low": int(q.low), "high": int(q.high)} if q.kind == "int" else
                         {"type": "float", "low": q.low, "high": q.high, **({"log": True} if q.log else {})}) for q in prob.space}
    names = list(dists)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=args.seed))
    if args.history or args.source == "tuneport":
        if args.history:
            with open(args.history) as fh:
                hist = json.load(fh)[: args.n]
        else:
            hist = tuneport_history(prob, args.seed, args.n)
        study.add_trials([optuna.trial.create_trial(params=h["params"], distributions=dists, value=h["value"]) for h in hist])
    else:
        for _ in range(args.n):
            t = study.ask(dists)
            study.tell(t, f(dict(t.params)))
    trials = study.get_trials(deepcopy=False)
    sampler = optuna.samplers.TPESampler(seed=123)
    below, above = _split_trials(study, trials, default_gamma(len(trials)))
    mb = sampler._build_parzen_estimator(study, dists, below, handle_below=True)
    ma = sampler._build_parzen_estimator(study, dists, above, handle_below=False)
    pts_d = mb.sample(np.random.RandomState(5), 200)
    acq_o = mb.log_pdf(pts_d) - ma.log_pdf(pts_d)
    ext = lambda n, v: dists[n].to_external_repr(v)  # noqa: E731
    points = [{n: ext(n, pts_d[n][i]) for n in names} for i in range(200)]
    s_o = mb.sample(np.random.RandomState(7), args.samples)
    # The asking trial: RUNNING, without params (Optuna's constant liar leaves it out of the history).
    asking = study._storage.get_trial(study._storage.create_new_trial(study._study_id))
    chosen_o = []
    for r in range(args.chosen):
        sp = optuna.samplers.TPESampler(seed=1000 + r)
        got = sp._sample(study, asking, dists)
        chosen_o.append([got[n] for n in names])

    inp = {"space": tp_space, "trials": [{"params": t.params, "value": t.value} for t in trials], "points": points,
           "n_samples": args.samples, "n_chosen": args.chosen, "seed": args.seed}
    out = subprocess.run(["node", str(ROOT / "bench" / "tpe-compare.mjs")], input=json.dumps(inp), capture_output=True, text=True, check=True)
    tp = json.loads(out.stdout)

    print(f"{args.problem}, n = {len(trials)}, seed {args.seed}, history from {args.history or args.source}")
    print("good set equal:", sorted(t.number for t in below) == tp["below"], f"(|below| = {len(below)})")
    for label, m in (("l", mb), ("g", ma)):
        mix = m._mixture_distribution
        print(f"{label}(x): weights equal {np.allclose(mix.weights, tp[label]['weights'])}")
        for j, d in enumerate(mix.distributions):
            k = tp[label]["kernels"][j]
            if "probs" in k:
                err = np.max(np.abs(np.asarray(d.weights).ravel() - np.asarray(k["probs"])))
                print(f"   {names[j]}: categorical rows max |Δ| = {err:.3g}")
            else:
                print(f"   {names[j]}: max |Δμ| = {np.max(np.abs(d.mu - k['mus'])):.3g}, max |Δσ| = {np.max(np.abs(d.sigma - k['sigmas'])):.3g};"
                      f" mean σ {np.mean(d.sigma[:-1]):.4g} / {np.mean(k['sigmas'][:-1]):.4g}")
    acq_t = np.asarray(tp["acq"])
    print(f"log l − log g at 200 points: max |Δ| = {np.max(np.abs(acq_o - acq_t)):.3g}; argmax equal {np.argmax(acq_o) == np.argmax(acq_t)}")

    def num(col: Any, n: str) -> np.ndarray:
        if isinstance(dists[n], CategoricalDistribution):
            return np.array([dists[n].choices.index(v) if not isinstance(v, (int, float)) or v in dists[n].choices else int(v) for v in col], float)
        return np.asarray(col, float)

    s_t = np.asarray(tp["samples"], dtype=object)
    c_t = np.asarray(tp["chosen"], dtype=object)
    c_o = np.asarray(chosen_o, dtype=object)
    for j, n in enumerate(names):
        a = num([ext(n, v) for v in s_o[n]], n)
        b = num(s_t[:, j], n)
        print(f"candidates {n}: mean {a.mean():.4g} / {b.mean():.4g}, sd {a.std():.4g} / {b.std():.4g}, KS p {ks_2samp(a, b).pvalue:.3g}")
    for j, n in enumerate(names):
        a, b = num(c_o[:, j], n), num(c_t[:, j], n)
        print(f"chosen {n}: mean {a.mean():.4g} / {b.mean():.4g}, sd {a.std():.4g} / {b.std():.4g}, KS p {ks_2samp(a, b).pvalue:.3g}")
    best = min(t.value for t in trials)
    fo = np.array([f(dict(zip(names, x))) for x in chosen_o])
    ft = np.array([f(dict(zip(names, x))) for x in tp["chosen"]])
    print(f"f at chosen points: optuna median {np.median(fo):.4g}, tuneport median {np.median(ft):.4g}; "
          f"P(improves on {best:.4g}): optuna {np.mean(fo < best):.3f}, tuneport {np.mean(ft < best):.3f}")


if __name__ == "__main__":
    main()
