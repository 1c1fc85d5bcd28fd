"""Tables, tests, plots and the docs/BENCHMARKS.md section of bench/multifidelity.py, from its raw rows.

    python bench/multifidelity.py --render bench/results/multifidelity.json
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from common import ROOT, update_benchmarks_md

Point = dict[str, Any]

CURVES = ["learning-curve", "crossing", "slow-start", "diverge"]
MAIN = ["tuneport-asha", "tuneport-asha-promotion", "tuneport-hyperband", "tuneport-sha", "tuneport-median", "tuneport-bohb",
        "optuna-sha", "optuna-hyperband", "optuna-median", "random-full"]
ABLATION_GROUPS = [
    ("ASHA (stopping)", ["tuneport-asha", "tuneport-asha-gp", "tuneport-asha-min3", "tuneport-asha-min1", "tuneport-asha-gp-min1",
                         "tuneport-asha-tpe", "tuneport-asha-tpe-min1", "tuneport-asha-random", "tuneport-asha-gp-level",
                         "tuneport-asha-gp-common", "tuneport-asha-gp-observed", "tuneport-asha-eta4", "tuneport-asha-blend"]),
    ("median", ["tuneport-median", "tuneport-median-gp", "tuneport-median-tpe", "tuneport-median-blend"]),
    ("ASHA (promotion)", ["tuneport-asha-promotion", "tuneport-promotion-min1", "tuneport-promotion-gp-min1", "tuneport-promotion-gp",
                          "tuneport-promotion-tpe", "tuneport-promotion-blend"]),
]
ASYNC = ["tuneport-asha", "tuneport-hyperband", "hyperband-sync", "random-full"]
PAIRS = [("tuneport-asha", "optuna-sha"), ("tuneport-hyperband", "optuna-hyperband"), ("tuneport-median", "optuna-median"),
         ("tuneport-asha", "optuna-hyperband"), ("tuneport-asha", "optuna-median")]


def q(xs: list[float], p: float) -> float:
    """Quantile with linear interpolation that keeps ∞ (a run with no value yet) instead of NaN."""
    if not xs:
        return math.nan
    v = sorted(xs)
    k = (len(v) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    if v[lo] == v[hi] or not (math.isfinite(v[lo]) and math.isfinite(v[hi])):
        return v[hi] if k > lo else v[lo]
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def best_at(points: list[Point], budget: float, key: str = "steps") -> float:
    b = math.inf
    for p in points:
        if p[key] <= budget and p["best"] is not None:
            b = min(b, p["best"])
    return b


def first_reach(points: list[Point], target: float, key: str = "steps") -> float:
    for p in points:
        if p["best"] is not None and p["best"] <= target:
            return float(p[key])
    return math.inf


def by_run(points: list[Point]) -> dict[tuple[str, int], list[Point]]:
    out: dict[tuple[str, int], list[Point]] = {}
    for p in points:
        out.setdefault((p["optimizer"], p["seed"]), []).append(p)
    return out


def fmt(v: float, digits: int = 3) -> str:
    return "—" if not math.isfinite(v) else f"{v:.{digits}f}"


def mi(xs: list[float], digits: int = 3) -> str:
    """median [q1, q3]"""
    return f"{fmt(q(xs, 0.5), digits)} [{fmt(q(xs, 0.25), digits)}, {fmt(q(xs, 0.75), digits)}]"


def reach_cell(xs: list[float]) -> str:
    n_ok = sum(math.isfinite(x) for x in xs)
    med = q(xs, 0.5)
    return f"{fmt(med, 0) if math.isfinite(med) else 'not reached'} ({n_ok}/{len(xs)})"


def fmt_p(p: float) -> str:
    return "—" if not math.isfinite(p) else (f"{p:.2g}" if p >= 0.001 else f"{p:.1e}")


class Problem:
    """The runs of one problem: per optimizer and seed, the anytime curve."""

    def __init__(self, name: str, points: list[Point], total: float, key: str = "steps") -> None:
        self.name, self.total, self.key = name, total, key
        self.runs = by_run([p for p in points if p["problem"] == name])
        self.optimizers = list(dict.fromkeys(o for o, _ in self.runs))
        rand = [best_at(v, total, key) for (o, _), v in self.runs.items() if o == "random-full"]
        self.target = q(rand, 0.5)

    def seeds(self, o: str) -> list[int]:
        return sorted(s for oo, s in self.runs if oo == o)

    def final(self, o: str) -> dict[int, float]:
        return {s: best_at(self.runs[(o, s)], self.total, self.key) for s in self.seeds(o)}

    def at(self, o: str, budget: float) -> list[float]:
        return [best_at(self.runs[(o, s)], budget, self.key) for s in self.seeds(o)]

    def reach(self, o: str) -> list[float]:
        return [first_reach(self.runs[(o, s)], self.target, self.key) for s in self.seeds(o)]


def paired(a: dict[int, float], b: dict[int, float]) -> tuple[int, int, int, float]:
    """Wins of a (lower), losses, ties over common seeds, and the two-sided Wilcoxon signed-rank p."""
    from scipy.stats import wilcoxon

    seeds = sorted(set(a) & set(b))
    x = np.array([a[s] for s in seeds], dtype=float)
    y = np.array([b[s] for s in seeds], dtype=float)
    big = np.nanmax(np.abs(np.concatenate([x[np.isfinite(x)], y[np.isfinite(y)], [1.0]]))) * 10
    x, y = np.where(np.isfinite(x), x, big), np.where(np.isfinite(y), y, big)
    wins, losses = int(np.sum(x < y)), int(np.sum(x > y))
    ties = len(seeds) - wins - losses
    p = float(wilcoxon(x, y).pvalue) if wins + losses > 0 else math.nan
    return wins, losses, ties, p


def sign_p(wins: int, losses: int) -> float:
    """One-sided binomial (sign test) p that wins ≤ losses, ties dropped."""
    from scipy.stats import binomtest

    return float(binomtest(wins, wins + losses, 0.5, alternative="greater").pvalue) if wins + losses > 0 else math.nan


def problem_table(p: Problem, optimizers: list[str], budgets: list[float], unit: str, repeats: dict[tuple[str, str], list[int]]) -> str:
    head = ("| optimizer | " + " | ".join(f"best @ {b:g} {unit}" for b in budgets) +
            f" | {unit} to reach random-full's final median ({fmt(p.target)}) | repeated configurations per run |")
    lines = [head, "|" + " --- |" * (len(budgets) + 3)]
    for o in [o for o in optimizers if o in p.optimizers]:
        rep = repeats.get((p.name, o))
        rep_cell = "—" if not rep else f"{int(np.median(rep))} (max {max(rep)})"
        lines.append(f"| {o} | " + " | ".join(mi(p.at(o, b)) for b in budgets) + f" | {reach_cell(p.reach(o))} | {rep_cell} |")
    return "\n".join(lines)


def plot(problem: Problem, optimizers: list[str], title: str, path: str, xlabel: str, logx: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "tuneport"
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    xmax = max(p[problem.key] for v in problem.runs.values() for p in v)
    grid = np.geomspace(max(1.0, xmax / 300), xmax, 120) if logx else np.linspace(0, xmax, 120)
    for o in [o for o in optimizers if o in problem.optimizers]:
        curves = [[best_at(problem.runs[(o, s)], g, problem.key) for g in grid] for s in problem.seeds(o)]
        med, lo, hi = (np.array([q([c[i] for c in curves], pp) for i in range(len(grid))]) for pp in (0.5, 0.25, 0.75))
        ok = np.isfinite(med)
        style = "--" if o.startswith("optuna") else (":" if o in ("random-full", "hyperband-sync") else "-")
        line, = ax.plot(grid[ok], med[ok], style, label=o, lw=1.6)
        band = np.isfinite(lo) & np.isfinite(hi)
        ax.fill_between(grid[band], lo[band], hi[band], color=line.get_color(), alpha=0.10, lw=0)
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("best loss so far (median, IQR band)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


def render(points: list[Point], meta: dict[str, Any]) -> None:
    docs = ROOT / "docs"
    repeats: dict[tuple[str, str], list[int]] = {}
    for s in meta.get("run_stats", []):
        repeats.setdefault((s["problem"], s["optimizer"]), []).append(int(s["repeats"]))
    curves = [Problem(n, points, meta["budgets"][n]["total_steps"]) for n in CURVES if any(p["problem"] == n for p in points)]
    total = curves[0].total if curves else 81 * 60
    R = 81
    sections: list[str] = []
    for p in curves:
        n_seeds = meta["seeds"].get(p.name, "?")
        sections.append(f"### {p.name}, R = {R} steps, {total:g} steps per run, {n_seeds} seeds\n\n"
                        + problem_table(p, MAIN, [R * 5, R * 12, R * 30, total], "steps", repeats)
                        + f"\n\n![{p.name}](multifidelity-{p.name}.svg)")
        plot(p, MAIN, f"{p.name}, R = {R}, {n_seeds} seeds", str(docs / f"multifidelity-{p.name}.svg"), "cumulative training steps", True)
    digits_md = ""
    if any(pt["problem"] == "digits" for pt in points):
        d_total = meta["budgets"]["digits"]["total_epochs"]
        dr = meta["budgets"]["digits"]["R"]
        dg = Problem("digits", points, d_total)
        digits_md = (f"### digits MLP (PyTorch, CPU), R = {dr} epochs, {d_total} epochs per run, {meta['seeds']['digits']} seeds\n\n"
                     + problem_table(dg, MAIN, [dr * 2, dr * 4, dr * 10, d_total], "epochs", repeats)
                     + "\n\n![digits](multifidelity-digits.svg)")
        plot(dg, MAIN, f"digits MLP, R = {dr} epochs", str(docs / "multifidelity-digits.svg"), "cumulative training epochs", True)
    async_md = ""
    if any(pt["problem"] == "learning-curve-async8" for pt in points):
        horizon = meta["budgets"]["learning-curve-async8"]["horizon"]
        asy = Problem("learning-curve-async8", points, horizon, "time")
        async_md = ("### 8 asynchronous workers (learning-curve, simulated time, horizon "
                    f"{horizon:g})\n\nOne step of configuration x takes c(x) = 1 + x3 simulated seconds; the reports of 8 workers "
                    "reach the server in simulated-time order. hyperband-sync is the paper's Algorithm 1 with random configurations, "
                    "survivors resuming, and a barrier after every rung. Columns are simulated seconds.\n\n"
                    + problem_table(asy, ASYNC, [horizon / 8, horizon / 4, horizon / 2, horizon], "s", repeats)
                    + "\n\n![async](multifidelity-async8.svg)")
        plot(asy, ASYNC, "learning-curve, 8 asynchronous workers", str(docs / "multifidelity-async8.svg"),
             "simulated time (one step of x costs 1 + x3)", False)
    md = "\n\n".join([header(meta), goals(curves, points, meta), *sections, ablations(curves), digits_md, async_md])
    update_benchmarks_md("multifidelity", md)
    print("updated docs/BENCHMARKS.md")


def header(meta: dict[str, Any]) -> str:
    return f"""## Multi-fidelity and pruning (`make bench-multifidelity`)

Command: `make bench-multifidelity` (= `nice -n 10 .venv/bin/python bench/multifidelity.py`), {meta['machine']},
{meta['total_wall_s']} s of wall time in all (runs made in parts with `--problems … --optimizers … --merge` add up).
Raw anytime curves: `bench/results/multifidelity.json` (one row per improvement of a run's best, plus its last point;
`meta.run_stats` has each tuneport run's trial counts and repeated configurations). Problems are described in
`bench/mf_problems.py`. `best` is a loss (lower is better): the noise-free loss at R of the best configuration trained
to R so far (digits: its validation cross-entropy at epoch R). A step is one unit of training; a stopped trial costs the
steps it trained, a promoted one only its new steps. Cells: median [IQR] over seeds; "to reach": median over seeds of the
first step at which the run's best is at most random-full's final median (never: ∞; in brackets the seeds that reached it).
Every tuneport row except the ablations names **no strategy** (the server's default) and creates its study with the
study's budget `max_resource = R`; schedulers keep their defaults (η = 3; min_resource R/η² for asha, 1 for Hyperband and BOHB; median: Optuna's). Optuna 5.0
runs in process: `TPESampler(seed)` with `SuccessiveHalvingPruner()`, `HyperbandPruner(min_resource=1, max_resource=R)`
or `MedianPruner()`. random-full samples uniformly and trains every configuration to R. "repeated configurations":
trials whose params equal an earlier trial's (a promotion's continuation excepted)."""


def goals(curves: list[Problem], points: list[Point], meta: dict[str, Any]) -> str:
    lines = ["### Where the goals stand", ""]
    if not curves:
        return "\n".join(lines)
    third = curves[0].total / 3
    cells = []
    for p in curves:
        r = q(p.reach("tuneport-asha"), 0.5) if "tuneport-asha" in p.optimizers else math.inf
        cells.append(f"{p.name} {fmt(r, 0) if math.isfinite(r) else 'not reached'} ({'met' if r <= third else 'missed'})")
    lines.append(f"- **Default + ASHA reaches random-full's final median within 1/3 of its steps (≤ {third:g})** on every "
                 "learning-curve problem: " + ", ".join(cells) + ".")
    problems = curves + ([Problem("digits", points, meta["budgets"]["digits"]["total_epochs"])]
                         if any(pt["problem"] == "digits" for pt in points) else [])
    lines += ["", "Pooled paired comparisons at the full step budget (per problem and seed; lower final best wins; "
              "one-sided sign test on the pooled wins, two-sided Wilcoxon signed-rank per problem):", "",
              "| tuneport (default strategy) | Optuna TPE + | pooled wins–losses–ties | sign test p | "
              + " | ".join(f"{p.name} W–L (p)" for p in problems) + " |",
              "|" + " --- |" * (4 + len(problems))]
    for a, b in PAIRS:
        tot = [0, 0, 0]
        per = []
        for p in problems:
            if a not in p.optimizers or b not in p.optimizers:
                per.append("—")
                continue
            w, l_, t, pv = paired(p.final(a), p.final(b))
            tot = [tot[0] + w, tot[1] + l_, tot[2] + t]
            per.append(f"{w}–{l_} ({fmt_p(pv)})")
        lines.append(f"| {a} | {b.removeprefix('optuna-')} | {tot[0]}–{tot[1]}–{tot[2]} | {fmt_p(sign_p(tot[0], tot[1]))} | "
                     + " | ".join(per) + " |")
    return "\n".join(lines)


def ablations(curves: list[Problem]) -> str:
    if not curves:
        return ""
    out = ["### Which strategy under a scheduler (ablations; the default row first)", "",
           "Final best at the full step budget, median [IQR], and steps to reach random-full's final median; "
           "W–L against the group's first row (two-sided Wilcoxon p).", ""]
    for title, rows in ABLATION_GROUPS:
        out += [f"**{title}**", "", "| optimizer | " + " | ".join(p.name for p in curves) + " | pooled W–L vs first |",
                "|" + " --- |" * (len(curves) + 2)]
        for o in rows:
            cells = []
            tw = tl = 0
            for p in curves:
                if o not in p.optimizers:
                    cells.append("—")
                    continue
                fin = list(p.final(o).values())
                cell = f"{fmt(q(fin, 0.5))} [{fmt(q(fin, 0.25))}, {fmt(q(fin, 0.75))}], reach {reach_cell(p.reach(o))}"
                if o != rows[0] and rows[0] in p.optimizers:
                    w, l_, _, pv = paired(p.final(o), p.final(rows[0]))
                    tw, tl = tw + w, tl + l_
                    cell += f"; {w}–{l_} (p {fmt_p(pv)})"
                cells.append(cell)
            out.append(f"| {o} | " + " | ".join(cells) + f" | {'—' if o == rows[0] else f'{tw}–{tl}'} |")
        out.append("")
    return "\n".join(out)
