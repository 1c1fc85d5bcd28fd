"""Optuna scripts moved over unchanged, sixth audit: each case is a divergence found by running the
same script with ``import optuna`` (Optuna 5.0, in memory) and with ``import tuneport as optuna``."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend

import tuneport as tp
from conftest import ServerProcess

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _x(trial: Any) -> float:
    x: float = trial.suggest_float("x", 0, 1)
    return x


def _outcome(lib: Any, params: dict[str, Any], suggest: str, *args: Any, **kwargs: Any) -> tuple[str, str]:
    """What ``FixedTrial(params).suggest_<suggest>("p", *args)`` does: the error's class and
    message, or the returned value and whether it warned."""
    trial = lib.trial.FixedTrial(params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = getattr(trial, f"suggest_{suggest}")("p", *args, **kwargs)
        except ValueError as exc:
            return "ValueError", str(exc)
    return repr(value), f"warned={bool(caught)}"


@pytest.mark.parametrize(
    "params, suggest, args, kwargs",
    [
        ({"p": "z"}, "categorical", (["a", "b"],), {}),
        ({"p": 1}, "categorical", ([True, False],), {}),
        ({"p": "abc"}, "float", (0, 1), {}),
        ({"p": "0.5"}, "float", (0, 1), {}),
        ({"p": float("nan")}, "float", (0, 1), {}),
        ({"p": -1.0}, "float", (1e-3, 1), {"log": True}),
        ({"p": 2.0}, "float", (0, 1), {}),
        ({"p": None}, "int", (0, 10), {}),
    ],
    ids=["choice-not-among-choices", "1-for-True", "string", "numeric-string", "nan", "log-negative", "outside", "none-for-int"],
)
def test_fixed_trial_refuses_a_value_its_distribution_cannot_hold_as_optuna(
    params: dict[str, Any], suggest: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    # Testing an objective with FixedTrial: a typo'd choice ({"optimizer": "adamw"} for ["adam",
    # "sgd"]) must fail the test, not run the objective on a value it never sees in a study.
    assert _outcome(tp, params, suggest, *args, **kwargs) == _outcome(optuna, params, suggest, *args, **kwargs)


def test_disable_propagation_prints_the_trial_lines_to_stderr_as_optuna(
    server: ServerProcess, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # A script that configures its own logging and turns propagation off (Optuna's default) still
    # sees each trial's line on stderr; the lines went nowhere: not to the application's handlers,
    # and the default handler stayed quiet because the root logger had handlers (pytest's here).
    assert logging.getLogger().handlers
    study = tp.create_study(storage=server.endpoint, study_name=name)
    try:
        tp.logging.set_verbosity(tp.logging.INFO)
        tp.logging.disable_propagation()
        study.optimize(_x, n_trials=1)
    finally:
        tp.logging.enable_propagation()
        tp.logging.set_verbosity(tp.logging.WARNING)
    assert "Trial 0 finished with value" in capsys.readouterr().err


def test_create_study_takes_what_optunas_heartbeat_and_retry_callback_set_up(server: ServerProcess, name: str) -> None:
    # Optuna's fault-tolerance recipe: RDBStorage(url, heartbeat_interval=60, grace_period=120,
    # failed_trial_callback=RetryFailedTrialCallback(max_retry=3)). optuna.storages points here.
    with pytest.raises(AttributeError, match=r"create_study\(lease_ttl_s=\.\.\., max_retries=n\)"):
        getattr(tp, "storages")
    study = tp.create_study(storage=server.endpoint, study_name=name, lease_ttl_s=120, max_retries=3, retry_on_fail=True)
    assert (study.lease_ttl_s, study.summary().retry["max_retries"]) == (120, 3)
    failed = study.ask()
    x = failed.suggest_float("x", 0, 1)
    study.tell(failed, state=tp.TrialState.FAIL)
    retried = study.ask()  # RetryFailedTrialCallback.retried_trial_number(trial) is system_attrs["retry_of"]
    assert (retried.system_attrs["retry_of"], retried.suggest_float("x", 0, 1)) == (failed.number, x)


def test_an_optuna_storage_object_is_refused_with_what_to_pass_instead(tmp_path: Any) -> None:
    # storage=optuna.storages.RDBStorage(url, heartbeat_interval=60) (Optuna's fault-tolerance
    # recipe), InMemoryStorage() or JournalStorage(...) was refused as "endpoint must be a string".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # RDBStorage's heartbeat is experimental in Optuna
        rdb = optuna.storages.RDBStorage(f"sqlite:///{tmp_path}/optuna.db", heartbeat_interval=60)
    journal = optuna.storages.JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    expected: list[tuple[Any, str]] = [
        (optuna.storages.InMemoryStorage(), r"InMemoryStorage\(\.\.\.\) is an Optuna storage: leave storage out"),
        # RDBStorage made optuna.db an Optuna database, which a tuneport server refuses: another file is named.
        (rdb, rf"RDBStorage\(\.\.\.\) .*serve --storage {tmp_path}/optuna-tuneport.db .*create_study's lease_ttl_s=\.\.\. and max_retries"),
        (journal, r"JournalStorage\(\.\.\.\) .*start one \(`npx tuneport serve"),
    ]
    for storage, message in expected:
        with pytest.raises(tp.InvalidArgumentError, match=message):
            tp.create_study(storage=storage)
        with pytest.raises(tp.InvalidArgumentError, match=message):
            tp.load_study(study_name="x", storage=storage)


def test_each_callback_gets_its_own_copy_of_the_trial_as_optuna(server: ServerProcess, name: str) -> None:
    """Optuna hands each callback a deep copy of the stored trial; one FrozenTrial went to every
    callback, so what one callback changed in it (a tag in user_attrs) the next one saw."""

    def script(study: Any) -> list[Any]:
        seen: list[Any] = []

        def tag(s: Any, t: Any) -> None:
            t.user_attrs["tagged"] = True
            t.params["x"] = -1.0

        def look(s: Any, t: Any) -> None:
            seen.append((dict(t.user_attrs), t.params["x"] >= 0))

        study.optimize(_x, n_trials=2, callbacks=[tag, look])
        return seen

    mine = script(tp.create_study(study_name=name, storage=server.endpoint))
    assert mine == script(optuna.create_study()) == [({}, True), ({}, True)]
