"""Summary of bench/pbt_tasks.py: per-task median [IQR], ranks, wins per seed, Wilcoxon tests,
the issue-20 goal, bench/results/pbt.json and the "pbt-tasks" section of docs/BENCHMARKS.md."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from common import RESULTS, percentile, update_benchmarks_md

DYNAMIC = ["pbt", "pb2"]
BASELINES = ["tpe", "asha-tpe", "random", "cosine-tpe"]


def finals(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[int, dict[str, float]]]]:
    """task → optimizer → seed → the row with the most steps (the run's final point)."""
    out: dict[str, dict[str, dict[int, dict[str, float]]]] = defaultdict(lambda: defaultdict(dict))
    for r in rows:
        cur = out[r["problem"]][r["optimizer"]].get(r["seed"])
        if cur is None or r["steps"] > cur["steps"]:
            out[r["problem"]][r["optimizer"]][r["seed"]] = r
    return out


def ranks(values: dict[str, float]) -> dict[str, float]:
    """Average ranks (1 = lowest value); NaN/inf rank last."""
    key = {k: (v if math.isfinite(v) else math.inf) for k, v in values.items()}
    order = sorted(key, key=lambda k: key[k])
    out: dict[str, float] = {}
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and key[order[j + 1]] == key[order[i]]:
            j += 1
        for k in order[i : j + 1]:
            out[k] = (i + j) / 2 + 1
        i = j + 1
    return out


def wilcoxon_p(a: list[float], b: list[float]) -> float:
    from scipy.stats import wilcoxon  # noqa: PLC0415

    diff = [x - y for x, y in zip(a, b) if math.isfinite(x) and math.isfinite(y)]
    if len(diff) < 2 or all(d == 0 for d in diff):
        return math.nan
    return float(wilcoxon(diff).pvalue)


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact binomial (sign) test of wins against losses, p = 1/2."""
    n = wins + losses
    if n == 0:
        return math.nan
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def summarise(rows: list[dict[str, Any]], meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    fin = finals(rows)
    tasks = [t for t in meta["tasks"] if t in fin]
    opts = [o for o in meta["optimizers"] if all(o in fin[t] for t in tasks)]
    budget = meta["population"] * meta["epochs"]
    lines = [f"Final best validation loss after {budget} epochs: median [IQR] over seeds (test loss of that model, median).", "",
             "| task | " + " | ".join(opts) + " |", "|" + " --- |" * (len(opts) + 1)]
    seed_ranks: dict[str, list[float]] = defaultdict(list)
    task_rank_of_median: dict[str, list[float]] = defaultdict(list)
    per_task_mean_rank: dict[str, dict[str, float]] = {}
    for t in tasks:
        cells = []
        med = {}
        for o in opts:
            xs = [fin[t][o][s]["best"] for s in sorted(fin[t][o])]
            te = [fin[t][o][s].get("test", math.nan) for s in sorted(fin[t][o])]
            med[o] = percentile(xs, 0.5)
            cells.append(f"{percentile(xs, 0.5):.4f} [{percentile(xs, 0.25):.4f}, {percentile(xs, 0.75):.4f}] ({percentile(te, 0.5):.4f})")
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
        for o, r in ranks(med).items():
            task_rank_of_median[o].append(r)
        seeds = sorted(set.intersection(*(set(fin[t][o]) for o in opts)))
        acc: dict[str, list[float]] = defaultdict(list)
        for s in seeds:
            for o, r in ranks({o: fin[t][o][s]["best"] for o in opts}).items():
                acc[o].append(r)
                seed_ranks[o].append(r)
        per_task_mean_rank[t] = {o: sum(v) / len(v) for o, v in acc.items()}
    mean_rank = {o: sum(v) / len(v) for o, v in seed_ranks.items()}
    mean_rank_med = {o: sum(v) / len(v) for o, v in task_rank_of_median.items()}
    lines += ["", "Mean rank (1 = best) over tasks and seeds (per seed, then averaged), and of the per-task medians:", "",
              "| optimizer | " + " | ".join(tasks) + " | mean rank (per seed) | mean rank of medians |",
              "|" + " --- |" * (len(tasks) + 3)]
    for o in sorted(opts, key=lambda o: mean_rank[o]):
        lines.append(f"| {o} | " + " | ".join(f"{per_task_mean_rank[t][o]:.2f}" for t in tasks)
                     + f" | **{mean_rank[o]:.2f}** | {mean_rank_med[o]:.2f} |")
    tests = []
    lines += ["", "Wins per seed (lower final best validation loss) and paired Wilcoxon signed-rank p-values (two-sided):", "",
              "| task | comparison | wins | p |", "| --- | --- | --- | --- |"]
    for t in tasks:
        for a in [d for d in DYNAMIC if d in opts]:
            for b in [x for x in BASELINES + (["pbt"] if a == "pb2" else []) if x in opts]:
                seeds = sorted(set(fin[t][a]) & set(fin[t][b]))
                xa = [fin[t][a][s]["best"] for s in seeds]
                xb = [fin[t][b][s]["best"] for s in seeds]
                w = sum(1 for x, y in zip(xa, xb) if x < y)
                p = wilcoxon_p(xa, xb)
                tests.append({"task": t, "a": a, "b": b, "wins": w, "n": len(seeds), "p": p})
                lines.append(f"| {t} | {a} vs {b} | {w}/{len(seeds)} | {p:.3f} |")
    # Pooled over every (task, seed): the head-to-head behind the mean rank, ties counted apart.
    lines += ["", "Pooled over all tasks and seeds (wins / ties / losses; two-sided sign test, ties dropped):", "",
              "| comparison | wins | ties | losses | p (sign test) |", "| --- | --- | --- | --- | --- |"]
    pooled = []
    for a in [d for d in DYNAMIC if d in opts]:
        for b in [x for x in BASELINES + (["pbt"] if a == "pb2" else []) if x in opts]:
            pairs = [(fin[t][a][s]["best"], fin[t][b][s]["best"]) for t in tasks for s in sorted(set(fin[t][a]) & set(fin[t][b]))]
            w = sum(1 for x, y in pairs if x < y)
            ties = sum(1 for x, y in pairs if x == y)
            lo = len(pairs) - w - ties
            p = sign_test_p(w, lo)
            pooled.append({"a": a, "b": b, "wins": w, "ties": ties, "losses": lo, "p": p})
            lines.append(f"| {a} vs {b} | {w} | {ties} | {lo} | {p:.3f} |")
    first = min(mean_rank, key=lambda o: mean_rank[o])
    first_med = min(mean_rank_med, key=lambda o: mean_rank_med[o])
    met = first in DYNAMIC
    n_seeds = min((len(fin[t][o]) for t in tasks for o in opts if o in fin[t]), default=0)
    # The goal is about the whole suite (>= 4 tasks, 10 seeds); a partial run is a pilot, not a verdict.
    whole = len(tasks) >= 4 and n_seeds >= 10
    verdict = ("**met**" if met else "**not met**") if whole else (
        f"**not measured** (this run: {len(tasks)} task(s), {n_seeds} complete seed(s); the leader so far is {first})")
    goal = (f"Goal (issue 20): PBT or PB2 first in mean rank across the real-task suite at equal epochs — "
            f"{verdict}: first is {first} ({mean_rank[first]:.2f}); "
            f"pbt {mean_rank.get('pbt', math.nan):.2f}, pb2 {mean_rank.get('pb2', math.nan):.2f}. "
            f"By the rank of per-task medians the first is {first_med} ({mean_rank_med[first_med]:.2f}).")
    lines += ["", goal]
    summary = {"mean_rank": mean_rank, "mean_rank_of_medians": mean_rank_med, "per_task_mean_rank": per_task_mean_rank,
               "tests": tests, "pooled": pooled, "goal_met": met, "first": first}
    return "\n".join(lines), summary


def merge_and_report(paths: list[Path], write: bool) -> None:
    rows: list[dict[str, Any]] = []
    meta: dict[str, Any] = {}
    for p in paths:
        doc = json.loads(p.read_text())
        rows += doc["runs"]
        m = doc["meta"]
        if not meta:
            meta = {**m, "tasks": list(m["tasks"]), "elapsed_s": 0.0, "parts": []}
        else:
            meta["tasks"] += [t for t in m["tasks"] if t not in meta["tasks"]]
        meta["elapsed_s"] += m["elapsed_s"]
        meta["parts"].append({"file": p.name, "tasks": m["tasks"], "elapsed_s": m["elapsed_s"], "machine": m["machine"],
                              "argv": m.get("argv") or ["--tasks", ",".join(m["tasks"]), "--seeds", str(m["seeds"]),
                                                        "--part", p.name.removeprefix("pbt-tasks-").removesuffix(".json")]})
    seeds = sorted({r["seed"] for r in rows})
    meta["seeds"] = len(seeds)
    meta["seed_list"] = seeds
    table, summary = summarise(rows, meta)
    print(table)
    if not write:
        return
    # pbt.json holds the surrogate problems of bench/pbt.mjs too: replace only this suite's rows.
    path = RESULTS / "pbt.json"
    old = json.loads(path.read_text()) if path.exists() else {"runs": []}
    mine = set(meta["tasks"])
    keep = [r for r in old.get("runs", []) if r["problem"] not in mine]
    doc = {**{k: v for k, v in old.items() if k != "runs"}, "tasks_meta": meta, "tasks_summary": summary,
           "runs": keep + [{k: r[k] for k in ("problem", "optimizer", "seed", "steps", "best", "test")} for r in rows]}
    path.write_text(json.dumps(doc) + "\n")
    cmds = "\n".join(f"    nice -n 10 .venv/bin/python bench/pbt_tasks.py {' '.join(p['argv'])}" for p in meta["parts"])
    names = ",".join(p["file"].removeprefix("pbt-tasks-").removesuffix(".json") for p in meta["parts"])
    md = f"""### Real training tasks (`bench/pbt_tasks.py`)

Run as shards in parallel ({meta['parts'][0]['machine']}; {meta['elapsed_s']:.0f} s of wall time summed over the
shards, run side by side on the machine's 2 cores with other benchmark processes), then merged:

{cmds}
    .venv/bin/python bench/pbt_tasks.py --merge {names}

{meta['seeds']} seeds ({meta['seed_list'][0]}–{meta['seed_list'][-1]}); every optimizer gets {meta['population']} × {meta['epochs']} =
{meta['population'] * meta['epochs']} training epochs, the same data split and the same initial weights per seed.
Raw curves: rows with these task names in `bench/results/pbt.json`.

{table}
"""
    update_benchmarks_md("pbt-tasks", md)
