"""Deleting a study beside live workers (issue 11 §1, the realistic variant).

Four Python workers run a ``tpe`` or ``auto`` study (GP fits run in the server's worker thread,
so asks and the delete really overlap) while another client deletes it. The server must
survive and answer the delete; every worker must end on ``NotFoundError``, not on a timeout
or a hang. Each run takes a few seconds; the thread joins are hang guards only.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import cast
from pathlib import Path

import pytest

import tuneport as tp
from conftest import ServerProcess

SPACE = {"x": tp.Float(-2.0, 2.0), "y": tp.Float(-2.0, 2.0)}
WORKERS = 4
DELETE_AFTER = 12  # finished trials before the delete
HANG_GUARD_S = 120.0


def _work(endpoint: str, name: str, finished: threading.Semaphore, outcome: list[BaseException | None], k: int) -> None:
    try:
        with tp.connect(endpoint, timeout=10.0, retries=1) as client:
            study = client.load_study(name)
            while True:
                trial = study.ask()  # NotFoundError once the study is gone: the way out
                x, y = cast(float, trial.params["x"]), cast(float, trial.params["y"])
                try:
                    for step in range(3):
                        trial.report(x**2 + 1.0 / (step + 1), step)
                    trial.complete(x**2 + y**2)
                    finished.release()
                except (tp.NotFoundError, tp.LeaseLostError, tp.FailedPreconditionError, tp.TrialPruned):
                    continue  # deleted (or its lease dropped with it) mid-trial: the next ask says so
        outcome[k] = None
    except BaseException as err:  # noqa: BLE001 - the test inspects what each worker ended on
        outcome[k] = err


@pytest.mark.parametrize("strategy", ["tpe", "auto"])
def test_delete_beside_live_workers(tmp_path: Path, strategy: str) -> None:
    srv = ServerProcess(tmp_path / "race.db").start()
    try:
        name = f"race-{strategy}"
        with tp.connect(srv.endpoint, timeout=10.0, retries=1) as admin:
            admin.create_study(name, space=SPACE, strategy=strategy, seed=3)
            finished = threading.Semaphore(0)
            outcome: list[BaseException | None] = [None] * WORKERS
            threads = [
                threading.Thread(target=_work, args=(srv.endpoint, name, finished, outcome, k), daemon=True) for k in range(WORKERS)
            ]
            for t in threads:
                t.start()
            for _ in range(DELETE_AFTER):
                assert finished.acquire(timeout=HANG_GUARD_S), "workers made no progress"
            admin.delete_study(name)  # answered: raises on a timeout
            for t in threads:
                t.join(HANG_GUARD_S)
            assert [t.is_alive() for t in threads] == [False] * WORKERS, "a worker hung"
            assert all(isinstance(e, tp.NotFoundError) for e in outcome), outcome
            assert srv.proc is not None and srv.proc.poll() is None, "the server died"
            assert name not in [s.name for s in admin.list_studies()]
            # The name is free again and the server serves it as new.
            again = admin.create_study(name, space=SPACE, strategy=strategy)
            trial = again.ask()
            assert trial.number == 0
            trial.complete(0.5)
    finally:
        srv.stop()


def test_a_loaded_study_is_not_followed_to_a_new_study_of_its_name(client: tp.Client, name: str) -> None:
    """A study deleted and created again under its name (an agent starting over) is another study:
    a worker's loop on the old one ends on NotFoundError at its next ask, instead of running the new
    study's trials with its objective (it did, forever, once the name was taken again)."""
    old = client.create_study(name, space=SPACE, strategy="random", seed=1)
    seen: list[int] = []
    outcome: list[BaseException | None] = [None]

    def start_over(study: tp.Study, frozen: tp.FrozenTrial) -> None:  # mid-run, between two asks of the loop
        seen.append(frozen.number)
        if len(seen) == 3:
            client.delete_study(name)
            time.sleep(0.01)  # a new created_at
            client.create_study(name, space=SPACE, strategy="random", seed=2)

    def run() -> None:
        try:
            old.optimize(lambda trial: 0.5, n_trials=50, callbacks=[start_over])
        except BaseException as err:  # noqa: BLE001 - the test inspects what the loop ended on
            outcome[0] = err

    loop = threading.Thread(target=run, daemon=True)
    loop.start()
    loop.join(HANG_GUARD_S)
    assert not loop.is_alive(), "the loop hung"
    assert isinstance(outcome[0], tp.NotFoundError) and "created again" in str(outcome[0]), outcome[0]
    assert seen == [0, 1, 2]
    assert client.load_study(name).trials == []  # the old loop ran none of the new study's trials
    again = client.load_study(name).ask()  # loaded again, it works on the new one
    assert again.number == 0
    again.complete(0.1)


def test_a_delete_mid_trial_says_the_study_was_deleted(client: tp.Client, name: str, caplog: pytest.LogCaptureFixture) -> None:
    """An agent deletes the study while a worker's trial trains (helper 47's agent + workers audit):
    the worker's next report failed with "no study named 'x'", which reads as a typo in its script.
    A trial the study handed out proves it existed: the error says it was deleted meanwhile. No
    warning says the trial's "lease is left to run out" (there is no study, so no lease)."""
    caplog.set_level(logging.WARNING, logger="tuneport")
    study = client.create_study(name, space=SPACE, strategy="random", seed=1)
    reported = threading.Event()
    deleted = threading.Event()
    outcome: list[BaseException | None] = [None]

    def objective(trial: tp.Trial) -> float:
        trial.report(1.0, 0)
        reported.set()
        assert deleted.wait(HANG_GUARD_S)
        trial.report(0.5, 1)  # the study is gone by now
        return 0.5

    def run() -> None:
        try:
            study.optimize(objective, n_trials=1)
        except BaseException as err:  # noqa: BLE001 - the test inspects what the loop ended on
            outcome[0] = err

    loop = threading.Thread(target=run, daemon=True)
    loop.start()
    assert reported.wait(HANG_GUARD_S), "the trial never reported"
    client.delete_study(name)
    deleted.set()
    loop.join(HANG_GUARD_S)
    assert not loop.is_alive(), "the loop hung"
    err = outcome[0]
    assert isinstance(err, tp.NotFoundError), err
    assert f"study '{name}' was deleted while its trial 0 ran here (delete_study)" in str(err), err
    assert err.data.get("study") == name
    assert not [r for r in caplog.records if "lease is left to run out" in r.getMessage()], caplog.text


def test_a_delete_between_trials_says_the_study_was_deleted(client: tp.Client, name: str) -> None:
    """The same delete between two trials of the loop: its next ask got "no study named 'x'" too.
    The ask carries the created_at of the study the worker loaded, so the server says it was deleted."""
    study = client.create_study(name, space=SPACE, strategy="random", seed=1)
    outcome: list[BaseException | None] = [None]

    def delete(study: tp.Study, frozen: tp.FrozenTrial) -> None:  # after trial 0, before the next ask
        client.delete_study(name)

    try:
        study.optimize(lambda trial: 0.5, n_trials=5, callbacks=[delete])
    except BaseException as err:  # noqa: BLE001 - the test inspects what the loop ended on
        outcome[0] = err
    ended = outcome[0]
    assert isinstance(ended, tp.NotFoundError), ended
    assert f"study '{name}' was deleted since this worker loaded it (no study named '{name}'" in str(ended), ended


def test_a_study_created_again_mid_trial_says_so(client: tp.Client, name: str) -> None:
    """An agent deletes the study and creates it again under its name (starting over) while a
    worker's trial trains: the trial's next report reached the new study, which has no trial of
    that number ("study 'x' has no trial 0", read as a bug in the worker), or whose trial of that
    number another worker holds ("leased to another worker"). Both now say what happened."""
    old = client.create_study(name, space=SPACE, strategy="random", seed=1)
    leased = old.ask()
    leased.report(1.0, 0)
    missing = old.ask()
    missing.report(1.0, 0)
    client.delete_study(name)
    time.sleep(0.01)  # a new created_at
    new = client.create_study(name, space=SPACE, strategy="random", seed=2)
    other = new.ask()  # another worker's trial 0 of the new study
    assert (leased.number, missing.number, other.number) == (0, 1, 0)
    with pytest.raises(tp.NotFoundError, match=rf"study '{name}' was deleted and created again while its trial 1 ran here"):
        missing.report(0.5, 1)
    with pytest.raises(tp.LeaseLostError, match=rf"study '{name}' was deleted and created again while its trial 0 ran here"):
        leased.report(0.5, 1)
    other.complete(0.1)  # the new study's trials are untouched
    assert client.load_study(name).trials[0].value == 0.1
