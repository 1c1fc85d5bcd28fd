"""`make bench-input-check`: what refusing bad input costs on the ZeroMQ path (issue 11 §3).

Every request frame is now walked once before msgpackr decodes it (UTF-8 of every string,
nesting; src/transports/zmq/msgpack-scan.ts). Two measurements, both in one run:

  frame walk vs decode   `node bench/frame-scan.mjs`: ns per frame for typical requests,
                         the walk next to msgpackr's decode of the same bytes
  round trips A/B        bench-protocol's tuneport row (Python client, random strategy,
                         SQLite, ask + tell) against two servers side by side: this build,
                         and a baseline build of BASELINE_REF (before the checks). Rounds
                         alternate between the two; per-round trials/s are compared by their
                         medians (ratio, IQR) and a two-sided Mann-Whitney U test.

    python bench/input_check.py [--baseline-ref REF] [--rounds 12] [--trials 400] [--clients 1,8] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, free_port, machine, percentile, update_benchmarks_md, wait_for_port, write_results  # noqa: E402
from protocol import run_clients, worker_tuneport  # noqa: E402

BASELINE_REF = "6a3e2b4"  # the last commit before the request checks


def build_baseline(ref: str) -> Path:
    """`git archive REF` into a temporary directory, built with this checkout's node_modules."""
    d = Path(tempfile.mkdtemp(prefix="tuneport-baseline-"))
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(d)], input=archive, check=True)
    (d / "node_modules").symlink_to(ROOT / "node_modules")
    subprocess.run(["npx", "tsc", "-p", "tsconfig.build.json"], cwd=d, check=True)
    return d


class Serve:
    def __init__(self, cli: Path) -> None:
        self.dir = tempfile.mkdtemp(prefix="tuneport-ab-")
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        log = os.path.join(self.dir, "server.log")  # not a pipe: one nobody reads blocks the server once full
        with open(log, "w") as out:
            self.proc = subprocess.Popen(
                ["node", str(cli), "serve", "--storage", os.path.join(self.dir, "ab.db"), "--bind", self.endpoint, "--log-level", "warn"],
                stdout=out, stderr=subprocess.STDOUT,
            )
        wait_for_port(self.endpoint, self.proc, log=log)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-ref", default=BASELINE_REF)
    ap.add_argument("--rounds", type=int, default=12, help="rounds per build and client count")
    ap.add_argument("--trials", type=int, default=400, help="ask+tell trials per round (split across clients)")
    ap.add_argument("--clients", default="1,8")
    ap.add_argument("--quick", action="store_true", help="tiny run to check the harness (figures meaningless)")
    ap.add_argument("--render", action="store_true", help="only rewrite the docs section from bench/results/input-check.json")
    args = ap.parse_args()
    if args.render:
        meta = json.loads((ROOT / "bench" / "results" / "input-check.json").read_text())["meta"]
        labels = ["this build", f"baseline {meta['baseline_ref']}"]
        md = render(meta["frame_scan"], meta["summary"], labels, meta["baseline_ref"], meta.get("rounds", 12), meta.get("trials", 400), meta["machine"])
        update_benchmarks_md("input-check", md)
        print(md)
        return 0
    rounds, trials = (2, 20) if args.quick else (args.rounds, args.trials)
    from scipy.stats import mannwhitneyu

    import tuneport as tp

    scan = json.loads(subprocess.run(["node", str(ROOT / "bench" / "frame-scan.mjs")] + (["--reps", "3", "--n", "2000"] if args.quick else []),
                                     check=True, capture_output=True, text=True).stdout)
    base_dir = build_baseline(args.baseline_ref)
    servers = {"this build": Serve(ROOT / "dist" / "cli" / "main.js"), f"baseline {args.baseline_ref}": Serve(base_dir / "dist" / "cli" / "main.js")}
    runs: list[dict[str, Any]] = []
    try:
        for label, srv in servers.items():
            with tp.connect(srv.endpoint) as client:
                client.create_study("ab", strategy="random", seed=1, space={"x": tp.Float(0, 1), "y": tp.Float(0, 1)})
        for c in [int(x) for x in args.clients.split(",")]:
            per = max(5, trials // c)
            for r in range(rounds):
                order = list(servers.items()) if r % 2 == 0 else list(reversed(servers.items()))
                for label, srv in order:
                    lat, wall = run_clients(worker_tuneport, (srv.endpoint, "ab"), c, per)
                    runs.append({"build": label, "clients": c, "round": r, "trials": len(lat), "trials_per_s": len(lat) / wall,
                                 "p50_ms": percentile(lat, 0.5) * 1000})
                    print(runs[-1], flush=True)
    finally:
        for srv in servers.values():
            srv.stop()
        shutil.rmtree(base_dir, ignore_errors=True)

    summary: list[dict[str, Any]] = []
    labels = list(servers)
    for c in sorted({r["clients"] for r in runs}):
        tps = {b: [r["trials_per_s"] for r in runs if r["clients"] == c and r["build"] == b] for b in labels}
        p50 = {b: [r["p50_ms"] for r in runs if r["clients"] == c and r["build"] == b] for b in labels}
        p = float(mannwhitneyu(tps[labels[0]], tps[labels[1]], alternative="two-sided").pvalue)
        summary.append({
            "clients": c,
            **{f"{b}: trials/s median": percentile(tps[b], 0.5) for b in labels},
            **{f"{b}: trials/s IQR": [percentile(tps[b], 0.25), percentile(tps[b], 0.75)] for b in labels},
            **{f"{b}: p50 ms median": percentile(p50[b], 0.5) for b in labels},
            "ratio": percentile(tps[labels[0]], 0.5) / percentile(tps[labels[1]], 0.5),
            "mann_whitney_p": p,
        })
    meta = {"command": "make bench-input-check", "machine": machine(), "baseline_ref": args.baseline_ref, "quick": args.quick,
            "rounds": rounds, "trials": trials, "frame_scan": scan, "summary": summary}
    path = write_results("input-check" if not args.quick else "input-check-quick", runs, meta)
    print(f"wrote {path}")
    md = render(scan, summary, labels, args.baseline_ref, rounds, trials, machine())
    if not args.quick:
        update_benchmarks_md("input-check", md)
    print(md)
    return 0


def render(scan: dict[str, Any], summary: list[dict[str, Any]], labels: list[str], ref: str, rounds: int, trials: int, where: str) -> str:
    lines = [
        "## Input checks: the cost of refusing bad UTF-8 and deep nesting (issue 11)",
        "",
        f"Command: `make bench-input-check` (`python bench/input_check.py`). Machine: {where}; shared and noisy,",
        "so compare within one run. Every ZeroMQ request frame is walked once before msgpackr decodes it",
        "(`src/transports/zmq/msgpack-scan.ts`).",
        "",
        f"Frame walk next to msgpackr's decode of the same frame (`bench/frame-scan.mjs`, median of {scan['reps']} interleaved repetitions, ns per frame):",
        "",
        "| frame | bytes | decode ns (IQR) | walk ns (IQR) | walk / decode |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, f in scan["frames"].items():
        d, s = f["decode_ns"], f["scan_ns"]
        lines.append(f"| {name} | {f['bytes']} | {d['median']:.0f} ({d['iqr'][0]:.0f}–{d['iqr'][1]:.0f}) | "
                     f"{s['median']:.0f} ({s['iqr'][0]:.0f}–{s['iqr'][1]:.0f}) | {s['median'] / d['median']:.2f} |")
    lines += [
        "",
        f"Round trips, this build vs a baseline build of `{ref}` (before the checks), side by side: bench-protocol's tuneport",
        f"row (Python client, random strategy, SQLite, ask + tell), {rounds} alternating rounds of {trials} trials per build.",
        "",
        f"| clients | {labels[0]} trials/s (IQR) | {labels[1]} trials/s (IQR) | ratio of medians | p50 ms (this / baseline) | Mann-Whitney p |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for s in summary:
        a, b = labels
        lines.append(
            f"| {s['clients']} | {s[f'{a}: trials/s median']:.0f} ({s[f'{a}: trials/s IQR'][0]:.0f}–{s[f'{a}: trials/s IQR'][1]:.0f}) | "
            f"{s[f'{b}: trials/s median']:.0f} ({s[f'{b}: trials/s IQR'][0]:.0f}–{s[f'{b}: trials/s IQR'][1]:.0f}) | {s['ratio']:.3f} | "
            f"{s[f'{a}: p50 ms median']:.3f} / {s[f'{b}: p50 ms median']:.3f} | {s['mann_whitney_p']:.2g} |"
        )
    walk_us = (scan["frames"]["ask"]["scan_ns"]["median"] + scan["frames"]["tell"]["scan_ns"]["median"]) / 1000
    lines.append("")
    for s in summary:
        p50_us = s[f"{labels[0]}: p50 ms median"] * 1000
        verdict = "no significant difference" if s["mann_whitney_p"] >= 0.05 else ("faster" if s["ratio"] > 1 else "slower")
        lines.append(
            f"- {s['clients']} client(s): {verdict} between the builds at the 5% level (p = {s['mann_whitney_p']:.2g}, ratio of median "
            f"trials/s {s['ratio']:.3f}). Walking an ask and a tell frame costs {walk_us:.1f} µs, {100 * walk_us / p50_us:.2f}% of this "
            f"build's median trial ({p50_us / 1000:.2f} ms)."
        )
    small = [f["scan_ns"]["median"] / f["decode_ns"]["median"] for n, f in scan["frames"].items() if f["bytes"] < 1024]
    slower = [s for s in summary if s["mann_whitney_p"] < 0.05 and s["ratio"] < 1]
    met = not slower and walk_us / (summary[0][f"{labels[0]}: p50 ms median"] * 1000) < 0.01
    lines += [
        f"- Goal (issue 11): the checks cost under 1% of a trial's round trips and no measurable throughput. "
        f"{'Met' if met else 'Missed'}: the walk is {min(small):.2f}–{max(small):.2f}× msgpackr's decode of the same small frame; "
        + ("no client count is significantly slower." if not slower else f"slower at {', '.join(str(s['clients']) for s in slower)} client(s)."),
        "",
        "Raw runs: `bench/results/input-check.json`.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
