"""Multi-objective and constrained studies through the public API, against a real server."""

from __future__ import annotations

import math

import pytest

import tuneport as tp


def test_directions_values_constraints_and_the_front(client: tp.Client, name: str) -> None:
    study = client.create_study(name, directions=["minimize", "maximize"], space={"x": tp.Float(0.0, 1.0)}, seed=3)
    assert study.directions == ["minimize", "maximize"]
    assert study.direction == "minimize"
    assert study.strategy["name"] == "auto"
    told = [([1.0, 1.0], [-1.0]), ([2.0, 3.0], [0.0]), ([0.0, 9.0], [0.5]), ([3.0, 2.0], [-0.1])]
    for values, constraints in told:
        trial = study.ask()
        trial.complete(values, constraints=constraints)
        assert trial.values == values
        assert trial.value is None
    front = study.best_trials
    assert [t.number for t in front] == [0, 1]
    assert all(t.feasible for t in front)
    infeasible = study.trial(2)
    assert infeasible.feasible is False
    assert infeasible.constraints == [0.5]
    assert "infeasible" in repr(infeasible)
    pf = study.pareto_front(history=True)
    assert pf.reference_point_source == "derived"
    assert pf.n_complete == 4 and pf.n_feasible == 3
    assert pf.hypervolume == pytest.approx(1.1 * 0.2 + 0.1 * 2.2 - 0.1 * 0.2)
    assert [n for n, _ in pf.history or []] == [0, 1]
    given = study.pareto_front(reference_point=[4.0, 0.0])
    assert given.hypervolume == pytest.approx(3 * 1 + 2 * 2)
    with pytest.raises(RuntimeError, match="best_trials"):
        _ = study.best_trial


def test_bad_tells_raise_and_store_nothing(client: tp.Client, name: str) -> None:
    study = client.create_study(name, directions=["minimize", "minimize"], space={"x": tp.Float(0.0, 1.0)}, strategy="random")
    study.ask().complete([1.0, 2.0], constraints=[0.0])
    trial = study.ask()
    with pytest.raises(tp.InvalidArgumentError, match="got 1 value"):
        trial.complete([1.0], constraints=[0.0])
    with pytest.raises(tp.InvalidArgumentError, match="objective 1"):
        trial.complete([1.0, math.nan], constraints=[0.0])
    with pytest.raises(tp.InvalidArgumentError, match="constraint"):
        trial.complete([1.0, 2.0], constraints=[0.0, 1.0])
    with pytest.raises(tp.InvalidArgumentError):
        trial.complete(1.0)
    stored = study.trial(trial.number)
    assert stored.state == "RUNNING" and stored.values is None and stored.constraints is None
    study.tell(trial, values=[0.5, 0.5], constraints=[-1.0])
    assert study.trial(trial.number).values == [0.5, 0.5]
    with pytest.raises(tp.InvalidArgumentError, match="directions"):
        client.create_study(name, directions=["maximize", "minimize"], load_if_exists=True)
    with pytest.raises(tp.InvalidArgumentError, match="one objective"):
        client.create_study(f"{name}-tpe", directions=["minimize", "minimize"], strategy="cmaes")


def _x(t: tp.FrozenTrial) -> float:
    x = t.params["x"]
    assert isinstance(x, float)
    return x


def test_optimize_with_constraints_func_and_the_dataframe(client: tp.Client, name: str) -> None:
    study = tp.create_study(storage=client, study_name=name, directions=["maximize", "minimize"], seed=1)

    def objective(trial: tp.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        return x, (1.0 - x) ** 2

    seen: list[list[float] | None] = []

    def constraints(frozen: tp.FrozenTrial) -> list[float]:
        seen.append(frozen.values)
        return [_x(frozen) - 0.8]  # x <= 0.8 is feasible

    study.optimize(objective, n_trials=12, constraints_func=constraints)
    trials = study.trials
    assert len(trials) == 12 and all(t.state == "COMPLETE" for t in trials)
    assert all(v is not None and len(v) == 2 for v in seen)
    for t in trials:
        assert t.constraints is not None and len(t.constraints) == 1
        assert t.constraints[0] == pytest.approx(_x(t) - 0.8)
        assert t.feasible == (_x(t) <= 0.8)
    assert all(_x(t) <= 0.8 for t in study.best_trials)
    df = study.trials_dataframe()
    assert {"values_0", "values_1"} <= set(df.columns)
    assert "value" not in df.columns
    assert list(df["values_0"]) == [pytest.approx(_x(t)) for t in trials]


def test_one_objective_studies_take_constraints_too(client: tp.Client, name: str) -> None:
    study = client.create_study(name, direction="maximize", space={"x": tp.Float(0.0, 1.0)}, strategy="random")
    study.ask().complete(5.0, constraints=[1.0])
    study.ask().complete(3.0, constraints=[-1.0])
    best = study.best_trial
    assert best is not None and best.number == 1 and best.values == [3.0]
    assert [t.number for t in study.best_trials] == [1]
    assert list(study.trials_dataframe()["value"]) == [5.0, 3.0]


def test_gp_models_the_constraints_it_is_told(client: tp.Client, name: str) -> None:
    """Through a real server: the GP (EI x probability of feasibility) fits a model per constraint
    (its theta stored on the trial) and keeps proposing feasible points once it has learnt x0 + x1 <= 1."""
    space = {"x0": tp.Float(0.0, 1.0), "x1": tp.Float(0.0, 1.0)}
    study = client.create_study(name, direction="minimize", space=space, seed=3,
                                strategy={"name": "gp", "options": {"nStartupTrials": 6}})
    for _ in range(14):
        trial = study.ask()
        x0, x1 = trial.params["x0"], trial.params["x1"]
        assert isinstance(x0, float) and isinstance(x1, float)
        trial.complete((x0 - 0.8) ** 2 + (x1 - 0.8) ** 2, constraints=[x0 + x1 - 1.0])
    trials = study.trials
    modelled = [t for t in trials[6:] if "gp_constraint_theta" in t.system_attrs]
    assert len(modelled) == 8  # every model-based suggestion fitted the constraint model
    assert all(len(t.system_attrs["gp_constraint_theta"]) == 1 for t in modelled)
    feasible_late = sum(1 for t in trials[9:] if t.feasible)
    assert feasible_late >= 3  # of 5; the unconstrained optimum (0.8, 0.8) is infeasible
    best = study.best_trial
    assert best is not None and best.feasible


def test_a_large_many_objective_front_reports_an_estimated_hypervolume(client: tp.Client, name: str) -> None:
    """4+ objectives past WFG's work bound: the server estimates and says so (ParetoFront.hypervolume_exact)."""
    d = 10
    study = client.create_study(name, directions=["minimize"] * d, space={"x": tp.Float(0, 1)}, strategy="random")
    for i in range(40):
        v = [1 + math.sin(i * 1.7 + k * 2.3) for k in range(d)]
        n = math.sqrt(sum(x * x for x in v))
        with study.ask() as trial:
            trial.complete([x / n for x in v])
    front = study.pareto_front()
    assert len(front.trials) == 40 and front.hypervolume is not None and front.hypervolume > 0
    assert front.hypervolume_exact is False
    small = client.create_study(name + "-2d", directions=["minimize", "minimize"], space={"x": tp.Float(0, 1)})
    with small.ask() as trial:
        trial.complete([1.0, 2.0])
    assert small.pareto_front().hypervolume_exact is True


@pytest.mark.parametrize("strategy", ["nsga2", "parego", "ehvi"])
def test_an_optuna_define_by_run_objective_is_modelled_not_drawn_at_random(client: tp.Client, name: str, strategy: str) -> None:
    # An Optuna objective moved over unchanged (suggest_* calls, no space=): these strategies drew
    # every such parameter uniformly, so ehvi and parego gave the same trials, a random search.
    # They now model the parameters every complete trial has (Optuna's intersection search space).
    def objective(trial: tp.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        y = trial.suggest_float("y", 0.0, 1.0)
        return x, 1 - math.sqrt(x) + y

    study = tp.create_study(storage=client, study_name=f"{name}-{strategy}", directions=["minimize", "minimize"], strategy=strategy, seed=5)
    study.optimize(objective, n_trials=6)
    trials = study.trials
    assert "proposed_params" not in trials[0].system_attrs  # nothing complete yet to learn from
    for t in trials[1:]:
        assert t.system_attrs["proposed_params"] == t.params, t.number
