"""Pathology probe: strategies on problem shapes the quality suite lacks (failing regions, plateaus,
degenerate parameters, huge or tiny scales, an outlier, define-by-run branches, enqueued partial
trials, maximise/minimise mirrors), through a running server and the Python client.

    python bench/pathology_probe.py ENDPOINT OUT.jsonl SHAPE[,SHAPE] STRATEGY[,STRATEGY] SEED[,SEED] N
    python bench/pathology_probe.py --summary OUT.jsonl [MORE.jsonl]

A STRATEGY of the form gp:TRANSFORM runs `gp` with that `outputTransform`. Each run appends one JSON
line: the best value, exact duplicate configurations (spaces with a continuous dimension), the share
of proposals after the 10th with a continuous coordinate on a bound, and (failing shapes) the share
of those proposals in the failing region. docs/BENCHMARKS.md, "Failed trials", has a run of it.
"""
from __future__ import annotations

import json
import math
import sys
import traceback
import uuid
import warnings

import tuneport as tp

warnings.simplefilter("ignore")


class Fail(Exception):
    pass


def sphere(xs, c):
    return sum((x - ci) ** 2 for x, ci in zip(xs, c))


# Each shape: (space dict, objective(params) -> float | raises Fail | returns nan/inf, region(params)->bool "in bad region")
def shape(name: str):
    F = tp.Float
    if name.startswith("fail_") and name != "fail_random":
        # 4-D on [0,1]; x0 > 0.6 fails (40% of the space); optimum at x0=0.55 just inside the valid side.
        mode = name[5:]
        space = {f"x{i}": F(0.0, 1.0) for i in range(4)}
        c = [0.55, 0.3, 0.7, 0.4]

        def obj(p):
            xs = [p[f"x{i}"] for i in range(4)]
            if xs[0] > 0.6:
                if mode == "raise":
                    raise Fail()
                return {"nan": math.nan, "inf": math.inf}[mode]
            return sphere(xs, c)

        return space, obj, lambda p: p["x0"] > 0.6
    if name == "fail_random":
        # 4-D sphere; a quarter of the evaluations fail whatever the configuration (flaky infrastructure).
        import hashlib
        space = {f"x{i}": F(0.0, 1.0) for i in range(4)}
        c = [0.55, 0.3, 0.7, 0.4]

        def obj(p):
            if int(hashlib.md5(repr(sorted(p.items())).encode()).hexdigest(), 16) % 4 == 0:
                raise Fail()
            return sphere([p[f"x{i}"] for i in range(4)], c)

        return space, obj, None
    if name == "plateau_step":
        # 3-D: a staircase of a sphere (5 levels), flat almost everywhere.
        space = {f"x{i}": F(-5.0, 5.0) for i in range(3)}
        c = [1.3, -2.1, 0.7]
        return space, lambda p: math.floor(math.sqrt(sphere([p[f"x{i}"] for i in range(3)], c))), None
    if name == "plateau_acc":
        # 4-D thresholded accuracy: 0.5 everywhere except a ball of radius 0.25 around c (minimise 1-acc).
        space = {f"x{i}": F(0.0, 1.0) for i in range(4)}
        c = [0.3, 0.6, 0.4, 0.7]

        def obj(p):
            d = math.sqrt(sphere([p[f"x{i}"] for i in range(4)], c))
            return 0.5 if d > 0.35 else 0.5 - 0.4 * (1 - d / 0.35)

        return space, obj, None
    if name == "degenerate":
        space = {
            "a": tp.Int(1, 3, log=True),
            "one": tp.Categorical(["only"]),
            "fixed": F(2.0, 2.0),
            "q": F(0.0, 1.0, step=0.1),
            "k": tp.Int(0, 10, step=2),
            "x": F(-3.0, 3.0),
            "y": F(1e-4, 1.0, log=True),
        }

        def obj(p):
            return (p["a"] - 2) ** 2 + (p["q"] - 0.3) ** 2 + (p["k"] - 4) ** 2 / 10 + (p["x"] - 0.5) ** 2 + (math.log10(p["y"]) + 2) ** 2 / 4 + p["fixed"]

        return space, obj, None
    if name.startswith("scale_"):
        kind = name[6:]
        space = {f"x{i}": F(-5.0, 5.0) for i in range(3)}
        c = [1.0, -0.5, 2.0]

        def obj(p):
            s = sphere([p[f"x{i}"] for i in range(3)], c)
            if kind == "big":
                return 1e12 + s
            if kind == "tiny":
                return 1e-12 * s
            if kind == "neg":
                return -1e12 * s
            if kind == "outlier":
                # one huge value on a small corner region
                return 1e10 if p["x0"] > 4.5 and p["x1"] > 4.0 else s
            if kind == "heavy":
                return math.exp(s)  # up to e^~80
            raise ValueError(kind)

        return space, obj, None
    if name in ("sym_min", "sym_max"):
        # Styblinski-Tang 4D on [-5,5], shifted: multi-modal
        space = {f"x{i}": F(-5.0, 5.0) for i in range(4)}

        def st(p):
            return sum(x**4 - 16 * x**2 + 5 * x for x in (p[f"x{i}"] for i in range(4))) / 2

        return space, (st if name == "sym_min" else (lambda p: -st(p))), None
    if name == "small":
        space = {f"x{i}": F(-5.0, 5.0) for i in range(3)}
        c = [1.0, -0.5, 2.0]
        return space, lambda p: sphere([p[f"x{i}"] for i in range(3)], c), None
    if name == "cond":
        # declared: a categorical switch and x; define-by-run: lr only under "a", depth only under "b".
        space = {"model": tp.Categorical(["a", "b"]), "x": F(-2.0, 2.0)}

        def obj(p, trial=None):
            if p["model"] == "a":
                lr = trial.suggest_float("lr", 1e-5, 1.0, log=True)
                p["lr"] = lr
                return (p["x"] - 0.3) ** 2 + (math.log10(lr) + 3) ** 2 / 4 + 0.1
            depth = trial.suggest_int("depth", 1, 8)
            p["depth"] = depth
            return (p["x"] + 0.7) ** 2 + (depth - 5) ** 2 / 8

        return space, obj, None
    if name == "enqueue":
        # 5-D sphere; every trial after the 5th is enqueued with x0..x2 fixed at 0.5, 0.5, 0.5 (the optimum's values).
        space = {f"x{i}": F(0.0, 1.0) for i in range(5)}
        c = [0.5, 0.5, 0.5, 0.2, 0.8]
        return space, lambda p: sphere([p[f"x{i}"] for i in range(5)], c), None
    if name == "rosen":
        space = {f"x{i}": F(-2.0, 2.0) for i in range(3)}
        return space, lambda p: sum(100 * (p[f"x{i+1}"] - p[f"x{i}"] ** 2) ** 2 + (1 - p[f"x{i}"]) ** 2 for i in range(2)), None
    raise ValueError(name)


def run(client, shape_name, strategy, seed, n):
    space, obj, bad = shape(shape_name)
    direction = "maximize" if shape_name == "sym_max" else "minimize"
    sname = f"p-{shape_name}-{strategy.replace(':', '_')}-{seed}-{uuid.uuid4().hex[:6]}"
    strat = strategy
    if ":" in strategy:
        name, opt = strategy.split(":", 1)
        strat = {"name": name, "options": {"outputTransform": opt}}
    study = client.create_study(sname, direction=direction, strategy=strat, space=space, seed=seed)
    rows = []
    errors = []
    for _ in range(n):
        try:
            if shape_name == "enqueue" and len(rows) >= 5:
                study.enqueue_trial({"x0": 0.5, "x1": 0.5, "x2": 0.5})
            trial = study.ask()
        except Exception as e:  # noqa: BLE001
            errors.append(f"ask: {type(e).__name__}: {e}")
            break
        p = dict(trial.params)
        try:
            v = obj(p, trial) if shape_name == "cond" else obj(p)
        except Fail:
            trial.fail("region")
            rows.append((p, None, "FAIL"))
            continue
        try:
            if isinstance(v, float) and not math.isfinite(v):
                study.tell(trial, v)
                rows.append((p, None, "NF"))
            else:
                trial.complete(v)
                rows.append((p, v, "OK"))
        except Exception as e:  # noqa: BLE001
            errors.append(f"tell: {type(e).__name__}: {e}")
            rows.append((p, None, "ERR"))
    phases = {}
    for t in study.trials:
        ph = t.system_attrs.get("auto_phase") or t.system_attrs.get("phase")
        phases[ph] = phases.get(ph, 0) + 1
    # stats
    floats = [k for k, d in space.items() if isinstance(d, tp.Float) and d.low < d.high and getattr(d, "step", None) is None]
    seen = set()
    dups = 0
    onb = 0
    model_n = 0
    bad_n = 0
    for i, (p, v, st) in enumerate(rows):
        key = tuple(sorted(p.items()))
        if floats and key in seen:
            dups += 1
        seen.add(key)
        if i >= 10:
            model_n += 1
            if any(p[k] <= space[k].low + 1e-12 * max(1, abs(space[k].low)) or p[k] >= space[k].high - 1e-12 * max(1, abs(space[k].high)) for k in floats):
                onb += 1
            if bad is not None and bad(p):
                bad_n += 1
    vals = [v for (_, v, _) in rows if v is not None]
    best = (max(vals) if direction == "maximize" else min(vals)) if vals else None
    return {
        "shape": shape_name, "strategy": strategy, "seed": seed, "n": len(rows), "best": best, "dups": dups,
        "bound_share": onb / model_n if model_n else None, "bad_share_after10": bad_n / model_n if model_n else None,
        "errors": errors[:3], "n_errors": len(errors), "phases": phases, "study": sname,
    }


def summary(paths):
    import statistics as stats
    from collections import defaultdict

    groups = defaultdict(list)
    for path in paths:
        for line in open(path):
            r = json.loads(line)
            groups[(r["shape"], r["strategy"])].append(r)
    print(f"{'shape':14} {'strategy':16} {'runs':>4} {'median best':>12} {'dups':>5} {'on bound':>8} {'in region':>9} {'errors':>6}")
    for (sh, st), rs in sorted(groups.items()):
        best = [r["best"] for r in rs if r.get("best") is not None]
        bound = [r["bound_share"] for r in rs if r.get("bound_share") is not None]
        bad = [r["bad_share_after10"] for r in rs if r.get("bad_share_after10") is not None]
        nan = float("nan")
        print(f"{sh:14} {st:16} {len(rs):4} {stats.median(best) if best else nan:12.5g} {sum(r.get('dups', 0) for r in rs):5} "
              f"{stats.mean(bound) if bound else nan:8.2f} {stats.mean(bad) if bad else nan:9.2f} {sum(r.get('n_errors', 0) + ('crash' in r) for r in rs):6}")


def main():
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return
    if sys.argv[1:2] == ["--summary"] and len(sys.argv) > 2:
        summary(sys.argv[2:])
        return
    if len(sys.argv) != 7:
        sys.exit(f"expected 6 arguments, got {len(sys.argv) - 1}\n\n{__doc__}")
    endpoint, out, shapes, strategies, seeds, n = sys.argv[1:7]
    seeds = [int(s) for s in seeds.split(",") if s]
    with tp.connect(endpoint, timeout=300.0) as client, open(out, "a") as f:
        for sh in shapes.split(","):
            for seed in seeds:
                for st in strategies.split(","):
                    try:
                        r = run(client, sh, st, seed, int(n))
                    except Exception as e:  # noqa: BLE001
                        r = {"shape": sh, "strategy": st, "seed": seed, "crash": traceback.format_exc()[-800:]}
                    f.write(json.dumps(r) + "\n")
                    f.flush()
                    print(json.dumps({k: r.get(k) for k in ("shape", "strategy", "seed", "best", "dups", "bound_share", "bad_share_after10", "n_errors", "crash")}), flush=True)


if __name__ == "__main__":
    main()
