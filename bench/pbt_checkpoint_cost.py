"""What one PBT report costs the training loop: `pbt_report` with a synchronous save (fsync on,
fsync off), with a background `CheckpointWriter`, and the bare `report` round trip (no save), against one epoch of the digits MLP of
bench/tasks.py, through a real server. Medians over `--reports` reports per mode (the modes
interleaved, so machine load hits each alike), in wall milliseconds on the calling thread.

    make build venv && nice -n 10 .venv/bin/python bench/pbt_checkpoint_cost.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tasks as T  # noqa: E402
from common import RESULTS, Server, machine, percentile  # noqa: E402

import tuneport as tp  # noqa: E402
from tuneport.torch import CheckpointWriter, pbt_complete, pbt_report  # noqa: E402

MODES = ["sync-fsync", "sync-no-fsync", "background", "report-only"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reports", type=int, default=150)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    data = T.load("digits-mlp", 0)
    ckdir = tempfile.mkdtemp(prefix="tuneport-ckcost-")
    times: dict[str, list[float]] = {m: [] for m in MODES + ["epoch"]}
    with Server() as server, tp.connect(server.endpoint) as client, CheckpointWriter() as writer:
        study = client.create_study("cost", space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=0, strategy={
            "name": "pbt", "options": {"population_size": len(MODES), "perturbation_interval": 10_000}})
        members = []
        for _ in MODES:
            trial = study.ask()
            net = T.model("digits-mlp", trial.number)
            members.append((trial, net, torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)))
        gen = torch.Generator().manual_seed(0)
        for step in range(1, args.reports + 1):
            for mode, (trial, net, opt) in zip(MODES, members):
                t0 = time.perf_counter()
                T.train_epoch(net, opt, data, gen)
                val, _ = T.evaluate(net, data)
                times["epoch"].append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                if mode == "report-only":  # the server round trip alone, for reference
                    trial.report(val, step, {"checkpoint": f"{ckdir}/none-{step}"})
                else:
                    pbt_report(trial, val, step, net, opt, checkpoint_dir=ckdir, fsync=mode == "sync-fsync",
                               writer=writer if mode == "background" else None)
                times[mode].append((time.perf_counter() - t0) * 1000)
        for trial, _, _ in members:
            pbt_complete(trial, trial.intermediate[-1][1], writer=writer)
    left = [p for p in Path(ckdir).rglob("*.pt")]
    res = {m: {"median_ms": percentile(v, 0.5), "p25": percentile(v, 0.25), "p75": percentile(v, 0.75)} for m, v in times.items()}
    res["files_left"] = len(left)  # type: ignore[assignment]
    print(json.dumps(res, indent=1))
    if not args.no_write:
        (RESULTS / "pbt-checkpoint-cost.json").write_text(json.dumps({"meta": {"machine": machine(), "reports": args.reports},
                                                                      "result": res}, indent=1) + "\n")


if __name__ == "__main__":
    main()
