"""``tuneport.importance.get_param_importances``, Optuna's ``optuna.importance`` function under
``import tuneport as optuna``, against a real server (op ``param_importances``)."""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import optuna
import pytest

import tuneport as tp
import tuneport as optuna_tp  # a moved script's spelling
from conftest import ServerProcess
from tuneport import _connection, _protocol, importance

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {"x": tp.Float(0.0, 1.0), "y": tp.Float(0.0, 1.0), "k": tp.Categorical(["a", "b", "c"])}


def _points(n: int, seed: int) -> list[dict[str, Any]]:
    r = random.Random(seed)
    return [{"x": r.random(), "y": r.random(), "k": r.choice("abc")} for _ in range(n)]


@pytest.fixture
def one(server: ServerProcess, name: str) -> tp.Study:
    """80 trials: x matters most, y some, k not at all."""
    study = tp.create_study(storage=server.endpoint, study_name=name, space=SPACE)
    r = random.Random(7)
    for p in _points(80, 1):
        study.add_trial(params=p, value=10 * p["x"] + 3 * p["y"] + 0.5 * r.random())
    return study


@pytest.fixture
def two(server: ServerProcess, name: str) -> tp.Study:
    """Two objectives: x drives the first, y the second (k neither)."""
    study = tp.create_study(storage=server.endpoint, study_name=name, space=SPACE, directions=["minimize", "maximize"])
    r = random.Random(8)
    for p in _points(80, 2):
        study.add_trial(params=p, values=[p["x"] + 0.05 * r.random(), p["y"] + 0.05 * r.random()])
    return study


@pytest.fixture
def front(server: ServerProcess, name: str) -> tp.Study:
    """Two objectives where x alone decides whether a trial reaches the Pareto front: values
    (x + 10y, -(x + 10(1 - y))), the second maximised, so y moves a trial along the front (and
    drives each objective alone) while x moves it away; k matters to nothing."""
    study = tp.create_study(storage=server.endpoint, study_name=name, space=SPACE, directions=["minimize", "maximize"])
    for p in _points(100, 3):
        study.add_trial(params=p, values=[p["x"] + 10 * p["y"], -(p["x"] + 10 * (1 - p["y"]))])
    return study


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """The arguments of every param_importances request this test sends."""
    log: list[dict[str, Any]] = []
    real = _protocol.make_request

    def recording(op: str, args: Any, **kw: Any) -> dict[str, Any]:
        if op == "param_importances":
            log.append(dict(args))
        return real(op, args, **kw)

    monkeypatch.setattr(_protocol, "make_request", recording)
    monkeypatch.setattr(_connection, "make_request", recording)  # the Client's requests
    yield log


def test_a_moved_script_gets_shares_of_one_most_important_first(one: tp.Study, client: tp.Client) -> None:
    imp = optuna_tp.importance.get_param_importances(one)
    assert list(imp) == ["x", "y", "k"]
    assert math.isclose(sum(imp.values()), 1.0, abs_tol=1e-12)
    assert list(imp.values()) == sorted(imp.values(), reverse=True)
    # The server's figures, unchanged.
    raw = client.call("param_importances", study=one.name)
    assert imp == {r["param"]: r["importance"] for r in raw["importances"]}
    # Optuna's default evaluator on the same trials ranks the dominant parameter first too.
    ref = optuna.create_study()
    ref.add_trials(optuna.trial.create_trial(params=t.params, distributions=_optuna_space(), value=t.value) for t in one.trials)
    assert next(iter(optuna.importance.get_param_importances(ref))) == "x"


def _optuna_space() -> dict[str, Any]:
    return {
        "x": optuna.distributions.FloatDistribution(0.0, 1.0),
        "y": optuna.distributions.FloatDistribution(0.0, 1.0),
        "k": optuna.distributions.CategoricalDistribution(["a", "b", "c"]),
    }


def test_params_assesses_those_only_renormalised(one: tp.Study) -> None:
    full = importance.get_param_importances(one, normalize=False)
    some = importance.get_param_importances(one, params=["k", "y"])
    assert list(some) == ["y", "k"]
    assert math.isclose(sum(some.values()), 1.0, abs_tol=1e-12)
    # First-order scores: each parameter's is its own, the subset's shares are the full scores renormalised.
    total = full["y"] + full["k"]
    for p in ("y", "k"):
        assert math.isclose(some[p], full[p] / total, rel_tol=1e-12)
    assert importance.get_param_importances(one, params=[]) == {}


def test_normalize_false_gives_the_unnormalised_scores(one: tp.Study, client: tp.Client) -> None:
    scores = importance.get_param_importances(one, normalize=False)
    raw = client.call("param_importances", study=one.name)
    assert scores == {r["param"]: r["score"] for r in raw["importances"]}
    assert list(scores) == ["x", "y", "k"]
    assert all(0.0 <= v <= 1.0 for v in scores.values())
    # ε² of each parameter alone (here they sum to about 1.02), whose shares are the normalised result.
    assert not math.isclose(sum(scores.values()), 1.0, abs_tol=1e-3)
    shares = importance.get_param_importances(one)
    assert all(math.isclose(shares[p], v / sum(scores.values()), rel_tol=1e-12) for p, v in scores.items())


def test_unknown_or_mistyped_params_are_refused_as_optuna_refuses_them(one: tp.Study) -> None:
    with pytest.raises(tp.InvalidArgumentError, match=r"Missing parameters: \[\"nope\"\]") as e:
        importance.get_param_importances(one, params=["x", "nope"])
    assert isinstance(e.value, ValueError)  # Optuna's ValueError
    for bad, message in (("x", "must be specified as a list"), ([1], "by their names with strings")):
        with pytest.raises(TypeError, match=message):
            importance.get_param_importances(one, params=bad)  # type: ignore[arg-type]


def _objective(k: int) -> Callable[[tp.FrozenTrial], float]:
    """Optuna's ``target=lambda t: t.values[k]``."""
    return lambda t: (t.values or [math.nan])[k]


def _value(t: Any) -> float:
    return float(t.value)


def test_target_picks_the_objective_a_parameter_drives(two: tp.Study, sent: list[dict[str, Any]]) -> None:
    first = optuna_tp.importance.get_param_importances(two, target=_objective(0))
    second = optuna_tp.importance.get_param_importances(two, target=_objective(1))
    assert next(iter(first)) == "x" and first["x"] > 0.8
    assert next(iter(second)) == "y" and second["y"] > 0.8
    # The values were computed here and sent, one per COMPLETE trial; the server ranked them.
    assert [len(a["target_values"]) for a in sent] == [80, 80]
    by_number = {t.number: t.values for t in two.trials}
    assert all(v == (by_number[n] or [])[1] for n, v in sent[1]["target_values"])
    # Non-finite targets are left out, as Optuna leaves them out.
    sent.clear()
    importance.get_param_importances(two, target=lambda t: math.nan if t.number % 4 == 0 else _objective(0)(t))
    assert sorted(n for n, _ in sent[0]["target_values"]) == [n for n in range(80) if n % 4 != 0]
    with pytest.raises(TypeError, match="target returned 'x' for trial 0"):
        importance.get_param_importances(two, target=lambda t: "x")  # type: ignore[arg-type,return-value]


def _optuna_copy(study: tp.Study) -> optuna.Study:
    """The same trials of a (minimize, maximize) study in an Optuna one (in memory), to compare with Optuna itself."""
    ref = optuna.create_study(directions=["minimize", "maximize"])
    ref.add_trials(optuna.trial.create_trial(params=t.params, distributions=_optuna_space(), values=t.values) for t in study.trials)
    return ref


def test_a_multi_objective_study_without_target_gets_the_importances_of_reaching_its_front(front: tp.Study, sent: list[dict[str, Any]]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = optuna_tp.importance.get_param_importances(front)
    assert next(iter(got)) == "x" and got["x"] > 0.7, got
    assert set(got) == {"x", "y", "k"} and math.isclose(sum(got.values()), 1.0)
    assert sent == [{"study": front.name}]  # the server ranked the trials: nothing computed here
    # Each objective alone is y's: these are not one objective's importances.
    assert next(iter(importance.get_param_importances(front, target=_objective(0)))) == "y"
    # Optuna's default evaluator named: the same figures, with the warning every Optuna evaluator gets.
    with pytest.warns(UserWarning, match="not PedAnovaImportanceEvaluator's"):
        assert optuna_tp.importance.get_param_importances(front, evaluator=optuna.importance.PedAnovaImportanceEvaluator()) == got
    # Optuna 5's default on the same trials puts x first too.
    assert next(iter(optuna.importance.get_param_importances(_optuna_copy(front)))) == "x"


def test_fanova_or_mdi_on_a_multi_objective_study_without_target_raise_optunas_valueerror(front: tp.Study) -> None:
    for evaluator in (
        optuna.importance.FanovaImportanceEvaluator(seed=1),
        optuna.importance.MeanDecreaseImpurityImportanceEvaluator(seed=1),
        optuna_tp.importance.FanovaImportanceEvaluator(),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # refused before the substitution warning
            with pytest.raises(tp.InvalidArgumentError, match=r"please specify the `target`") as e:
                optuna_tp.importance.get_param_importances(front, evaluator=evaluator)
        assert isinstance(e.value, ValueError)
        assert type(evaluator).__name__ in str(e.value)
    with pytest.raises(ValueError, match=r"please specify the `target`"):
        optuna_tp.importance.MeanDecreaseImpurityImportanceEvaluator().evaluate(front)
    # With a target they answer, as in Optuna (with the warning).
    with pytest.warns(UserWarning, match="not FanovaImportanceEvaluator's"):
        by_first = optuna_tp.importance.get_param_importances(front, evaluator=optuna.importance.FanovaImportanceEvaluator(), target=_objective(0))
    assert next(iter(by_first)) == "y"
    # Optuna raises the same ValueError on the same trials.
    with pytest.raises(ValueError, match=r"please specify the `target`"):
        optuna.importance.get_param_importances(_optuna_copy(front), evaluator=optuna.importance.FanovaImportanceEvaluator(seed=1))


def test_an_optuna_evaluator_gets_one_warning_and_the_servers_figures(one: tp.Study) -> None:
    plain = importance.get_param_importances(one)
    for evaluator in (
        optuna.importance.FanovaImportanceEvaluator(seed=1),
        optuna.importance.PedAnovaImportanceEvaluator(),
        optuna_tp.importance.MeanDecreaseImpurityImportanceEvaluator(seed=3),
    ):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            got = optuna_tp.importance.get_param_importances(one, evaluator=evaluator)
        assert got == plain
        assert [w.category for w in caught] == [UserWarning], caught
        text = str(caught[0].message)
        assert f"not {type(evaluator).__name__}'s" in text
        assert "epsilon-squared of the rank-transformed objective" in text
        assert caught[0].filename == __file__  # points at the caller's line
    assert repr(optuna_tp.importance.FanovaImportanceEvaluator(seed=3)) == "FanovaImportanceEvaluator(n_trees=64, max_depth=64, seed=3)"
    with pytest.raises(TypeError, match="Evaluator must be a subclass of BaseImportanceEvaluator"):
        importance.get_param_importances(one, evaluator=object())


def test_an_evaluator_of_your_own_is_run_as_optuna_runs_it(one: tp.Study) -> None:
    seen: list[Any] = []

    class Mine(optuna.importance.BaseImportanceEvaluator):
        def evaluate(self, study: Any, params: Any = None, *, target: Any = None) -> dict[str, float]:
            seen.append((study, params, target))
            return {"y": 1.0, "x": 3.0}

    class Ours(optuna_tp.importance.BaseImportanceEvaluator):
        def evaluate(self, study: Any, params: Any = None, *, target: Any = None) -> dict[str, float]:
            return {"k": 0.0}

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mine = importance.get_param_importances(one, evaluator=Mine(), params=["x", "y"])
        assert list(mine.items()) == [("x", 0.75), ("y", 0.25)]  # most important first
        assert importance.get_param_importances(one, evaluator=Ours(), normalize=False) == {"k": 0.0}
    assert seen == [(one, ["x", "y"], None)]


def test_too_few_trials_warn_and_give_equal_importances(server: ServerProcess, name: str) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name, space=SPACE)
    for p in _points(3, 3):
        study.add_trial(params=p, value=p["x"])
    with pytest.warns(UserWarning, match="needs at least 4 COMPLETE trials with a finite value"):
        assert importance.get_param_importances(study) == {"x": 1 / 3, "y": 1 / 3, "k": 1 / 3}
    with pytest.warns(UserWarning, match="needs at least 4 COMPLETE trials with a finite value"):
        assert importance.get_param_importances(study, params=["y"], normalize=False) == {"y": 0.0}


def test_target_values_past_the_bound_are_an_evenly_spaced_sample() -> None:
    trials: Any = [SimpleNamespace(number=n, value=float(n)) for n in range(12_345)]
    pairs = importance._target_values(trials, _value)
    assert len(pairs) == importance.TARGET_SAMPLE
    numbers = [n for n, _ in pairs]
    assert numbers[0] == 0 and numbers[-1] == 12_344
    assert all(b > a for a, b in zip(numbers, numbers[1:]))
    assert max(b - a for a, b in zip(numbers, numbers[1:])) <= 3  # even: 12,345 / 5,000 ≈ 2.5
    assert importance._target_values(trials[:10], _value) == [[n, float(n)] for n in range(10)]
