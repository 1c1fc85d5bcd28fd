"""`make bench-quality`: optimisation quality of tuneport's strategies against Optuna 5.0 (issue 17's suite).

Every optimizer sees the same problems, seeds, budgets and simulated evaluation times; only its
choices differ. The problems are in bench/suite.py (BBOB-style functions in 2–20 D with a per-seed
shift and rotation, mixed/categorical/conditional spaces, noisy objectives, real HPO tasks).

  tuneport-<strategy>  through the real server (`tuneport serve`, one per run set) and the Python
                       client; the default strategy's rows are `tuneport-auto`
  optuna-<sampler>     Optuna 5.0 samplers (random, tpe, gp, cmaes) with their defaults and
                       `seed=seed`, in process, ask/tell; GPSampler uses greenlet when installed
  tuneport-gp:<label>  ablation variants: the `gp` strategy with the options of VARIANTS[label]

Workers: `--workers 1,4,8`. With W > 1, W simulated workers share one study: a discrete-event
simulation asks W trials, then repeatedly takes the earliest-finishing one, evaluates and tells it
and asks the next, so W − 1 trials are always pending when a suggestion is made. Evaluation times
are lognormal (σ = 0.6) and drawn per seed in ask order (numpy `default_rng([seed, 17, 555])`), the
same stream for every optimizer. A run stops after `budget` tells; its curve is the values in the
order they were told. Budgets 50/100/200 are prefixes of one run. With W > 1 a prefix is not
quite a shorter run: the first 100 tells of a run of 200 include trials asked after the 100th ask,
which a run of 100 never makes, so the 100-trial bests of the two differ in some cells.

Regret = best − f* (noisy problems: the noiseless value of the trial observed as best). f* of a
real task is the best value any run of the set found. Normalised regret = regret / median
optuna-random regret at the same budget and worker count.

    python bench/quality.py [--quick] [--seeds N] [--par-seeds N] [--workers 1,4] [--jobs N]
        [--budgets 50,100,200] [--cap OPT=N ...] [--problems A,B] [--optimizers A,B] [--merge]
        [--out PATH] [--no-docs] [--resume]

--merge keeps every (problem, optimizer, workers) run set of --out that this invocation does not run
(its per-budget bests, all the tables need). --cap limits an optimizer's largest budget (GP-class
optimizers are the expensive ones). --quick: 2 seeds, budgets 20/40, a few problems and optimizers,
workers 1 and 4 (a smoke test, < 60 s). Writes bench/results/quality.json ({"meta", "runs":
[{"problem", "optimizer", "seed", "budget", "best", "regret", "f_star", "workers"?}]}) and the quality
section of docs/BENCHMARKS.md (full mode only).
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import math
import multiprocessing as mp
import os
import re
import sys
import time
import uuid
from typing import Any, Callable, Sequence

# One BLAS thread per process: the runs are parallel already and the machine has 2 cores.
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, Server, machine, update_benchmarks_md  # noqa: E402
from suite import HOLDOUT, PROBLEMS, Params, Problem  # noqa: E402

KNOWN = PROBLEMS + HOLDOUT
BY_NAME = {p.name: p for p in KNOWN}

TUNEPORT = ["random", "grid", "qmc", "tpe", "cmaes", "gp", "auto"]
PEERS = ["optuna-random", "optuna-tpe", "optuna-cmaes", "optuna-gp"]
FIELD = [f"tuneport-{s}" for s in TUNEPORT] + PEERS
# GP ablations (issue 17 item 2): label -> options of the `gp` strategy. See docs/BENCHMARKS.md.
VARIANTS: dict[str, dict[str, Any]] = {
    "dim-scaled": {"lengthscalePrior": "dim-scaled"},  # Hvarfner et al. 2024 instead of Optuna 5.0's prior
    "yeo-johnson": {"outputTransform": "yeo-johnson"},
    "copula": {"outputTransform": "copula"},
    "turbo8": {"trustRegionFromDim": 8},
    "kb-observed-best": {"believerIncumbent": False},  # the kriging believer before issue 17
    "xi01": {"eiXi": 0.01},  # EI's improvement threshold ξ = 0.01 sd (skopt's and GPyOpt's default)
    "no-inc": {"incumbentStart": False},  # issue 17: Optuna's L-BFGS-B never moves from the best observed point
    "roulette": {"startSelection": "roulette"},  # issue 17: Optuna's start selection (best + draws ∝ EI)
    "optuna-starts": {"incumbentStart": False, "startSelection": "roulette"},  # both: Optuna's effective starts
    "full-fit": {"maxWarmFitIterations": 50},  # issue 17: every fit to convergence from the warm start, as Optuna
    "cat-latent": {"categoricalKernel": "latent"},  # issue 17: choices of a categorical as learnt points (Zhang et al. 2020's LVGP)
}
# Variants of `auto` (issue 17: the default on problems it was not chosen on): label -> options.
AUTO_VARIANTS: dict[str, dict[str, Any]] = {
    "hedge": {"portfolio": "hedge"},  # GP and TPE share the suggestions by how well their proposals ranked
    "gp": {"portfolio": "off"},  # auto without the portfolio (GP throughout)
    "floor-0.1": {"portfolio_floor": 0.1},  # the hedge with a lagging arm kept at 10 % of the suggestions, not 20 %
    # What a proposal is ranked against to score its arm (`portfolio_credit`; docs/BENCHMARKS.md "The hedge's credit"):
    "credit-recent": {"portfolio_credit": "recent"},  # the latest 16 scored trials before it
    "credit-arms": {"portfolio_credit": "other-arm"},  # the other arm's latest 8 proposals
    "credit-elite": {"portfolio_credit": "elite"},  # the best 8 scored trials before it
    "credit-blend": {"portfolio_credit": "blend"},  # the mean of the "earlier" and "elite" credits (the default since 2026-12-04)
    "credit-earlier": {"portfolio_credit": "earlier"},  # every scored trial before it (the default until 2026-12-04)
    # The GP's full hyperparameter fit once 10 rows were added since the last one, not only at multiples of 10:
    "fit-since": {"gp": {"fullFitSchedule": "since"}},
    # TPE's arm without the constant liar (Optuna's TPESampler default): a pending trial is left out of
    # TPE's densities instead of joining its bad set; the GP arm keeps its kriging believer. Only
    # asynchronous workers have pending trials, so sequential runs are the default's exactly.
    "no-liar": {"tpe": {"constant_liar": False}},
    # The GP arm's kriging believer keeps the observed best as EI's incumbent (`believerIncumbent: false`)
    # instead of lowering it to a pending trial's believed value: pending trials still collapse the
    # variance around them (so concurrent proposals stay apart), but a pending exploit proposal (often
    # TPE's, near the incumbent) no longer raises the bar the GP must pass. Sequential runs are the default's.
    "kb-observed-best": {"gp": {"believerIncumbent": False}},
}
VARIANTS_OF = {"gp": VARIANTS, "auto": AUTO_VARIANTS}
DURATION_SIGMA = 0.6


def strategy_of(opt: str) -> tuple[str, dict[str, Any]]:
    base, _, label = opt.removeprefix("tuneport-").partition(":")
    return base, dict(VARIANTS_OF[base][label]) if label else {}


def known(opt: str) -> bool:
    base, _, label = opt.removeprefix("tuneport-").partition(":")
    return opt in FIELD or (opt.startswith("tuneport-") and label in VARIANTS_OF.get(base, {}))


def grid_shape(prob: Problem) -> tuple[int, int]:
    """(points of the integer and categorical dimensions together, number of float dimensions): the
    grid strategy takes every value of an integer or categorical dimension and `points_per_dim` of a
    float one, so its grid has finite · points_per_dim^floats points."""
    finite, floats = 1, 0
    for q in prob.space:
        if q.kind == "cat":
            finite *= len(q.choices)
        elif q.kind == "int":
            finite *= int(q.high) - int(q.low) + 1
        else:
            floats += 1
    return finite, floats


def grid_points_per_dim(prob: Problem, n: int) -> int:
    """Points per float dimension for a grid of at least `n` points, where the space allows it.

    ⌈n^(1/d)⌉ over all d dimensions (the rule until 2026-12-04) is kept where it gives enough
    points; where the finite dimensions have fewer values than that (a 4-D space with a 3-way
    categorical: 4³·3 = 192 < 200) it grows until the grid holds `n`, so that a run is not cut
    short by an exhausted grid.
    """
    finite, floats = grid_shape(prob)
    k = max(2, math.ceil(n ** (1 / len(prob.space))))
    while floats and k ** floats * finite < n:
        k += 1
    return k


# ---------------------------------------------------------------- optimizers behind one ask/tell shape

class Asker:
    """ask() -> (handle, params) or None when exhausted; tell(handle, value); close()."""

    def ask(self) -> tuple[Any, Params] | None: ...
    def tell(self, handle: Any, value: float) -> None: ...
    def close(self) -> None: ...


class TuneportAsker(Asker):
    def __init__(self, endpoint: str, opt: str, prob: Problem, seed: int, n: int) -> None:
        import tuneport as tp

        self.tp = tp
        strategy, options = strategy_of(opt)
        space: dict[str, Any] = {}
        for q in prob.space:
            space[q.name] = (tp.Categorical(list(q.choices)) if q.kind == "cat" else
                             tp.Int(int(q.low), int(q.high), log=q.log) if q.kind == "int" else tp.Float(q.low, q.high, log=q.log))
        if strategy == "grid":
            # Enough grid points for the budget; shuffled (the default order).
            options = {"points_per_dim": grid_points_per_dim(prob, n)}
        self.client = tp.connect(endpoint, timeout=300.0)
        self.study = self.client.create_study(f"q-{prob.name}-{strategy}-{seed}-{uuid.uuid4().hex[:8]}", direction="minimize",
                                              strategy={"name": strategy, "options": options}, space=space, seed=seed)
        self.open: list[Any] = []

    def ask(self) -> tuple[Any, Params] | None:
        try:
            trial = self.study.ask()
        except self.tp.SearchSpaceExhaustedError:
            return None
        self.open.append(trial)
        return trial, dict(trial.params)

    def tell(self, handle: Any, value: float) -> None:
        handle.complete(value)
        self.open.remove(handle)

    def close(self) -> None:
        for t in self.open:
            t.fail("simulation over")
        self.client.close()


def cmaes_shim() -> None:
    """Optuna 5.0 passes `lr_adapt` (cmaes ≥ 0.10) to cmaes.CMA; Debian's python3-cmaes is 0.9.1.
    With the sampler's default lr_adapt=False the two behave the same, so the argument is dropped
    (patched in place, so that Optuna can still pickle the optimizer)."""
    import cmaes

    init = cmaes.CMA.__init__
    if "lr_adapt" in init.__code__.co_varnames or getattr(init, "_tuneport_shim", False):
        return

    def patched(self: Any, *a: Any, lr_adapt: bool = False, **kw: Any) -> None:
        assert not lr_adapt, "lr_adapt needs cmaes >= 0.10"
        init(self, *a, **kw)

    patched._tuneport_shim = True  # type: ignore[attr-defined]
    cmaes.CMA.__init__ = patched  # type: ignore[method-assign]


class OptunaAsker(Asker):
    def __init__(self, kind: str, prob: Problem, seed: int) -> None:
        import optuna

        if kind == "optuna-cmaes":
            cmaes_shim()
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        import warnings

        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        self.sampler: Any = {
            "optuna-tpe": lambda: optuna.samplers.TPESampler(seed=seed),
            "optuna-gp": lambda: optuna.samplers.GPSampler(seed=seed),
            "optuna-random": lambda: optuna.samplers.RandomSampler(seed=seed),
            "optuna-cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed),
        }[kind]()
        self.dists: dict[str, Any] = {
            q.name: (CategoricalDistribution(list(q.choices)) if q.kind == "cat" else
                     IntDistribution(int(q.low), int(q.high), log=q.log) if q.kind == "int" else FloatDistribution(q.low, q.high, log=q.log))
            for q in prob.space
        }
        self.study = optuna.create_study(direction="minimize", sampler=self.sampler)

    def ask(self) -> tuple[Any, Params] | None:
        t = self.study.ask(self.dists)
        return t, dict(t.params)

    def tell(self, handle: Any, value: float) -> None:
        self.study.tell(handle, value)

    def close(self) -> None:
        pass


def simulate(asker: Asker, f: Callable[[Params], tuple[float, float]], n: int, workers: int, seed: int) -> tuple[list[float], list[float]]:
    """Runs `n` evaluations on `workers` simulated workers; returns (observed, true) in tell order."""
    durations = np.random.default_rng([seed, 17, 555]).lognormal(0.0, DURATION_SIGMA, n)
    events: list[tuple[float, int, Any, Params]] = []
    asked = 0
    obs: list[float] = []
    true: list[float] = []

    def ask(now: float) -> bool:
        nonlocal asked
        got = asker.ask()
        if got is None:
            return False
        heapq.heappush(events, (now + float(durations[asked]), asked, got[0], got[1]))
        asked += 1
        return True

    try:
        while asked < min(workers, n) and ask(0.0):
            pass
        while events:
            now, _, handle, params = heapq.heappop(events)
            o, t = f(params)
            asker.tell(handle, o)
            obs.append(o)
            true.append(t)
            if asked < n:
                ask(now)
    finally:
        asker.close()
    return obs, true


def run_one(task: tuple[str, str, int, int, int, str]) -> tuple[str, str, int, int, list[float], list[float], float]:
    prob_name, opt, seed, n, workers, endpoint = task
    prob = BY_NAME[prob_name]
    t0 = time.perf_counter()
    asker: Asker = TuneportAsker(endpoint, opt, prob, seed, n) if opt.startswith("tuneport-") else OptunaAsker(opt, prob, seed)
    obs, true = simulate(asker, prob.make(seed), n, workers, seed)
    return prob_name, opt, seed, workers, obs, true, time.perf_counter() - t0


# ---------------------------------------------------------------- analysis

Key = tuple[str, str, int, int]  # problem, optimizer, seed, workers


def bests_of(obs: Sequence[float], true: Sequence[float], budgets: list[int]) -> dict[int, float]:
    """Per budget: the true value of the trial with the lowest observed value among the first `budget`."""
    out: dict[int, float] = {}
    best_o, best_t = math.inf, math.inf
    for i, (o, t) in enumerate(zip(obs, true)):
        if o < best_o or (o == best_o and t < best_t):
            best_o, best_t = o, t
        if i + 1 in budgets:
            out[i + 1] = best_t
    return out


def earlier_commands(merged_meta: dict[str, Any]) -> list[str]:
    """The commands whose rows a --merge run keeps, oldest first: the merged file's own list plus its
    command. Files written before the list existed nested each earlier run's text inside the next
    one's `reduced`; their commands are read back out of it."""
    if "earlier_commands" in merged_meta:
        before = list(merged_meta["earlier_commands"])
    else:
        before = re.findall(r"python bench/quality\.py[^;()]*", merged_meta.get("reduced", ""))[::-1]
    return [c.strip() for c in before] + [merged_meta["command"]]


def analyse(bests: dict[Key, dict[int, float]], budgets: list[int]) -> dict[str, Any]:
    from scipy.stats import mannwhitneyu, rankdata, wilcoxon

    order = [p.name for p in KNOWN]
    problems = sorted({k[0] for k in bests}, key=order.index)
    optimizers = sorted({k[1] for k in bests}, key=lambda o: (FIELD.index(o) if o in FIELD else len(FIELD), o))
    modes = sorted({k[3] for k in bests})
    f_star: dict[str, float] = {}
    for p in problems:
        prob = BY_NAME[p]
        f_star[p] = prob.f_star if prob.f_star is not None else min(min(v.values()) for k, v in bests.items() if k[0] == p and v)
    runs: list[dict[str, Any]] = []
    regret: dict[tuple[str, str, int, int], dict[int, float]] = {}  # (p, o, w, b) -> seed -> regret
    for (p, o, s, w), per in sorted(bests.items()):
        for b, best in sorted(per.items()):
            r = max(0.0, best - f_star[p])
            row = {"problem": p, "optimizer": o, "seed": s, "budget": b, "best": best, "regret": r, "f_star": f_star[p]}
            if w > 1:
                row["workers"] = w
            runs.append(row)
            regret.setdefault((p, o, w, b), {})[s] = r
    table: dict[str, Any] = {}
    for (p, o, w, b), rs in regret.items():
        ref = regret.get((p, "optuna-random", w, b))
        denom = float(np.median(list(ref.values()))) if ref else float("nan")
        vals = list(rs.values())
        norm = [r / denom if denom > 0 else (0.0 if r == 0 else float("inf")) for r in vals]
        q1, med, q3 = np.percentile(norm, [25, 50, 75])
        table[f"{p}|{o}|{w}|{b}"] = {"median": float(med), "q1": float(q1), "q3": float(q3), "n": len(vals),
                                     "median_regret": float(np.median(vals))}
    # Mean rank: per (problem, workers, budget) rank the optimizers by median regret (ties averaged), mean over problems.
    ranks: dict[str, dict[str, float]] = {}
    for w in modes:
        for b in budgets:
            acc: dict[str, list[float]] = {}
            for p in problems:
                # The field only: ablation variants (tuneport-gp:<label>) have their own table.
                present = [o for o in optimizers if f"{p}|{o}|{w}|{b}" in table and ":" not in o]
                if len(present) < 2:
                    continue
                for o, r in zip(present, rankdata([table[f"{p}|{o}|{w}|{b}"]["median_regret"] for o in present])):
                    acc.setdefault(o, []).append(float(r))
            if acc:
                full = max(len(v) for v in acc.values())
                # Only optimizers with a figure on every problem of this mode are ranked together.
                ranks[f"{w}|{b}"] = {o: float(np.mean(v)) for o, v in acc.items() if len(v) == full}
    # Goal test: each tuneport optimizer vs the best Optuna sampler (lowest median regret) per problem,
    # one-sided Mann-Whitney U (H1: tuneport's regret is stochastically larger).
    versus: list[dict[str, Any]] = []
    for w in modes:
        for b in budgets:
            for p in problems:
                peers = [o for o in PEERS if (p, o, w, b) in regret]
                if not peers:
                    continue
                best_peer = min(peers, key=lambda o: float(np.median(list(regret[(p, o, w, b)].values()))))
                rp = list(regret[(p, best_peer, w, b)].values())
                for o in optimizers:
                    if not o.startswith("tuneport-") or (p, o, w, b) not in regret:
                        continue
                    ra = list(regret[(p, o, w, b)].values())
                    worse = float(mannwhitneyu(ra, rp, alternative="greater").pvalue) if len(set(ra + rp)) > 1 else 1.0
                    better = float(mannwhitneyu(ra, rp, alternative="less").pvalue) if len(set(ra + rp)) > 1 else 1.0
                    versus.append({"optimizer": o, "peer": best_peer, "problem": p, "workers": w, "budget": b,
                                   "median": float(np.median(ra)), "peer_median": float(np.median(rp)),
                                   "p_worse": worse, "p_better": better, "n": len(ra), "n_peer": len(rp)})
    # Paired Wilcoxon tests of the like-for-like pairs (same seeds).
    tests: list[dict[str, Any]] = []
    for a, c in [("tuneport-tpe", "optuna-tpe"), ("tuneport-gp", "optuna-gp"), ("tuneport-cmaes", "optuna-cmaes")]:
        for w in modes:
            for p in problems:
                for b in budgets:
                    ra, rc = regret.get((p, a, w, b), {}), regret.get((p, c, w, b), {})
                    common = sorted(set(ra) & set(rc))
                    if len(common) < 5:
                        continue
                    diff = [ra[s] - rc[s] for s in common]
                    pval = float("nan") if all(x == 0 for x in diff) else float(wilcoxon(diff).pvalue)
                    tests.append({"a": a, "b": c, "problem": p, "workers": w, "budget": b, "n": len(common), "p": pval,
                                  "a_better": sum(1 for x in diff if x < 0), "b_better": sum(1 for x in diff if x > 0)})
    return {"f_star": f_star, "table": table, "ranks": ranks, "versus": versus, "tests": tests,
            "problems": problems, "optimizers": optimizers, "modes": modes, "runs": runs}


def markdown(res: dict[str, Any], budgets: list[int], meta: dict[str, Any]) -> str:
    lines = [f"Machine: {meta['machine']}. Command: `{meta['command']}` ({meta['wall_s']:.0f} s wall). {meta['reduced']}", ""]
    unknown = [p for p in res["problems"] if BY_NAME[p].f_star is None]
    if unknown:
        lines.append("f* of the real tasks is the best value any run found: "
                     + ", ".join(f"`{p}` {res['f_star'][p]:.6g}" for p in unknown) + ".")
    opts = [o for o in res["optimizers"] if ":" not in o]
    lines += ["", "### Mean rank of per-problem median regret (1 = best; the field only, ranked among the optimizers run on every "
              "problem of the mode; GP ablation variants are compared in their own table below)", ""]
    lines.append("| workers | budget | " + " | ".join(opts) + " |")
    lines.append("| --- | --- |" + " --- |" * len(opts))
    for w in res["modes"]:
        for b in budgets:
            r = res["ranks"].get(f"{w}|{b}", {})
            if r:
                best = min(r.values())
                lines.append(f"| {w} | {b} | " + " | ".join(
                    ("**%.2f**" if r[o] == best else "%.2f") % r[o] if o in r else "–" for o in opts) + " |")
    for o in [x for x in opts if x.startswith("tuneport-auto")] or []:
        lines += ["", f"### {o} against the best Optuna sampler per problem (one-sided Mann-Whitney U, p < 0.05)", ""]
        lines.append("| workers | budget | problems | significantly worse | significantly better | worse on |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for w in res["modes"]:
            for b in budgets:
                vs = [v for v in res["versus"] if v["optimizer"] == o and v["workers"] == w and v["budget"] == b]
                if not vs:
                    continue
                worse = [v for v in vs if v["p_worse"] < 0.05]
                better = [v for v in vs if v["p_better"] < 0.05]
                lines.append(f"| {w} | {b} | {len(vs)} | {len(worse)} | {len(better)} | "
                             + (", ".join(f"{v['problem']} (vs {v['peer']}, p = {v['p_worse']:.3g})" for v in worse) or "–") + " |")
    main_b = 100 if 100 in budgets else budgets[-1]
    # The main budget per mode, then the largest where a mode was run beyond it (200 trials sequentially).
    per_problem = [(w, main_b) for w in res["modes"]] + [
        (w, budgets[-1]) for w in res["modes"] if budgets[-1] > main_b and any(k.endswith(f"|{w}|{budgets[-1]}") for k in res["table"])]
    for w, b in per_problem:
        present = [o for o in opts if any(f"{p}|{o}|{w}|{b}" in res["table"] for p in res["problems"])]
        lines += ["", f"### Normalised regret at {b} trials, {w} worker{'s' if w > 1 else ''}: median (divided by optuna-random's median)", ""]
        lines.append("| problem | " + " | ".join(present) + " |")
        lines.append("| --- |" + " --- |" * len(present))
        for p in res["problems"]:
            cells = [res["table"].get(f"{p}|{o}|{w}|{b}") for o in present]
            vals = [c["median_regret"] for c in cells if c]
            lo = min(vals) if vals else None
            # Without optuna-random in the run set there is nothing to divide by: raw median regret, marked ʳ.
            lines.append(f"| {p} | " + " | ".join(
                "–" if c is None else ("**%s**" if c["median_regret"] == lo else "%s") % (
                    "%.3g" % c["median"] if math.isfinite(c["median"]) else "%.3gʳ" % c["median_regret"]) for c in cells) + " |")
    lines += ablation_md(res, budgets)
    lines += ["", "Raw runs: `bench/results/quality.json` (per-budget bests of every run; `meta.versus` holds every "
              "tuneport optimizer's test against the best Optuna sampler, `meta.wilcoxon` the paired like-for-like tests).", ""]
    return "\n".join(lines)


def ablation_md(res: dict[str, Any], budgets: list[int]) -> list[str]:
    """The GP ablations (each tuneport-gp:<label> against tuneport-gp) and, for the default's rules,
    tuneport's GP, TPE and CMA-ES side by side per problem with the problem's dimension and categorical share."""
    from scipy.stats import binomtest

    out: list[str] = []
    b = 100 if 100 in budgets else budgets[-1]
    variants = [o for o in res["optimizers"] if o.startswith("tuneport-gp:")]
    if variants:
        out += ["", f"### GP ablations at {b} trials: each variant against tuneport-gp (the defaults), per problem by median regret", "",
                "| variant | workers | problems | variant better | tuneport-gp better | ties | two-sided sign test p | "
                "median of per-problem regret ratios (variant / default) | better on | worse on |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for v in variants:
            for w in res["modes"]:
                cells = [(p, res["table"].get(f"{p}|{v}|{w}|{b}"), res["table"].get(f"{p}|tuneport-gp|{w}|{b}")) for p in res["problems"]]
                cells = [(p, x, y) for p, x, y in cells if x and y]
                if not cells:
                    continue
                better = [p for p, x, y in cells if x["median_regret"] < y["median_regret"]]
                worse = [p for p, x, y in cells if x["median_regret"] > y["median_regret"]]
                ratios = [x["median_regret"] / y["median_regret"] for p, x, y in cells if y["median_regret"] > 0]
                pv = binomtest(len(better), len(better) + len(worse)).pvalue if better or worse else 1.0
                out.append(f"| {v.split(':', 1)[1]} | {w} | {len(cells)} | {len(better)} | {len(worse)} | {len(cells) - len(better) - len(worse)} | "
                           f"{pv:.3g} | {float(np.median(ratios)) if ratios else float('nan'):.3g} | {', '.join(better) or '–'} | {', '.join(worse) or '–'} |")
    trio = ["tuneport-gp", "tuneport-tpe", "tuneport-cmaes"]
    for w in res["modes"]:
        rows = []
        for p in res["problems"]:
            cells = {o: res["table"].get(f"{p}|{o}|{w}|{b}") for o in trio}
            if not all(cells.values()):
                continue
            meta = BY_NAME[p]
            win = min(trio, key=lambda o: cells[o]["median_regret"])  # type: ignore[index]
            rows.append(f"| {p} | {meta.family} | {meta.dim} | {meta.cat_share:.2f} | "
                        + " | ".join(("**%.3g**" if o == win else "%.3g") % cells[o]["median"] for o in trio) + f" | {win} |")  # type: ignore[index]
        if rows:
            out += ["", f"### tuneport's GP, TPE and CMA-ES per problem ({w} worker{'s' if w > 1 else ''}, {b} trials; normalised median regret)", "",
                    "| problem | family | dim | categorical share | " + " | ".join(trio) + " | lowest |", "| --- | --- | --- | --- |" + " --- |" * 4, *rows]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=10, help="seeds of the sequential mode")
    ap.add_argument("--seed-from", type=int, default=0,
                    help="first seed (both modes): shards of one run on separate processes use disjoint seed ranges")
    ap.add_argument("--par-seeds", type=int, default=10, help="seeds of the parallel modes (workers > 1)")
    ap.add_argument("--workers", default="1,4,8")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--budgets", default="50,100,200")
    ap.add_argument("--cap", action="append", default=[], help="OPT=N: largest budget of optimizer OPT (repeatable)")
    ap.add_argument("--par-cap", type=int, default=0, help="largest budget of every optimizer in the parallel modes (0: none)")
    ap.add_argument("--problems", help="comma-separated subset of problems")
    ap.add_argument("--holdout", action="store_true",
                    help="run the held-out problems (suite.HOLDOUT) instead of the suite; writes bench/results/quality-holdout.json "
                         "unless --out says otherwise, and never the suite's tables in docs/BENCHMARKS.md")
    ap.add_argument("--optimizers", help="comma-separated optimizers (default: the whole field)")
    ap.add_argument("--merge", action="store_true", help="keep the run sets of --out that this invocation does not run")
    ap.add_argument("--merge-from", action="append", default=[],
                    help="with --merge: also keep the run sets of this quality.json (repeatable; later files win)")
    ap.add_argument("--merge-seeds", action="store_true",
                    help="with --merge: keep every seed of the earlier runs, the runs in --curves replacing the same "
                         "seeds (e.g. seeds 5-9 run now beside seeds 0-4 of an earlier run); only (problem, seed, workers) "
                         "cells that every optimizer has are analysed")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "quality.json"))
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--curves", default=str(ROOT / "bench" / "results" / "tmp" / "quality-curves.jsonl"),
                    help="every finished run's value sequence is appended here")
    ap.add_argument("--resume", action="store_true", help="keep the runs already in --curves instead of starting afresh")
    ap.add_argument("--analyse-only", action="store_true",
                    help="run nothing: analyse the finished runs in --curves (implies --resume), keeping only the "
                         "(problem, seed, workers) cells that every selected optimizer has finished")
    args = ap.parse_args()
    if args.holdout and args.out == ap.get_default("out"):
        args.out = str(ROOT / "bench" / "results" / "quality-holdout.json")
    if args.quick:
        budgets, seeds, par_seeds, modes = [20, 40], [0, 1], [0, 1], [1, 4]
        problems = ["rastrigin2", "mixed", "noisy-hartmann6"]
        optimizers = ["tuneport-random", "tuneport-tpe", "tuneport-gp", "tuneport-auto", "optuna-random", "optuna-tpe"]
        caps: dict[str, int] = {}
    else:
        budgets = [int(b) for b in args.budgets.split(",")]
        seeds = list(range(args.seed_from, args.seed_from + args.seeds))
        par_seeds = list(range(args.seed_from, args.seed_from + args.par_seeds))
        modes = [int(w) for w in args.workers.split(",")]
        problems = args.problems.split(",") if args.problems else [p.name for p in (HOLDOUT if args.holdout else PROBLEMS)]
        optimizers = args.optimizers.split(",") if args.optimizers else FIELD
        bad = [o for o in optimizers if not known(o)] + [p for p in problems if p not in BY_NAME]
        if bad:
            ap.error(f"unknown optimizers or problems {bad}")
        caps = {k: int(v) for k, v in (c.split("=") for c in args.cap)}
    kept: dict[Key, dict[int, float]] = {}
    merged_meta: dict[str, Any] | None = None
    running = {(p, o, w) for p in problems for o in optimizers for w in modes}
    sources = ([args.out] if os.path.exists(args.out) else []) + args.merge_from if args.merge else []
    for path in sources:
        with open(path) as fh:
            old = json.load(fh)
        merged_meta = merged_meta or old["meta"]
        fresh: dict[Key, dict[int, float]] = {}
        for r in old["runs"]:
            w = int(r.get("workers", 1))
            # With --merge-seeds every earlier seed is kept; the runs of this invocation replace the same seeds.
            if (r["problem"], r["optimizer"], w) not in running or args.merge_seeds:
                fresh.setdefault((r["problem"], r["optimizer"], r["seed"], w), {})[r["budget"]] = r["best"]
        # A later file replaces whole run sets (problem, optimizer, workers) of an earlier one
        # (with --merge-seeds, single seeds).
        if args.merge_seeds:
            kept.update(fresh)
        else:
            sets = {(k[0], k[1], k[3]) for k in fresh}
            kept = {k: v for k, v in kept.items() if (k[0], k[1], k[3]) not in sets}
            kept.update(fresh)
    t0 = time.perf_counter()
    tasks = []
    for w in modes:
        for p in problems:
            for o in optimizers:
                prob = BY_NAME[p]
                n = min(max(budgets), caps.get(o, max(budgets)), prob.max_budget)
                if w > 1 and args.par_cap:
                    n = min(n, args.par_cap)
                for s in (seeds if w == 1 else par_seeds):
                    tasks.append((p, o, s, n, w))
    # Seed-major order: every seed is finished for the whole field before the next starts, so a run
    # stopped early (2 shared cores) still holds complete, comparable seeds; slow runs first within one.
    slow = lambda o: o.endswith("-gp") or ":" in o or o.endswith("-auto")  # noqa: E731
    tasks.sort(key=lambda t: (t[4], t[2], not slow(t[1]), -len(BY_NAME[t[0]].space), t[0]))
    curves: dict[Key, tuple[list[float], list[float]]] = {}
    secs: dict[str, float] = {}
    if not args.quick:
        os.makedirs(os.path.dirname(args.curves), exist_ok=True)
        if not args.resume and not args.analyse_only and os.path.exists(args.curves):
            os.remove(args.curves)
        if os.path.exists(args.curves):
            with open(args.curves) as fh:
                for line in fh:
                    r = json.loads(line)
                    curves[(r["problem"], r["optimizer"], r["seed"], r.get("workers", 1))] = (r["observed"], r["true"])
    todo = [t for t in tasks if len(curves.get((t[0], t[1], t[2], t[4]), ([], []))[0]) < t[3]]
    if args.analyse_only:
        done = {(t[0], t[1], t[2], t[4]) for t in tasks} - {(t[0], t[1], t[2], t[4]) for t in todo}
        cells = {(k[0], k[2], k[3]) for k in done}
        full = {c for c in cells if all((c[0], o, c[1], c[2]) in done for o in optimizers)}
        tasks = [t for t in tasks if (t[0], t[2], t[4]) in full]
        todo = []
    with Server() if todo else contextlib.nullcontext() as server:  # type: ignore[attr-defined]
        ctx = mp.get_context("fork")
        with ctx.Pool(args.jobs) as pool:
            endpoint = server.endpoint if server is not None else ""
            for i, (p, o, s, w, obs, true, dt) in enumerate(pool.imap_unordered(run_one, [t + (endpoint,) for t in todo])):
                curves[(p, o, s, w)] = (obs, true)
                secs[o] = secs.get(o, 0.0) + dt
                if not args.quick:
                    with open(args.curves, "a") as fh:
                        fh.write(json.dumps({"problem": p, "optimizer": o, "seed": s, "workers": w, "observed": obs,
                                             "true": true, "seconds": dt}) + "\n")
                    if i % 20 == 0:
                        print(f"[{time.perf_counter() - t0:6.0f} s] {i + 1}/{len(todo)} {p} {o} w={w} seed {s}: "
                              f"best {min(true):.5g} ({dt:.1f} s)", flush=True)
    wall = time.perf_counter() - t0
    wanted = {(t[0], t[1], t[2], t[4]) for t in tasks}
    bests = dict(kept)
    for k, (obs, true) in curves.items():
        if k in wanted:
            bests[k] = bests_of(obs, true, budgets)
    if args.merge_seeds:
        # Old seeds beside new ones: keep the (problem, seed, workers) cells every optimizer has.
        field = {k[1] for k in bests}
        have: dict[tuple[str, int, int], set[str]] = {}
        for k in bests:
            have.setdefault((k[0], k[2], k[3]), set()).add(k[1])
        bests = {k: v for k, v in bests.items() if have[(k[0], k[2], k[3])] == field}
        seeds = sorted({k[2] for k in bests if k[3] == 1})
        par_seeds = sorted({k[2] for k in bests if k[3] > 1})
    res = analyse(bests, budgets)
    cut = []
    if not args.quick:
        if budgets != [50, 100, 200]:
            cut.append(f"budgets {budgets}")
        for o, c in sorted(caps.items()):
            cut.append(f"{o} ran {c} trials per run")
        for q in KNOWN:
            if q.name in problems and q.max_budget < max(budgets):
                cut.append(f"{q.name} ran {q.max_budget} trials per run (an evaluation costs ≈ 0.2 s CPU)")
        if args.par_cap:
            cut.append(f"parallel modes ran {args.par_cap} trials per run")
        if 1 in modes and len(seeds) != 10:
            cut.append(f"{len(seeds)} seeds sequentially")
        if any(w > 1 for w in modes) and len(par_seeds) != 10:
            cut.append(f"{len(par_seeds)} seeds with workers > 1")
    if args.analyse_only or args.merge_seeds:
        per_mode = ({w: sorted({(k[0], k[2]) for k in bests if k[3] == w}) for w in sorted({k[3] for k in bests})} if args.merge_seeds
                    else {w: sorted({(t[0], t[2]) for t in tasks if t[4] == w}) for w in modes})
        def cells_text(c: list[tuple[str, int]]) -> str:
            per_problem = [sum(1 for q in c if q[0] == p) for p in {q[0] for q in c}]
            return f"seeds per problem: {min(per_problem, default=0)}–{max(per_problem, default=0)}, {len({q[0] for q in c})} problems"

        def budgets_text(w: int, c: list[tuple[str, int]]) -> str:
            # Budgets that not every cell of the mode reached (a mode run to 100 beside one run to 200).
            out = []
            for b in budgets:
                cb = sorted({(k[0], k[2]) for k, v in bests.items() if k[3] == w and b in v})
                if cb != c:
                    out.append(f"; {b} trials: " + (cells_text(cb) if cb else "not run"))
            return "".join(out)

        cut.append("a partial run, analysed where every optimizer finished: " + ", ".join(
            f"{len(c)} (problem, seed) cells with {w} worker{'s' if w > 1 else ''} ({cells_text(c)}{budgets_text(w, c)})"
            for w, c in per_mode.items()))
    reduced = ("Reduced to fit 2 shared cores: " + "; ".join(cut) + ".") if cut else ""
    cmd = "python bench/quality.py" + (" --quick" if args.quick else "")
    if args.analyse_only:
        cmd += " --analyse-only"
    if not args.quick:
        for flag, val, default in [("--seeds", args.seeds, 10), ("--par-seeds", args.par_seeds, 10), ("--workers", args.workers, "1,4,8"),
                                   ("--budgets", args.budgets, "50,100,200"), ("--par-cap", args.par_cap, 0),
                                   ("--problems", args.problems, None), ("--optimizers", args.optimizers, None)]:
            if val != default:
                cmd += f" {flag} {val}"
        cmd += f" --seed-from {args.seed_from}" if args.seed_from else ""
        cmd += "".join(f" --cap {c}" for c in args.cap) + (" --merge" if args.merge else "") + (" --merge-seeds" if args.merge_seeds else "")
        cmd += "".join(f" --merge-from {m}" for m in args.merge_from)
    earlier = earlier_commands(merged_meta) if merged_meta is not None and kept else []
    if earlier:
        reduced += (f" Run sets not in this command are kept from earlier runs ({len(earlier)} earlier "
                    f"command{'s' if len(earlier) > 1 else ''}, in the results file's `meta.earlier_commands`; "
                    f"the latest: `{earlier[-1]}`).")
    meta = {"machine": machine(), "budgets": budgets, "seeds": seeds, "par_seeds": par_seeds, "workers": modes, "wall_s": wall,
            "quick": args.quick, "command": cmd, "earlier_commands": earlier, "reduced": reduced.strip(), "f_star": res["f_star"], "mean_rank": res["ranks"],
            "optimizer_seconds": secs, "versus": res["versus"], "wilcoxon": res["tests"], "normalised_regret": res["table"],
            "problems": {p.name: {"family": p.family, "dim": p.dim, "cat_share": p.cat_share} for p in KNOWN}}
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump({"meta": meta, "runs": res["runs"]}, fh, indent=1)
        fh.write("\n")
    md = markdown(res, budgets, meta)
    print(md)
    if not args.quick and not args.no_docs and not args.holdout:
        update_benchmarks_md("quality", "## Optimisation quality (`make bench-quality`)\n\n" + md)
    print(f"wrote {args.out} in {wall:.0f} s")


if __name__ == "__main__":
    main()
