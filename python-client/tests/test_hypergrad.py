"""Each hypergradient of ``tuneport.hypergrad`` against a central finite difference on a tiny
model in float64.

Tolerances: the online (Baydin) hypergradients are exact one-step derivatives, so they must
agree with a central difference (δ = 1e-6) to a relative 1e-5. The implicit (Lorraine)
hypergradient is exact only at a stationary point and up to the Neumann series: on ridge
regression (closed-form optimum) it must agree to a relative 1e-6 with 200 terms; on a
small tanh MLP trained to a tight optimum by L-BFGS, to a relative 2e-3.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest
import torch

from tuneport import hypergrad

DELTA = 1e-6


@pytest.fixture(autouse=True)
def _one_thread() -> Any:
    # Tiny float64 models: thread start-up and oversubscription on shared cores cost more than they save.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _tiny_problem(seed: int = 0) -> tuple[Any, Any, Any]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 4, generator=g, dtype=torch.float64)
    y = torch.randn(32, 2, generator=g, dtype=torch.float64)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2)).double()
    torch.manual_seed(seed)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.5)
    return model, x, y


def _loss(model: Any, x: Any, y: Any) -> Any:
    return ((model(x) - y) ** 2).mean()


def _step(model: Any, opt: Any, x: Any, y: Any) -> float:
    opt.zero_grad()
    loss = _loss(model, x, y)
    loss.backward()
    opt.step()
    return float(loss.detach())


def _objective(model: Any, x: Any, y: Any, weight_decay: float) -> float:
    """What the optimizer minimises: the loss plus the L2 term its weight decay adds to the gradient."""
    with torch.no_grad():
        l2 = sum(float((p**2).sum()) for p in model.parameters())
        return float(_loss(model, x, y)) + 0.5 * weight_decay * l2


def _fd_after_step(model: Any, opt: Any, x: Any, y: Any, key: str, value: float) -> float:
    """Objective after one more step taken from a copy of (model, optimizer) with group[key] = value."""
    m2 = copy.deepcopy(model)
    o2 = type(opt)(m2.parameters(), **opt.defaults)
    o2.load_state_dict(copy.deepcopy(opt.state_dict()))
    o2.param_groups[0][key] = value
    _step(m2, o2, x, y)
    return _objective(m2, x, y, opt.defaults["weight_decay"])


@pytest.mark.parametrize(
    ("name", "kwargs", "key"),
    [
        ("HypergradSGD", {"lr": 0.1}, "lr"),
        ("HypergradSGD", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.01}, "lr"),
        ("HypergradSGD", {"lr": 0.05, "momentum": 0.8}, "momentum"),
        ("HypergradAdam", {"lr": 0.01, "weight_decay": 0.01}, "lr"),
    ],
)
def test_online_hypergradient_matches_finite_difference(name: str, kwargs: dict[str, float], key: str) -> None:
    model, x, y = _tiny_problem()
    opt = getattr(hypergrad, name)(model.parameters(), **kwargs)
    for _ in range(3):
        _step(model, opt, x, y)
    # Step t−1 taken from a snapshot, with the hyperparameter nudged either way.
    base = opt.param_groups[0][key]
    fd = (_fd_after_step(model, opt, x, y, key, base + DELTA) - _fd_after_step(model, opt, x, y, key, base - DELTA)) / (2 * DELTA)
    opt.pop_hypergradients()
    _step(model, opt, x, y)  # takes step t−1
    _step(model, opt, x, y)  # step t measures ∂f(θ_{t−1})/∂(hyperparameter of step t−1)
    h = opt.param_groups[0]["last_hypergradients"][key]
    assert h == pytest.approx(fd, rel=1e-5, abs=1e-10)


def test_pop_hypergradients_averages_and_resets() -> None:
    model, x, y = _tiny_problem(1)
    opt = hypergrad.HypergradSGD(model.parameters(), lr=0.05)
    assert opt.pop_hypergradients() == {}
    seen: list[float] = []
    for _ in range(5):
        _step(model, opt, x, y)
        if "last_hypergradients" in opt.param_groups[0]:
            seen.append(opt.param_groups[0]["last_hypergradients"]["lr"])
    assert len(seen) == 4
    assert opt.pop_hypergradients()["lr"] == pytest.approx(sum(seen) / 4)
    assert opt.pop_hypergradients() == {}


def test_online_descent_recovers_from_a_bad_learning_rate() -> None:
    """SGD-HD started 100× too low reaches a lower training loss than plain SGD in 200 steps."""
    results = {}
    for beta in (0.0, 1e-2):
        model, x, y = _tiny_problem(2)
        opt = hypergrad.HypergradSGD(model.parameters(), lr=1e-3, hypergrad_lr=beta)
        for _ in range(200):
            _step(model, opt, x, y)
        results[beta] = (_objective(model, x, y, 0.0), opt.param_groups[0]["lr"])
    assert results[1e-2][1] > 1e-2  # the rate grew by more than 10×
    assert results[1e-2][0] < 0.9 * results[0.0][0]


def test_sgd_without_hypergradient_rates_matches_torch_sgd() -> None:
    m1, x, y = _tiny_problem(3)
    m2 = copy.deepcopy(m1)
    o1 = hypergrad.HypergradSGD(m1.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    o2 = torch.optim.SGD(m2.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3)
    for _ in range(5):
        _step(m1, o1, x, y)
        _step(m2, o2, x, y)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)


def test_adam_without_hypergradient_rate_matches_torch_adam() -> None:
    m1, x, y = _tiny_problem(4)
    m2 = copy.deepcopy(m1)
    o1 = hypergrad.HypergradAdam(m1.parameters(), lr=0.01, weight_decay=1e-3)
    o2 = torch.optim.Adam(m2.parameters(), lr=0.01, weight_decay=1e-3)
    for _ in range(5):
        _step(m1, o1, x, y)
        _step(m2, o2, x, y)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- implicit differentiation


def _ridge_data(seed: int = 0) -> tuple[Any, ...]:
    g = torch.Generator().manual_seed(seed)
    n, d = 60, 5
    w_true = torch.randn(d, generator=g, dtype=torch.float64)
    xt = torch.randn(n, d, generator=g, dtype=torch.float64)
    xv = torch.randn(n, d, generator=g, dtype=torch.float64)
    yt = xt @ w_true + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    yv = xv @ w_true + 0.5 * torch.randn(n, generator=g, dtype=torch.float64)
    return xt, yt, xv, yv


def _ridge_solution(xt: Any, yt: Any, lam: Any) -> Any:
    n = xt.shape[0]
    return torch.linalg.solve(xt.T @ xt / n + torch.diag(lam), xt.T @ yt / n)


def test_implicit_hypergradient_matches_finite_difference_on_ridge_regression() -> None:
    xt, yt, xv, yv = _ridge_data()
    lam = torch.tensor([0.1, 0.3, 0.05, 1.0, 0.2], dtype=torch.float64, requires_grad=True)
    w = _ridge_solution(xt, yt, lam.detach()).clone().requires_grad_(True)

    def train() -> Any:
        return 0.5 * ((xt @ w - yt) ** 2).mean() + 0.5 * (lam * w**2).sum()

    def val() -> Any:
        return 0.5 * ((xv @ w - yv) ** 2).mean()

    got = hypergrad.implicit_hypergradient(train, val, [w], [lam], neumann_steps=200, alpha=0.3)[0]

    def val_at(lv: Any) -> float:
        ws = _ridge_solution(xt, yt, lv)
        return float(0.5 * ((xv @ ws - yv) ** 2).mean())

    for i in range(5):
        e = torch.zeros(5, dtype=torch.float64)
        e[i] = DELTA
        fd = (val_at(lam.detach() + e) - val_at(lam.detach() - e)) / (2 * DELTA)
        assert float(got[i]) == pytest.approx(fd, rel=1e-6, abs=1e-12)
    assert w.grad is None and lam.grad is None  # nothing accumulated


def test_implicit_hypergradient_with_no_neumann_terms_is_alpha_times_identity() -> None:
    xt, yt, xv, yv = _ridge_data(1)
    lam = torch.tensor([0.2] * 5, dtype=torch.float64, requires_grad=True)
    w = _ridge_solution(xt, yt, lam.detach()).clone().requires_grad_(True)
    got = hypergrad.implicit_hypergradient(
        lambda: 0.5 * ((xt @ w - yt) ** 2).mean() + 0.5 * (lam * w**2).sum(),
        lambda: 0.5 * ((xv @ w - yv) ** 2).mean(),
        [w], {"lam": lam}, neumann_steps=0, alpha=0.5,
    )
    dv = (xv.T @ (xv @ w - yv) / xv.shape[0]).detach()
    # ∂²L_T/∂w_i∂λ_i = w_i, so the estimate is −α dL_V/dw_i · w_i.
    assert torch.allclose(got["lam"], -0.5 * dv * w.detach(), rtol=1e-12)


def _train_mlp(model: Any, x: Any, y: Any, wd: Any) -> None:
    opt = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=500, tolerance_grad=1e-13,
                            tolerance_change=1e-16, history_size=50, line_search_fn="strong_wolfe")

    def closure() -> Any:
        opt.zero_grad()
        loss = _mlp_train_loss(model, x, y, wd)
        loss.backward()
        return loss

    for _ in range(6):
        opt.step(closure)  # type: ignore[no-untyped-call]


def _mlp_train_loss(model: Any, x: Any, y: Any, wd: Any) -> Any:
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    fit = torch.nn.functional.cross_entropy(model(x), y)
    return fit + 0.5 * sum(wd[i] * (layer.weight**2).sum() for i, layer in enumerate(layers))


def test_implicit_hypergradient_matches_finite_difference_for_per_layer_weight_decay() -> None:
    g = torch.Generator().manual_seed(5)
    x = torch.randn(40, 3, generator=g, dtype=torch.float64)
    y = (x[:, 0] + 0.5 * x[:, 1] ** 2 > 0.5).long()
    xv = torch.randn(40, 3, generator=g, dtype=torch.float64)
    yv = (xv[:, 0] + 0.5 * xv[:, 1] ** 2 > 0.5).long()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2)).double()
    wd = torch.tensor([0.05, 0.02], dtype=torch.float64, requires_grad=True)
    _train_mlp(model, x, y, wd.detach())
    params = list(model.parameters())

    # α below 2/λ_max, from a few power iterations on the training-loss Hessian.
    gt = torch.autograd.grad(_mlp_train_loss(model, x, y, wd.detach()), params, create_graph=True)
    v = [torch.randn_like(p) for p in params]
    for _ in range(50):
        hv = torch.autograd.grad(gt, params, grad_outputs=v, retain_graph=True)
        norm = math.sqrt(sum(float((h**2).sum()) for h in hv))
        v = [h / norm for h in hv]
    alpha = 1.0 / norm

    got = hypergrad.implicit_hypergradient(
        lambda: _mlp_train_loss(model, x, y, wd),
        lambda: torch.nn.functional.cross_entropy(model(xv), yv),
        params, [wd], neumann_steps=3000, alpha=alpha,
    )[0]

    def val_at(w: Any) -> float:
        m2 = copy.deepcopy(model)
        _train_mlp(m2, x, y, w)
        return float(torch.nn.functional.cross_entropy(m2(xv), yv).detach())

    for i in range(2):
        e = torch.zeros(2, dtype=torch.float64)
        e[i] = 1e-5
        fd = (val_at(wd.detach() + e) - val_at(wd.detach() - e)) / 2e-5
        assert float(got[i]) == pytest.approx(fd, rel=2e-3, abs=1e-6)


def test_implicit_hypergradient_refuses_bad_settings() -> None:
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    with pytest.raises(ValueError):
        hypergrad.implicit_hypergradient(lambda: (w**2).sum(), lambda: w.sum(), [w], [w], alpha=0)
    with pytest.raises(ValueError):
        hypergrad.implicit_hypergradient(lambda: (w**2).sum(), lambda: w.sum(), [w], [w], neumann_steps=-1)


def test_implicit_hypergradient_names_a_hyperparameter_that_does_not_require_grad() -> None:
    """torch.tensor(trial.params["wd"]) without requires_grad=True raised autograd's "One of the
    differentiated Tensors does not require grad", naming neither the tensor nor the fix."""
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    wd = {"wd1": torch.tensor(0.1, dtype=torch.float64, requires_grad=True), "wd2": torch.tensor(0.1, dtype=torch.float64)}
    train = lambda: ((w - 1) ** 2).sum() + wd["wd1"] * (w**2).sum() + wd["wd2"] * w.sum()  # noqa: E731
    with pytest.raises(ValueError, match=r"hparams\['wd2'\] does not require grad.*requires_grad=True"):
        hypergrad.implicit_hypergradient(train, lambda: (w**2).sum(), [w], wd)
    with pytest.raises(ValueError, match=r"hparams\[1\] does not require grad"):
        hypergrad.implicit_hypergradient(train, lambda: (w**2).sum(), [w], [wd["wd1"], wd["wd2"]])

def test_apply_updates_sets_param_groups() -> None:
    model, _, _ = _tiny_problem()
    opt = hypergrad.HypergradSGD([{"params": [model[0].weight]}, {"params": [model[2].weight]}], lr=0.1)
    applied = hypergrad.apply_updates(opt, {"lr": 0.02, "wd2": 1e-3, "other": 5}, {"lr": (0, "lr"), "wd2": (1, "weight_decay"), "gone": (0, "lr")})
    assert applied == ["lr", "wd2"]
    assert opt.param_groups[0]["lr"] == 0.02 and opt.param_groups[1]["weight_decay"] == 1e-3
    with pytest.raises(ValueError):
        hypergrad.apply_updates(opt, {"lr": float("nan")}, {"lr": (0, "lr")})


def test_apply_updates_refuses_a_key_the_param_group_does_not_hold() -> None:
    """A misspelt key ('weight_decy') was set as a new entry of the group, which the optimizer never
    reads, and the name was still returned as applied: the decay the server tuned never changed."""
    model, _, _ = _tiny_problem()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, weight_decay=0.0)
    with pytest.raises(KeyError, match=r"'weight_decy'.*'weight_decay'"):
        hypergrad.apply_updates(opt, {"lr": 0.2, "wd": 0.5}, {"lr": (0, "lr"), "wd": (0, "weight_decy")})
    assert "weight_decy" not in opt.param_groups[0]
    assert opt.param_groups[0]["lr"] == 0.1  # checked before anything is set
    with pytest.raises(IndexError, match="param group 3.*1 param group"):
        hypergrad.apply_updates(opt, {"lr": 0.2}, {"lr": (3, "lr")})

def test_rate_stays_inside_its_bounds_and_never_reaches_zero() -> None:
    """A hypergradient rate far too large would drive α below 0 (the old ``max(0, ·)`` froze it at 0)
    or to 1e6; it is clipped to ``lr_bounds`` at every step instead."""
    for beta in (1e-1, 1e2):
        model, x, y = _tiny_problem(5)
        opt = hypergrad.HypergradSGD(model.parameters(), lr=0.05, hypergrad_lr=beta, lr_bounds=(1e-4, 1.0))
        seen = []
        for _ in range(60):
            try:
                _step(model, opt, x, y)
            except hypergrad.HypergradientError:
                break  # diverged at the upper bound: reported, not hidden
            seen.append(opt.param_groups[0]["lr"])
        assert seen and all(1e-4 <= r <= 1.0 for r in seen), seen
        assert min(seen) > 0
    with pytest.raises(ValueError):
        hypergrad.HypergradSGD(model.parameters(), lr=0.05, hypergrad_lr=0.1, lr_bounds=(0.0, 1.0))
    with pytest.raises(ValueError):
        hypergrad.HypergradSGD(model.parameters(), lr=5.0, lr_bounds=(1e-4, 1.0))


def test_nan_hypergradient_raises_a_typed_error_and_changes_nothing() -> None:
    model, x, y = _tiny_problem(6)
    opt = hypergrad.HypergradSGD(model.parameters(), lr=0.05, hypergrad_lr=1e-2)
    _step(model, opt, x, y)
    _step(model, opt, x, y)
    before_lr = opt.param_groups[0]["lr"]
    before_w = [p.detach().clone() for p in model.parameters()]
    opt.zero_grad()
    (_loss(model, x, y) * float("nan")).backward()
    with pytest.raises(hypergrad.HypergradientError) as err:
        opt.step()
    assert err.value.key == "lr" and math.isnan(err.value.value)
    assert opt.param_groups[0]["lr"] == before_lr
    assert all(torch.equal(a, b) for a, b in zip(before_w, model.parameters()))
    assert isinstance(err.value, FloatingPointError)


def _same(a: Any, b: Any) -> bool:
    """Deep equality of two optimizer state dicts (tensors compared element-wise, NaN == NaN)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a.nan_to_num(), b.nan_to_num())
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return bool(a == b)


@pytest.mark.parametrize(
    "name, kwargs",
    [("HypergradSGD", {"momentum": 0.5, "hypergrad_lr": 1e-2, "momentum_hypergrad_lr": 1e-2}), ("HypergradAdam", {"hypergrad_lr": 1e-2})],
)
def test_a_nan_in_one_param_group_changes_no_other_group(name: str, kwargs: dict[str, float]) -> None:
    """The first group was stepped (weights, rate, state, hypergradient sums) before the second
    group's NaN hypergradient raised: a half-applied step that no retry could undo."""
    model, x, y = _tiny_problem(8)
    opt = getattr(hypergrad, name)([{"params": model[0].parameters()}, {"params": model[2].parameters()}], lr=0.05, **kwargs)
    for _ in range(3):
        _step(model, opt, x, y)
    weights = [p.detach().clone() for p in model.parameters()]
    state = copy.deepcopy(opt.state_dict())
    opt.zero_grad()
    _loss(model, x, y).backward()
    for p in model[2].parameters():  # the second group diverged; the first group's gradient is fine
        assert p.grad is not None
        p.grad.fill_(float("nan"))
    with pytest.raises(hypergrad.HypergradientError):
        opt.step()
    assert all(torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    assert _same(opt.state_dict(), state)
    opt.zero_grad()
    _loss(model, x, y).backward()
    opt.step()  # a finite step afterwards goes on from the state before the NaN
    assert set(opt.pop_hypergradients(0)) == set(opt.pop_hypergradients(1)) == ({"lr", "momentum"} if "momentum" in kwargs else {"lr"})


def test_multiplicative_rule_and_normalized_hypergradients() -> None:
    """HD-M: α_t = α_{t-1}(1 − β h̃_t) with h̃ = h / (‖g_t‖‖d_{t-1}‖) in [−1, 1]; pop(normalized=True) averages h̃."""
    model, x, y = _tiny_problem(7)
    beta = 0.05
    opt = hypergrad.HypergradSGD(model.parameters(), lr=0.01, hypergrad_lr=beta, multiplicative=True)
    _step(model, opt, x, y)
    hs = []
    for _ in range(4):
        lr0 = opt.param_groups[0]["lr"]
        _step(model, opt, x, y)
        hn = opt.param_groups[0]["last_hypergradients_normalized"]["lr"]
        h = opt.param_groups[0]["last_hypergradients"]["lr"]
        assert -1.0 - 1e-12 <= hn <= 1.0 + 1e-12 and math.copysign(1, hn) == math.copysign(1, h)
        assert opt.param_groups[0]["lr"] == pytest.approx(lr0 * (1 - beta * hn), rel=1e-12)
        hs.append(hn)
    assert opt.pop_hypergradients(normalized=True)["lr"] == pytest.approx(sum(hs) / 4)
    assert opt.pop_hypergradients() == {}  # both sums were reset
