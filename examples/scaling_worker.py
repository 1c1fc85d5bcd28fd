"""One worker of a study spread over many machines (docs/SCALING.md): the script that a Slurm job
array, a Kubernetes indexed Job or a Ray task runs, once per worker.

Every worker runs the same command. The first to arrive creates the study (`load_if_exists`), with a
study-wide budget (`max_trials`) that all workers share: each asks for trials until the server says
the budget is spent (StudyStopped), so N workers finish exactly `max_trials` trials between them
whatever N is. The client is given every server's endpoint and fails over between them.

    TUNEPORT_ENDPOINTS=tcp://tp-a:5555,tcp://tp-b:5555 python examples/scaling_worker.py --study sweep --max-trials 200

The worker's index comes from SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX (Kubernetes indexed Jobs)
or --index; it only labels the output here. The objective is a cheap stand-in for training.
"""

from __future__ import annotations

import argparse
import math
import os

import tuneport as tp

# The search space in the protocol's wire form (create_study's `max_trials` is sent with `call`).
SPACE = {
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "width": {"type": "int", "low": 16, "high": 256, "log": True},
    "act": {"type": "categorical", "choices": ["relu", "gelu"]},
}


def objective(params: dict[str, object]) -> float:
    """A stand-in for training a model: smallest near lr = 3e-3, width = 128, gelu."""
    lr, width = float(params["lr"]), float(params["width"])  # type: ignore[arg-type]
    return (math.log10(lr) + 2.5) ** 2 + (math.log2(width) - 7) ** 2 / 4 + (0.0 if params["act"] == "gelu" else 0.1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--endpoints", default=os.environ.get("TUNEPORT_ENDPOINTS", "tcp://127.0.0.1:5555"),
                    help="comma-separated server endpoints [$TUNEPORT_ENDPOINTS]")
    ap.add_argument("--study", default="scaling-example")
    ap.add_argument("--max-trials", type=int, default=100, help="the study-wide budget, shared by all workers")
    ap.add_argument("--index", default=os.environ.get("SLURM_ARRAY_TASK_ID", os.environ.get("JOB_COMPLETION_INDEX", "0")))
    a = ap.parse_args()
    endpoints = [e for e in a.endpoints.split(",") if e]
    done = 0
    with tp.connect(endpoints, timeout=5.0, retries=10) as client:
        client.call("create_study", name=a.study, space=SPACE, strategy="tpe", direction="minimize",
                    max_trials=a.max_trials, load_if_exists=True)
        study = client.load_study(a.study)
        while True:
            try:
                trial = study.ask()
            except tp.StudyStopped:
                break  # the study-wide budget is spent (or someone stopped the study)
            with trial:
                trial.complete(objective(trial.params))
            done += 1
        best = study.summary().best_trial  # None while no trial is COMPLETE (study.best_trial raises then)
    print(f"worker {a.index}: {done} trials; study best so far: {best.value if best else None}")


if __name__ == "__main__":
    main()
