"""Multi-objective benchmark (issue 15): tuneport's multi-objective strategies against Optuna 5.0's
samplers in the same run, on ZDT1-3 (d = 10), DTLZ2 (3 objectives, d = 7), Binh-Korn (two
constraints), four more classic problems with known fronts (Chankong-Haimes and Tanaka: d = 2,
two constraints each; Fonseca-Fleming: d = 3; Osyczka-Kravanis: d = 6, six constraints; see their
functions) and a real task, `digits_mlp` (a PyTorch MLP on scikit-learn's digits: validation
error against log10 of the parameter count). Writes rows {problem, optimizer, seed, budget,
hypervolume, hv_max} to bench/results/multiobjective.json (plus `ask_s`: the median time of the
run's last 10 asks, the suggestion time per trial at n = budget), each run's feasible front to
bench/results/multiobjective-fronts.json, and prints a median/IQR table with two-sided Wilcoxon
rank-sum (Mann-Whitney U) tests against tuneport-auto: seeds are not paired (each optimizer draws
its own random stream), so the signed-rank test does not apply. `--plot DIR` draws the fronts of
the median-hypervolume seed of each optimizer, one PNG per problem and budget.

    nice -n 19 .venv/bin/python bench/multiobjective.py                # reduced: 3 seeds, budget 100
    nice -n 19 .venv/bin/python bench/multiobjective.py --seeds 10 --budgets 100,200 --gp \
        --tuneport auto,tpe,nsga2,parego,random                                     # the issue's size
    nice -n 19 .venv/bin/python bench/multiobjective.py --problems digits_mlp --seeds 10 --merge \
        --plot docs/img                                  # one problem, merged into the results file
    nice -n 19 .venv/bin/python bench/multiobjective.py --speed-at 200 --problems zdt1 --seeds 3 --optuna gp
                                                  # GPSampler's suggestion time at n = 200 only

The hypervolume of every run is measured at one fixed reference point per problem (below), on the
feasible trials' front; hv_max is the hypervolume of the true front at that point (dense sampling
of the analytic front: Tanaka's is the non-dominated part of its two constraint boundaries,
Osyczka-Kravanis' Deb's five segments), null where it is not computed (digits_mlp).
`--check-fronts N` compares each two-objective analytic front with N uniformly random feasible
points (none may add hypervolume). Reference points of the added problems: just beyond each
front's nadir (Chankong-Haimes [230, 0], Tanaka [1.2, 1.2], Fonseca-Fleming [1.1, 1.1],
Osyczka-Kravanis [-30, 80]). Optuna's samplers
run as their users run them: NSGAIISampler() defaults, TPESampler(multivariate=True),
RandomSampler(), and GPSampler() with --gp (slow on 2 cores: --gp-seeds and --gp-max-budget cap
its runs).

digits_mlp: layers in 1..3, width in 4..256 (log), Adam learning rate in 1e-3..3e-2 (log); 4
epochs of mini-batch training (batch 64) on a fixed stratified 75/25 split, torch seeded with 0
and one thread, so the objective is a deterministic function of the parameters (about 0.1-0.3 s
per evaluation on one core). Objectives, both minimised: validation error, and log10 of the
parameter count (a width-4 one-layer net has 310 parameters, the largest 150,794). Reference
point [1.0, 5.2]: an error of 1 and just above log10(150,794) = 5.18, so every evaluated network
counts. hv_max is null (the true front is unknown).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-client" / "src"))

import numpy as np  # noqa: E402
import optuna  # noqa: E402
from common import RESULTS, Server  # noqa: E402

import tuneport as tp  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.WARNING)

Evaluate = Callable[[list[float]], tuple[list[float], list[float] | None]]


def zdt(kind: int, d: int = 10) -> Evaluate:
    def f(x: list[float]) -> tuple[list[float], list[float] | None]:
        f1 = x[0]
        g = 1 + 9 * sum(x[1:]) / (d - 1)
        if kind == 1:
            h = 1 - math.sqrt(f1 / g)
        elif kind == 2:
            h = 1 - (f1 / g) ** 2
        else:
            h = 1 - math.sqrt(f1 / g) - (f1 / g) * math.sin(10 * math.pi * f1)
        return [f1, g * h], None

    return f


def zdt4(x: list[float]) -> tuple[list[float], list[float] | None]:
    """ZDT4 (Zitzler, Deb & Thiele 2000), d = 10: x1 in [0, 1], the rest in [-5, 5]; g is Rastrigin's
    function, 21^9 local fronts; the Pareto front is ZDT1's (g = 1 at x2.. = 0)."""
    f1 = x[0]
    g = 1 + 10 * (len(x) - 1) + sum(xi * xi - 10 * math.cos(4 * math.pi * xi) for xi in x[1:])
    return [f1, g * (1 - math.sqrt(f1 / g))], None


def zdt6(x: list[float]) -> tuple[list[float], list[float] | None]:
    """ZDT6, d = 10 on [0, 1]^d: a non-uniform front (f1 = 1 - exp(-4 x1) sin^6(6 pi x1)) whose solutions
    are sparse near f1 = 1; the front is f2 = 1 - f1^2 for f1 in [0.2808, 1]."""
    f1 = 1 - math.exp(-4 * x[0]) * math.sin(6 * math.pi * x[0]) ** 6
    g = 1 + 9 * (sum(x[1:]) / (len(x) - 1)) ** 0.25
    return [f1, g * (1 - (f1 / g) ** 2)], None


def dtlz1(x: list[float]) -> tuple[list[float], list[float] | None]:
    """DTLZ1 (Deb et al. 2005), 3 objectives, d = 7 on [0, 1]^d: a linear front (sum f = 0.5) behind
    11^5 - 1 local fronts (a Rastrigin-like g)."""
    g = 100 * (len(x) - 2 + sum((xi - 0.5) ** 2 - math.cos(20 * math.pi * (xi - 0.5)) for xi in x[2:]))
    h = 0.5 * (1 + g)
    return [h * x[0] * x[1], h * x[0] * (1 - x[1]), h * (1 - x[0])], None


def dtlz7(x: list[float]) -> tuple[list[float], list[float] | None]:
    """DTLZ7, 3 objectives, d = 7 on [0, 1]^d: four disconnected front regions."""
    g = 1 + 9 * sum(x[2:]) / (len(x) - 2)
    h = 3 - sum(xi / (1 + g) * (1 + math.sin(3 * math.pi * xi)) for xi in x[:2])
    return [x[0], x[1], (1 + g) * h], None


def dtlz2_m(m: int) -> Evaluate:
    """DTLZ2 with m objectives, d = m + 4 on [0, 1]^d: the front is the unit sphere's positive orthant."""

    def f(x: list[float]) -> tuple[list[float], list[float] | None]:
        g = sum((xi - 0.5) ** 2 for xi in x[m - 1:])
        out = []
        for i in range(m):
            v = 1 + g
            for xj in x[: m - 1 - i]:
                v *= math.cos(xj * math.pi / 2)
            if i > 0:
                v *= math.sin(x[m - 1 - i] * math.pi / 2)
            out.append(v)
        return out, None

    return f


def dtlz2(x: list[float]) -> tuple[list[float], list[float] | None]:
    g = sum((xi - 0.5) ** 2 for xi in x[2:])
    a, b = x[0] * math.pi / 2, x[1] * math.pi / 2
    return [(1 + g) * math.cos(a) * math.cos(b), (1 + g) * math.cos(a) * math.sin(b), (1 + g) * math.sin(a)], None


def binh_korn(x: list[float]) -> tuple[list[float], list[float] | None]:
    u, v = 5 * x[0], 3 * x[1]
    f = [4 * u * u + 4 * v * v, (u - 5) ** 2 + (v - 5) ** 2]
    c = [(u - 5) ** 2 + v * v - 25, 7.7 - (u - 8) ** 2 - (v + 3) ** 2]
    return f, c


def chankong_haimes(x: list[float]) -> tuple[list[float], list[float] | None]:
    """Chankong & Haimes 1983 (SRN in Deb 2001, §14.1.1): x, y in [-20, 20]; Pareto set x = -2.5,
    y in [2.5, 14.79], extended at both ends along the constraint boundaries (true_front)."""
    a, b = x
    return [2 + (a - 2) ** 2 + (b - 1) ** 2, 9 * a - (b - 1) ** 2], [a * a + b * b - 225, a - 3 * b + 10]


def tanaka(x: list[float]) -> tuple[list[float], list[float] | None]:
    """Tanaka et al. 1995 (TNK in Deb 2001, §14.1.1): f = x in [0, pi]^2, feasible outside the wavy
    circle x1^2 + x2^2 = 1 + 0.1 cos(16 atan(x1 / x2)) and inside the disc of radius sqrt(0.5) at
    (0.5, 0.5); the front is that circle's non-dominated, disconnected arcs."""
    a, b = x
    return [a, b], [1 + 0.1 * math.cos(16 * math.atan2(a, b)) - a * a - b * b, (a - 0.5) ** 2 + (b - 0.5) ** 2 - 0.5]


def fonseca_fleming(x: list[float]) -> tuple[list[float], list[float] | None]:
    """Fonseca & Fleming 1995, n = 3, x in [-4, 4]^3; Pareto set x1 = x2 = x3 in [-1/sqrt(3), 1/sqrt(3)]."""
    s = 1 / math.sqrt(len(x))
    return [1 - math.exp(-sum((xi - s) ** 2 for xi in x)), 1 - math.exp(-sum((xi + s) ** 2 for xi in x))], None


def osyczka_kravanis(x: list[float]) -> tuple[list[float], list[float] | None]:
    """Osyczka & Kravanis 1995 (OSY in Deb 2001, §14.1.1): 6 variables, 6 constraints; the Pareto set is
    five line segments (true_front)."""
    x1, x2, x3, x4, x5, x6 = x
    f1 = -(25 * (x1 - 2) ** 2 + (x2 - 2) ** 2 + (x3 - 1) ** 2 + (x4 - 4) ** 2 + (x5 - 1) ** 2)
    f2 = x1 * x1 + x2 * x2 + x3 * x3 + x4 * x4 + x5 * x5 + x6 * x6
    c = [2 - x1 - x2, x1 + x2 - 6, x2 - x1 - 2, x1 - 3 * x2 - 2, (x3 - 3) ** 2 + x4 - 4, 4 - (x5 - 3) ** 2 - x6]
    return [f1, f2], c


def osy_point(x1: float, x2: float, x3: float, x5: float) -> list[float]:
    """OSY's objectives at x4 = x6 = 0, where its Pareto set lies."""
    return osyczka_kravanis([x1, x2, x3, 0.0, x5, 0.0])[0]


#: digits_mlp's training set-up (see the module docstring).
DIGITS_EPOCHS = 4
_digits_data: Any = None


def digits_mlp(x: list[float]) -> tuple[list[float], list[float] | None]:
    import torch  # only this problem needs torch

    global _digits_data
    torch.set_num_threads(1)
    if _digits_data is None:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
        from _digits import load_digits_tensors

        _digits_data = load_digits_tensors()
    from _digits import train_epoch
    from multiobjective_digits import build_model  # the example's network: the same task

    layers, width, lr = int(x[0]), int(x[1]), float(x[2])
    torch.manual_seed(0)
    model = build_model(layers, width)
    size = sum(p.numel() for p in model.parameters())
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(0)
    for _ in range(DIGITS_EPOCHS):
        train_epoch(model, opt, _digits_data, generator=gen)
    _, _, x_va, y_va = _digits_data
    with torch.no_grad():
        error = 1.0 - float((model(x_va).argmax(1) == y_va).float().mean().item())
    return [error, math.log10(size)], None


#: A parameter: (kind "float" | "int", low, high, log). Problems not listed here search [0, 1]^d.
Param = tuple[str, float, float, bool]
SPACES: dict[str, list[Param]] = {
    "digits_mlp": [("int", 1, 3, False), ("int", 4, 256, True), ("float", 1e-3, 3e-2, True)],
    "chankong_haimes": [("float", -20.0, 20.0, False)] * 2,
    "tanaka": [("float", 0.0, math.pi, False)] * 2,
    "fonseca_fleming": [("float", -4.0, 4.0, False)] * 3,
    "zdt4": [("float", 0.0, 1.0, False)] + [("float", -5.0, 5.0, False)] * 9,
    "osyczka_kravanis": [("float", 0.0, 10.0, False), ("float", 0.0, 10.0, False), ("float", 1.0, 5.0, False),
                         ("float", 0.0, 6.0, False), ("float", 1.0, 5.0, False), ("float", 0.0, 10.0, False)],
}


def space_of(problem: str) -> list[Param]:
    return SPACES.get(problem) or [("float", 0.0, 1.0, False)] * PROBLEMS[problem][1]


PROBLEMS: dict[str, tuple[Evaluate, int, list[float]]] = {
    "zdt1": (zdt(1), 10, [1.1, 11.0]),
    "zdt2": (zdt(2), 10, [1.1, 11.0]),
    "zdt3": (zdt(3), 10, [1.1, 11.0]),
    "dtlz2": (dtlz2, 7, [2.2, 2.2, 2.2]),
    "binh_korn": (binh_korn, 2, [140.0, 55.0]),
    "digits_mlp": (digits_mlp, 3, [1.0, 5.2]),
    "chankong_haimes": (chankong_haimes, 2, [230.0, 0.0]),
    "tanaka": (tanaka, 2, [1.2, 1.2]),
    "fonseca_fleming": (fonseca_fleming, 3, [1.1, 1.1]),
    "osyczka_kravanis": (osyczka_kravanis, 6, [-30.0, 80.0]),
}
#: Problems a bare run includes: all of the above.
DEFAULT_PROBLEMS = list(PROBLEMS)
#: Held out: never used to choose or tune a default, only to check one (`--problems held-out`).
HELD_OUT: dict[str, tuple[Evaluate, int, list[float]]] = {
    "zdt4": (zdt4, 10, [1.1, 250.0]),
    "zdt6": (zdt6, 10, [1.1, 11.0]),
    "zdt1_d30": (zdt(1, 30), 30, [1.1, 11.0]),
    "dtlz1": (dtlz1, 7, [400.0, 400.0, 400.0]),
    "dtlz7": (dtlz7, 7, [1.1, 1.1, 31.0]),
    "dtlz2_m4": (dtlz2_m(4), 8, [2.2] * 4),
    "dtlz2_m5": (dtlz2_m(5), 9, [2.2] * 5),
}
PROBLEMS.update(HELD_OUT)


def nondominated(points: Sequence[Sequence[float]]) -> list[list[float]]:
    """The distinct points no other point weakly dominates, sorted. Each point is compared with all
    the others at once (numpy): point by point in Python, DTLZ2's 3,721-point front took a minute."""
    pts = sorted({tuple(p) for p in points})
    if not pts:
        return []
    a = np.asarray(pts, dtype=float)
    out: list[list[float]] = []
    for k, p in enumerate(pts):
        dominates = np.all(a <= a[k], axis=1)
        dominates[k] = False  # itself (the others differ from it: the set made them distinct)
        if not dominates.any():
            out.append(list(p))
    return out


def hv2(points: Sequence[Sequence[float]], ref: Sequence[float]) -> float:
    pts = sorted((p for p in points if p[0] < ref[0] and p[1] < ref[1]), key=lambda p: (p[0], p[1]))
    area, y = 0.0, ref[1]
    for p in pts:
        if p[1] < y:
            area += (ref[0] - p[0]) * (y - p[1])
            y = p[1]
    return area


def hypervolume(points: Sequence[Sequence[float]], ref: Sequence[float]) -> float:
    """Exact for 2 objectives (sweep) and 3 (slices in the third objective); more: Optuna's WFG."""
    inside = [list(p) for p in points if all(p[i] < ref[i] for i in range(len(ref)))]
    if not inside:
        return 0.0
    if len(ref) == 2:
        return hv2(inside, ref)
    if len(ref) > 3:
        from optuna._hypervolume import compute_hypervolume

        return float(compute_hypervolume(np.array(nondominated(inside)), np.array(ref, dtype=float)))
    pts = sorted(nondominated(inside), key=lambda p: p[2])
    vol = 0.0
    for i, p in enumerate(pts):
        z_next = pts[i + 1][2] if i + 1 < len(pts) else ref[2]
        if z_next > p[2]:
            vol += hv2([q[:2] for q in pts[: i + 1]], ref[:2]) * (z_next - p[2])
    return vol


def hv_max_of(problem: str) -> float | None:
    """The true front's hypervolume: DTLZ2 with m > 3 objectives analytically (every point of the
    orthant outside the unit ball is dominated by its projection onto the sphere: r^m - V_m / 2^m),
    the others from `true_front`."""
    ref = PROBLEMS[problem][2]
    if problem.startswith("dtlz2_m"):
        m = len(ref)
        ball = math.pi ** (m / 2) / math.gamma(m / 2 + 1)
        return math.prod(ref) - ball / 2**m
    front = true_front(problem)
    return hypervolume(front, ref) if front is not None else None


def true_front(problem: str, n: int = 2000) -> list[list[float]] | None:
    f1 = [float(a) for a in np.linspace(0, 1, n)]
    if problem in ("zdt1", "zdt1_d30", "zdt4"):
        return [[a, 1 - math.sqrt(a)] for a in f1]
    if problem == "zdt6":
        lo = min(zdt6([float(t)] + [0.0] * 9)[0][0] for t in np.linspace(0, 1, 20001))
        return [[a, 1 - a * a] for a in (float(t) for t in np.linspace(lo, 1, n))]
    if problem == "dtlz1":
        m = 30
        return [[0.5 * i / m * j / m, 0.5 * i / m * (1 - j / m), 0.5 * (1 - i / m)] for i in range(m + 1) for j in range(m + 1)]
    if problem == "zdt2":
        return [[a, 1 - a * a] for a in f1]
    if problem == "zdt3":
        return nondominated([[a, 1 - math.sqrt(a) - a * math.sin(10 * math.pi * a)] for a in f1])
    if problem == "dtlz2":
        m = 60
        pts = []
        for i in range(m + 1):
            for j in range(m + 1):
                a, b = i / m * math.pi / 2, j / m * math.pi / 2
                pts.append([math.cos(a) * math.cos(b), math.cos(a) * math.sin(b), math.sin(a)])
        return pts
    if problem == "chankong_haimes":
        # Interior Pareto points satisfy grad f1 = -grad f2, i.e. x = -2.5; the rest of the front lies
        # on the two constraint boundaries (the line x = 3y - 10 and the circle of radius 15).
        curves = [[-2.5, float(y)] for y in np.linspace(-15, 15, 20 * n)]
        curves += [[3 * float(y) - 10, float(y)] for y in np.linspace(-15, 15, 20 * n)]
        curves += [[15 * math.cos(float(a)), 15 * math.sin(float(a))] for a in np.linspace(0, 2 * math.pi, 20 * n)]
        feasible = [chankong_haimes(x)[0] for x in curves if all(c <= 1e-9 for c in chankong_haimes(x)[1] or [])]
        return nondominated_sweep(feasible)
    if problem == "tanaka":
        arcs = []
        for t in np.linspace(0, math.pi / 2, 20 * n):  # the wavy circle's boundary, by angle atan2(x1, x2)
            r = math.sqrt(1 + 0.1 * math.cos(16 * t))
            arcs.append([r * math.sin(t), r * math.cos(t)])
        for t in np.linspace(0, 2 * math.pi, 20 * n):  # the disc's boundary
            arcs.append([0.5 + math.sqrt(0.5) * math.cos(t), 0.5 + math.sqrt(0.5) * math.sin(t)])
        return nondominated_sweep([p for p in arcs if all(c <= 1e-12 for c in tanaka(p)[1] or [])])
    if problem == "binh_korn":
        # Deb 2001, §14.1.1 (BNH): u = v on [0, 3], then v = 3 with u on [3, 5]; both constraints hold there.
        arcs = [[float(t), float(t)] for t in np.linspace(0, 3, 20 * n)]  # (u, v)
        arcs += [[float(u), 3.0] for u in np.linspace(3, 5, 20 * n)]
        pts = [[u / 5, v / 3] for u, v in arcs]
        return nondominated_sweep([binh_korn(x)[0] for x in pts if all(c <= 1e-12 for c in binh_korn(x)[1] or [])])
    if problem == "fonseca_fleming":
        s = 1 / math.sqrt(3)
        return [fonseca_fleming([float(t)] * 3)[0] for t in np.linspace(-s, s, n)]
    if problem == "osyczka_kravanis":
        # Deb 2001, §14.1.1 (OSY): x4 = x6 = 0 and five segments; true_front_check samples the feasible set.
        segs = [osy_point(5, 1, float(a), 5) for a in np.linspace(1, 5, n)]
        segs += [osy_point(5, 1, float(a), 1) for a in np.linspace(1, 5, n)]
        segs += [osy_point(float(a), (float(a) - 2) / 3, 1, 1) for a in np.linspace(4.056, 5, n)]
        segs += [osy_point(0, 2, float(a), 1) for a in np.linspace(1, 3.732, n)]
        segs += [osy_point(float(a), 2 - float(a), 1, 1) for a in np.linspace(0, 1, n)]
        return nondominated_sweep(segs)
    return None


def nondominated_sweep(points: Sequence[Sequence[float]]) -> list[list[float]]:
    """The non-dominated subset of two-objective points (sort by f1, keep strict new minima of f2)."""
    out: list[list[float]] = []
    best = math.inf
    for p in sorted((list(p) for p in points), key=lambda p: (p[0], p[1])):
        if p[1] < best:
            out.append(p)
            best = p[1]
    return out


def check_front(problem: str, samples: int, seed: int = 0) -> tuple[float, float]:
    """(hv_max, the hypervolume of the true front together with `samples` uniformly random feasible
    points): equal when no sampled point dominates part of the analytic front (`--check-fronts`)."""
    evaluate, _, ref = PROBLEMS[problem]
    truth = true_front(problem)
    assert truth is not None
    rng = np.random.default_rng(seed)
    lows = np.array([lo for _, lo, _, _ in space_of(problem)])
    highs = np.array([hi for _, _, hi, _ in space_of(problem)])
    found = []
    for x in lows + (highs - lows) * rng.random((samples, len(lows))):
        values, cons = evaluate([float(v) for v in x])
        if cons is None or all(c <= 0 for c in cons):
            found.append(values)
    return hypervolume(truth, ref), hypervolume(nondominated_sweep(truth + found) if len(ref) == 2 else truth + found, ref)


def feasible_front(results: list[tuple[list[float], list[float] | None]]) -> list[list[float]]:
    return nondominated([v for v, c in results if c is None or all(ci <= 0 for ci in c)])


#: Asks timed at the end of a run: the suggestion time per trial at n ≈ budget (median of these).
TIMED_ASKS = 10


Result = tuple[float, float, list[list[float]]]


#: Named option variants of tuneport strategies (`--tuneport ehvi:dim`), for ablations.
VARIANTS: dict[str, Any] = {
    "ehvi:dim": {"name": "ehvi", "options": {"lengthscalePrior": "dim-scaled"}},
    "parego:dim": {"name": "parego", "options": {"gp": {"lengthscalePrior": "dim-scaled"}}},
    "parego:sobol": {"name": "parego", "options": {"weights": "sobol"}},
    "parego:hv": {"name": "parego", "options": {"scalarization": "hypervolume"}},
    "parego:hv-sobol": {"name": "parego", "options": {"scalarization": "hypervolume", "weights": "sobol"}},
    "ehvi:cheb": {"name": "ehvi", "options": {"acquisition": "chebyshev"}},
    "ehvi:cheb-sobol": {"name": "ehvi", "options": {"acquisition": "chebyshev", "weights": "sobol"}},
    "ehvi:alt-sobol": {"name": "ehvi", "options": {"acquisition": "alternate", "weights": "sobol"}},
    "ehvi:hedge-sobol": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol"}},
    "ehvi:hedge-gain-pairs": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "hedgeScore": "gain-pairs"}},
    "ehvi:hedge-mean-gain": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "hedgeScore": "mean-gain"}},
    "ehvi:hedge-floor-0.1": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "hedgeFloor": 0.1}},
    # Run 13: GPSampler refits its GPs to convergence on every trial (warm-started from the last fit);
    # tuneport's warm fits take one L-BFGS iteration, with a full fit every 10 trials.
    "ehvi:hedge-warm-fit": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "maxWarmFitIterations": 50}},
    "ehvi:hedge-full-fit": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "fullFitEvery": 1}},
    "ehvi:warm-fit": {"name": "ehvi", "options": {"maxWarmFitIterations": 50}},
    "ehvi:cheb-sobol-warm-fit": {"name": "ehvi", "options": {"acquisition": "chebyshev", "weights": "sobol", "maxWarmFitIterations": 50}},
    "ehvi:hedge-warm-fit-gain-pairs": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "maxWarmFitIterations": 50, "hedgeScore": "gain-pairs"}},
    "ehvi:hedge-warm-fit-falling-floor": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "maxWarmFitIterations": 50, "hedgeFloorDecay": "sqrt"}},
    "ehvi:hedge-warm-fit-search-to-end": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "maxWarmFitIterations": 50, "nearFound": 0}},
    "ehvi:warm-fit-search-to-end": {"name": "ehvi", "options": {"maxWarmFitIterations": 50, "nearFound": 0}},
    "ehvi:hedge-warm-fit-weighted-start": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "maxWarmFitIterations": 50, "chebyshevStart": "weighted"}},
    "ehvi:hedge-warm-fit-floor-0.05": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "maxWarmFitIterations": 50, "hedgeFloor": 0.05}},
    # Run 14: log EHVI alone once the latest proposals all (or three quarters of them) land on the front.
    "ehvi:hedge-warm-fit-dense-1": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "maxWarmFitIterations": 50, "denseFront": 1}},
    "ehvi:hedge-warm-fit-dense-0.75": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "maxWarmFitIterations": 50, "denseFront": 0.75}},
    # Run 15 (a diagnostic, not a candidate): the default with ParEGO's augmentation ρ at 0.5 instead of 0.05.
    "ehvi:hedge-warm-fit-dense-1-rho-0.5": {"name": "ehvi", "options": {"acquisition": "hedge", "weights": "sobol", "maxWarmFitIterations": 50, "denseFront": 1, "rho": 0.5}},
}


def run_tuneport(client: tp.Client, problem: str, strategy: str | None, seed: int, budget: int) -> Result:
    evaluate, d, ref = PROBLEMS[problem]
    m = len(ref)
    spec = space_of(problem)
    space = {f"x{i}": (tp.Int(int(lo), int(hi), log=log) if kind == "int" else tp.Float(lo, hi, log=log))
             for i, (kind, lo, hi, log) in enumerate(spec)}
    name = f"{problem}-{strategy or 'auto'}-{seed}-{budget}"
    study = client.create_study(name, directions=["minimize"] * m, space=space, strategy=VARIANTS.get(strategy or "", strategy), seed=seed)
    results = []
    times = []
    for i in range(budget):
        t0 = time.perf_counter()
        trial = study.ask()
        if i >= budget - TIMED_ASKS:
            times.append(time.perf_counter() - t0)
        x = [float(trial.params[f"x{i}"]) for i in range(d)]  # type: ignore[arg-type]
        values, cons = evaluate(x)
        trial.complete(values, constraints=cons)
        results.append((values, cons))
    front = feasible_front(results)
    return hypervolume(front, ref), statistics.median(times), front


def suggest_all(trial: optuna.Trial, spec: list[Param]) -> list[float]:
    return [float(trial.suggest_int(f"x{k}", int(lo), int(hi), log=log)) if kind == "int" else trial.suggest_float(f"x{k}", lo, hi, log=log)
            for k, (kind, lo, hi, log) in enumerate(spec)]


def run_optuna(sampler_name: str, problem: str, seed: int, budget: int) -> Result:
    evaluate, d, ref = PROBLEMS[problem]
    m = len(ref)
    # Optuna 5.0 takes constraints through trial.set_constraint (constraints_func is deprecated).
    if sampler_name == "nsgaii":
        sampler: optuna.samplers.BaseSampler = optuna.samplers.NSGAIISampler(seed=seed)
    elif sampler_name == "tpe":
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    elif sampler_name == "gp":
        sampler = optuna.samplers.GPSampler(seed=seed)
    else:
        sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(directions=["minimize"] * m, sampler=sampler)
    results = []
    times = []
    # ask/tell, as study.optimize runs it; the timed part is ask plus the suggest calls (where
    # Optuna's samplers do their work: the joint sample happens at the first suggest).
    for i in range(budget):
        t0 = time.perf_counter()
        trial = study.ask()
        x = suggest_all(trial, space_of(problem))
        if i >= budget - TIMED_ASKS:
            times.append(time.perf_counter() - t0)
        values, cons = evaluate(x)
        for j, c in enumerate(cons or []):
            trial.set_constraint(f"c{j}", c)
        study.tell(trial, values)
        results.append((values, cons))
    front = feasible_front(results)
    return hypervolume(front, ref), statistics.median(times), front


def optuna_ask_s_at(sampler_name: str, problem: str, seed: int, n: int) -> float:
    """Suggestion time of an Optuna sampler at n trials without running the first n - TIMED_ASKS
    through it (for GPSampler, too slow to run to n = 200 on 2 shared cores): the study gets
    n - TIMED_ASKS uniformly random trials (add_trial), then TIMED_ASKS asks are timed as in
    run_optuna. A GP's cost depends on n, not on where the points lie."""
    evaluate, d, ref = PROBLEMS[problem]
    sampler = optuna.samplers.GPSampler(seed=seed) if sampler_name == "gp" else optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(directions=["minimize"] * len(ref), sampler=sampler)
    rng = np.random.default_rng(seed)
    dist = optuna.distributions.FloatDistribution(0.0, 1.0)
    for _ in range(n - TIMED_ASKS):
        x = [float(v) for v in rng.random(d)]
        values, cons = evaluate(x)
        attrs = {"constraints": cons} if cons else {}
        study.add_trial(optuna.trial.create_trial(params={f"x{i}": x[i] for i in range(d)}, distributions={f"x{i}": dist for i in range(d)},
                                                  values=values, system_attrs=attrs))
    times = []
    for _ in range(TIMED_ASKS):
        t0 = time.perf_counter()
        trial = study.ask()
        x = [trial.suggest_float(f"x{k}", 0.0, 1.0) for k in range(d)]
        times.append(time.perf_counter() - t0)
        values, cons = evaluate(x)
        for j, c in enumerate(cons or []):
            trial.set_constraint(f"c{j}", c)
        study.tell(trial, values)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budgets", default="100")
    ap.add_argument("--problems", default=",".join(DEFAULT_PROBLEMS), help=f"of {','.join(PROBLEMS)}; 'held-out' names {','.join(HELD_OUT)}")
    ap.add_argument("--gp", action="store_true", help="also Optuna's GPSampler (slow)")
    ap.add_argument("--gp-seeds", type=int, default=0, help="GPSampler on the first N seeds only (0: all)")
    ap.add_argument("--gp-max-budget", type=int, default=0, help="GPSampler at budgets up to N only (0: all)")
    ap.add_argument("--seed-from", type=int, default=0, help="first seed (a shard of a larger run)")
    ap.add_argument("--merge", action="store_true",
                    help="merge into --out and --fronts (rows with the same problem, optimizer, seed and budget are replaced)")
    ap.add_argument("--fronts", default=str(RESULTS / "multiobjective-fronts.json"))
    ap.add_argument("--plot", default="", metavar="DIR", help="after the run, draw the median-seed fronts of --fronts into DIR")
    ap.add_argument("--plot-only", action="store_true", help="only draw the plots of --problems from --out and --fronts (variants' rows left out)")
    ap.add_argument("--summary", action="store_true",
                    help="only print the default (tuneport-auto) against each Optuna sampler, per problem and budget, from --out")
    ap.add_argument("--tuneport", default="auto,tpe,nsga2,random", help="tuneport strategies (auto = the study's default)")
    ap.add_argument("--optuna", default="nsgaii,tpe,random", help="Optuna samplers (gp is added by --gp)")
    ap.add_argument("--out", default=str(RESULTS / "multiobjective.json"))
    ap.add_argument("--speed-at", type=int, default=0, metavar="N",
                    help="only time Optuna's --optuna samplers' asks at N trials on prefilled random studies (optuna_ask_s_at)")
    ap.add_argument("--check-fronts", type=int, default=0, metavar="N",
                    help="only check each problem's analytic front against N uniformly random feasible points (check_front)")
    a = ap.parse_args()
    a.problems = ",".join(",".join(HELD_OUT) if p == "held-out" else p for p in a.problems.split(","))
    if a.check_fronts:
        for problem in a.problems.split(","):
            if true_front(problem) is not None and len(PROBLEMS[problem][2]) == 2:
                hv, with_samples = check_front(problem, a.check_fronts)
                print(f"{problem}: hv_max {hv:.6g}, with {a.check_fronts} random points {with_samples:.6g}", flush=True)
        return
    if a.summary:
        summary(json.loads(Path(a.out).read_text()), [p for p in a.problems.split(",") if p in PROBLEMS])
        return
    if a.plot_only:  # the --problems' fronts, without variants' (labels with a ':', e.g. tuneport-auto:run12)
        chosen = set(a.problems.split(","))
        rows = [r for r in json.loads(Path(a.out).read_text()) if r["problem"] in chosen and ":" not in r["optimizer"]]
        plot_fronts(rows, json.loads(Path(a.fronts).read_text()), Path(a.plot))
        return
    if a.speed_at:
        print("| problem | sampler | seed | median ask ms at n = %d |" % a.speed_at)
        print("| --- | --- | --- | --- |")
        for problem in a.problems.split(","):
            for s_name in [x for x in a.optuna.split(",") if x]:
                for seed in range(a.seeds):
                    print(f"| {problem} | optuna-{s_name} | {seed} | {1000 * optuna_ask_s_at(s_name, problem, seed, a.speed_at):.4g} |", flush=True)
        return
    budgets = [int(b) for b in a.budgets.split(",")]
    problems = a.problems.split(",")
    hv_max = {p: hv_max_of(p) for p in problems}
    rows: list[dict[str, Any]] = []
    fronts: dict[str, list[list[float]]] = {}
    optuna_samplers = [x for x in a.optuna.split(",") if x] + (["gp"] if a.gp else [])
    tuneport_strategies = [x for x in a.tuneport.split(",") if x]
    started = time.time()
    with Server() as server, tp.connect(server.endpoint, timeout=60.0) as client:
        for problem in problems:
            for budget in budgets:
                for seed in range(a.seed_from, a.seed_from + a.seeds):
                    runs: list[tuple[str, Callable[[], Result]]] = []
                    for name in tuneport_strategies:
                        strategy = None if name == "auto" else name
                        runs.append((f"tuneport-{name}", lambda st=strategy: run_tuneport(client, problem, st, seed, budget)))  # type: ignore[misc]
                    for s in optuna_samplers:
                        if s == "gp" and ((a.gp_seeds and seed >= a.seed_from + a.gp_seeds) or (a.gp_max_budget and budget > a.gp_max_budget)):
                            continue
                        runs.append((f"optuna-{s}", lambda s=s: run_optuna(s, problem, seed, budget)))  # type: ignore[misc]
                    for label, go in runs:
                        hv, ask_s, front = go()
                        rows.append({"problem": problem, "optimizer": label, "seed": seed, "budget": budget, "hypervolume": hv, "hv_max": hv_max[problem], "ask_s": ask_s})
                        fronts[front_key(problem, label, seed, budget)] = front
                    print(f"{problem} budget {budget} seed {seed}: done ({time.time() - started:.0f}s)", flush=True)
                    if not a.merge:  # what a shard has so far survives an interrupted run
                        Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
                        Path(a.fronts).write_text(json.dumps(fronts) + "\n")
    if a.merge:
        rows = merge_rows(json.loads(Path(a.out).read_text()) if Path(a.out).exists() else [], rows)
        fronts = {**(json.loads(Path(a.fronts).read_text()) if Path(a.fronts).exists() else {}), **fronts}
    Path(a.out).write_text(json.dumps(rows, indent=1) + "\n")
    Path(a.fronts).write_text(json.dumps(fronts) + "\n")
    report(rows)
    if a.plot:
        plot_fronts(rows, fronts, Path(a.plot))


def front_key(problem: str, optimizer: str, seed: int, budget: int) -> str:
    return f"{problem}/{optimizer}/{seed}/{budget}"


def merge_rows(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`old` with every row that `new` has a row for (same problem, optimizer, seed, budget) replaced;
    within `new` the last row of a key wins."""
    key = lambda r: (r["problem"], r["optimizer"], r["seed"], r["budget"])  # noqa: E731
    fresh = {key(r): r for r in new}
    return [r for r in old if key(r) not in fresh] + list(fresh.values())


def plot_fronts(rows: list[dict[str, Any]], fronts: dict[str, list[list[float]]], out_dir: Path) -> None:
    """One PNG per (problem, budget): each optimizer's front from its median-hypervolume seed (of the
    seeds whose fronts are recorded), with the true front where known."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    for problem, budget in sorted({(r["problem"], r["budget"]) for r in rows}):
        group = [r for r in rows if r["problem"] == problem and r["budget"] == budget
                 and front_key(problem, r["optimizer"], r["seed"], budget) in fronts]
        if not group:
            continue
        m = len(PROBLEMS[problem][2])
        fig = plt.figure(figsize=(7, 5.5))
        ax = fig.add_subplot(projection="3d") if m == 3 else fig.add_subplot()
        truth = true_front(problem, 400)
        if truth:
            cols = list(zip(*truth))
            if m == 3:
                ax.scatter(*cols, s=1, c="lightgray", label="true front")
            else:
                ax.plot(*cols, ".", ms=1, c="lightgray", label="true front")
        for opt in sorted({r["optimizer"] for r in group}):
            mine = sorted((r for r in group if r["optimizer"] == opt), key=lambda r: (r["hypervolume"], r["seed"]))
            med = mine[(len(mine) - 1) // 2]
            pts = sorted(fronts[front_key(problem, opt, med["seed"], budget)])
            if not pts:
                continue
            cols = list(zip(*pts))
            label = f"{opt} (seed {med['seed']}, HV {med['hypervolume']:.4g})"
            if m == 3:
                ax.scatter(*cols, s=8, label=label)
            else:
                ax.step(*cols, where="post", marker="o", ms=3, label=label)
        names = {"digits_mlp": ["validation error", "log10 parameters"]}.get(problem, [f"f{i + 1}" for i in range(m)])
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        if m == 3:
            ax.set_zlabel(names[2])
        ax.set_title(f"{problem}, {budget} trials: median-hypervolume seed's front per optimizer")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out_dir / f"multiobjective-{problem}-{budget}.png", dpi=90)
        plt.close(fig)


def summary(rows: list[dict[str, Any]], problems: list[str]) -> None:
    """One line per (problem, budget): the default's median hypervolume (as a share of hv_max where
    known) and each Optuna sampler's, with the one-sided Mann-Whitney p that the default is worse
    (seeds are not paired: each optimizer draws its own stream); then the count of cells where it
    is significantly worse (p < 0.05) or better."""
    from scipy.stats import mannwhitneyu

    samplers = ["optuna-nsgaii", "optuna-tpe", "optuna-gp", "optuna-random"]
    print("| problem | budget | tuneport-auto | " + " | ".join(samplers) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in samplers) + " |")
    worse: list[str] = []
    better = 0
    for problem in problems:
        for budget in sorted({r["budget"] for r in rows if r["problem"] == problem}):
            hv = {o: [r["hypervolume"] for r in rows if r["problem"] == problem and r["budget"] == budget and r["optimizer"] == o]
                  for o in ["tuneport-auto", *samplers]}
            mx = next((r["hv_max"] for r in rows if r["problem"] == problem), None)
            shown = lambda v: f"{v / mx:.3f}" if mx else f"{v:.4g}"  # noqa: E731
            auto = hv["tuneport-auto"]
            cells = [f"{shown(statistics.median(auto))} ({len(auto)})" if auto else "–"]
            for o in samplers:
                if not hv[o]:
                    cells.append("–")
                    continue
                cell = f"{shown(statistics.median(hv[o]))} ({len(hv[o])})"
                if auto:
                    p = mannwhitneyu(auto, hv[o], alternative="less").pvalue
                    cell += f", p = {p:.2g}"
                    if p < 0.05:
                        worse.append(f"{problem} at {budget} vs {o}")
                    if mannwhitneyu(auto, hv[o], alternative="greater").pvalue < 0.05:
                        better += 1
                cells.append(cell)
            print(f"| {problem} | {budget} | " + " | ".join(cells) + " |")
    print(f"\nThe default significantly worse (one-sided p < 0.05) in {len(worse)} cells{': ' + '; '.join(worse) if worse else ''}; "
          f"significantly better in {better}.")


def report(rows: list[dict[str, Any]]) -> None:
    from scipy.stats import mannwhitneyu

    keys = sorted({(r["problem"], r["budget"]) for r in rows})
    labels = {r["optimizer"] for r in rows}
    base = "tuneport-auto" if "tuneport-auto" in labels else sorted(labels)[0]
    print(f"| problem | budget | optimizer | seeds | median HV (IQR) | / hv_max | vs {base} (Wilcoxon rank-sum p) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for problem, budget in keys:
        group = [r for r in rows if r["problem"] == problem and r["budget"] == budget]
        auto = [r["hypervolume"] for r in group if r["optimizer"] == base]
        for opt in sorted({r["optimizer"] for r in group}):
            hv = sorted(r["hypervolume"] for r in group if r["optimizer"] == opt)
            q = statistics.quantiles(hv, n=4) if len(hv) >= 2 else [hv[0], hv[0], hv[0]]
            mx = group[0]["hv_max"]
            p = "-" if opt == base or not auto else f"{mannwhitneyu(auto, hv, alternative='two-sided').pvalue:.2g}"
            ratio = f"{statistics.median(hv) / mx:.3f}" if mx else "-"
            print(f"| {problem} | {budget} | {opt} | {len(hv)} | {statistics.median(hv):.4g} ({q[0]:.4g}-{q[2]:.4g}) | {ratio} | {p} |")
    timed = [r for r in rows if "ask_s" in r]
    if timed:
        top = max(r["budget"] for r in timed)
        print(f"\nSuggestion time per trial at n = {top} (median over the last {TIMED_ASKS} asks of each run, then over runs; ms):\n")
        print("| optimizer | median ms (IQR) | runs |")
        print("| --- | --- | --- |")
        for opt in sorted({r["optimizer"] for r in timed}):
            ms = sorted(1000 * r["ask_s"] for r in timed if r["optimizer"] == opt and r["budget"] == top)
            q = statistics.quantiles(ms, n=4) if len(ms) >= 2 else [ms[0], ms[0], ms[0]]
            print(f"| {opt} | {statistics.median(ms):.3g} ({q[0]:.3g}-{q[2]:.3g}) | {len(ms)} |")


if __name__ == "__main__":
    main()
