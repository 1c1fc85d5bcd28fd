"""Shared helpers for the Python benchmark harnesses: servers, timing, result files."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# TUNEPORT_CLI points a long benchmark at a frozen copy of dist/, so that rebuilding meanwhile cannot change it.
CLI = Path(os.environ.get("TUNEPORT_CLI", str(ROOT / "dist" / "cli" / "main.js")))
RESULTS = ROOT / "bench" / "results"
BENCHMARKS_MD = ROOT / "docs" / "BENCHMARKS.md"


def free_port() -> int:
    """A free loopback port: any (the OS picks), or the first free one of TUNEPORT_BENCH_PORTS
    ("LOW-HIGH"), for machines where benchmarks beside each other must keep to given ports."""
    low, _, high = os.environ.get("TUNEPORT_BENCH_PORTS", "0-0").partition("-")
    for port in range(int(low), int(high or low) + 1):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise RuntimeError(f"no free port in TUNEPORT_BENCH_PORTS={os.environ['TUNEPORT_BENCH_PORTS']}")


class Server:
    """`tuneport serve` on a temporary SQLite file and a free loopback port."""

    def __init__(self, *extra: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="tuneport-bench-")
        self.db = os.path.join(self.dir, "bench.db")
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        # Its log goes to a file: a pipe nobody reads fills at 64 KiB (lease warnings of a long run),
        # and the server's next log line then blocks it.
        self.log = os.path.join(self.dir, "server.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                ["node", str(CLI), "serve", "--storage", self.db, "--bind", self.endpoint, "--log-level", "warn", *extra],
                stdout=log, stderr=subprocess.STDOUT,
            )
        wait_for_port(self.endpoint, self.proc, log=self.log)

    def rss_mib(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
        return int(m.group(1)) / 1024 if m else float("nan")

    def stop(self) -> None:
        """Stops the server and removes its temporary directory (database included)."""
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for_port(endpoint: str, proc: subprocess.Popen[Any], timeout: float = 120, log: str | None = None) -> None:
    """Waits until `endpoint` accepts connections; `log`: the file the process writes its output to."""
    host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            said = open(log).read() if log else proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"process exited early: {said}")
        try:
            with socket.create_connection((host, int(port)), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{endpoint} did not open")


def percentile(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def write_results(name: str, runs: list[dict[str, Any]], meta: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1) + "\n")
    return path


def update_benchmarks_md(section: str, markdown: str) -> None:
    """Replaces the text between `<!-- section:start -->` and `<!-- section:end -->` in docs/BENCHMARKS.md."""
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    block = f"{start}\n{markdown.strip()}\n{end}"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS_MD.parent.mkdir(parents=True, exist_ok=True)
    BENCHMARKS_MD.write_text(text)


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}"
