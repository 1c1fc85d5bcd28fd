"""Trace default + stopping ASHA runs of bench/multifidelity.py: what the models saw, trial by trial.

For each seed of one learning-curve family it runs `tuneport-asha` (or another stopping-mode row of
bench/multifidelity.py's TUNEPORT table) exactly as the benchmark does, then reads the study back and prints:

  - trials, and how many reached each rung (the first report at R/9, R/3, R);
  - Spearman's correlation, on the study's own trials trained to R, of the value at R/9 and at R/3
    with the value at R (how well a rung ranks the final values where the scheduler promoted);
  - after which trial 10 trials had reached R/3 and 10 had reached R: until then the GP's fidelity
    level (src/strategies/fidelity.ts: the deepest depth that `nStartupTrials` = 10 trials reached)
    is R/9, then R/3, then R;
  - the hedge's arm (`auto_arm`) of each proposal in the window where the GP's level was R/9, and
    for families with a learning rate, its z = (log10 lr + 4)/4;
  - the first trial trained to R whose final loss is at most the target (random-full's final median
    over the same seeds, computed here), its arm and the steps spent until it finished, and how many
    configurations that would have met the target the scheduler stopped before it.

    python bench/mf_trace.py [--problem crossing] [--seeds 10] [--first-seed 0] [--optimizer tuneport-asha] [--out F]

Stopping mode only (a stopped trial costs the steps it trained). --out writes the per-trial rows as JSON.

    python bench/mf_trace.py --compare FILE [--seeds N --first-seed K]

runs nothing: for each learning-curve family in FILE (a bench/multifidelity.py result file) and each
optimizer in it, the final best (median [IQR]), the steps to reach random-full's final median over the
same seeds, and wins–losses–ties of the final best against `tuneport-asha` (two-sided Wilcoxon p), with
--seeds/--first-seed restricting the seeds (default: all of them).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import multifidelity as mf  # noqa: E402
from common import Server  # noqa: E402
from mf_report import best_at  # noqa: E402

import tuneport as tp  # noqa: E402


def spearman(pairs: list[tuple[float, float]]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(*zip(*pairs))[0]) if len(pairs) > 2 else math.nan


def trace(task: mf.Task, optimizer: str, seed: int, total: int, client: tp.Client) -> dict[str, Any]:
    captured: dict[str, Any] = {}
    orig = mf.run_stats

    def grab(study: tp.Study, *args: Any) -> dict[str, Any]:
        captured["trials"] = study.trials
        return orig(study, *args)

    mf.run_stats = grab
    try:
        points = mf.run_tuneport(client, task, optimizer, seed, total, [])
    finally:
        mf.run_stats = orig
    r1, r2, top = task.R // 9, task.R // 3, task.R
    rows = []
    for t in captured["trials"]:
        p = dict(t.params)
        iv = t.intermediate_values
        rows.append({"number": t.number, "arm": t.system_attrs.get("auto_arm"), "state": t.state,
                     "z": (math.log10(float(p["lr"])) + 4) / 4 if "lr" in p else None,
                     "depth": int(max(iv)) if iv else 0, "v1": iv.get(r1), "v2": iv.get(r2), "vR": iv.get(top),
                     "final": task.quality(task.start(p, seed), p) if hasattr(task, "mean") else math.nan})
    return {"seed": seed, "rows": rows, "points": points}


def report(problem: str, traced: list[dict[str, Any]], target: float, R: int) -> None:
    print(f"{problem}: target (random-full's final median) {target:.3f}; rungs {R // 9}, {R // 3}, {R}")
    zs: list[float] = []
    for tr in traced:
        rows = tr["rows"]
        fin = [x for x in rows if x["vR"] is not None and math.isfinite(x["vR"])]
        rho1 = spearman([(x["v1"], x["vR"]) for x in fin if x["v1"] is not None and math.isfinite(x["v1"])])
        rho2 = spearman([(x["v2"], x["vR"]) for x in fin if x["v2"] is not None and math.isfinite(x["v2"])])
        n2 = nR = 0
        after2 = afterR = None
        for x in rows:
            n2 += x["depth"] >= R // 3
            nR += x["depth"] >= R
            after2 = x["number"] + 1 if after2 is None and n2 >= 10 else after2
            afterR = x["number"] + 1 if afterR is None and nR >= 10 else afterR
        window = [x for x in rows if x["arm"] is not None and x["number"] < (after2 or len(rows))]
        gp_z = [x["z"] for x in window if x["arm"] == "gp" and x["z"] is not None]
        zs += gp_z
        steps, first = 0, None
        for x in rows:
            steps += x["depth"]
            if x["depth"] >= R and x["final"] <= target:
                first = (x["number"], x["arm"], steps)
                break
        stopped_good = sum(1 for x in rows if first and x["number"] < first[0] and x["depth"] < R and x["final"] <= target)
        counts = {d: sum(1 for x in rows if x["depth"] >= d) for d in (R // 9, R // 3, R)}
        print(f"  seed {tr['seed']}: trials {len(rows)}, reached {counts}; rho(R/9, R) {rho1:.2f}, rho(R/3, R) {rho2:.2f}"
              f" over {len(fin)}; 10 at R/3 after trial {after2}, 10 at R after {afterR};"
              f" level-R/9 proposals gp {sum(x['arm'] == 'gp' for x in window)} tpe {sum(x['arm'] == 'tpe' for x in window)}"
              + (f" (gp z {', '.join(f'{z:.2f}' for z in gp_z)})" if gp_z else "")
              + (f"; first target-grade trial {first[0]} ({first[1]}) after {first[2]} steps, {stopped_good} target-grade stopped before"
                 if first else "; target not reached"))
    if zs:
        print(f"  the GP's proposals while its level was R/9: median z {statistics.median(zs):.2f} over {len(zs)}")


def compare(path: str, first: int, count: int | None) -> None:
    import mf_report as r

    runs = json.loads(Path(path).read_text())["runs"]
    runs = [p for p in runs if p["seed"] >= first and (count is None or p["seed"] < first + count)]
    for name in mf.CURVE_TASKS:
        prob = r.Problem(name, runs, 40 * 81)
        if not prob.runs:
            continue
        print(f"{name}: random-full's final median {prob.target:.3f}")
        for o in prob.optimizers:
            if o == "random-full":
                continue
            line = f"  {o:28s} final {r.mi(list(prob.final(o).values()))}, reach {r.reach_cell(prob.reach(o))}"
            if o != "tuneport-asha" and "tuneport-asha" in prob.optimizers:
                w, loss, t, p = r.paired(prob.final(o), prob.final("tuneport-asha"))
                line += f"; against tuneport-asha {w}–{loss}–{t} (p {r.fmt_p(p)})"
            print(line)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problem", default="crossing", choices=list(mf.CURVE_TASKS))
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--optimizer", default="tuneport-asha")
    ap.add_argument("--out", default=None)
    ap.add_argument("--compare", default=None, metavar="FILE")
    args = ap.parse_args()
    if args.compare:
        compare(args.compare, args.first_seed, args.seeds if "--seeds" in sys.argv else None)
        return
    task = mf.CURVE_TASKS[args.problem]()
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    total = 40 * task.R  # bench/multifidelity.py's budget: 3240 steps at R = 81
    finals = [best_at(mf.run_random_full(task, s, total), total, "steps") for s in seeds]
    target = statistics.median(finals)
    with Server() as srv, tp.connect(srv.endpoint, timeout=60.0) as client:
        traced = [trace(task, args.optimizer, s, total, client) for s in seeds]
    report(args.problem, traced, target, task.R)
    if args.out:
        Path(args.out).write_text(json.dumps({"problem": args.problem, "target": target,
                                              "runs": [{"seed": t["seed"], "rows": t["rows"]} for t in traced]}))


if __name__ == "__main__":
    main()
