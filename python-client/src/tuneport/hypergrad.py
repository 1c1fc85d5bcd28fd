"""Hypergradients inside an ordinary PyTorch loop (needs PyTorch: ``pip install torch``).

torch is imported on first use only: importing this module costs nothing where torch is
absent, and ``HypergradSGD`` / ``HypergradAdam`` are built (as real ``torch.optim.Optimizer``
subclasses) the first time they are looked up.

Two sources of hypergradients, both sent to the server's ``hypergradient`` strategy with
``trial.report(value, step, hypergradients={...})``:

* **Online hypergradient descent** (Baydin, Cornish, Martínez-Rubio, Schmidt & Wood, "Online
  Learning Rate Adaptation with Hypergradient Descent", ICLR 2018). The parameters after an
  update are ``θ_{t-1} = θ_{t-2} − α·d_{t-1}`` (``d`` the update direction: the gradient for
  SGD, the momentum buffer for SGD with momentum, ``m̂/(√v̂+ε)`` for Adam), so the derivative
  of the next loss with respect to the rate that produced them is
  ``∂f(θ_{t-1})/∂α = −∇f(θ_{t-1})·d_{t-1}`` (§2, eq. 4 for SGD; §3 for SGDN and Adam). For
  the momentum μ of SGD, ``d_{t-1} = μ·v_{t-2} + g_{t-1}`` gives
  ``∂f(θ_{t-1})/∂μ = −α_{t-1}·∇f(θ_{t-1})·v_{t-2}`` (the same one-step argument; the paper
  tunes α only). With ``hypergrad_lr = β > 0`` the optimizer itself applies the paper's
  update ``α_t = α_{t-1} − β·h_t`` before each step (and likewise μ with
  ``momentum_hypergrad_lr``); with β = 0 it only measures. ``multiplicative=True`` applies
  the paper's multiplicative variant HD-M instead (§3, after Rubio 2017): the hypergradient
  normalised by the two gradient norms, ``h̃_t = h_t / (‖∇f(θ_{t-1})‖·‖d_{t-1}‖)`` (minus the
  cosine of consecutive directions, in [−1, 1]), sets ``α_t = α_{t-1}·(1 − β·h̃_t)``: scale-free,
  so one β works for rates of any size. ``pop_hypergradients()`` returns the mean hypergradient
  of each group since the last call (dL_train/dα: a one-step, training-loss proxy, as in the
  paper) for reporting; ``pop_hypergradients(normalized=True)`` the mean of h̃ instead, which is
  what the server's ``hd-m`` step rule expects.

  Bounds: the rate always stays in ``lr_bounds`` (default [1e-8, 10]) and the momentum in
  ``momentum_bounds`` (default [0, 0.999]); an update that would leave them is clipped, so the
  rate is never 0 and never unbounded. A NaN or infinite hypergradient (the loss or a gradient
  diverged) raises ``HypergradientError`` from ``step()`` and changes nothing: the optimizer
  never continues silently on a rate computed from NaN.

* **Implicit differentiation** (Lorraine, Vicol & Duvenaud, "Optimizing Millions of
  Hyperparameters by Implicit Differentiation", AISTATS 2020). At a stationary point of the
  training loss L_T(w, λ), the validation loss L_V has
  ``dL_V/dλ = ∂L_V/∂λ − ∂L_V/∂w · [∂²L_T/∂w∂wᵀ]⁻¹ · ∂²L_T/∂w∂λᵀ`` (eq. 2), with the inverse
  Hessian–vector product approximated by a truncated Neumann series
  ``H⁻¹v ≈ α Σ_{j=0..K} (I − αH)^j v`` (Algorithm 3). Only Hessian–vector products are
  needed, never the Hessian. The series converges when ``0 < α < 2/λ_max(H)`` and H is
  positive definite; the paper uses α equal to the training rate.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Union

from ._extras import TORCH_HINT

__all__ = ["HypergradAdam", "HypergradSGD", "HypergradientError", "apply_updates", "implicit_hypergradient"]


class HypergradientError(FloatingPointError):
    """A hypergradient was NaN or infinite (the loss or a gradient diverged). Raised by the
    optimizers' ``step()`` before anything changes; ``key`` names the hyperparameter ("lr",
    "momentum") and ``value`` is what was computed."""

    def __init__(self, key: str, value: float) -> None:
        super().__init__(f"the hypergradient of {key!r} is {value}: the loss or a gradient diverged; "
                         "lower the rate or the hypergradient rate, or restart from a checkpoint")
        self.key = key
        self.value = value


def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        raise ImportError(TORCH_HINT.format(module="tuneport.hypergrad")) from exc


HParams = Union[Sequence[Any], Mapping[str, Any]]


def implicit_hypergradient(
    train_loss_fn: Callable[[], Any],
    val_loss_fn: Callable[[], Any],
    params: Iterable[Any],
    hparams: HParams,
    neumann_steps: int = 3,
    alpha: float = 0.01,
) -> Any:
    """Hypergradient ``dL_V/dλ`` of the validation loss through the implicit function theorem.

    ``train_loss_fn()`` and ``val_loss_fn()`` return scalar tensors computed from the current
    ``params`` (the weights, ``requires_grad=True``) and ``hparams`` (tensors with
    ``requires_grad=True`` that the training loss depends on differentiably, e.g. weight
    decay coefficients; the validation loss may depend on them too). ``hparams`` is a
    sequence or a name → tensor mapping; the result has the same shape: a list or a dict of
    tensors shaped like each hyperparameter, detached. ``neumann_steps`` K and ``alpha`` α set
    the inverse-Hessian approximation ``α Σ_{j≤K} (I − αH)^j`` (K = 0 is the identity, α·I,
    the paper's cheapest variant; the default K = 3 was chosen on bench/hypergradient.py's
    weight-decay tasks, where K = 0, 3 and 10 gave the same losses and K = 3 costs 0.7× of K = 10). Nothing is modified: weights and ``.grad`` fields are left
    as they were. The result is exact (up to the series) only at a stationary point of the
    training loss; in practice it is used after some training, as in the paper.
    @raises ValueError for a non-positive alpha, a negative number of steps, or a hyperparameter
    that does not require grad."""
    torch = _torch()
    if not alpha > 0:
        raise ValueError("alpha must be > 0")
    if neumann_steps < 0:
        raise ValueError("neumann_steps must be >= 0")
    names: list[str] | None = None
    if isinstance(hparams, Mapping):
        names = list(hparams.keys())
        hp = [hparams[n] for n in names]
    else:
        hp = list(hparams)
    for i, h in enumerate(hp):
        if not getattr(h, "requires_grad", False):
            where = repr(names[i]) if names is not None else i
            raise ValueError(
                f"hparams[{where}] does not require grad: make it with torch.tensor(value, requires_grad=True) "
                "and use that tensor (not a detached copy) in train_loss_fn"
            )
    ws = [w for w in params if w.requires_grad]

    # v1 = ∂L_V/∂w, and the direct term ∂L_V/∂λ (zero when L_V does not use λ).
    val = val_loss_fn()
    gv = torch.autograd.grad(val, ws + hp, allow_unused=True)
    v1 = [torch.zeros_like(w) if g is None else g.detach() for w, g in zip(ws, gv[: len(ws)])]
    direct = [torch.zeros_like(h) if g is None else g.detach() for h, g in zip(hp, gv[len(ws):])]

    # ∂L_T/∂w with a graph, so that Hessian–vector and mixed products are one more backward each.
    train = train_loss_fn()
    gt = torch.autograd.grad(train, ws, create_graph=True)

    # p = α Σ_{j=0..K} (I − αH)^j v1  (Lorraine et al., Algorithm 3).
    v = [x.clone() for x in v1]
    p = [x.clone() for x in v1]
    for _ in range(neumann_steps):
        hv = torch.autograd.grad(gt, ws, grad_outputs=v, retain_graph=True, allow_unused=True)
        v = [vi - alpha * (torch.zeros_like(vi) if h is None else h.detach()) for vi, h in zip(v, hv)]
        p = [pi + vi for pi, vi in zip(p, v)]
    p = [alpha * pi for pi in p]

    # Mixed term: p · ∂²L_T/∂w∂λ = ∂(∂L_T/∂w · p)/∂λ.
    mixed = torch.autograd.grad(gt, hp, grad_outputs=p, allow_unused=True)
    out = [d - (torch.zeros_like(d) if m is None else m.detach()) for d, m in zip(direct, mixed)]
    return dict(zip(names, out)) if names is not None else out


def _flat_dot(a: Sequence[Any], b: Sequence[Any]) -> float:
    return float(sum(float((x * y).sum()) for x, y in zip(a, b)))


def _flat_norm(a: Sequence[Any]) -> float:
    return math.sqrt(_flat_dot(a, a))


def _check_bounds(name: str, bounds: tuple[float, float], lowest: float, highest: float) -> tuple[float, float]:
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (lowest <= lo <= hi <= highest) or not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must satisfy {lowest} <= low <= high <= {highest} (got {bounds})")
    return lo, hi


#: The hyperparameters the optimizers adapt: group key → (its hypergradient rate's key, its bounds' key).
_ADAPTED = {"lr": ("hypergrad_lr", "lr_bounds"), "momentum": ("momentum_hypergrad_lr", "momentum_bounds")}


def _build_classes() -> dict[str, type]:
    torch = _torch()

    class _HypergradBase(torch.optim.Optimizer):  # type: ignore[misc,name-defined]
        """Shared bookkeeping: per-group hypergradient sums for ``pop_hypergradients``, and the
        step, which measures every group's hypergradients before it changes anything."""

        def _record(self, group: dict[str, Any], key: str, h: float, norm: float) -> float:
            """Accumulates h (and h̃ = h / norm) for ``pop_hypergradients``; returns h̃."""
            hn = h / norm if norm > 0 else 0.0
            acc = group.setdefault("_hg_sum", {})
            accn = group.setdefault("_hg_sum_normalized", {})
            cnt = group.setdefault("_hg_count", {})
            acc[key] = acc.get(key, 0.0) + h
            accn[key] = accn.get(key, 0.0) + hn
            cnt[key] = cnt.get(key, 0) + 1
            group.setdefault("last_hypergradients", {})[key] = h
            group.setdefault("last_hypergradients_normalized", {})[key] = hn
            return hn

        def pop_hypergradients(self, group: int | None = None, *, normalized: bool = False) -> dict[str, float]:
            """Mean hypergradient per hyperparameter (``"lr"``, ``"momentum"``) since the last call,
            for one param group (default: the first; pass ``group`` for others). Empty before two steps.
            ``normalized``: the mean of h̃ = h / (‖g_t‖·‖d_{t-1}‖) instead (in [−1, 1]; for the
            server's ``hd-m`` rule). Either call resets both sums."""
            g = self.param_groups[0 if group is None else group]
            sums = g.get("_hg_sum_normalized" if normalized else "_hg_sum", {})
            counts = g.get("_hg_count", {})
            out = {k: sums[k] / counts[k] for k in sums if counts.get(k)}
            g["_hg_sum"], g["_hg_sum_normalized"], g["_hg_count"] = {}, {}, {}
            return out

        def _follow(self, group: dict[str, Any], key: str, h: float, hn: float) -> None:
            """One hypergradient step on ``group[key]`` (additive, or HD-M), clipped to its bounds."""
            rate_key, bounds_key = _ADAPTED[key]
            rate, bounds = group[rate_key], group[bounds_key]
            if rate <= 0:
                return
            v = group[key] * (1.0 - rate * hn) if group["multiplicative"] else group[key] - rate * h
            group[key] = min(bounds[1], max(bounds[0], v))

        def _measure(self, group: dict[str, Any], grads: list[Any], states: list[Any]) -> dict[str, tuple[float, float]]:
            """The hypergradients this step measures for ``group``, ``key → (h, norm)`` with
            h̃ = h / norm; changes nothing. The learning rate's is
            h_α = ∂f(θ_{t-1})/∂α_{t-1} = −g_t · d_{t-1}; none before the first step."""
            if not all("prev_dir" in s for s in states):
                return {}
            prev = [s["prev_dir"] for s in states]
            return {"lr": (-_flat_dot(grads, prev), _flat_norm(grads) * _flat_norm(prev))}

        @torch.no_grad()  # type: ignore[untyped-decorator]
        def step(self, closure: Callable[[], Any] | None = None) -> Any:
            """One step of every param group. @raises HypergradientError when a hypergradient of
            any group is NaN or infinite: every group is measured before any is changed, so then
            nothing changed (no weight, rate, momentum, state or ``pop_hypergradients`` sum)."""
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            plans = []
            for group in self.param_groups:
                states = [self.state[p] for p in group["params"]]
                grads = self._grads(group)
                plans.append((group, grads, states, self._measure(group, grads, states)))
            for _, _, _, measured in plans:
                for key, (h, _) in measured.items():
                    if not math.isfinite(h):
                        raise HypergradientError(key, h)
            for group, grads, states, measured in plans:
                for key, (h, norm) in measured.items():
                    self._follow(group, key, h, self._record(group, key, h, norm))
                self._update_group(group, grads, states)
            return loss

        def _update_group(self, group: dict[str, Any], grads: list[Any], states: list[Any]) -> None:
            raise NotImplementedError

        def _grads(self, group: dict[str, Any]) -> list[Any]:
            wd = group["weight_decay"]
            out = []
            for p in group["params"]:
                g = torch.zeros_like(p) if p.grad is None else p.grad.detach()
                out.append(g + wd * p.detach() if wd else g)
            return out

    class HypergradSGD(_HypergradBase):
        """SGD (optionally with momentum, torch's convention ``v ← μv + g; θ ← θ − αv``) that
        measures, and with ``hypergrad_lr > 0`` follows, the hypergradients of its learning rate
        and momentum (Baydin et al. 2018, SGD-HD and SGDN-HD; HD-M with ``multiplicative``),
        keeping them inside ``lr_bounds`` and ``momentum_bounds``. Weight decay is added to the
        gradient as in ``torch.optim.SGD``. ``param_groups[i]["lr"]`` and ``["momentum"]`` may be
        changed between steps (e.g. by ``apply_updates`` with the server's new values).
        @raises HypergradientError from ``step`` when a hypergradient is NaN/infinite."""

        def __init__(
            self,
            params: Any,
            lr: float = 0.01,
            momentum: float = 0.0,
            weight_decay: float = 0.0,
            hypergrad_lr: float = 0.0,
            momentum_hypergrad_lr: float = 0.0,
            *,
            multiplicative: bool = False,
            lr_bounds: tuple[float, float] = (1e-8, 10.0),
            momentum_bounds: tuple[float, float] = (0.0, 0.999),
        ) -> None:
            if hypergrad_lr < 0 or momentum_hypergrad_lr < 0:
                raise ValueError("need non-negative hypergradient rates")
            lrb = _check_bounds("lr_bounds", lr_bounds, 0.0, math.inf)
            mb = _check_bounds("momentum_bounds", momentum_bounds, 0.0, 0.999999)
            if lrb[0] <= 0 and hypergrad_lr > 0:
                raise ValueError("lr_bounds must exclude 0 when the rate is adapted (a zero rate never recovers)")
            if not lrb[0] <= lr <= lrb[1] or not mb[0] <= momentum <= mb[1]:
                raise ValueError(f"need lr in {lrb} and momentum in {mb} (got lr={lr}, momentum={momentum})")
            defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, hypergrad_lr=hypergrad_lr,
                            momentum_hypergrad_lr=momentum_hypergrad_lr, multiplicative=multiplicative,
                            lr_bounds=lrb, momentum_bounds=mb)
            super().__init__(params, defaults)

        def _measure(self, group: dict[str, Any], grads: list[Any], states: list[Any]) -> dict[str, tuple[float, float]]:
            out = super()._measure(group, grads, states)
            if out and all("prev_buf" in s for s in states):
                # h_μ = ∂f(θ_{t-1})/∂μ = −α_{t-1} g_t · v_{t-2}
                prev = [s["prev_buf"] for s in states]
                lr_prev = states[0]["prev_lr"]
                out["momentum"] = (-lr_prev * _flat_dot(grads, prev), lr_prev * _flat_norm(grads) * _flat_norm(prev))
            return out

        def _update_group(self, group: dict[str, Any], grads: list[Any], states: list[Any]) -> None:
            lr, mu = group["lr"], group["momentum"]
            for p, g, s in zip(group["params"], grads, states):
                if mu > 0 or "buf" in s or group["momentum_hypergrad_lr"] > 0:
                    buf = s.get("buf")
                    s["prev_buf"] = torch.zeros_like(p) if buf is None else buf.clone()
                    buf = g.clone() if buf is None else buf.mul(mu).add_(g)
                    s["buf"] = buf
                    d = buf
                else:
                    d = g
                s["prev_dir"] = d.clone()
                s["prev_lr"] = lr
                p.add_(d, alpha=-lr)

    class HypergradAdam(_HypergradBase):
        """Adam (Kingma & Ba 2015, Algorithm 1; weight decay added to the gradient as in
        ``torch.optim.Adam``) that measures, and with ``hypergrad_lr > 0`` follows, the
        hypergradient of its learning rate: ``h = −g_t · u_{t-1}``, ``u = m̂/(√v̂+ε)``
        (Baydin et al. 2018, Adam-HD)."""

        def __init__(
            self,
            params: Any,
            lr: float = 1e-3,
            betas: tuple[float, float] = (0.9, 0.999),
            eps: float = 1e-8,
            weight_decay: float = 0.0,
            hypergrad_lr: float = 0.0,
            *,
            multiplicative: bool = False,
            lr_bounds: tuple[float, float] = (1e-8, 10.0),
        ) -> None:
            if eps <= 0 or hypergrad_lr < 0 or not all(0 <= b < 1 for b in betas):
                raise ValueError("need eps > 0, 0 <= betas < 1 and hypergrad_lr >= 0")
            lrb = _check_bounds("lr_bounds", lr_bounds, 0.0, math.inf)
            if lrb[0] <= 0 and hypergrad_lr > 0:
                raise ValueError("lr_bounds must exclude 0 when the rate is adapted (a zero rate never recovers)")
            if not lrb[0] <= lr <= lrb[1]:
                raise ValueError(f"need lr in {lrb} (got {lr})")
            defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, hypergrad_lr=hypergrad_lr,
                            multiplicative=multiplicative, lr_bounds=lrb)
            super().__init__(params, defaults)

        def _update_group(self, group: dict[str, Any], grads: list[Any], states: list[Any]) -> None:
            b1, b2 = group["betas"]
            for p, g, s in zip(group["params"], grads, states):
                t = s.get("t", 0) + 1
                m = s.get("m", torch.zeros_like(p)).mul(b1).add_(g, alpha=1 - b1)
                v = s.get("v", torch.zeros_like(p)).mul(b2).addcmul_(g, g, value=1 - b2)
                s["t"], s["m"], s["v"] = t, m, v
                u = (m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + group["eps"])
                s["prev_dir"] = u
                p.add_(u, alpha=-group["lr"])

    for cls in (HypergradSGD, HypergradAdam):
        cls.__qualname__ = cls.__name__
    return {"HypergradSGD": HypergradSGD, "HypergradAdam": HypergradAdam}


_classes: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name in ("HypergradSGD", "HypergradAdam"):
        if not _classes:
            _classes.update(_build_classes())
        return _classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def apply_updates(optimizer: Any, params: Mapping[str, Any], mapping: Mapping[str, tuple[int, str]]) -> list[str]:
    """Copies a server ``update`` into an optimizer: ``mapping`` names, for each tuned
    hyperparameter, the ``(param_group index, key)`` it sets (e.g. ``{"lr": (0, "lr"),
    "wd_fc1": (0, "weight_decay")}``). Values not in ``mapping`` are left alone (apply them
    yourself). Returns the names applied. Everything is checked before anything is set.
    @raises ValueError for a non-finite value; IndexError for a group the optimizer does not have;
    KeyError for a key its group does not hold (a misspelling would be a new entry the optimizer
    never reads)."""
    updates = []
    groups = optimizer.param_groups
    for name, (group, key) in mapping.items():
        if name not in params:
            continue
        value = float(params[name])
        if not math.isfinite(value):
            raise ValueError(f"non-finite value for {name!r}: {value}")
        if not -len(groups) <= group < len(groups):
            raise IndexError(f"{name!r} maps to param group {group}; the optimizer has {len(groups)} param group(s)")
        if key not in groups[group]:
            held = sorted(k for k in groups[group] if k != "params")
            raise KeyError(f"{name!r} maps to key {key!r}, which param group {group} does not hold; its keys: {held}")
        updates.append((name, group, key, value))
    for _, group, key, value in updates:
        groups[group][key] = value
    return [name for name, *_ in updates]
