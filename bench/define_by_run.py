"""Define-by-run against a declared space (issue 17): the same problems, the same seeds, the default
strategy (none named at create_study; `--strategy` names one) told its space with `space=` or suggesting every parameter
inside the objective (`trial.suggest_float(...)`, as a migrated Optuna script does), plus Optuna 5.0's
default TPESampler(seed) define-by-run as the reference. Sequential, one trial at a time.

    nice -n 10 .venv/bin/python bench/define_by_run.py --seeds 5 --trials 60 \
        --build before=/path/to/old/dist/cli/main.js --build after=dist/cli/main.js

Each `--build NAME=CLI` gets its own `tuneport serve` (SQLite in a temporary directory) on
`--port` + its index. Prints the median best (regret for problems with a known optimum, the
value otherwise) per problem and mode, and writes every run's best to `--out` (JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-client" / "src"))

from common import ROOT, wait_for_port  # noqa: E402
from suite import PROBLEMS, Param, Params, Problem, _bb  # noqa: E402

BY_NAME = {p.name: p for p in PROBLEMS}
# Rosenbrock in 2-D (the suite has it in 5 and 20): a curved valley, x0 and x1 correlated.
BY_NAME["rosenbrock2"] = _bb("rosenbrock", 2)


def suggest(trial: Any, q: Param) -> Any:
    """The objective's own suggest call for one parameter (Optuna's API, on tuneport's or Optuna's trial)."""
    if q.kind == "cat":
        return trial.suggest_categorical(q.name, list(q.choices))
    if q.kind == "int":
        return trial.suggest_int(q.name, int(q.low), int(q.high), log=q.log)
    return trial.suggest_float(q.name, q.low, q.high, log=q.log)


def run_tuneport(endpoint: str, prob: Problem, seed: int, n: int, declared: bool, strategy: str) -> list[float]:
    import tuneport as tp

    f = prob.make(seed)
    client = tp.connect(endpoint, timeout=300.0)
    try:
        space: dict[str, Any] | None = None
        if declared:
            space = {q.name: (tp.Categorical(list(q.choices)) if q.kind == "cat" else
                              tp.Int(int(q.low), int(q.high), log=q.log) if q.kind == "int" else tp.Float(q.low, q.high, log=q.log))
                     for q in prob.space}
        named: dict[str, Any] = {"strategy": strategy} if strategy else {}
        study = client.create_study(f"dbr-{prob.name}-{seed}-{uuid.uuid4().hex[:8]}", direction="minimize", space=space, seed=seed, **named)
        out: list[float] = []
        for _ in range(n):
            trial = study.ask()
            params: Params = {q.name: suggest(trial, q) for q in prob.space}
            observed, true = f(params)
            trial.complete(observed)
            out.append(true)
        return out
    finally:
        client.close()


def run_optuna(prob: Problem, seed: int, n: int) -> list[float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    f = prob.make(seed)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    out: list[float] = []
    for _ in range(n):
        trial = study.ask()
        observed, true = f({q.name: suggest(trial, q) for q in prob.space})
        study.tell(trial, observed)
        out.append(true)
    return out


def best_of(values: list[float], prob: Problem) -> float:
    """The best value found (the values are noiseless here); minus f* when it is known."""
    return min(values) - (prob.f_star or 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problems", default="rosenbrock2,hartmann6,mixed")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--build", action="append", default=[], help="NAME=path/to/cli/main.js (repeatable; default: this tree's dist)")
    ap.add_argument("--strategy", default="", help="the strategy to name (default: none, i.e. the server's default, auto)")
    ap.add_argument("--port", type=int, default=62200)
    ap.add_argument("--no-optuna", action="store_true")
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    builds = [b.split("=", 1) for b in a.build] or [["dist", str(ROOT / "dist" / "cli" / "main.js")]]
    problems = [BY_NAME[p] for p in a.problems.split(",")]
    results: dict[str, dict[str, list[float]]] = {}
    servers: list[tuple[str, str, subprocess.Popen[Any], str]] = []
    try:
        for i, (name, cli) in enumerate(builds):
            d = tempfile.mkdtemp(prefix="tuneport-dbr-")
            endpoint = f"tcp://127.0.0.1:{a.port + i}"
            log = open(os.path.join(d, "server.log"), "w")
            proc = subprocess.Popen(["node", cli, "serve", "--storage", os.path.join(d, "s.db"), "--bind", endpoint, "--log-level", "warn"],
                                    stdout=log, stderr=subprocess.STDOUT)
            servers.append((name, endpoint, proc, d))
            wait_for_port(endpoint, proc, log=os.path.join(d, "server.log"))
        for prob in problems:
            cell = results.setdefault(prob.name, {})
            for seed in range(a.seeds):
                # Builds alternate within a seed, so that a slower stretch of the machine hits all of them.
                for name, endpoint, _, _ in servers:
                    for declared in (True, False):
                        mode = f"{name} {'space=' if declared else 'define-by-run'}"
                        cell.setdefault(mode, []).append(best_of(run_tuneport(endpoint, prob, seed, a.trials, declared, a.strategy), prob))
                if not a.no_optuna:
                    cell.setdefault("optuna TPE define-by-run", []).append(best_of(run_optuna(prob, seed, a.trials), prob))
                print(prob.name, seed, {m: f"{v[-1]:.4g}" for m, v in cell.items()}, flush=True)
    finally:
        for _, _, proc, d in servers:
            proc.terminate()
            proc.wait(timeout=30)
            shutil.rmtree(d, ignore_errors=True)
    modes = list(next(iter(results.values())).keys())
    print(f"\n{a.strategy or 'default strategy'}: median best over {a.seeds} seeds at {a.trials} trials (regret where f* is known)")
    print("| problem | " + " | ".join(modes) + " |")
    print("|---|" + "---:|" * len(modes))
    for p, cell in results.items():
        print(f"| {p} | " + " | ".join(f"{statistics.median(cell[m]):.4g}" for m in modes) + " |")
    if a.out:
        Path(a.out).write_text(json.dumps({"strategy": a.strategy, "seeds": a.seeds, "trials": a.trials, "results": results}, indent=1))


if __name__ == "__main__":
    main()
