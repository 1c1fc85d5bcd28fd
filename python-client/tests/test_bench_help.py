"""Every benchmark script answers `--help` with its usage and exits 0 without running anything.

`node bench/pbt.mjs --help` used to run the PBT benchmark and rewrite bench/results/pbt.json, and
`node bench/load.mjs --help` started 32 workers. The Node scripts import bench/help.mjs first, which
prints the comment at the top of the script; the Python scripts print their docstring or argparse's
usage. test_bench_smoke.py checks the Python scripts a make target runs with argparse; this file checks
the other Python scripts and every Node script.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"


def _node_entry_scripts() -> list[Path]:
    # Modules that export names are libraries of the scripts, not commands.
    return sorted(p for p in BENCH.glob("*.mjs") if not re.search(r"^export ", p.read_text(), re.M))


def _python_scripts_not_checked_elsewhere() -> list[Path]:
    """The scripts test_bench_smoke.py does not run with --help: those no make target runs, and those
    without argparse (which it leaves out)."""
    named = set(re.findall(r"\$\(PY\) bench/([\w.-]+\.py)", (ROOT / "Makefile").read_text()))
    scripts = [p for p in BENCH.glob("*.py") if '__name__ == "__main__"' in p.read_text()]
    return sorted(p for p in scripts if not (p.name in named and "ArgumentParser" in p.read_text()))


def _help(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*cmd, "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_every_node_bench_script_prints_its_header_for_help() -> None:
    scripts = _node_entry_scripts()
    assert {"load.mjs", "pbt.mjs", "reads.mjs", "server-cpu.mjs", "pg-server.mjs"} <= {p.name for p in scripts}
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: _help(["node", str(p)]), scripts))
    for script, proc in zip(scripts, results):
        assert proc.returncode == 0, f"{script.name} --help: exit {proc.returncode}\n{proc.stderr[-2000:]}"
        lines = [line for line in proc.stdout.splitlines() if line.strip()]
        assert lines, f"{script.name} --help printed nothing"
        # The help is the script's own header: a benchmark that ran would print lines of its results.
        text = script.read_text()
        strays = [line for line in lines if line.strip() not in text]
        assert not strays, f"{script.name} --help printed more than its header comment: {strays[:3]}"


def test_every_other_python_bench_script_answers_help() -> None:
    scripts = _python_scripts_not_checked_elsewhere()
    assert {"pathology_probe.py", "goals.py"} <= {p.name for p in scripts}, scripts
    env_path = str(ROOT / "python-client" / "src")
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda p: subprocess.run(
            [sys.executable, str(p), "--help"], cwd=ROOT, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PYTHONPATH": env_path}), scripts))
    for script, proc in zip(scripts, results):
        assert proc.returncode == 0, f"{script.name} --help: exit {proc.returncode}\n{proc.stderr[-2000:]}"
        out = proc.stdout.strip()
        assert out, f"{script.name} --help printed nothing"
        if "usage:" not in out:
            text = script.read_text()
            strays = [line for line in out.splitlines() if line.strip() and line.strip() not in text]
            assert not strays, f"{script.name} --help printed more than its docstring: {strays[:3]}"
