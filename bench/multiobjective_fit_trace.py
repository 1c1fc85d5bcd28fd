"""Run 13's GP-fit trace (docs/BENCHMARKS.md): runs one tuneport study of bench/multiobjective.py
(problem, strategy or VARIANTS name, seed; 100 trials) and, for every trial from the 11th on, fits
Optuna 5.0's GP (`optuna._gp.gp.fit_kernel_params`, its default prior, warm-started from the
previous trial's fit as GPSampler does) on the trials before it, then prints, on trials 15, 19, 20,
25, 29, 30, ..., 99, both θ — the one tuneport stored in the trial's `ehvi_theta` and Optuna's — as
lengthscales, signal variance, noise and GPSampler's loss (negative log marginal likelihood minus
log prior, constants omitted) on the same standardised data.

    TUNEPORT_CLI=<frozen dist>/cli/main.js nice -n 10 .venv/bin/python bench/multiobjective_fit_trace.py fonseca_fleming auto 0
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python-client" / "src"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from optuna._gp import gp as ogp  # noqa: E402
from optuna._gp import prior as oprior  # noqa: E402

import multiobjective as mo  # noqa: E402
import tuneport as tp  # noqa: E402
from common import Server  # noqa: E402


def loss(theta: np.ndarray, X: np.ndarray, y: np.ndarray, d: int) -> float:
    th = torch.tensor(theta, dtype=torch.float64)
    g = ogp.GPRegressor(torch.zeros(d, dtype=torch.bool), torch.from_numpy(X), torch.from_numpy(y),
                        torch.exp(th[:d]), torch.exp(th[d]), torch.exp(th[d + 1]) + oprior.DEFAULT_MINIMUM_NOISE_VAR)
    return float(-g.marginal_log_likelihood() - oprior.default_log_prior(g))


def show(theta: np.ndarray, d: int) -> str:
    ls = " ".join(f"{x:.3g}" for x in np.exp(-0.5 * theta[:d]))
    return f"{ls} | s2 {math.exp(theta[d]):.3g} noise {math.exp(theta[d + 1]) + 1e-6:.2g}"


def main() -> None:
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return
    if len(sys.argv) != 4:
        sys.exit(f"expected 3 arguments (problem, strategy, seed), got {len(sys.argv) - 1}\n\n{__doc__}")
    problem, strategy, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    _, d, _ = mo.PROBLEMS[problem]
    spec = mo.space_of(problem)
    with Server() as server, tp.connect(server.endpoint, timeout=60.0) as client:
        mo.run_tuneport(client, problem, None if strategy == "auto" else strategy, seed, 100)
        trials = client.load_study(f"{problem}-{strategy}-{seed}-100").trials
    X = np.array([[(float(t.params[f"x{k}"]) - lo) / (hi - lo) for k, (_, lo, hi, _) in enumerate(spec)] for t in trials])
    V = np.array([t.values for t in trials])
    cache: list[ogp.GPRegressor | None] = [None] * V.shape[1]
    print("trial objective | tuneport: lengthscales | s2 noise loss || Optuna: lengthscales | s2 noise loss | acquisition")
    for n in range(10, 100):
        Y = (V[:n] - V[:n].mean(0)) / np.maximum(V[:n].std(0), 1e-12)
        ours = trials[n].system_attrs.get("ehvi_theta")
        for j in range(V.shape[1]):
            y = -Y[:, j]  # GPSampler maximises; the GP is symmetric in the sign
            g = ogp.fit_kernel_params(X[:n], y, np.zeros(d, dtype=bool), oprior.default_log_prior,
                                      oprior.DEFAULT_MINIMUM_NOISE_VAR, False, cache[j])
            cache[j] = g
            theirs = np.concatenate([np.log(g.inverse_squared_lengthscales.numpy()),
                                     [math.log(g.kernel_scale.item()), math.log(max(g.noise_var.item() - 1e-6, 1e-300))]])
            if n % 10 in (0, 5, 9) and ours is not None:
                th = np.array(ours[j])
                print(f"{n} f{j + 1} | {show(th, d)} loss {loss(th, X[:n], y, d):.2f} || {show(theirs, d)} loss "
                      f"{loss(theirs, X[:n], y, d):.2f} | {trials[n].system_attrs.get('ehvi_acquisition')}")


if __name__ == "__main__":
    main()
