"""Learning-curve problems for bench/multifidelity.py: one configuration's training as a `Run`
whose `advance(t)` returns the observed loss at step t (lower is better; NaN once diverged).

Families (R = 81 steps each; `quality` = the noise-free loss at R of a configuration trained to R,
+inf for a diverged one; observation noise is reproducible per (seed, configuration, t)):

  learning-curve  Hartmann6 asymptotes, power-law curves whose good configurations learn slowly
                  (REFERENCE.md's synthetic; src/testing/learning-curve.ts): early rankings mislead.
  crossing        learning rate vs. plateau: y = y∞(x) + p(z) + (y0 − y∞(x) − p(z))·exp(−t/τ(z)),
                  z = (log10 lr + 4)/4 ∈ [0, 1]; τ(z) = 0.5·400^(1−z) (high rates learn in a step or
                  two, low ones never converge) and the plateau penalty p(z) = 1.2 z² (high rates end
                  worse), so the curves of fast and slow learners cross between steps 3 and 30 and the
                  best final rates (z ≈ 0.3) look worst at the first rungs. y∞: log-Branin on (x1, x2)
                  plus a bowl on (x3, x4).
  slow-start      sigmoid curves with a warm-up delay: y = y∞ + (y0 − y∞)·(1 − σ((t − d)/w))/(1 − σ(−d/w)),
                  d(x) = 2 + 14·(1 − q(x))^0.5·(0.5 + x5)... see `SlowStart.mean`: the better the
                  configuration's asymptote, the later it takes off (up to step ≈ 20), so at rungs
                  1, 3, 9 the best configurations sit near y0 while mediocre ones have already dropped.
                  y∞: Hartmann3 on (x0, x1, x2) plus a tilt in x3; width `width` (int, log) sets w.
  diverge         learning rates above a threshold lr_c(x) learn fastest, then blow up and report NaN:
                  below lr_c, τ = 1.5·10^(zc − z) and floor y∞(x) + 0.15·10^(z − zc) (z = log10 lr);
                  above, the same curve until t_div = max(2, 40·10^(−2(z − zc))), then the loss grows
                  ×e every 2 steps and is NaN from t_div + 4 on. The best final configurations sit just
                  below the threshold. y∞: Hartmann3 on (x2, x3, x4) rescaled to [0.2, 1], zc = −1.5 + 1.2·x1.

Each family has a mixed space (a log-scaled learning rate, floats, and an integer where it matters).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np

import tuneport as tp

Params = dict[str, Any]

ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
A6 = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
P6 = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
A3 = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
P3 = 1e-4 * np.array([[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]])
F6_STAR = -3.32237
F3_STAR = -3.86278


def hartmann6(x: np.ndarray) -> float:
    return float(-(ALPHA * np.exp(-(A6 * (x - P6) ** 2).sum(axis=1))).sum())


def hartmann3(x: np.ndarray) -> float:
    return float(-(ALPHA * np.exp(-(A3 * (x - P3) ** 2).sum(axis=1))).sum())


def branin01(u: float, v: float) -> float:
    """Branin on the unit square (x1 = 15u − 5, x2 = 15v), minus its optimum 0.397887."""
    x1, x2 = 15 * u - 5, 15 * v
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10 - 0.397887


def config_key(params: Mapping[str, Any]) -> int:
    return zlib.crc32(repr(sorted((k, round(float(v), 12)) for k, v in params.items())).encode())


def noise(seed: int, key: int, t: int) -> float:
    return float(np.random.default_rng([seed, key, t]).standard_normal())


class Run:
    """One configuration's training; `advance(t)` trains to step t and returns the observed loss."""

    t = 0

    def advance(self, t: int) -> float:
        raise NotImplementedError


class Task:
    name = ""
    R = 1

    def space(self) -> dict[str, tp.Distribution]:
        raise NotImplementedError

    def optuna_params(self, trial: Any) -> Params:
        raise NotImplementedError

    def random_params(self, rng: np.random.Generator) -> Params:
        raise NotImplementedError

    def start(self, params: Params, seed: int) -> Run:
        raise NotImplementedError

    def quality(self, run: Run, params: Params) -> float:
        """The loss a configuration trained to R counts for (+inf when it diverged)."""
        raise NotImplementedError

    def cost(self, params: Params) -> float:
        return 1.0


class CurveRun(Run):
    """A synthetic curve: `mean(params, t)` plus noise of scale `sigma/√(1+t)`; NaN stays NaN."""

    def __init__(self, task: CurveTask, params: Params, seed: int) -> None:
        self.task, self.params, self.seed, self.key = task, params, seed, config_key(params)

    def advance(self, t: int) -> float:
        self.t = t
        m = self.task.mean(self.params, t)
        if not math.isfinite(m):
            return math.nan
        return m + self.task.sigma / math.sqrt(1 + t) * noise(self.seed, self.key, t)


class CurveTask(Task):
    """A learning-curve family given by its noise-free mean curve; the space is declared once."""

    R = 81
    sigma = 0.1

    def declared(self) -> dict[str, tuple[str, float, float, bool]]:
        """name → (kind "float"|"int", low, high, log)."""
        raise NotImplementedError

    def mean(self, p: Params, t: float) -> float:
        raise NotImplementedError

    def space(self) -> dict[str, tp.Distribution]:
        out: dict[str, tp.Distribution] = {}
        for k, (kind, lo, hi, log) in self.declared().items():
            out[k] = tp.Float(lo, hi, log=log) if kind == "float" else tp.Int(int(lo), int(hi), log=log)
        return out

    def optuna_params(self, trial: Any) -> Params:
        out: Params = {}
        for k, (kind, lo, hi, log) in self.declared().items():
            out[k] = (trial.suggest_float(k, lo, hi, log=log) if kind == "float"
                      else trial.suggest_int(k, int(lo), int(hi), log=log))
        return out

    def random_params(self, rng: np.random.Generator) -> Params:
        out: Params = {}
        for k, (kind, lo, hi, log) in self.declared().items():
            u = float(rng.uniform())
            if kind == "float":
                out[k] = math.exp(math.log(lo) + u * (math.log(hi) - math.log(lo))) if log else lo + u * (hi - lo)
            else:
                v = math.exp(math.log(lo - 0.5) + u * (math.log(hi + 0.5) - math.log(lo - 0.5))) if log else lo - 0.5 + u * (hi - lo + 1)
                out[k] = int(min(hi, max(lo, round(v))))
        return out

    def start(self, params: Params, seed: int) -> Run:
        return CurveRun(self, params, seed)

    def quality(self, run: Run, params: Params) -> float:
        m = self.mean(params, self.R)
        return m if math.isfinite(m) else math.inf


def _x(p: Params, n: int) -> np.ndarray:
    return np.array([float(p[f"x{i}"]) for i in range(n)])


class LearningCurve(CurveTask):
    name = "learning-curve"
    Y0 = 0.5

    def declared(self) -> dict[str, tuple[str, float, float, bool]]:
        return {f"x{i}": ("float", 0.0, 1.0, False) for i in range(6)}

    def mean(self, p: Params, t: float) -> float:
        x = _x(p, 6)
        y_inf = hartmann6(x)
        q = min(1.0, max(0.0, (y_inf - F6_STAR) / -F6_STAR))
        tau = 1 + 6 * (1 - q) * (0.5 + x[4])
        a = 1 + 0.5 * x[5]
        return y_inf + (self.Y0 - y_inf) * (1 + t / tau) ** -a

    def cost(self, params: Params) -> float:
        return 1.0 + float(params["x3"])


class Crossing(CurveTask):
    name = "crossing"
    Y0 = 2.5

    def declared(self) -> dict[str, tuple[str, float, float, bool]]:
        return {"lr": ("float", 1e-4, 1.0, True), **{f"x{i}": ("float", 0.0, 1.0, False) for i in range(1, 5)}}

    def mean(self, p: Params, t: float) -> float:
        z = (math.log10(float(p["lr"])) + 4) / 4
        x = [float(p[f"x{i}"]) for i in range(1, 5)]
        y_inf = math.log1p(branin01(x[0], x[1])) / 3 + 0.5 * ((x[2] - 0.3) ** 2 + (x[3] - 0.6) ** 2)
        tau = 0.5 * 400 ** (1 - z)
        floor = y_inf + 1.2 * z * z
        return floor + (self.Y0 - floor) * math.exp(-t / tau)


class SlowStart(CurveTask):
    name = "slow-start"
    Y0 = 2.0

    def declared(self) -> dict[str, tuple[str, float, float, bool]]:
        return {"x0": ("float", 0.0, 1.0, False), "x1": ("float", 0.0, 1.0, False), "x2": ("float", 0.0, 1.0, False),
                "x3": ("float", 0.0, 1.0, False), "width": ("int", 16, 512, True)}

    def mean(self, p: Params, t: float) -> float:
        x = np.array([float(p["x0"]), float(p["x1"]), float(p["x2"])])
        y_inf = 1 + hartmann3(x) / -F3_STAR * 0.9 + 0.2 * float(p["x3"])  # ∈ [0.1, 1.2]
        q = min(1.0, max(0.0, (y_inf - 0.1) / 1.1))  # 0 best
        w_log = (math.log(float(p["width"])) - math.log(16)) / (math.log(512) - math.log(16))  # 0..1
        delay = 1 + 8 * (1 - q) ** 2 * (0.4 + 0.6 * w_log)  # good and wide configurations start late
        width = 1 + 2 * w_log

        def s(u: float) -> float:
            return 1 / (1 + math.exp(-u))

        frac = (s((t - delay) / width) - s(-delay / width)) / (1 - s(-delay / width))
        return self.Y0 - (self.Y0 - y_inf) * frac


class Diverge(CurveTask):
    name = "diverge"
    Y0 = 2.0

    def declared(self) -> dict[str, tuple[str, float, float, bool]]:
        return {"lr": ("float", 1e-4, 1.0, True), **{f"x{i}": ("float", 0.0, 1.0, False) for i in range(1, 5)}}

    def mean(self, p: Params, t: float) -> float:
        z = math.log10(float(p["lr"]))
        zc = -1.5 + 1.2 * float(p["x1"])
        x = np.array([float(p["x2"]), float(p["x3"]), float(p["x4"])])
        y_inf = 0.2 + 0.8 * (1 + hartmann3(x) / -F3_STAR)  # ∈ [0.2, 1]
        tau = 1.5 * 10 ** (zc - z)
        floor = y_inf + 0.15 * 10 ** (z - zc)
        y = floor + (self.Y0 - floor) * math.exp(-t / tau)
        if z <= zc:
            return y
        t_div = max(2.0, 40 * 10 ** (-2 * (z - zc)))
        if t <= t_div:
            return y
        if t >= t_div + 4:
            return math.nan
        return y * math.exp((t - t_div) / 2)


class DigitsRun(Run):
    def __init__(self, task: Digits, params: Params, seed: int) -> None:
        import torch
        from torch import nn

        self.task, self.key = task, config_key(params) ^ seed
        torch.manual_seed(self.key)
        width, layers = int(params["width"]), int(params["layers"])
        mods: list[nn.Module] = []
        d_in = 64
        for _ in range(layers):
            mods += [nn.Linear(d_in, width), nn.ReLU(), nn.Dropout(float(params["dropout"]))]
            d_in = width
        self.model = nn.Sequential(*mods, nn.Linear(d_in, 10))
        self.opt = torch.optim.Adam(self.model.parameters(), lr=float(params["lr"]), weight_decay=float(params["weight_decay"]))
        self.last = float("nan")

    def advance(self, t: int) -> float:
        import torch
        from torch import nn

        x_tr, y_tr, x_va, y_va = self.task.data
        loss_fn = nn.CrossEntropyLoss()
        while self.t < t:
            self.t += 1
            g = torch.Generator().manual_seed(self.key * 1000 + self.t)
            self.model.train()
            perm = torch.randperm(len(x_tr), generator=g)
            for i in range(0, len(x_tr), 128):
                idx = perm[i : i + 128]
                self.opt.zero_grad()
                loss_fn(self.model(x_tr[idx]), y_tr[idx]).backward()
                self.opt.step()
        self.model.eval()
        with torch.no_grad():
            self.last = float(loss_fn(self.model(x_va), y_va).item())
        return self.last if math.isfinite(self.last) else float("nan")


class Digits(Task):
    name = "digits"

    def __init__(self, R: int = 27) -> None:
        import torch
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        torch.set_num_threads(1)
        self.R = R
        x, y = load_digits(return_X_y=True)
        x_tr, x_va, y_tr, y_va = train_test_split(x / 16.0, y, test_size=0.25, random_state=0, stratify=y)
        f = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
        i = lambda a: torch.tensor(a, dtype=torch.long)  # noqa: E731
        self.data = (f(x_tr), i(y_tr), f(x_va), i(y_va))

    def space(self) -> dict[str, tp.Distribution]:
        return {"lr": tp.Float(1e-5, 1e-1, log=True), "width": tp.Int(16, 256, log=True), "layers": tp.Int(1, 3),
                "dropout": tp.Float(0.0, 0.5), "weight_decay": tp.Float(1e-6, 1e-2, log=True)}

    def optuna_params(self, trial: Any) -> Params:
        return {"lr": trial.suggest_float("lr", 1e-5, 1e-1, log=True), "width": trial.suggest_int("width", 16, 256, log=True),
                "layers": trial.suggest_int("layers", 1, 3), "dropout": trial.suggest_float("dropout", 0.0, 0.5),
                "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True)}

    def random_params(self, rng: np.random.Generator) -> Params:
        return {"lr": float(10 ** rng.uniform(-5, -1)), "width": int(round(2 ** rng.uniform(4, 8))),
                "layers": int(rng.integers(1, 4)), "dropout": float(rng.uniform(0, 0.5)),
                "weight_decay": float(10 ** rng.uniform(-6, -2))}

    def start(self, params: Params, seed: int) -> Run:
        return DigitsRun(self, params, seed)

    def quality(self, run: Run, params: Params) -> float:
        assert isinstance(run, DigitsRun)
        return run.last if math.isfinite(run.last) else math.inf


CURVE_TASKS: dict[str, type[CurveTask]] = {c.name: c for c in (LearningCurve, Crossing, SlowStart, Diverge)}
