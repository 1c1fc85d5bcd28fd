"""Optuna scripts moved over unchanged, fifth audit (values Optuna casts to float, off-grid steps,
numpy choices, ``load_study``'s refusal hints, enqueued values between step points, telling a
``FrozenTrial``, refused as Optuna refuses it since 2026-12-08): each case is a divergence found by running the same snippet with ``import optuna``
(Optuna 5.0, in memory) and with ``import tuneport as optuna``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import optuna
import pytest

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)

FLOPS = 6 * 124_000_000 * 300_000_000_000  # 2.2e20: past 2^64, which MessagePack cannot carry as an int


def _study(server: ServerProcess, name: str, **kwargs: Any) -> tp.Study:
    return tp.create_study(storage=server.endpoint, study_name=name, **kwargs)


# ---------------------------------------------------------------- 1. values are cast to float


@pytest.mark.parametrize(
    "told",
    [[0.9, FLOPS], [0.9, 2**60], [True, 1.0], (np.float32(0.5), np.int64(3))],
    ids=["int-past-2^64", "int-past-2^53", "bool", "numpy-scalars"],
)
def test_tell_casts_ints_bools_and_numpy_values_to_float_as_optuna(server: ServerProcess, name: str, told: Any) -> None:
    def script(lib: Any, study: Any) -> tuple[str, list[float]]:
        trial = study.ask()
        study.tell(trial, told)
        done = study.trials[0]
        return done.state.name, done.values

    ours = script(tp, _study(server, name, directions=["maximize", "minimize"]))
    assert ours == script(optuna, optuna.create_study(directions=["maximize", "minimize"]))
    assert all(type(v) is float for v in ours[1])


def test_complete_and_report_cast_big_ints_and_bools_to_float(server: ServerProcess, name: str) -> None:
    study = _study(server, name)
    trial = study.ask()
    trial.report(FLOPS, 0)
    trial.report(2**60, 1)
    trial.report(np.float32(0.5), np.int64(2))  # type: ignore[call-overload]  # numpy scalars, as Optuna takes them
    trial.complete(True)
    done = study.trials[0]
    assert done.state == "COMPLETE" and done.value == 1.0
    assert done.intermediate_values == {0: float(FLOPS), 1: float(2**60), 2: 0.5}
    with study.ask() as second:
        second.prune(FLOPS)
    assert study.trials[1].state == "PRUNED" and study.trials[1].value == float(FLOPS)


def test_a_value_that_cannot_be_cast_fails_the_trial_instead_of_leaving_it_running(server: ServerProcess, name: str) -> None:
    study = _study(server, name)
    too_big = 10**400  # float() raises OverflowError
    trial = study.ask()
    with pytest.warns(UserWarning, match="could not be cast to float"):
        told = study.tell(trial, too_big)
    assert told.state == "FAIL" and study.trials[0].state == "FAIL"
    # With state=COMPLETE, Optuna raises a ValueError and the trial stays RUNNING to be told again.
    trial = study.ask()
    with pytest.raises(ValueError, match="could not be cast to float"):
        study.tell(trial, too_big, state="COMPLETE")
    assert study.tell(trial, 1.0).state == "COMPLETE"
    with study.ask() as third:
        with pytest.raises(TypeError, match="can be cast to float"):
            third.report(too_big, 0)
        with pytest.raises(TypeError, match="can be cast to float"):
            third.complete(too_big)
        third.complete(2.0)
    assert [t.state for t in study.trials] == ["FAIL", "COMPLETE", "COMPLETE"]


def test_optimize_fails_a_trial_whose_objective_returns_an_int_past_the_float_range(server: ServerProcess, name: str) -> None:
    study = _study(server, name)
    study.optimize(lambda t: 10**400, n_trials=1)
    study.optimize(lambda t: FLOPS, n_trials=1)
    assert [(t.state, t.value) for t in study.trials] == [("FAIL", None), ("COMPLETE", float(FLOPS))]


# ---------------------------------------------------------------- 3. load_study's sampler= and pruner=


def test_load_study_takes_sampler_and_pruner_and_warns_where_the_study_runs_another(server: ServerProcess, name: str) -> None:
    """Optuna's distributed recipe: each worker runs ``load_study(..., sampler=TPESampler(seed=rank))``.
    The study keeps what it was created with (the server runs it for every worker): the same
    algorithm loads quietly (filterwarnings=error would raise on a warning), another warns with
    what the study runs and how to change it for every worker, and loads the study."""
    _study(server, name, strategy="tpe", scheduler="median")
    load = tp.load_study
    for rank in range(2):
        assert load(study_name=name, storage=server.endpoint, sampler=optuna.samplers.TPESampler(seed=rank)).strategy["name"] == "tpe"
    assert load(study_name=name, storage=server.endpoint, pruner=optuna.pruners.MedianPruner()).study_name == name
    with pytest.warns(UserWarning, match=r"runs the strategy it was created with, \{'name': 'tpe'.*study\.update\(strategy=\{'name': 'random'"):
        study = load(study_name=name, storage=server.endpoint, sampler=optuna.samplers.RandomSampler())
    assert study.study_name == name and study.strategy["name"] == "tpe"
    with pytest.warns(UserWarning, match=r"runs the scheduler it was created with, \{'name': 'median'.*study\.update\(scheduler=\{'name': 'percentile'"):
        load(study_name=name, storage=server.endpoint, pruner=optuna.pruners.PercentilePruner(25.0))
    with pytest.warns(UserWarning, match=r"study\.update\(scheduler=None\)"):
        load(study_name=name, storage=server.endpoint, pruner=optuna.pruners.NopPruner())
    with pytest.warns(UserWarning, match=r"n_startup_trials.*study\.update\(strategy="):
        load(study_name=name, storage=server.endpoint, sampler=optuna.samplers.TPESampler(n_startup_trials=3))
    # What the warning offers works: the study changes for every worker, and then loads quietly.
    study = load(study_name=name, storage=server.endpoint)
    assert study.update(strategy="random") == ["strategy"] and study.strategy["name"] == "random"
    load(study_name=name, storage=server.endpoint, sampler=optuna.samplers.RandomSampler(seed=3))


def _loads_quietly(fn: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fn()


@pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")
def test_load_study_compares_every_option_defaults_included_both_ways(server: ServerProcess, name: str) -> None:
    """A sampler built with Optuna's defaults names no option; it stands for those defaults, so a
    study created with TPESampler(n_startup_trials=20) does not run TPESampler(seed=9) (nor the
    reverse), while the same settings with another seed load quietly."""
    load = tp.load_study
    _study(server, name, sampler=optuna.samplers.TPESampler(seed=1, n_startup_trials=20))
    for sampler in (optuna.samplers.TPESampler(seed=9), tp.samplers.TPESampler(seed=9)):
        with pytest.warns(UserWarning, match=r"'n_startup_trials': 20.*this sampler is not used"):
            load(study_name=name, storage=server.endpoint, sampler=sampler)
    for same in (optuna.samplers.TPESampler(seed=9, n_startup_trials=20), tp.samplers.TPESampler(n_startup_trials=20)):
        _loads_quietly(lambda: load(study_name=name, storage=server.endpoint, sampler=same))
    _study(server, name + "-default", sampler=optuna.samplers.TPESampler(seed=1))
    with pytest.warns(UserWarning, match=r"study\.update\(strategy=\{'name': 'tpe', 'options': \{'n_startup_trials': 20\}\}"):
        load(study_name=name + "-default", storage=server.endpoint, sampler=optuna.samplers.TPESampler(n_startup_trials=20))
    _loads_quietly(lambda: load(study_name=name + "-default", storage=server.endpoint, sampler=optuna.samplers.TPESampler(seed=9)))
    # Pruners likewise, a wrapped one included.
    patient = optuna.pruners.PatientPruner(optuna.pruners.MedianPruner(n_startup_trials=2), patience=3)
    _study(server, name + "-pruned", pruner=patient)
    with pytest.warns(UserWarning, match=r"this pruner is not used"):
        load(study_name=name + "-pruned", storage=server.endpoint, pruner=optuna.pruners.PatientPruner(optuna.pruners.MedianPruner(), patience=3))
    _loads_quietly(lambda: load(study_name=name + "-pruned", storage=server.endpoint, pruner=patient))
    _study(server, name + "-median", pruner=optuna.pruners.MedianPruner(n_warmup_steps=4))
    with pytest.warns(UserWarning, match=r"this pruner is not used"):
        load(study_name=name + "-median", storage=server.endpoint, pruner=optuna.pruners.MedianPruner())
    _study(server, name + "-hb", pruner=optuna.pruners.HyperbandPruner(max_resource=27))
    _loads_quietly(lambda: load(study_name=name + "-hb", storage=server.endpoint, pruner=optuna.pruners.HyperbandPruner(max_resource=27)))


# ---------------------------------------------------------------- 4. a range that is not a whole number of steps


def _caught(fn: Any) -> tuple[Any, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn()
    return out, [str(w.message) for w in caught]


def test_an_off_grid_high_is_shrunk_onto_the_grid_with_optunas_warning() -> None:
    for lib in (optuna, tp):
        f, f_warned = _caught(lambda: lib.distributions.FloatDistribution(0, 1, step=0.3))
        i, i_warned = _caught(lambda: lib.distributions.IntDistribution(0, 10, step=3))
        g, g_warned = _caught(lambda: lib.distributions.FloatDistribution(0.1, 1.0, step=0.2))
        assert (f.low, f.high, f.step, type(f.low), type(f.high)) == (0.0, 0.9, 0.3, float, float), lib
        assert (i.low, i.high, i.step) == (0, 9, 3), lib
        assert g.high == 0.9, lib
        assert f_warned == [
            "The distribution is specified by [0, 1] and step=0.3, but the range is not divisible by `step`. It will be replaced with [0, 0.9]."
        ], lib
        assert i_warned == [
            "The distribution is specified by [0, 10] and step=3, but the range is not divisible by `step`. It will be replaced with [0, 9]."
        ], lib
        assert g_warned == [
            "The distribution is specified by [0.1, 1.0] and step=0.2, but the range is not divisible by `step`. It will be replaced with [0.1, 0.9]."
        ], lib
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # on the grid: no warning, nothing changed
        assert tp.Float(0, 0.9, step=0.3).high == 0.9 and tp.Int(0, 9, step=3).high == 9


def test_a_trials_distributions_hold_the_shrunk_high_as_optunas_do(server: ServerProcess, name: str) -> None:
    def script(lib: Any, study: Any) -> list[Any]:
        trial = study.ask()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            x = trial.suggest_float("x", 0, 1, step=0.3)
            n = trial.suggest_int("n", 0, 10, step=3)
        live = [(d.low, d.high, d.step) for d in (trial.distributions["x"], trial.distributions["n"])]
        study.tell(trial, 0.0)
        stored = study.trials[0].distributions
        return [x <= 0.9, n <= 9, live, [(d.low, d.high, d.step) for d in (stored["x"], stored["n"])]]

    ours = script(tp, _study(server, name, seed=1))
    assert ours == script(optuna, optuna.create_study())
    assert ours[2] == ours[3] == [(0.0, 0.9, 0.3), (0, 9, 3)]


# ---------------------------------------------------------------- 5. categorical choices


def test_suggest_categorical_takes_numpy_arrays_and_tuples_and_returns_python_values(server: ServerProcess, name: str) -> None:
    study = _study(server, name, seed=3)
    trial = study.ask()
    bs = trial.suggest_categorical("bs", np.array([16, 32, 64]))  # type: ignore[arg-type]  # typed Sequence, as Optuna's
    opt = trial.suggest_categorical("opt", np.array(["adam", "sgd"]))  # type: ignore[arg-type]
    wd = trial.suggest_categorical("wd", (0.0, 1e-4))
    assert type(bs) is int and bs in (16, 32, 64)
    assert type(opt) is str and opt in ("adam", "sgd")
    assert type(wd) is float and wd in (0.0, 1e-4)
    assert trial.distributions["bs"] == tp.Categorical([16, 32, 64])
    study.tell(trial, 1.0)
    assert study.trials[0].params == {"bs": bs, "opt": opt, "wd": wd}
    # Optuna takes the same and returns one of the choices.
    otrial = optuna.create_study().ask()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna warns that numpy choices do not persist
        assert otrial.suggest_categorical("bs", np.array([16, 32, 64])) in (16, 32, 64)  # type: ignore[call-overload]


def test_a_repeated_choice_is_refused_saying_why_and_what_to_pass(server: ServerProcess, name: str) -> None:
    # Optuna 5.0 accepts a repeat without a word; the server keeps each choice once.
    assert optuna.create_study().ask().suggest_categorical("opt", ["adam", "adam", "sgd"]) in ("adam", "sgd")
    trial = _study(server, name).ask()
    with pytest.raises(tp.InvalidArgumentError) as info:
        trial.suggest_categorical("opt", ["adam", "adam", "sgd"])
    assert "duplicate choice 'adam'" in info.value.message and "keeps each categorical choice once" in info.value.message
    assert "['adam', 'sgd']" in info.value.message
    # 1 and 1.0 are one number on the server: refused here with the reason, not by the server.
    with pytest.raises(tp.InvalidArgumentError, match=r"duplicate choice 1\.0 \(the same number as 1 .*Pass the distinct choices, \[1, 2\]"):
        tp.Categorical([1, 1.0, 2])
    assert tp.Categorical([True, 1]).choices == (True, 1)  # a bool is not a number there
    with pytest.raises(tp.InvalidArgumentError, match="a set has no order"):
        tp.Categorical({1, 2})  # type: ignore[arg-type]
    trial.suggest_categorical("opt", ["adam", "sgd"])


# ---------------------------------------------------------------- 6. an enqueued value between step points


def test_an_enqueued_value_between_step_points_is_named_as_such_not_as_outside(server: ServerProcess, name: str) -> None:
    """Optuna evaluates ``0.33`` for ``suggest_float(..., step=0.1)`` as given (with a warning); the
    server keeps a trial's values on their distribution's grid and draws another (PROTOCOL.md,
    ``enqueue``), so the warning must say what happened and what to enqueue instead."""
    study = _study(server, name, seed=0)
    study.enqueue_trial({"dropout": 0.33, "layers": 4, "wd": 0.7})

    def objective(trial: Any) -> float:
        return float(trial.suggest_float("dropout", 0.0, 0.5, step=0.1) + trial.suggest_int("layers", 0, 9, step=3) + trial.suggest_float("wd", 0.0, 0.5))

    with pytest.warns(UserWarning, match="enqueued value") as caught:
        study.optimize(objective, n_trials=1)
    warned = [str(w.message) for w in caught]
    dropout = next(m for m in warned if "'dropout'" in m)
    layers = next(m for m in warned if "'layers'" in m)
    wd = next(m for m in warned if "'wd'" in m)
    assert "0.33 of 'dropout' is between the step points of" in dropout and "outside" not in dropout
    assert "so the nearest step point, 0.3, is used" in dropout
    assert "4 of 'layers' is between the step points of" in layers and "so the nearest step point, 3, is used" in layers
    assert "0.7 of 'wd' is outside" in wd and "nearest" not in wd
    # The server uses the nearest step point of a value between them, and draws one outside the range.
    params = study.trials[0].params
    wd_value = params["wd"]
    assert isinstance(wd_value, float) and 0.0 <= wd_value <= 0.5
    assert params["dropout"] == pytest.approx(0.3) and params["layers"] == 3


def test_an_enqueued_value_just_outside_the_range_is_drawn_anew_and_named_outside(server: ServerProcess, name: str) -> None:
    """The server's bounds are exact (Optuna's ``_contains``): an enqueued 0.5 + 5e-10 for a range
    up to 0.5, or 0 for a log range, is not a value of it. They used to lie within the server's old
    tolerance (1e-9 of the range), so the trial ran with them, outside its range, and nothing was said."""
    study = _study(server, name, seed=0)
    study.enqueue_trial({"wd": 0.5 + 5e-10, "eps": 0.0})

    def objective(trial: Any) -> float:
        return float(trial.suggest_float("wd", 0.0, 0.5) + trial.suggest_float("eps", 1e-12, 1e-10, log=True))

    with pytest.warns(UserWarning, match="enqueued value") as caught:
        study.optimize(objective, n_trials=1)
    wd, eps = study.trials[0].params["wd"], study.trials[0].params["eps"]
    assert isinstance(wd, float) and isinstance(eps, float)
    assert 0.0 <= wd <= 0.5 and 1e-12 <= eps <= 1e-10
    warned = [str(w.message) for w in caught]
    assert any("0.5000000005 of 'wd' is outside" in m for m in warned), warned
    assert any("value 0 of 'eps' is outside" in m for m in warned), warned


# ---------------------------------------------------------------- 7. tell(frozen_trial, value)


def test_tell_refuses_a_frozen_trial_as_optuna_and_takes_its_number(server: ServerProcess, name: str) -> None:
    study = _study(server, name)
    study.ask()
    frozen = study.trials[0]
    assert frozen.state == "RUNNING"
    # Optuna 5.0's Study.tell takes a Trial or a trial number: a FrozenTrial is its TypeError
    # (tuneport took it until the 2026-12-08 audit), with the number to pass instead.
    with pytest.raises(TypeError, match=r"Trial must be a trial object or trial number \(got a FrozenTrial; pass its number, study.tell\(0, ...\)\)"):
        study.tell(frozen, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Trial must be a trial object or trial number"):
        reference = optuna.create_study()
        reference.ask()
        reference.tell(reference.trials[0], 1.0)  # type: ignore[arg-type]
    assert study.trials[0].state == "RUNNING"  # refused before anything was told
    told = study.tell(frozen.number, 1.0)
    assert told.state == "COMPLETE" and study.trials[0].value == 1.0
    # A finished trial by number: Optuna's ValueError, also when this client no longer holds it.
    with pytest.raises(ValueError, match="Cannot tell a COMPLETE trial"):
        study.tell(frozen.number, 2.0)
    assert study.tell(frozen.number, 2.0, skip_if_finished=True).value == 1.0
    study.ask()
    assert study.tell(np.int64(1), 3.0).state == "COMPLETE"  # type: ignore[arg-type]  # a numpy trial number
    # A trial that does not exist: Optuna's ValueError.
    with pytest.raises(ValueError, match="Cannot tell for trial with number 12345 since it has not been created"):
        study.tell(12345, 1.0)
    # Anything else: Optuna's TypeError, not "unhashable type".
    for wrong in ({"number": 0}, "0", 1.0, None):
        with pytest.raises(TypeError, match="Trial must be a trial object or trial number"):
            study.tell(wrong, 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Trial must be a trial object or trial number"):
        optuna.create_study().tell({"number": 0}, 1.0)  # type: ignore[arg-type]
