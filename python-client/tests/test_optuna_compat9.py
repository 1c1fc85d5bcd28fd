"""Optuna scripts moved over unchanged, ninth audit (Optuna 5.0's distributions module and the
corners of ``suggest_*``): each case is a divergence found by running the same code with
``import optuna`` (Optuna 5.0) and with ``import tuneport as optuna``."""

from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import optuna
import pytest

import tuneport as tp
from conftest import SERVER_MAIN, ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_categorical_to_internal_repr_is_an_int_index_as_optunas() -> None:
    # Optuna returns choices.index(value), an int, and code indexes choices with it
    # (choices[dist.to_internal_repr(v)]); tuneport returned a float, which a list refuses.
    for lib in (optuna, tp):
        dist = lib.distributions.CategoricalDistribution(["a", None, 2, 2.5, True])
        internal = [dist.to_internal_repr(c) for c in ("a", None, 2, 2.5, True)]
        assert internal == [0, 1, 2, 3, 4] and all(type(i) is int for i in internal), lib.__name__
        assert [dist.choices[i] for i in internal] == ["a", None, 2, 2.5, True]


OLD = [
    ("UniformDistribution", (0, 1), {"low": 0.0, "high": 1.0, "log": False, "step": None}),
    ("LogUniformDistribution", (0.1, 1), {"low": 0.1, "high": 1.0, "log": True, "step": None}),
    ("DiscreteUniformDistribution", (0, 1, 0.25), {"low": 0.0, "high": 1.0, "log": False, "step": 0.25}),
    ("IntUniformDistribution", (0, 8, 2), {"low": 0, "high": 8, "log": False, "step": 2}),
    ("IntLogUniformDistribution", (1, 8), {"low": 1, "high": 8, "log": True, "step": 1}),
]


@pytest.mark.parametrize(("cls", "args", "attrs"), OLD, ids=[c for c, _, _ in OLD])
def test_optuna_2_distribution_classes_exist_with_a_future_warning(cls: str, args: tuple[float, ...], attrs: dict[str, object]) -> None:
    # Optuna 5.0 still has Optuna 2's distribution classes (deprecated, with a FutureWarning), and
    # old scripts pass them to ask(), create_trial() and json_to_distribution(); under
    # `import tuneport as optuna` they were an AttributeError.
    for lib in (optuna, tp):
        with pytest.warns(FutureWarning, match=cls):
            dist = getattr(lib.distributions, cls)(*args)
        assert {k: getattr(dist, k) for k in attrs} == attrs, lib.__name__
        new = lib.distributions.IntDistribution if cls.startswith("Int") else lib.distributions.FloatDistribution
        assert isinstance(dist, new) and dist != new(**attrs), lib.__name__  # a subclass, unequal as Optuna's
        if cls == "DiscreteUniformDistribution":
            assert getattr(dist, "q") == 0.25
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            text = lib.distributions.distribution_to_json(dist)
            back = lib.distributions.json_to_distribution(text)
        assert type(back).__name__ == cls and back == dist, lib.__name__
        assert dist in lib.distributions.DISTRIBUTION_CLASSES or type(dist) in lib.distributions.DISTRIBUTION_CLASSES


def test_optuna_2_distributions_work_in_ask_and_create_trial(server: ServerProcess, name: str) -> None:
    # Optuna converts them to the new classes when a trial uses them: a later suggest_float of the
    # same parameter returns the same value.
    study = tp.create_study(storage=server.endpoint, study_name=name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        uniform = tp.distributions.UniformDistribution(0, 1)
        int_log = tp.distributions.IntLogUniformDistribution(1, 8)
        trial = study.ask({"x": uniform, "n": int_log})
        assert trial.suggest_float("x", 0, 1) == trial.params["x"]
        assert trial.suggest_int("n", 1, 8, log=True) == trial.params["n"]
        study.tell(trial, 1.0)
        added = study.add_trial(
            tp.create_trial(params={"x": 0.5}, distributions={"x": tp.distributions.LogUniformDistribution(0.1, 1)}, value=0.5)
        )
    assert study.trials[0].distributions == {"x": tp.Float(0, 1), "n": tp.Int(1, 8, log=True)}
    assert added.distributions == {"x": tp.Float(0.1, 1, log=True)} and added.params == {"x": 0.5}


def test_a_repeat_with_another_range_is_optunas_runtime_warning(server: ServerProcess, name: str) -> None:
    # Optuna warns with warnings.warn(..., RuntimeWarning), which pytest.warns and
    # warnings.filterwarnings("error") see; tuneport only logged it.
    for lib, kwargs in ((optuna, {}), (tp, {"storage": server.endpoint, "study_name": name})):
        study = lib.create_study(**kwargs)
        trial = study.ask()
        first = trial.suggest_int("skip", 0, 2)
        with pytest.warns(RuntimeWarning, match='Inconsistent parameter values for distribution with name "skip"'):
            assert trial.suggest_int("skip", 0, 9) == first
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert trial.suggest_int("skip", 0, 2) == first  # the same range again: no warning
        study.tell(trial, 0.0)


def test_an_optuna_sqlite_file_is_not_offered_to_tuneport_serve(server: ServerProcess, name: str, tmp_path: Path) -> None:
    # A migrating script keeps storage="sqlite:///example.db", whose file already holds the Optuna
    # study. The hint said `tuneport serve --storage example.db`, which refuses that file ("a SQLite
    # database of another program"): it names a file of tuneport's own and how to bring the trials over.
    path = tmp_path / "example.db"
    url = f"sqlite:///{path}"
    ref = optuna.create_study(study_name="old", storage=url, direction="maximize")
    ref.optimize(lambda t: t.suggest_float("x", 0, 1) + t.suggest_int("n", 1, 3), n_trials=4)
    refused = subprocess.run(
        ["node", str(SERVER_MAIN), "serve", "--storage", str(path), "--bind", "tcp://127.0.0.1:0"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode != 0 and "database of another program" in refused.stderr + refused.stdout
    with pytest.raises(tp.InvalidArgumentError) as caught:
        tp.create_study(study_name="old", storage=url, direction="maximize")
    message = caught.value.message
    assert f"--storage {path} " not in message
    assert f"--storage {tmp_path / 'example-tuneport.db'} " in message
    assert f"add_trials(optuna.load_study(study_name=..., storage={url!r}).trials)" in message
    # The recipe it names works.
    study = tp.create_study(study_name=name, storage=server.endpoint, direction="maximize")
    study.add_trials(optuna.load_study(study_name="old", storage=url).trials)
    assert [t.params for t in study.trials] == [t.params for t in ref.trials]
    assert study.best_value == ref.best_value
    # A file that does not exist yet (or a tuneport one) is still the one to serve.
    with pytest.raises(tp.InvalidArgumentError, match=rf"serve --storage {tmp_path / 'new.db'} --bind"):
        tp.create_study(storage=f"sqlite:///{tmp_path / 'new.db'}")


def test_study_direction_has_optunas_not_set(server: ServerProcess, name: str) -> None:
    # optuna.study.StudyDirection.NOT_SET (a study's direction before it is set, in Optuna's
    # storages) was an AttributeError under `import tuneport as optuna`.
    assert [d.name for d in tp.StudyDirection] == [d.name for d in optuna.study.StudyDirection]
    assert tp.study.StudyDirection.NOT_SET == optuna.study.StudyDirection.NOT_SET
    assert tp.StudyDirection.NOT_SET != optuna.study.StudyDirection.MINIMIZE
    for lib, kwargs in ((optuna, {}), (tp, {"storage": server.endpoint, "study_name": name})):
        for direction in (lib.study.StudyDirection.NOT_SET, optuna.study.StudyDirection.NOT_SET):
            with pytest.raises(ValueError):
                lib.create_study(direction=direction, **kwargs)
    assert name not in tp.get_all_study_names(storage=server.endpoint)
