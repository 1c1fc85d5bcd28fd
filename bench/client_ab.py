"""The Python client's ask+tell speed, the working tree against an earlier commit, in one run.

`make bench-protocol` measures tuneport against its peers; this harness answers the narrower
question a client change raises ("did it slow ask+tell down?") with less noise: both client
versions talk to the *same* server process, in alternating rounds (A B B A ...), so drift of a
shared machine hits both alike. Each round runs N ask+complete trials per client process on a
fresh study; the figure per round is the aggregate trials/s.

    python bench/client_ab.py --baseline <commit> [--rounds 12] [--trials 1500] [--clients 1,16]

Prints median trials/s with IQR per version, the ratio of medians, a 90 % bootstrap interval for
the geometric mean of the paired ratios (the figure a "no more than 5 % slower" goal is read from:
its lower end) and a Wilcoxon signed-rank test over the paired rounds (scipy); also the client
processes' CPU time per trial.

``--target echo`` takes the server out: the client's request path alone (envelope, encoding,
socket, waiting, decoding) against bench/echo-server.mjs, which returns each request unchanged,
so that a reply carries the request's own id. A "trial" is then one request.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from typing import Any

sys.path.insert(0, os.path.dirname(__file__))
from common import ROOT, Server, free_port, machine, wait_for_port  # noqa: E402

WORKER = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import tuneport as tp
assert tp.__file__.startswith(sys.argv[1]), (tp.__file__, sys.argv[1])  # not the editable install
endpoint, study, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
with tp.connect(endpoint) as client:
    st = client.load_study(study)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        trial = st.ask()
        trial.complete((float(trial.params["x"]) - 0.3) ** 2)
    print(time.perf_counter() - t0, time.process_time() - c0)
"""


WORKER_ECHO = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
import zmq
from tuneport import _protocol
assert _protocol.__file__.startswith(sys.argv[1])
endpoint, n = sys.argv[2], int(sys.argv[4])
ctx = zmq.Context()
channel = _protocol.Channel(ctx, endpoint, timeout=10.0, retries=0)
args = {"study": "bench", "trial": 1, "token": "x" * 16, "state": "COMPLETE", "value": 0.5}
for _ in range(200):
    channel.request(_protocol.make_request("tell", args))
t0, c0 = time.perf_counter(), time.process_time()
for _ in range(n):
    channel.request(_protocol.make_request("tell", args))
print(time.perf_counter() - t0, time.process_time() - c0)
channel.close()
ctx.term()
"""


def export_client(commit: str, into: str) -> str:
    """Writes python-client/src of ``commit`` under ``into``; returns the directory to put on sys.path."""
    data = subprocess.run(["git", "archive", commit, "python-client/src"], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return os.path.join(into, "python-client", "src")


def one_round(src: str, endpoint: str, study: str, clients: int, per_client: int, worker: str = WORKER) -> tuple[float, float]:
    """Aggregate trials/s of ``clients`` processes running ``per_client`` ask+complete each, and
    the client processes' CPU time (all threads: user + system) per trial in microseconds."""
    procs = [
        subprocess.Popen([sys.executable, "-c", worker, src, endpoint, study, str(per_client)], stdout=subprocess.PIPE, text=True)
        for _ in range(clients)
    ]
    outs = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"worker failed with exit code {p.returncode}")
        outs.append([float(x) for x in out.split()])
    # Start-up (imports, connect) is not timed: each worker times its own loop; the round's wall
    # time is bounded by the slowest loop.
    wall = max(o[0] for o in outs)
    cpu = sum(o[1] for o in outs)
    return clients * per_client / wall, 1e6 * cpu / (clients * per_client)


class EchoServer:
    """bench/echo-server.mjs on a free loopback port."""

    def __init__(self) -> None:
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.proc = subprocess.Popen(["node", str(ROOT / "bench" / "echo-server.mjs"), self.endpoint], stdout=subprocess.PIPE, text=True)
        wait_for_port(self.endpoint, self.proc)

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def paired_ratio_ci90(a: list[float], b: list[float], resamples: int = 4000) -> list[float]:
    """A 90 % bootstrap interval (percentile, seeded) for the geometric mean of the paired ratios
    b/a: the question "is B more than 5 % slower?" is answered by its lower end, not by a p-value
    (a large p only says the rounds could not tell the versions apart)."""
    import math
    import random

    logs = [math.log(y / x) for x, y in zip(a, b)]
    rng = random.Random(0)
    means = sorted(statistics.fmean(rng.choices(logs, k=len(logs))) for _ in range(resamples))
    return [math.exp(means[int(0.05 * resamples)]), math.exp(means[int(0.95 * resamples) - 1])]


def iqr(xs: list[float]) -> list[float]:
    q = statistics.quantiles(xs, n=4)
    return [q[0], q[2]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", required=True, help="commit whose python-client/src is version A")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--trials", type=int, default=1500, help="trials per round (split over the clients)")
    ap.add_argument("--clients", default="1,16")
    ap.add_argument("--target", choices=("server", "echo"), default="server")
    ap.add_argument("--out", default=None, help="where the JSON goes [bench/results/client_ab-<target>.json]")
    args = ap.parse_args()
    from scipy.stats import wilcoxon

    import tuneport as tp

    tmp = tempfile.mkdtemp(prefix="tuneport-client-ab-")
    versions = {"baseline": export_client(args.baseline, tmp), "working tree": str(ROOT / "python-client" / "src")}
    results: list[dict[str, Any]] = []
    out = args.out or str(ROOT / "bench" / "results" / f"client_ab-{args.target}.json")
    with (Server() if args.target == "server" else EchoServer()) as server:
        for clients in [int(c) for c in args.clients.split(",")]:
            per_client = max(1, args.trials // clients)
            rates: dict[str, list[float]] = {k: [] for k in versions}
            cpus: dict[str, list[float]] = {k: [] for k in versions}
            for r in range(args.rounds):
                order = list(versions) if r % 2 == 0 else list(reversed(versions))
                for name in order:
                    study = f"ab-{clients}-{r}-{name.replace(' ', '-')}"
                    if args.target == "server":
                        with tp.connect(server.endpoint) as c:
                            c.create_study(study, strategy="random", seed=r, space={"x": tp.Float(0, 1)})
                    worker = WORKER if args.target == "server" else WORKER_ECHO
                    rate, cpu = one_round(versions[name], server.endpoint, study, clients, per_client, worker)
                    rates[name].append(rate)
                    cpus[name].append(cpu)
                print(
                    f"clients={clients} round {r}: "
                    + ", ".join(f"{k} {rates[k][-1]:.0f}/s {cpus[k][-1]:.0f} us CPU/trial" for k in versions),
                    flush=True,
                )
            row: dict[str, Any] = {"clients": clients, "trials_per_round": per_client * clients, "rounds": args.rounds}
            for metric, data in (("trials_per_s", rates), ("client_cpu_us_per_trial", cpus)):
                a, b = data["baseline"], data["working tree"]
                row[metric] = {
                    "baseline_median": statistics.median(a),
                    "baseline_iqr": iqr(a),
                    "new_median": statistics.median(b),
                    "new_iqr": iqr(b),
                    "ratio_of_medians": statistics.median(b) / statistics.median(a),
                    "paired_ratio_median": statistics.median(y / x for x, y in zip(a, b)),
                    "paired_ratio_geomean_ci90": paired_ratio_ci90(a, b),
                    "wilcoxon_p": float(wilcoxon(a, b).pvalue),
                    "baseline": a,
                    "new": b,
                }
            results.append(row)
            print(json.dumps({m: {k: v for k, v in row[m].items() if k not in ("baseline", "new")} for m in ("trials_per_s", "client_cpu_us_per_trial")}), flush=True)
    meta = {"command": " ".join(["python", "bench/client_ab.py", *sys.argv[1:]]), "baseline": args.baseline, "machine": machine()}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
