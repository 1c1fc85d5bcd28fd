"""Optuna scripts moved over unchanged, third audit (ask-and-tell with ``optuna.distributions``,
``tell`` edge cases, repeated ``report`` steps): each case is a divergence found by running the
same snippet with ``import optuna`` (Optuna 5.0, in memory) and with ``import tuneport as optuna``."""

from __future__ import annotations

import warnings
from typing import Any

import optuna
import pytest

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(server: ServerProcess, name: str, **kwargs: Any) -> tp.Study:
    return tp.create_study(storage=server.endpoint, study_name=name, **kwargs)


def test_optuna_distributions_module_names_work_under_import_tuneport_as_optuna(server: ServerProcess, name: str) -> None:
    # The tutorial's ask-and-tell page: study.ask(fixed_distributions) built from optuna.distributions.
    def script(lib: Any, study: Any) -> list[Any]:
        d = lib.distributions
        trial = study.ask(
            {"C": d.FloatDistribution(1e-10, 1e10, log=True), "solver": d.CategoricalDistribution(("lbfgs", "saga")), "n": d.IntDistribution(1, 10)}
        )
        study.tell(trial, 1.0)
        dists = study.trials[0].distributions
        return [
            isinstance(dists["C"], d.FloatDistribution),
            isinstance(dists["n"], d.IntDistribution),
            isinstance(dists["solver"], d.BaseDistribution),
            dists["n"] == d.IntDistribution(1, 10),
            (dists["n"].low, dists["n"].high, dists["n"].step, dists["n"].log),
            dists["solver"].choices,
            [x.single() for x in (dists["C"], dists["n"], dists["solver"])],
            [d.IntDistribution(3, 3).single(), d.FloatDistribution(0.5, 0.5).single(), d.FloatDistribution(0, 1, step=0.5).single(), d.CategoricalDistribution(["a"]).single()],
        ]

    assert script(tp, _study(server, name)) == script(optuna, optuna.create_study())
