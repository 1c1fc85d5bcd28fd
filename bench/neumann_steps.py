"""How many Neumann terms does the implicit hypergradient need? For each weight-decay task of
bench/hg_tasks.py, a model is trained with every decay at 1e-3 (Adam, as in the benchmark);
after 5, 10 and 20 epochs the hypergradient of the validation loss is computed with K = 0, 1,
3, 5, 10, 20 Neumann terms (α 0.05) and compared with K = 50: cosine similarity of the
hypergradient vectors, agreement of their signs, and CPU milliseconds per computation.

    make venv && nice -n 10 .venv/bin/python bench/neumann_steps.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hg_tasks as H  # noqa: E402
from common import RESULTS, machine, percentile  # noqa: E402

from tuneport.hypergrad import implicit_hypergradient  # noqa: E402

KS = [0, 1, 3, 5, 10, 20]
REF = 50
CHECKPOINTS = [5, 10, 20]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tasks", default="digits-wd11,breast-wd12,wine-wd15,diabetes-wd12")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    for name in args.tasks.split(","):
        for seed in range(args.seeds):
            task = H.load(name, seed)
            model = H.make_model(task, seed)
            opt = torch.optim.Adam(model.parameters(), lr=task.adam_lr)
            lf = H.loss_fn(task)
            d = task.data
            wd = {k: torch.tensor(1e-3, requires_grad=True) for k in task.names}
            gen = torch.Generator().manual_seed(seed)
            for epoch in range(1, max(CHECKPOINTS) + 1):
                perm = torch.randperm(len(d["x_tr"]), generator=gen)
                for i in range(0, len(perm), task.batch):
                    idx = perm[i : i + task.batch]
                    opt.zero_grad()
                    (lf(model(d["x_tr"][idx]), d["y_tr"][idx]) + H.penalty(task, model, {k: v.detach() for k, v in wd.items()})).backward()
                    opt.step()
                if epoch not in CHECKPOINTS:
                    continue

                def hg(k: int) -> tuple[torch.Tensor, float]:
                    t0 = time.process_time()
                    g = implicit_hypergradient(lambda: lf(model(d["x_tr"]), d["y_tr"]) + H.penalty(task, model, wd),
                                               lambda: lf(model(d["x_va"]), d["y_va"]), list(model.parameters()), wd,
                                               neumann_steps=k, alpha=0.05)
                    return torch.stack([g[n] for n in task.names]), (time.process_time() - t0) * 1000

                ref, _ = hg(REF)
                for k in KS:
                    v, ms = hg(k)
                    cos = float(torch.dot(v, ref) / (v.norm() * ref.norm() + 1e-30))
                    signs = float((torch.sign(v) == torch.sign(ref)).float().mean())
                    rows.append({"task": name, "seed": seed, "epoch": epoch, "k": k, "cos": cos, "sign_agree": signs, "ms": ms})
            print(f"  {name} seed {seed} done", flush=True)
    lines = ["| K | cosine to K = 50: median [IQR] | sign agreement (median) | CPU ms per hypergradient (median) |",
             "| --- | --- | --- | --- |"]
    for k in KS:
        c = [r["cos"] for r in rows if r["k"] == k]
        sg = [r["sign_agree"] for r in rows if r["k"] == k]
        ms = [r["ms"] for r in rows if r["k"] == k]
        lines.append(f"| {k} | {percentile(c, 0.5):.3f} [{percentile(c, 0.25):.3f}, {percentile(c, 0.75):.3f}] | "
                     f"{percentile(sg, 0.5):.2f} | {percentile(ms, 0.5):.1f} |")
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        (RESULTS / "neumann-steps.json").write_text(json.dumps({"meta": {"machine": machine(), "tasks": args.tasks,
                                                                           "seeds": args.seeds}, "rows": rows, "table": table}) + "\n")


if __name__ == "__main__":
    main()
