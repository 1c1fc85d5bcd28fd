"""The server benchmarks' plumbing: the ports they bind and a server that cannot start.

Helpers that run benchmarks side by side are each given a range of ports; `BENCH_PORTS=LO-HI`
keeps bench/serve-process.mjs's `freePort` (bench/load.mjs, server-cpu.mjs, server-cpu-ab.mjs,
reads.mjs, ...) inside it, skipping a port that is taken. bench/server-cpu-ab.mjs waited for ever
for the `hello` of a server that had exited at start (a build copied outside the repository finds
no node_modules): it now says which server exited and stops.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _free_ports(bench_ports: str) -> subprocess.CompletedProcess[str]:
    script = 'import("./bench/serve-process.mjs").then(async (m) => console.log(await m.freePort()))'
    return subprocess.run(["node", "-e", script], cwd=ROOT, env={**os.environ, "BENCH_PORTS": bench_ports}, capture_output=True, text=True, timeout=60)


def test_free_port_stays_in_bench_ports_and_skips_a_taken_one() -> None:
    # Only a port the kernel picked for this test is used: a range of that one port.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = _free_ports(f"{port}-{port}")
    assert busy.returncode != 0 and f"no free port in BENCH_PORTS={port}-{port}" in busy.stderr, busy.stdout + busy.stderr
    free = _free_ports(f"{port}-{port}")
    assert free.returncode == 0, free.stderr
    assert int(free.stdout) == port


def test_server_cpu_ab_stops_when_a_server_cannot_start(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["node", "bench/server-cpu-ab.mjs", "--a", str(tmp_path / "no-dist"), "--b", "dist", "--batches", "1", "--trials", "1", "--warmup", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1
    assert f"the server of {tmp_path / 'no-dist'} exited" in proc.stderr
