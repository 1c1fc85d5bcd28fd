"""`make bench-report`: the synchronous `report` round trip against the ZeroMQ echo floor (issue 19 item 1).

One client on loopback. In the same run, interleaved in blocks so that both see the same machine load:
  echo                 raw pyzmq DEALER -> zeromq.js ROUTER (bench/echo-server.mjs) echoing the very
                       bytes of a report request: the floor (no decoding, no storage)
  report (lazy)        raw pyzmq DEALER -> `tuneport serve` (default: a `continue` report is answered
                       before its commit, which follows within --report-commit-ms)
  report (commit-first) the same against `tuneport serve --report-commit-ms 0` (every report is
                       committed before its reply: the behaviour before issue 19 item 1)
  client report        the Python client's blocking `trial.report(value, step)` against the lazy server
for each scheduler (none, median, asha), in trials of --steps reports (ask, reports, tell). Each trial's
values are a little better than the previous trial's, so the median scheduler continues (its
answers are plain `continue`); ASHA's rung promotions are committed before their reply.
Goal: report p50 <= 1.5x the echo p50 of the same run, report p99 <= 1.5 ms.

    python bench/report_latency.py [--steps 300] [--trials 4] [--quick] [--no-write-docs]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import msgpack
import zmq

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, Server, free_port, machine, percentile, update_benchmarks_md, wait_for_port, write_results  # noqa: E402

SCHEDULERS: dict[str, Any] = {
    "none": None,
    "median": {"name": "median", "options": {"n_startup_trials": 2}},
    "asha": {"name": "asha", "options": {"min_resource": 1, "max_resource": 300, "reduction_factor": 3}},
}


class Raw:
    """One DEALER socket speaking protocol v1 with msgpack, as a thin client would."""

    def __init__(self, endpoint: str) -> None:
        self.sock = zmq.Context.instance().socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.connect(endpoint)

    def frame(self, op: str, **args: Any) -> bytes:
        return msgpack.packb({"v": 1, "id": uuid.uuid4().hex, "op": op, **args})

    def rt(self, frame: bytes) -> Any:
        self.sock.send(frame)
        return msgpack.unpackb(self.sock.recv())

    def call(self, op: str, **args: Any) -> Any:
        r = self.rt(self.frame(op, **args))
        if not r["ok"]:
            raise RuntimeError(f"{op}: {r['error']}")
        return r["result"]

    def close(self) -> None:
        self.sock.close()


def raw_trial(c: Raw, echo: Raw, study: str, steps: int, lat: list[float], echo_lat: list[float]) -> None:
    """One trial of `steps` reports; each report is paired with an echo of the same bytes."""
    a = c.call("ask", study=study)
    trial, token = a["trial"]["number"], a["lease"]["token"]
    for s in range(steps):
        f = c.frame("report", study=study, trial=trial, token=token, step=s, value=1.0 / (s + 1) - trial * 1e-3)
        t0 = time.perf_counter()
        echo.rt(f)
        t1 = time.perf_counter()
        r = c.rt(f)
        t2 = time.perf_counter()
        if not r["ok"]:
            raise RuntimeError(f"report: {r['error']}")
        echo_lat.append(t1 - t0)
        lat.append(t2 - t1)
        if r["result"]["decision"]["action"] == "prune":
            break
    c.call("tell", study=study, trial=trial, token=token, state="COMPLETE", value=1.0 / steps - trial * 1e-3)


def client_trial(study: Any, steps: int, lat: list[float]) -> None:
    import tuneport as tp

    t = study.ask()
    for s in range(steps):
        t0 = time.perf_counter()
        try:
            t.report(1.0 / (s + 1) - t.number * 1e-3, s, raise_on_prune=True)
        except tp.TrialPruned:
            lat.append(time.perf_counter() - t0)
            t.prune()
            return
        lat.append(time.perf_counter() - t0)
    t.complete(1.0 / steps - t.number * 1e-3)


def summary(system: str, scheduler: str, lat: list[float]) -> dict[str, Any]:
    return {
        "system": system,
        "scheduler": scheduler,
        "n": len(lat),
        "p50_ms": percentile(lat, 0.5) * 1000,
        "p25_ms": percentile(lat, 0.25) * 1000,
        "p75_ms": percentile(lat, 0.75) * 1000,
        "p99_ms": percentile(lat, 0.99) * 1000,
    }


def load1() -> float:
    return os.getloadavg()[0]


def main() -> int:
    import tuneport as tp

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--trials", type=int, default=4, help="measured trials per scheduler and system")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write-docs", action="store_true")
    args = ap.parse_args()
    steps, trials = (30, 1) if args.quick else (args.steps, args.trials)

    ep = f"tcp://127.0.0.1:{free_port()}"
    echo_proc = subprocess.Popen(["node", str(ROOT / "bench" / "echo-server.mjs"), ep], stdout=subprocess.PIPE, text=True)
    lazy, eager = Server(), Server("--report-commit-ms", "0")
    runs: list[dict[str, Any]] = []
    loads: list[float] = [load1()]
    try:
        wait_for_port(ep, echo_proc)
        echo = Raw(ep)
        for sched_name, sched in SCHEDULERS.items():
            study = f"bench-{sched_name}"
            clients = {name: Raw(srv.endpoint) for name, srv in (("lazy", lazy), ("eager", eager))}
            for name, c in clients.items():
                c.call("create_study", name=study, strategy="random", seed=1, space={"x": {"type": "float", "low": 0, "high": 1}},
                       **({"scheduler": sched} if sched else {}))
                raw_trial(c, echo, study, steps, [], [])  # warm-up (and a complete trial for the schedulers)
                raw_trial(c, echo, study, steps, [], [])
            lat: dict[str, list[float]] = {"echo": [], "lazy": [], "eager": [], "client": []}
            pyc = tp.connect(lazy.endpoint)
            pystudy = pyc.load_study(study)
            client_trial(pystudy, steps, [])  # warm-up
            for _ in range(trials):  # interleaved: every system sees the same load
                raw_trial(clients["lazy"], echo, study, steps, lat["lazy"], lat["echo"])
                raw_trial(clients["eager"], echo, study, steps, lat["eager"], lat["echo"])
                client_trial(pystudy, steps, lat["client"])
                loads.append(load1())
            pyc.close()
            for c in clients.values():
                c.close()
            lazy_row = summary("report (lazy commit, default)", sched_name, lat["lazy"])
            try:  # absent on the lent GPU machine (bench/gpu/): the test is left out there
                from scipy.stats import mannwhitneyu
            except ImportError:
                mannwhitneyu = None
            # One-sided: are lazily committed reports faster than reports committed before their reply?
            if mannwhitneyu is not None:
                lazy_row["mwu_p_vs_commit_first"] = float(mannwhitneyu(lat["lazy"], lat["eager"], alternative="less").pvalue)
            runs += [
                summary("echo", sched_name, lat["echo"]),
                lazy_row,
                summary("report (commit before reply)", sched_name, lat["eager"]),
                summary("Python trial.report (lazy commit)", sched_name, lat["client"]),
            ]
            for r in runs[-4:]:
                print(r, flush=True)
        echo.close()
    finally:
        echo_proc.terminate()
        echo_proc.wait()
        lazy.stop()
        eager.stop()

    meta = {"command": "make bench-report", "machine": machine(), "steps": steps, "trials": trials, "load1": [min(loads), max(loads)], "quick": args.quick}
    write_results("report-latency" if not args.quick else "report-latency-quick", runs, meta)
    text = render(runs, meta)
    print(text)
    if not args.quick and not args.no_write_docs:
        update_benchmarks_md("report-latency", text)
    return 0


def render(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = [
        "## Synchronous report round trip against the echo floor (`make bench-report`, issue 19 item 1)",
        "",
        f"Machine: {meta['machine']}; load average (1 min) {meta['load1'][0]:.1f}–{meta['load1'][1]:.1f} during the run. One client on",
        f"loopback, {meta['trials']} measured trials of {meta['steps']} reports per scheduler and system, interleaved (each report is",
        "paired with an echo of its exact bytes through a zeromq.js ROUTER). `lazy commit` is the default server (a `continue`",
        "report is answered before its commit, see docs/DURABILITY.md \"Intermediate values\"); `commit before reply` is",
        "`--report-commit-ms 0`, the behaviour before. Goal: report p50 ≤ 1.5× echo p50, report p99 ≤ 1.5 ms.",
        "p (lazy < commit first): one-sided Mann-Whitney U of the lazy rows' latencies against the commit-before-reply ones.",
        "Command: `nice -n 19 make bench-report`.",
        "",
        "| scheduler | system | reports | p50 ms [IQR] | p99 ms | p50 ÷ echo p50 | p (lazy < commit first) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for sched in SCHEDULERS:
        echo = next(r for r in runs if r["scheduler"] == sched and r["system"] == "echo")
        for r in (x for x in runs if x["scheduler"] == sched):
            lines.append(
                f"| {sched} | {r['system']} | {r['n']} | {r['p50_ms']:.3f} [{r['p25_ms']:.3f}, {r['p75_ms']:.3f}] | {r['p99_ms']:.3f} | "
                f"{r['p50_ms'] / echo['p50_ms']:.2f}× | {format(r['mwu_p_vs_commit_first'], '.2g') if 'mwu_p_vs_commit_first' in r else ''} |"
            )
    lines.append("")
    lines.append("Raw runs: `bench/results/report-latency.json`.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
