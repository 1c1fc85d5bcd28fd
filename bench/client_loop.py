"""`make bench-client`: what reporting costs a training loop (issue 19, item 4).

A PyTorch loop whose step is real compute (float32 matmuls on one thread, calibrated to 1, 10 or
100 ms) reports a value every step, every 10 steps or once per epoch (100 steps), and checks the
decision, with:

  tuneport-blocking      trial.report(v, step)                    (round trip per report)
  tuneport-nonblocking   trial.report(v, step, wait=False)        (queued; background thread)
  optuna-rdb             trial.report(v, step); trial.should_prune()   Optuna 5, RDB SQLite file
  optuna-journal         the same on JournalStorage(JournalFileBackend)

Each pruner is the median rule with one earlier complete trial (so every report is judged) and
the measured trial always better (never pruned). Per configuration, a baseline loop without
reporting runs right before each measured loop (paired), `--reps` times:

  overhead %   (loop wall - its baseline's wall) / baseline wall, median over reps [IQR]
  in-call us   median time spent inside the report (+ should_prune) calls, per report
  p50/p99 us   of the report call itself, over every report of every rep

    python bench/client_loop.py [--quick] [--reps N]
    python bench/client_loop.py --call-cost      # only the cost of the non-blocking call itself
    python bench/client_loop.py --hypergradient  # the hypergradient example's epochs, blocking vs not

--hypergradient trains examples/hypergradient_digits.py's MLP (one trial of ``--epochs`` epochs,
implicit hypergradient with 10 Neumann terms after each epoch, sent with the report) with
blocking and with non-blocking reports, alternating, ``--reps`` times each, and records the wall
time of every epoch (bench/results/client-hypergradient.json, section `client-hypergradient`).

Writes bench/results/client-loop.json and the `client-loop` section of docs/BENCHMARKS.md
(--call-cost: bench/results/client-call.json and the `client-call` section): 3,000
``report(v, step, wait=False)`` + ``should_prune()`` calls back to back, then 3,000 spaced by
2 ms sleeps (the background thread idles between them), timed in wall time and in the calling
thread's CPU time (``time.thread_time``, which a descheduled caller does not accrue).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

sys.path.insert(0, os.path.dirname(__file__))
from common import Server, machine, percentile, update_benchmarks_md, write_results  # noqa: E402

EPOCH = 100  # steps per epoch


def make_step(ms: float, device: str = "cpu") -> Callable[[], float]:
    """A step of real compute lasting about ``ms`` milliseconds (calibrated here).

    On ``cuda`` the matmuls run on the GPU (2048 x 2048, float32) and each step ends by reading one
    value back, as a loop that reports ``loss.item()`` does: the step returns once the GPU is done."""
    import torch

    torch.set_num_threads(1)
    if device == "cuda":
        a = torch.randn(2048, 2048, device=device)
        b = torch.randn(2048, 2048, device=device) / 2048**0.5
    else:  # the CPU step as in every earlier CPU run
        a = torch.randn(128, 128)
        b = torch.randn(128, 128)

    def once(n: int) -> float:
        c = a
        for _ in range(n):
            c = torch.mm(c, b) * 0.01
        return float(c[0, 0])

    once(1)  # the first call pays for kernel loading and, on a GPU, cuBLAS's start: not a step
    once(1)
    n = 1
    while True:
        t0 = time.perf_counter()
        once(n)
        dt = time.perf_counter() - t0
        if dt > 0.02:
            break
        n *= 2
    per = dt / n
    reps = max(1, round(ms / 1000 / per))
    return lambda: once(reps)


def synchronize(device: str) -> None:
    """CUDA-synchronised timing: the GPU's queued work is done before a clock is read."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


class Reporter:
    """Opens a trial, reports (timed), closes it."""

    name = ""

    def open(self) -> None: ...
    def report(self, value: float, step: int) -> None: ...
    def close(self) -> None: ...


class Tuneport(Reporter):
    def __init__(self, client: Any, wait: bool, steps: int) -> None:
        import tuneport as tp

        self.wait = wait
        self.name = "tuneport-blocking" if wait else "tuneport-nonblocking"
        self.study = client.create_study(f"loop-{uuid.uuid4().hex[:8]}", space={"x": tp.Float(0, 1)},
                                         scheduler={"name": "median", "options": {"n_startup_trials": 1}})
        with self.study.ask() as prior:
            for s in range(steps):
                prior.report(1.0, s, wait=False)
            prior.complete(1.0)

    def open(self) -> None:
        self.trial = self.study.ask()

    def report(self, value: float, step: int) -> None:
        if self.wait:
            self.trial.report(value, step)
        else:
            self.trial.report(value, step, wait=False)
            self.trial.should_prune()

    def close(self) -> None:
        self.trial.complete(0.5)


class Optuna(Reporter):
    def __init__(self, kind: str, directory: str, steps: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        self.name = f"optuna-{kind}"
        if kind == "rdb":
            storage: Any = f"sqlite:///{directory}/optuna-{uuid.uuid4().hex[:8]}.db"
        else:
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend

            storage = JournalStorage(JournalFileBackend(f"{directory}/journal-{uuid.uuid4().hex[:8]}.log"))
        self.study = optuna.create_study(storage=storage, pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0))
        prior = self.study.ask()
        prior.suggest_float("x", 0, 1)
        for s in range(steps):
            prior.report(1.0, s)
        self.study.tell(prior, 1.0)

    def open(self) -> None:
        self.trial = self.study.ask()
        self.trial.suggest_float("x", 0, 1)

    def report(self, value: float, step: int) -> None:
        self.trial.report(value, step)
        self.trial.should_prune()

    def close(self) -> None:
        self.study.tell(self.trial, 0.5)


def loop(step: Callable[[], float], steps: int, every: int, rep: Reporter | None,
         device: str = "cpu") -> tuple[float, list[float]]:
    calls: list[float] = []
    if rep is not None:
        rep.open()
    synchronize(device)
    t0 = time.perf_counter()
    for s in range(steps):
        step()
        if rep is not None and (s + 1) % every == 0:
            c0 = time.perf_counter()
            rep.report(0.5, s)
            calls.append(time.perf_counter() - c0)
    synchronize(device)
    wall = time.perf_counter() - t0
    if rep is not None:
        rep.close()
    return wall, calls


def where(device: str) -> str:
    """The machine, and the GPU when the loop runs on one."""
    if device != "cuda":
        return machine()
    import torch

    return f"{machine()}, {torch.cuda.get_device_name(0)} (torch {torch.__version__})"


def call_cost(device: str = "cpu") -> None:
    import tuneport as tp

    def q(xs: list[float], p: float) -> float:
        return sorted(xs)[int(p * (len(xs) - 1))]

    runs: list[dict[str, Any]] = []
    with Server() as server, tp.connect(server.endpoint) as client:
        study = client.create_study(f"cost-{uuid.uuid4().hex[:8]}", space={"x": tp.Float(0, 1)},
                                    scheduler={"name": "median", "options": {"n_startup_trials": 1}})
        for mode, gap in (("back to back", 0.0), ("spaced by 2 ms", 0.002)):
            trial = study.ask()
            cpu: list[float] = []
            wall: list[float] = []
            for step in range(3000):
                if gap:
                    time.sleep(gap)
                c0, w0 = time.thread_time_ns(), time.perf_counter_ns()
                trial.report(0.5, step, wait=False)
                trial.should_prune()
                cpu.append((time.thread_time_ns() - c0) / 1000)
                wall.append((time.perf_counter_ns() - w0) / 1000)
            trial.complete(0.5)
            row = {"mode": mode, "wall_us_p50": q(wall, 0.5), "wall_us_p99": q(wall, 0.99),
                   "cpu_us_p50": q(cpu, 0.5), "cpu_us_p99": q(cpu, 0.99), "load_1m": os.getloadavg()[0]}
            runs.append(row)
            print(row, flush=True)
    meta = {"machine": where(device), "calls": 3000, "device": device}
    suffix = "-gpu" if device == "cuda" else ""
    write_results(f"client-call{suffix}", runs, meta)
    lines = [
        f"## The non-blocking report call itself{' on the GPU machine' if suffix else ''} (`bench/client_loop.py --call-cost`, issue 19 item 2)",
        "",
        f"{meta['machine']}; 3,000 `trial.report(v, step, wait=False)` + `trial.should_prune()` calls against `tuneport serve`, "
        "timed in wall time and in the calling thread's CPU time. Goal: <= 50 us p50. "
        + ("Command: `bench/gpu/run.sh` (`bench/client_loop.py --call-cost --device cuda` there)." if suffix else
           "Command: `nice -n 19 .venv/bin/python bench/client_loop.py --call-cost`."),
        "",
        "| calls | wall p50 (us) | wall p99 (us) | caller CPU p50 (us) | caller CPU p99 (us) | load (1 min) |",
        "|---|---|---|---|---|---|",
        *[f"| {r['mode']} | {r['wall_us_p50']:.1f} | {r['wall_us_p99']:.1f} | {r['cpu_us_p50']:.1f} | {r['cpu_us_p99']:.1f} | {r['load_1m']:.1f} |" for r in runs],
        "",
        "Spaced calls cost more CPU in the caller itself, not only wall time: any code run right after a sleep or a "
        "training step finds cold caches and an idle second CPU (in-process, after 10 ms of torch compute: building "
        "the request dict 19 us, `os.urandom(16)` for its id 40 us more, waking the idle background thread 40 us more; "
        "back to back 1-6 us each). The call therefore takes no request id from the kernel (a per-process random prefix "
        "and a counter) and wakes nobody while reports keep coming: the background thread, once it sent a report, "
        "looks at its queue every 5 ms for 0.5 s (`REPORT_POLL_S`, `REPORT_LINGER_S` in _background.py).",
    ]
    if suffix:
        lines = lines[:-2]
    update_benchmarks_md(f"client-call{suffix}", "\n".join(lines))


def hypergradient(reps: int, epochs: int) -> None:
    """Per-epoch wall time of the hypergradient example, blocking against non-blocking reports."""
    import importlib.util

    import torch

    import tuneport as tp

    path = os.path.join(os.path.dirname(__file__), "..", "examples", "hypergradient_digits.py")
    spec = importlib.util.spec_from_file_location("hypergradient_digits", path)
    assert spec is not None and spec.loader is not None
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    torch.set_num_threads(1)
    data = ex.load_data(0)
    runs: list[dict[str, Any]] = []
    with Server() as server, tp.connect(server.endpoint) as client:
        for rep in range(reps):
            for wait in (True, False) if rep % 2 == 0 else (False, True):
                study = client.create_study(f"hg-{uuid.uuid4().hex[:8]}", direction="minimize", strategy="hypergradient",
                                            space=ex.space(), seed=rep)
                trial = study.ask()
                stamps = [time.perf_counter()]
                with trial:
                    val, _ = ex.train(trial, data, epochs, hypergradients=True, seed=rep, wait=wait,
                                      on_epoch=lambda _e: stamps.append(time.perf_counter()))
                    trial.complete(val)
                moved = len(study.trajectory(trial.number)) - 1
                epoch_ms = [1000 * (b - a) for a, b in zip(stamps, stamps[1:])]
                row = {"rep": rep, "wait": wait, "epochs": epochs, "epoch_ms": epoch_ms, "val_loss": val,
                       "reports_applied": moved, "load_1m": os.getloadavg()[0]}
                runs.append(row)
                print(f"rep {rep} {'blocking    ' if wait else 'non-blocking'} epoch p50 {statistics.median(epoch_ms):8.2f} ms  "
                      f"val {val:.4f}  reports on the trajectory {moved}", flush=True)
    meta = {"machine": machine(), "reps": reps, "epochs": epochs}
    write_results("client-hypergradient", runs, meta)
    update_benchmarks_md("client-hypergradient", render_hypergradient(runs, meta))


def render_hypergradient(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    def side(wait: bool) -> tuple[list[float], list[float], list[float]]:
        rows = [r for r in runs if r["wait"] is wait]
        epochs = [ms for r in rows for ms in r["epoch_ms"][1:]]  # the first epoch also warms up
        return epochs, [statistics.median(r["epoch_ms"][1:]) for r in rows], [r["val_loss"] for r in rows]

    lines = [
        "## The hypergradient example's epochs with blocking and non-blocking reports (`bench/client_loop.py --hypergradient`, issue 19 item 4)",
        "",
        f"{meta['machine']}; examples/hypergradient_digits.py's MLP on one CPU thread, one trial of {meta['epochs']} epochs "
        "per run (training, then the implicit hypergradient of 11 decays with 10 Neumann terms, then the report that "
        f"carries it), {meta['reps']} runs each way, alternating. Epoch wall time over every epoch but each run's first. "
        "Command: `nice -n 19 .venv/bin/python bench/client_loop.py --hypergradient`.",
        "",
        "| report | epochs | epoch p50 ms [IQR] | per-run median epoch ms | final val loss (each run) |",
        "|---|---|---|---|---|",
    ]
    for wait in (True, False):
        ep, med, vals = side(wait)
        lines.append(
            f"| {'blocking' if wait else 'non-blocking (`wait=False`)'} | {len(ep)} | {statistics.median(ep):.2f} "
            f"[{percentile(ep, 0.25):.2f}, {percentile(ep, 0.75):.2f}] | {', '.join(f'{m:.2f}' for m in med)} | "
            f"{', '.join(f'{v:.4f}' for v in vals)} |"
        )
    b, nb = statistics.median(side(True)[0]), statistics.median(side(False)[0])
    # Paired by run: both ways of a rep start from the same seed (same decays, same weights).
    by_rep = {(r["rep"], r["wait"]): statistics.median(r["epoch_ms"][1:]) for r in runs}
    ratios = [by_rep[(k, False)] / by_rep[(k, True)] for k, w in by_rep if w and (k, False) in by_rep]
    lines += ["", f"Non-blocking ÷ blocking epoch p50: {nb / b:.4f} pooled; per rep (same seed both ways) median "
              f"{statistics.median(ratios):.4f} [{percentile(ratios, 0.25):.4f}, {percentile(ratios, 0.75):.4f}] over {len(ratios)} reps."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="shorter loops, 1 and 10 ms steps only")
    ap.add_argument("--reps", type=int, default=3, help="paired repetitions per row (--hypergradient: runs each way)")
    ap.add_argument("--call-cost", action="store_true", help="only the cost of the non-blocking call itself")
    ap.add_argument("--hypergradient", action="store_true", help="the hypergradient example's epoch time, blocking vs non-blocking")
    ap.add_argument("--epochs", type=int, default=20, help="epochs per run with --hypergradient")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="where the step's compute runs; cuda writes the -gpu results and sections")
    ap.add_argument("--steps-ms", default=None, help="comma-separated step times in ms (default 1,10,100; --quick 1,10)")
    args = ap.parse_args()
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            ap.error("--device cuda: torch sees no CUDA device")
    if args.call_cost:
        call_cost(args.device)
        return
    if args.hypergradient:
        hypergradient(args.reps, args.epochs)
        return
    import tuneport as tp

    step_ms = [float(x) for x in args.steps_ms.split(",")] if args.steps_ms else [1.0, 10.0] if args.quick else [1.0, 10.0, 100.0]
    everies = {"every step": 1, "every 10 steps": 10, "every epoch": EPOCH}
    runs: list[dict[str, Any]] = []
    tmp = tempfile.mkdtemp(prefix="tuneport-client-loop-")
    with Server() as server, tp.connect(server.endpoint) as client:
        for ms in step_ms:
            step = make_step(ms, args.device)
            table = {1.0: 400, 10.0: 200, 100.0: 30} if not args.quick else {1.0: 200, 10.0: 60, 100.0: 20}
            steps = table.get(ms, max(20, round(3000 / ms)))
            for label, every in everies.items():
                if every > steps:
                    every = steps
                reporters: list[Reporter] = [
                    Tuneport(client, True, steps), Tuneport(client, False, steps),
                    Optuna("rdb", tmp, steps), Optuna("journal", tmp, steps),
                ]
                for rep in reporters:
                    overheads: list[float] = []
                    in_call: list[float] = []
                    calls_all: list[float] = []
                    bases: list[float] = []
                    for _ in range(args.reps):
                        base, _ = loop(step, steps, every, None, args.device)
                        bases.append(base)
                        wall, calls = loop(step, steps, every, rep, args.device)
                        overheads.append(100 * (wall - base) / base)
                        in_call.append(100 * sum(calls) / base)
                        calls_all.extend(calls)
                    row = {
                        "step_ms": ms, "every": label, "reporter": rep.name, "steps": steps, "reps": args.reps,
                        "step_ms_measured": 1000 * statistics.median(bases) / steps,
                        "overhead_pct_median": statistics.median(overheads),
                        "overhead_pct_q1": percentile(overheads, 0.25), "overhead_pct_q3": percentile(overheads, 0.75),
                        "in_call_pct_median": statistics.median(in_call),
                        "call_us_p50": 1e6 * percentile(calls_all, 0.5), "call_us_p99": 1e6 * percentile(calls_all, 0.99),
                    }
                    runs.append(row)
                    print(f"{ms:>5g} ms  {label:<15} {rep.name:<21} overhead {row['overhead_pct_median']:7.2f}%  "
                          f"in-call {row['in_call_pct_median']:7.2f}%  call p50 {row['call_us_p50']:8.1f} us  p99 {row['call_us_p99']:8.1f} us",
                          flush=True)
    meta = {"machine": where(args.device), "quick": args.quick, "reps": args.reps, "epoch_steps": EPOCH, "device": args.device}
    suffix = "-gpu" if args.device == "cuda" else ""
    write_results(f"client-loop{suffix}", runs, meta)
    update_benchmarks_md(f"client-loop{suffix}", render(runs, meta))


def render(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    gpu = meta.get("device") == "cuda"
    compute = ("each step is float32 2048x2048 matmuls on the GPU ending in a read-back of one value (as `loss.item()` "
               "does), and the clock is read after `torch.cuda.synchronize()`. " if gpu else
               "each step is real float32 matmul compute on one thread. ")
    lines = [
        f"## Training-loop overhead of reporting{' on a GPU' if gpu else ''} (`make bench-client`, issue 19)",
        "",
        f"{meta['machine']}; {meta['reps']} paired reps per row (a loop without reports right before each measured loop); "
        f"an epoch is {meta['epoch_steps']} steps; " + compute +
        "Overhead = (wall - baseline wall) / baseline wall, median [IQR]; in-call = time inside report(+should_prune) "
        "as % of the baseline; call p50/p99 = the report call alone. Optuna 5 uses MedianPruner, tuneport the median "
        "scheduler; one earlier complete trial each. On a loaded shared machine the wall overhead is noisy (it can be "
        "negative); the in-call column is the steadier figure. "
        + ("Command: `bench/gpu/run.sh` on the GPU machine (`bench/client_loop.py --device cuda` there)." if gpu else
           "Command: `nice -n 19 make bench-client`" + (" (QUICK=1: --quick)" if meta["quick"] else "") + "."),
        "",
        "| step | reports | reporter | overhead % median [IQR] | in-call % | call p50 (us) | call p99 (us) |",
        "|---|---|---|---|---|---|---|",
    ]
    if meta.get("note"):
        lines[2] += f" Rows: {meta['note']}."
    measured = [r["step_ms_measured"] for r in runs if r.get("step_ms_measured")]
    if measured:
        lines[2] += (" Measured baseline step times: " + ", ".join(
            f"{ms:g} ms steps {min(v):.2f}-{max(v):.2f} ms" for ms in sorted({r['step_ms'] for r in runs})
            if (v := [r["step_ms_measured"] for r in runs if r["step_ms"] == ms and r.get("step_ms_measured")])) + ".")
    for r in runs:
        lines.append(
            f"| {r['step_ms']:g} ms | {r['every']} | {r['reporter']} | {r['overhead_pct_median']:.2f} "
            f"[{r['overhead_pct_q1']:.2f}, {r['overhead_pct_q3']:.2f}] | {r['in_call_pct_median']:.2f} | "
            f"{r['call_us_p50']:.1f} | {r['call_us_p99']:.1f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
