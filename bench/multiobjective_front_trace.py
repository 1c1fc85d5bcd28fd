"""Where two optimizers' fronts differ on bench/multiobjective.py's digits MLP task (docs/BENCHMARKS.md,
multi-objective run 15). Two modes:

Record: runs tuneport strategies and Optuna samplers exactly as bench/multiobjective.py runs them
(its run_tuneport / run_optuna, same seeds, so the hypervolumes equal its rows) and keeps every
trial: parameters, values, and for tuneport the acquisition that proposed it (`ehvi_acquisition`).

    TUNEPORT_CLI=<frozen dist>/cli/main.js nice -n 5 .venv/bin/python bench/multiobjective_front_trace.py \\
        --problem digits_mlp --seeds 20 --tuneport auto --optuna tpe --out <f>

Analyse (no evaluations): `--analyse <f>` compares the first two optimizers of the file (or
`--pair A,B`) on the seeds both ran:
- the hypervolume (reference [1.0, 5.2]) split into bands of the second objective (log10 of the
  parameter count), as each run's shortfall against the front of every trial of both optimizers
  pooled, with a two-sided Mann-Whitney p per band (seeds are not paired);
- the same medians at other reference points;
- per one-layer width, each run's best error (median over seeds), and over both optimizers' trials
  pooled the best error, its learning rate and the best error with the rate at its upper bound;
- where the proposals after the random start lie: layers, width bands, the learning rate's position
  in its log range, the share at its upper bound, and how often such a proposal added hypervolume;
- for tuneport, the same per acquisition;
- with `--plot PNG`, the shortfall per band and each optimizer's one-layer proposals.

Faces (`--faces <f>`, any problem of bench/multiobjective.py recorded with `--problem`): per problem
and optimizer, the proposals after the random start with a float coordinate in the outer 1 % of its
range (integer ends are values, not faces), split by whether the feasible front before them had a
point on that face, and how often each kind and the rest added hypervolume.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-client" / "src"))

#: The digits task's reference point (bench/multiobjective.py PROBLEMS).
REF = (1.0, 5.2)
#: Bands of log10(parameter count): the smallest network (one layer of width 4) has 310 (2.49).
BANDS = [2.49, 2.7, 2.9, 3.1, 3.3, 3.6, 4.0, 4.5, 5.2]
#: The learning rate's log range (bench/multiobjective.py SPACES) and "at the bound": its top 1 %.
LR = (1e-3, 3e-2)
AT_BOUND = 0.99

Trial = tuple[list[float], list[float], Any]


def record(args: argparse.Namespace) -> None:
    import multiobjective as mo

    import tuneport as tp
    from common import Server

    out: dict[str, Any] = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    evaluate, d, ref = mo.PROBLEMS[args.problem]
    log: list[Trial] = []

    def traced(x: list[float]) -> tuple[list[float], list[float] | None]:
        values, cons = evaluate(x)
        log.append((list(x), values, cons))
        return values, cons

    mo.PROBLEMS[args.problem] = (traced, d, ref)
    with Server() as server, tp.connect(server.endpoint, timeout=60.0) as client:
        for seed in range(args.seed_from, args.seed_from + args.seeds):
            for s in [t for t in args.tuneport.split(",") if t]:
                log.clear()
                hv, _, _ = mo.run_tuneport(client, args.problem, None if s == "auto" else s, seed, args.budget)
                study = client.load_study(f"{args.problem}-{s}-{seed}-{args.budget}")
                arms = [t.system_attrs.get("ehvi_acquisition") for t in sorted(study.trials, key=lambda t: t.number)]
                out[f"{args.problem}/tuneport-{s}/{seed}/{args.budget}"] = {"hv": hv, "trials": list(log), "arms": arms}
            for s in [t for t in args.optuna.split(",") if t]:
                log.clear()
                hv, _, _ = mo.run_optuna(s, args.problem, seed, args.budget)
                out[f"{args.problem}/optuna-{s}/{seed}/{args.budget}"] = {"hv": hv, "trials": list(log), "arms": None}
            Path(args.out).write_text(json.dumps(out))
            print(f"{args.problem} seed {seed} done", flush=True)


def front(points: list[list[float]]) -> list[list[float]]:
    out: list[list[float]] = []
    for p in sorted(points, key=lambda p: (p[1], p[0])):
        if not out or p[0] < out[-1][0]:
            out.append(p)
    return out


def hv(points: list[list[float]], ref: tuple[float, float] = REF) -> float:
    f = [p for p in front(points) if p[0] < ref[0] and p[1] < ref[1]]
    return sum((ref[0] - p[0]) * ((f[i + 1][1] if i + 1 < len(f) else ref[1]) - p[1]) for i, p in enumerate(f))


def banded(points: list[list[float]]) -> list[float]:
    """The hypervolume (at REF) in each band of BANDS: the integral over f2 of 1 - the best error at f2."""
    f = front(points)
    out = [0.0] * (len(BANDS) - 1)
    xs = sorted({p[1] for p in f} | set(BANDS))
    for a, b in zip(xs, xs[1:]):
        best = min([p[0] for p in f if p[1] <= a + 1e-12], default=REF[0])
        for k in range(len(out)):
            lo, hi = max(a, BANDS[k]), min(b, BANDS[k + 1])
            if hi > lo:
                out[k] += (REF[0] - best) * (hi - lo)
    return out


def lr_unit(lr: float) -> float:
    return (math.log(lr) - math.log(LR[0])) / (math.log(LR[1]) - math.log(LR[0]))


def gains(trials: list[Trial]) -> list[float]:
    """The hypervolume each trial added to the trials before it."""
    values = [v for _, v, _ in trials]
    return [hv(values[: i + 1]) - hv(values[:i]) for i in range(len(values))]


def analyse(path: str, pair: str | None, plot: str | None = None) -> None:
    from scipy.stats import mannwhitneyu

    runs: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for key, run in json.loads(Path(path).read_text()).items():
        _, optimizer, seed, _ = key.rsplit("/", 3)
        runs[optimizer][int(seed)] = run
    names = pair.split(",") if pair else sorted(runs)[:2]
    seeds = sorted(set(runs[names[0]]) & set(runs[names[1]]))
    vals = {o: {s: [v for _, v, _ in runs[o][s]["trials"]] for s in seeds} for o in names}
    pooled = front([v for o in names for s in seeds for v in vals[o][s]])
    print(f"{names[0]} against {names[1]}, seeds {seeds[0]}-{seeds[-1]} ({len(seeds)}); pooled front HV {hv(pooled):.5f}")
    best = banded(pooled)
    per = {o: [banded(vals[o][s]) for s in seeds] for o in names}
    print("band of log10(params) | pooled-front HV | mean shortfall " + " | ".join(names) + " | two-sided MW p")
    for k in range(len(best)):
        a, b = ([best[k] - h[k] for h in per[o]] for o in names)
        print(f"{BANDS[k]}-{BANDS[k + 1]} | {best[k]:.5f} | {statistics.mean(a):.5f} | {statistics.mean(b):.5f} | {mannwhitneyu(a, b).pvalue:.3f}")
    for ref in ((1.0, 5.2), (1.0, 4.0), (0.5, 5.2), (1.0, 3.3)):
        a, b = ([hv(vals[o][s], ref) for s in seeds] for o in names)
        p = mannwhitneyu(a, b, alternative="less").pvalue
        print(f"reference {list(ref)}: median HV {statistics.median(a):.5f} against {statistics.median(b):.5f}, one-sided p (first worse) {p:.3f}")
    print("one-layer width | median over seeds of each run's best error (runs that tried it)")
    for w in range(4, 17):
        cells = []
        for o in names:
            e = [min(es) for s in seeds if (es := [v[0] for x, v, _ in runs[o][s]["trials"] if int(x[0]) == 1 and int(x[1]) == w])]
            cells.append(f"{statistics.median(e):.4f} ({len(e)})" if e else "-")
        print(f"{w} | " + " | ".join(cells))
    print("one-layer width | evaluations (both, pooled) | best error | its learning rate (unit of the log range) | best error at the bound")
    for w in range(4, 20):
        ev = [(v[0], lr_unit(x[2])) for o in names for s in seeds for x, v, _ in runs[o][s]["trials"] if int(x[0]) == 1 and int(x[1]) == w]
        at = [e for e, u in ev if u > AT_BOUND]
        if ev:
            print(f"{w} | {len(ev)} | {min(ev)[0]:.4f} | {min(ev)[1]:.3f} | " + (f"{min(at):.4f}" if at else "-"))
    for o in names:
        proposals(o, [runs[o][s] for s in seeds])
    if plot:
        draw(plot, names, [[statistics.mean(best[k] - h[k] for h in per[o]) for k in range(len(best))] for o in names],
             {o: [runs[o][s] for s in seeds] for o in names})


def draw(path: str, names: list[str], shortfalls: list[list[float]], runs: dict[str, list[dict[str, Any]]]) -> None:
    """The shortfall per band, and each optimizer's one-layer proposals (width against the learning
    rate's place in its log range) with the best rate found per width over both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 1 + len(names), figsize=(5 * (1 + len(names)), 4))
    k = range(len(BANDS) - 1)
    for j, (name, sf) in enumerate(zip(names, shortfalls)):
        axes[0].bar([i + 0.4 * j for i in k], sf, width=0.4, label=name)
    axes[0].set_xticks([i + 0.2 for i in k], [f"{BANDS[i]}-{BANDS[i + 1]}" for i in k], rotation=45, fontsize=7)
    axes[0].set(xlabel="log10(parameters)", ylabel="mean HV shortfall vs pooled front", title="where the hypervolume is lost")
    axes[0].legend(fontsize=7)
    best: dict[int, tuple[float, float]] = {}
    for rs in runs.values():
        for run in rs:
            for x, v, _ in run["trials"]:
                if int(x[0]) == 1:
                    best[int(x[1])] = min(best.get(int(x[1]), (9.0, 0.0)), (v[0], lr_unit(x[2])))
    for ax, name in zip(axes[1:], names):
        pts = [(int(x[1]), lr_unit(x[2])) for run in runs[name] for x, _, _ in run["trials"][10:] if int(x[0]) == 1]
        ax.scatter([w for w, _ in pts], [u for _, u in pts], s=4, alpha=0.3, label="proposals after the random start")
        ws = sorted(w for w in best if w <= 64)
        ax.plot(ws, [best[w][1] for w in ws], "k.", label="best rate found per width (both)")
        ax.set(xscale="log", xlabel="width (one layer)", ylabel="learning rate, unit of its log range", title=name)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def proposals(name: str, runs: list[dict[str, Any]]) -> None:
    """Where the proposals after the 10 random ones lie, and how often they added hypervolume."""
    groups: dict[str, list[tuple[list[float], float]]] = defaultdict(list)
    layers: Counter[int] = Counter()
    widths: Counter[str] = Counter()
    for run in runs:
        g = gains(run["trials"])
        for i in range(10, len(run["trials"])):
            x = run["trials"][i][0]
            layers[int(x[0])] += 1
            w = int(x[1])
            widths["4" if w == 4 else "256" if w == 256 else f"<={next(b for b in (8, 16, 32, 64, 128, 255) if w <= b)}"] += 1
            small = "one layer, width <= 8" if int(x[0]) == 1 and w <= 8 else "the rest"
            arm = (run.get("arms") or [None] * len(run["trials"]))[i] or "-"
            groups[f"{small}, all"].append((x, g[i]))
            if arm != "-":
                groups[f"{small}, {arm}"].append((x, g[i]))
    n = sum(layers.values())
    print(f"\n{name}: {n} proposals after the random start; layers {dict(sorted((k, round(v / n, 3)) for k, v in layers.items()))}")
    print("  width " + ", ".join(f"{k}: {v / n:.3f}" for k, v in sorted(widths.items(), key=lambda kv: int(kv[0].lstrip("<=")))))
    print("  group | n | lr at upper bound | lr in [0.7, 0.97] of its log range | added HV | mean gain")
    for key in sorted(groups):
        xs = groups[key]
        at = sum(lr_unit(x[2]) > AT_BOUND for x, _ in xs) / len(xs)
        window = sum(0.7 <= lr_unit(x[2]) <= 0.97 for x, _ in xs) / len(xs)
        added = sum(g > 1e-12 for _, g in xs) / len(xs)
        print(f"  {key} | {len(xs)} | {at:.3f} | {window:.3f} | {added:.3f} | {statistics.mean(g for _, g in xs):.5f}")


def dominates(a: list[float], b: list[float]) -> bool:
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def faces(path: str) -> None:
    """Per problem and optimizer: the proposals after the 10 random ones with a float coordinate in
    the outer 1 % of its range (unit coordinates, log where the parameter is), split by whether a
    point of the feasible front before it lies on the same face ("front's face") or none does ("new
    face"), and how often each kind and the rest added hypervolume (at the problem's reference)."""
    import multiobjective as mo

    cells: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for key, run in json.loads(Path(path).read_text()).items():
        problem, optimizer, _, _ = key.rsplit("/", 3)
        spec, ref = mo.space_of(problem), mo.PROBLEMS[problem][2]

        def sides(x: list[float]) -> set[tuple[int, int]]:
            out = set()
            for k, (kind, lo, hi, log) in enumerate(spec):
                u = math.log(x[k] / lo) / math.log(hi / lo) if log else (x[k] - lo) / (hi - lo)
                if kind == "float" and min(u, 1 - u) < 0.01:
                    out.add((k, int(u > 0.5)))
            return out

        feasible: list[tuple[list[float], list[float]]] = []
        for i, (x, v, c) in enumerate(run["trials"]):
            ok = c is None or all(ci <= 0 for ci in c)
            if i >= 10:
                front = [(y, w) for y, w in feasible if not any(dominates(w2, w) for _, w2 in feasible)] if feasible else []
                pts = [w for _, w in front]
                gain = mo.hypervolume(mo.nondominated(pts + [v]), ref) - mo.hypervolume(pts, ref) if ok and pts else 0.0
                mine = sides(x)
                known = set().union(*(sides(y) for y, _ in front)) if front else set()
                kind = "rest" if not mine else "front's face" if mine <= known else "new face"
                cells[(problem, optimizer)][kind] += 1
                cells[(problem, optimizer)][kind + " added"] += gain > 1e-12
            if ok:
                feasible.append((x, v))
    print("problem | optimizer | proposals | on the front's face: share, added HV | on a new face: share, added HV | rest: added HV")
    for (problem, optimizer), c in sorted(cells.items()):
        n = sum(c[k] for k in ("front's face", "new face", "rest"))
        row = [f"{c[k] / n:.3f}, {c[k + ' added'] / max(1, c[k]):.3f}" for k in ("front's face", "new face")]
        print(f"{problem} | {optimizer} | {n} | {row[0]} | {row[1]} | {c['rest added'] / max(1, c['rest']):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problem", default="digits_mlp")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--seed-from", type=int, default=0)
    ap.add_argument("--budget", type=int, default=100)
    ap.add_argument("--tuneport", default="auto", help="tuneport strategies (auto = the study's default)")
    ap.add_argument("--optuna", default="tpe", help="Optuna samplers")
    ap.add_argument("--out", help="record into this file (rows added or replaced)")
    ap.add_argument("--analyse", metavar="FILE", help="only analyse a recorded file")
    ap.add_argument("--pair", help="the two optimizers to compare, e.g. tuneport-auto,optuna-tpe")
    ap.add_argument("--faces", metavar="FILE", help="only count proposals on the box's faces, per problem, in a recorded file")
    ap.add_argument("--plot", metavar="PNG", help="with --analyse: draw the shortfall per band and the one-layer proposals")
    args = ap.parse_args()
    if args.faces:
        faces(args.faces)
    elif args.analyse:
        analyse(args.analyse, args.pair, args.plot)
    elif args.out:
        record(args)
    else:
        ap.error("--out or --analyse")


if __name__ == "__main__":
    main()
