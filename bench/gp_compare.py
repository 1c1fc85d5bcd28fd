"""Side by side: Optuna 5.0's GPSampler internals against tuneport's GP on the same history (issue 17).

A history of one bench/quality.py problem (drawn by Optuna's GPSampler, by tuneport's `gp` through the
real server, or read from --history) is fed, prefix by prefix (--n), to both:

- inputs and targets: Optuna's normalised params (`optuna._gp.search_space`) and standardised values
  against tuneport's unit-cube encoding and standardised losses (max |Δ|, sign flipped: Optuna maximises);
- the MAP fit: Optuna's θ as GPSampler holds it at that trial (its warm-start chain replayed from trial
  10: `fit_kernel_params` with the previous fit as cache, exactly as `sample_relative` does) and from its
  default start; tuneport's θ as its strategy holds it (its gp_theta chain replayed, bench/gp-fidelity.ts),
  from its default start with the strategy's iteration cap (cold) and run to Optuna's tolerance (deep).
  Each θ is scored by BOTH objectives (−log marginal likelihood − log prior, Optuna's constant-free form);
- posterior mean, variance and LogEI at common points under one θ (implementation check) and under each's;
- the acquisition optimisers on the same posterior (Optuna's chain θ): Optuna's `optimize_acqf_mixed`
  (2048 Sobol + roulette starts + preconditioned L-BFGS-B) and tuneport's AcquisitionSearch, over
  --acq-seeds RNG streams; every chosen point is scored by Optuna's LogEI, so the two are compared on one
  scale, with its distance to the nearest observed point and whether a coordinate sits on a bound.

    npx tsc -p tsconfig.bench.json && .venv/bin/python bench/gp_compare.py [--problem hartmann6] [--seed 0]
        [--n 20,40,60,80] [--source optuna|tuneport] [--history FILE] [--save-history FILE] [--acq-seeds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import quality  # noqa: E402
from common import ROOT, Server  # noqa: E402

MIN_NOISE = 1e-6


def tp_space_of(prob: quality.Problem) -> dict[str, Any]:
    return {q.name: ({"type": "categorical", "choices": list(q.choices)} if q.kind == "cat" else
                     {"type": "int", "low": int(q.low), "high": int(q.high), **({"log": True} if q.log else {})} if q.kind == "int" else
                     {"type": "float", "low": q.low, "high": q.high, **({"log": True} if q.log else {})}) for q in prob.space}


def optuna_history(prob: quality.Problem, seed: int, n: int) -> list[dict[str, Any]]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    asker = quality.OptunaAsker("optuna-gp", prob, seed)
    f = prob.make(seed)
    rows = []
    for _ in range(n):
        t, p = asker.ask()  # type: ignore[misc]
        v = f(p)[0]
        asker.tell(t, v)
        rows.append({"params": p, "value": v})
    return rows


def tuneport_history(prob: quality.Problem, seed: int, n: int) -> list[dict[str, Any]]:
    f = prob.make(seed)
    rows = []
    with Server() as server:
        asker = quality.TuneportAsker(server.endpoint, "tuneport-gp", prob, seed, n)
        try:
            for _ in range(n):
                t, p = asker.ask()  # type: ignore[misc]
                v = f(p)[0]
                asker.tell(t, v)
                rows.append({"params": p, "value": v})
        finally:
            asker.close()
    return rows


class OptunaSide:
    """Optuna 5.0's GP internals on a history."""

    def __init__(self, prob: quality.Problem, hist: list[dict[str, Any]]) -> None:
        import optuna._gp.search_space as oss

        self.dists = {k: v for k, v in quality.OptunaAsker("optuna-random", prob, 0).dists.items()}
        self.names = list(self.dists)
        self.sp = oss.SearchSpace(self.dists)
        self.hist = hist
        self.X_all = self.sp.get_normalized_params([None] * len(hist), [h["params"] for h in hist])  # type: ignore[list-item]

    def data(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        from optuna.samplers._gp.sampler import _standardize_values

        y, _, _ = _standardize_values(-np.array([[h["value"]] for h in self.hist[:n]]))
        return self.X_all[:n], y[:, 0]

    def fit(self, n: int, cache: Any = None) -> Any:
        from optuna._gp import gp, prior

        X, y = self.data(n)
        return gp.fit_kernel_params(X=X, Y=y, is_categorical=self.sp.is_categorical, log_prior=prior.default_log_prior,
                                    minimum_noise=prior.DEFAULT_MINIMUM_NOISE_VAR, deterministic_objective=False, gpr_cache=cache)

    def chain(self, n: int, startup: int = 10) -> Any:
        """The GPRegressor GPSampler holds when suggesting trial n (fits at 10, 11, ..., n, each warm from the last)."""
        cache = None
        for k in range(startup, n + 1):
            cache = self.fit(k, cache)
        return cache

    def gpr_at(self, n: int, theta: np.ndarray) -> Any:
        import torch
        from optuna._gp import gp

        X, y = self.data(n)
        d = X.shape[1]
        t = torch.from_numpy(np.asarray(theta, float))
        g = gp.GPRegressor(torch.from_numpy(self.sp.is_categorical), torch.from_numpy(X), torch.from_numpy(y),
                           torch.exp(t[:d]), torch.exp(t[d]), torch.exp(t[d + 1]) + MIN_NOISE)
        return g

    def loss(self, n: int, theta: np.ndarray) -> float:
        import torch
        from optuna._gp import prior

        g = self.gpr_at(n, theta)
        with torch.no_grad():
            return float(-(g.marginal_log_likelihood() + prior.default_log_prior(g)))

    def acqf(self, n: int, theta: np.ndarray) -> Any:
        from optuna._gp import acqf

        g = self.gpr_at(n, theta)
        g._cache_matrix()
        _, y = self.data(n)
        return acqf.LogEI(gpr=g, search_space=self.sp, threshold=float(y.max()))

    def optimise(self, n: int, theta: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
        from optuna._gp import optim_mixed

        a = self.acqf(n, theta)
        X, y = self.data(n)
        return optim_mixed.optimize_acqf_mixed(a, warmstart_normalized_params_array=X[np.argmax(y), np.newaxis],
                                               n_preliminary_samples=2048, n_local_search=10, tol=1e-4,
                                               rng=np.random.RandomState(seed))


def theta_of(g: Any) -> np.ndarray:
    return np.concatenate([np.log(g.inverse_squared_lengthscales.numpy()), [np.log(float(g.kernel_scale)),
                                                                              np.log(float(g.noise_var) - MIN_NOISE)]])


def near(X: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """∞-norm distance of each row of xs to its nearest row of X."""
    return np.array([np.min(np.max(np.abs(X - x), axis=1)) for x in xs])


def on_bound(o: OptunaSide, xs: np.ndarray) -> float:
    cont = ~o.sp.is_categorical
    return float(np.mean(np.any((xs[:, cont] < 1e-6) | (xs[:, cont] > 1 - 1e-6), axis=1)))


def summary_line(o: OptunaSide, n: int, theta: np.ndarray, tp: dict[str, Any], seeds: int) -> None:
    X, _ = o.data(n)
    a = o.acqf(n, theta)
    ox = np.array([o.optimise(n, theta, s)[0] for s in range(seeds)])
    tx = np.array([r["x"] for r in tp["acq"]["optuna-chain"]])
    ov, tv = a.eval_acqf_no_grad(ox), a.eval_acqf_no_grad(tx)
    print(f"n {n:3}: logEI optuna {np.median(ov):8.3f}  tuneport {np.median(tv):8.3f}  (Δ {np.median(tv) - np.median(ov):+.3f});"
          f" nearest observed optuna {np.median(near(X, ox)):.3g} tuneport {np.median(near(X, tx)):.3g};"
          f" on a bound optuna {on_bound(o, ox):.2f} tuneport {on_bound(o, tx):.2f}", flush=True)


def fmt(v: np.ndarray) -> str:
    return "[" + " ".join(f"{x:6.2f}" for x in v) + "]"


def main() -> None:
    import torch

    ap = argparse.ArgumentParser()
    ap.add_argument("--problem", default="hartmann6")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", default="20,40,60,80", help="history prefixes to compare")
    ap.add_argument("--source", choices=["optuna", "tuneport"], default="optuna", help="which GP draws the history")
    ap.add_argument("--history", help="JSON list of {params, value}")
    ap.add_argument("--save-history", help="write the history drawn to this file")
    ap.add_argument("--acq-seeds", type=int, default=5)
    ap.add_argument("--options", default="{}", help="tuneport gp options (JSON)")
    ap.add_argument("--summary", action="store_true",
                    help="one line per n: the acquisition optimisers on Optuna's chain θ only (no tuneport chain replay)")
    args = ap.parse_args()
    prob = next(p for p in quality.PROBLEMS if p.name == args.problem)
    ns = [int(v) for v in args.n.split(",")]
    if args.history:
        with open(args.history) as fh:
            hist = json.load(fh)
    else:
        hist = (optuna_history if args.source == "optuna" else tuneport_history)(prob, args.seed, max(ns))
    if args.save_history:
        with open(args.save_history, "w") as fh:
            json.dump(hist, fh)
    o = OptunaSide(prob, hist)
    rng = np.random.RandomState(1234)
    points = o.sp.sample_normalized_params(20, rng)
    print(f"{args.problem}, seed {args.seed}, history from {args.history or args.source} ({len(hist)} trials)")
    for n in ns:
        X, y = o.data(n)
        g_chain = o.chain(n)
        g_cold = o.fit(n)
        ths = {"optuna-chain": theta_of(g_chain), "optuna-cold": theta_of(g_cold)}
        pts = np.vstack([points, X[np.argmax(y)][None, :]])
        req = {"space": tp_space_of(prob), "trials": hist, "n": n, "points": pts.tolist(), "acqSeeds": args.acq_seeds,
               "thetas": {k: v.tolist() for k, v in ths.items()}, "chain": not args.summary, "seed": args.seed, "options": json.loads(args.options)}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
            json.dump(req, fh)
            path = fh.name
        try:
            out = subprocess.run(["node", str(ROOT / "dist-bench" / "bench" / "gp-fidelity.js"), path], capture_output=True, text=True, check=True)
        finally:
            os.unlink(path)
        tp = json.loads(out.stdout)
        assert tp["names"] == o.names, (tp["names"], o.names)
        if args.summary:
            summary_line(o, n, ths["optuna-chain"], tp, args.acq_seeds)
            continue
        Xt = np.asarray(tp["X"]).reshape(n, -1)
        yt = np.asarray(tp["y"])
        print(f"\n=== n = {n}: inputs max |Δ| {np.max(np.abs(Xt - X)):.2g}, targets max |Δ| {np.max(np.abs(yt + y)):.2g} (sign flipped)")
        for k, f in tp["fits"].items():
            ths[f"tuneport-{k}"] = np.asarray(f["theta"])
            tp["objective"][f"tuneport-{k}"] = tp["objective"][k]
            if k in tp["predict"]:
                tp["predict"][f"tuneport-{k}"] = tp["predict"][k]
                tp["acq"][f"tuneport-{k}"] = tp["acq"][k]
        print(f"{'θ source':16} {'log λ (per dim)':>{7 * X.shape[1]}}  {'log s²':>7} {'log σ²':>7}  {'loss(optuna)':>12} {'loss(ours)':>11}")
        for k, th in ths.items():
            d = X.shape[1]
            print(f"{k:16} {fmt(th[:d])}  {th[d]:7.2f} {th[d + 1]:7.2f}  {o.loss(n, th):12.4f} {tp['objective'][k]:11.4f}")
        for k in ("cold", "deep"):
            f = tp["fits"][k]
            print(f"  tuneport {k}: {f['iterations']} iterations, {f['evaluations']} evaluations, converged {f['converged']}")
        # Posterior under one θ: both implementations.
        a = o.acqf(n, ths["optuna-chain"])
        with torch.no_grad():
            mo, vo = a._gpr.posterior(torch.from_numpy(pts))
            lo = a.eval_acqf_no_grad(pts)
        pt = tp["predict"]["optuna-chain"]
        print(f"posterior at {len(pts)} points, θ = optuna-chain: max |Δ mean| {np.max(np.abs(mo.numpy() + np.asarray(pt['mean']))):.2g},"
              f" max |Δ var| {np.max(np.abs(vo.numpy() - np.asarray(pt['variance']))):.2g}, max |Δ logEI| {np.max(np.abs(lo - np.asarray(pt['logEi']))):.2g}")
        for k in ths:
            if k == "optuna-chain" or k not in tp["predict"]:
                continue
            pk = tp["predict"][k]
            print(f"  {k} vs optuna-chain: mean sd ratio {np.std(pk['mean']) / np.std(pt['mean']):.3g}, median var ratio"
                  f" {np.median(np.asarray(pk['variance']) / np.maximum(np.asarray(pt['variance']), 1e-300)):.3g}, logEI at the best point {pk['logEi'][-1]:.3f} / {pt['logEi'][-1]:.3f}")
        # Acquisition optimisers on the same posteriors.
        for k in ("optuna-chain", "tuneport-chain"):
            if k not in tp["acq"]:
                continue
            a = o.acqf(n, ths[k])
            oo = [o.optimise(n, ths[k], s) for s in range(args.acq_seeds)]
            ox = np.array([x for x, _ in oo])
            tx = np.array([r["x"] for r in tp["acq"][k]])
            ov = a.eval_acqf_no_grad(ox)
            tv = a.eval_acqf_no_grad(tx)

            def near(xs: np.ndarray) -> np.ndarray:
                return np.array([np.min(np.max(np.abs(X - x), axis=1)) for x in xs])

            def bound(xs: np.ndarray) -> float:
                cont = ~o.sp.is_categorical
                return float(np.mean(np.any((xs[:, cont] < 1e-6) | (xs[:, cont] > 1 - 1e-6), axis=1)))

            print(f"acquisition, θ = {k}: logEI at chosen (scored by Optuna) optuna {np.median(ov):.4f} [{ov.min():.4f}, {ov.max():.4f}],"
                  f" tuneport {np.median(tv):.4f} [{tv.min():.4f}, {tv.max():.4f}];"
                  f" tuneport's own score agrees to {np.max(np.abs(tv - np.array([r['logEi'] for r in tp['acq'][k]]))):.2g}")
            print(f"   distance to nearest observed (∞-norm): optuna {np.median(near(ox)):.3g}, tuneport {np.median(near(tx)):.3g};"
                  f" on a bound: optuna {bound(ox):.2f}, tuneport {bound(tx):.2f}")
        if tp["suggestion"]:
            s = np.asarray(tp["suggestion"]["x"])
            print(f"tuneport's strategy suggests {fmt(s)} (nearest observed {np.min(np.max(np.abs(X - s), axis=1)):.3g})")


if __name__ == "__main__":
    main()
