"""A training loop's trial on its failure paths (a Lightning user's audit, 2026-12-05): a trial
whose last word (the FAIL tell of ``with trial:``) is lost in an outage must be left to the
server's lease reaper, not kept alive by this client's heartbeats. Real server processes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import tuneport as tp

from conftest import ServerProcess


def _state_on_server(endpoint: str, study: str, number: int) -> str:
    with tp.connect(endpoint) as c:
        (trial,) = [t for t in c.load_study(study).trials if t.number == number]
        return str(trial.state.name)


def test_a_trial_whose_fail_tell_is_lost_is_no_longer_renewed_so_the_server_reaps_it(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, timeout=1.0, retries=0, outage_budget_s=0.5) as c:
            study = c.create_study("lost-tell", lease_ttl_s=2)
            trial = study.ask()
            srv.stop()
            with pytest.raises(RuntimeError, match="training crashed"):
                with trial:
                    raise RuntimeError("training crashed")  # the FAIL tell cannot reach the server
            # Still renewed, it stayed RUNNING for as long as this client lived (a worker's whole
            # loop over trials): the reaper that the with-block leaves it to never saw it expire.
            assert trial not in c.open_trials()
            srv.start()
            deadline = time.monotonic() + 60  # only against a hang: the lease lasts 2 s
            while _state_on_server(srv.endpoint, "lost-tell", trial.number) == "RUNNING":
                assert time.monotonic() < deadline, "the trial was never reaped"
                time.sleep(0.2)
            assert _state_on_server(srv.endpoint, "lost-tell", trial.number) == "FAIL"
    finally:
        srv.kill()


@pytest.mark.parametrize("strategy", ["tpe", "auto"])
def test_hypergradients_sent_to_a_study_whose_strategy_ignores_them_are_refused(client: tp.Client, name: str, strategy: str) -> None:
    """A study created without strategy='hypergradient' (the default is 'auto') took the
    hypergradients and answered continue: the decays the loop meant to tune never moved, and
    nothing said why (the names were all float parameters, so the client's name check passed)."""
    study = client.create_study(name, strategy=strategy, space={"wd": tp.Float(1e-5, 1e-1, log=True)})
    with study.ask() as trial:
        for wait in (True, False):
            with pytest.raises(tp.InvalidArgumentError, match=rf"strategy '{strategy}'.*strategy='hypergradient'") as err:
                trial.report(0.9, 0, hypergradients={"wd": 1.0}, wait=wait)
            assert err.value.data["strategy"] == strategy
        trial.report(0.9, 0)  # without them the report goes through
        trial.complete(0.9)
    assert [s for s, _ in study.trial(trial.number).intermediate] == [0.0]  # the refused ones were not sent


def test_hypergradients_follow_a_strategy_switched_since_the_study_was_loaded(client: tp.Client, name: str) -> None:
    space = {"wd": tp.Float(1e-5, 1e-1, log=True)}
    stale = client.create_study(name, strategy="tpe", space=space)
    client.load_study(name).update(strategy="hypergradient")  # an agent switches it while no trial runs
    with stale.ask() as trial:
        assert trial.report(0.9, 0, hypergradients={"wd": 1.0}).action == "update"
        trial.complete(0.9)



def test_the_server_refuses_hypergradients_its_strategy_ignores_for_any_client(client: tp.Client, name: str) -> None:
    """The refusal is the server's (it knows which strategies read them, plug-ins included): a raw
    report, as another client sends it, is refused too, and nothing is stored. It used to be the
    Python client's own list of built-in names, so other clients got continue and the rates they
    meant to tune never moved."""
    study = client.create_study(name, strategy="tpe", space={"wd": tp.Float(1e-5, 1e-1, log=True)})
    trial = study.ask()
    args = {"study": name, "trial": trial.number, "token": trial.lease.token, "step": 0, "value": 0.9}
    with pytest.raises(tp.InvalidArgumentError, match=r"strategy 'tpe' does not read them.*strategy='hypergradient'") as err:
        client.call("report", **args, data={"hypergradients": {"wd": 1.0}})
    assert err.value.data["strategy"] == "tpe"
    assert study.trial(trial.number).intermediate == []
    assert client.call("report", **args)["decision"]["action"] == "continue"
    trial.complete(0.9)


def test_non_blocking_hypergradient_reports_wait_only_for_the_first_answer(client: tp.Client, name: str) -> None:
    """The first report of a trial carrying hypergradients waits for the server's answer (its
    strategy may refuse them); once taken, the later ones are queued as usual."""
    study = client.create_study(name, strategy="hypergradient", space={"wd": tp.Float(1e-5, 1e-1, log=True)}, seed=1)
    with study.ask() as trial:
        first = trial.report(0.9, 0, hypergradients={"wd": 1.0}, wait=False)
        assert first is not None and first.action == "update"  # answered in the call
        trial.report(0.8, 1, hypergradients={"wd": 1.0}, wait=False)
        assert trial.flush_reports() is not None  # that one was queued
        trial.complete(0.8)
    assert [s for s, _ in study.trial(trial.number).intermediate] == [0.0, 1.0]


@pytest.mark.parametrize("wait", [True, False])
def test_optimize_hands_the_callbacks_a_trial_given_up_as_the_server_holds_it(client: tp.Client, name: str, wait: bool) -> None:
    """A trial finished elsewhere (told by another thread holding its token, an agent) is given up by
    ``optimize``; its callbacks got this process's snapshot, RUNNING, a state no trial ends in
    (Optuna's callbacks get the stored trial)."""
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    seen: list[tuple[int, str]] = []

    def objective(trial: tp.Trial) -> float:
        trial.report(0.5, 0, wait=wait)
        client.call("tell", study=name, trial=trial.number, token=trial.lease.token, state="PRUNED")
        trial.report(0.5, 1, wait=wait)
        trial.flush_reports()  # a non-blocking report's refusal is raised here
        return 0.5

    study.optimize(objective, n_trials=2, callbacks=[lambda s, t: seen.append((t.number, str(t.state.name)))])
    assert seen == [(0, "PRUNED"), (1, "PRUNED")]


def test_optimize_hands_the_callbacks_a_trial_given_up_whose_objective_raised_a_caught_error(client: tp.Client, name: str) -> None:
    """The objective's error is in ``catch`` but its FAIL could not be told (the trial was finished
    elsewhere, or its lease lost): the callbacks got this process's snapshot, RUNNING, as they did
    for a trial given up by a refused report (Optuna's callbacks get the stored trial)."""
    study = client.create_study(name)
    seen: list[tuple[int, str]] = []

    def objective(trial: tp.Trial) -> float:
        client.call("tell", study=name, trial=trial.number, token=trial.lease.token, state="PRUNED")
        raise ValueError("diverged")

    study.optimize(objective, n_trials=2, catch=(ValueError,), callbacks=[lambda s, t: seen.append((t.number, str(t.state.name)))])
    assert seen == [(0, "PRUNED"), (1, "PRUNED")]


def test_an_error_whose_str_fails_still_fails_its_trial(client: tp.Client, name: str) -> None:
    """An exception whose ``__str__`` raises (a message built from an attribute that is not set):
    the with-block's FAIL tell formatted it and raised that RuntimeError instead, so the trial
    stayed RUNNING and ``catch`` no longer caught the error (Optuna fails the trial, goes on)."""

    class Opaque(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no message")

    def objective(trial: tp.Trial) -> float:
        raise Opaque()

    study = client.create_study(name)
    study.optimize(objective, n_trials=2, catch=(Opaque,))
    assert [(t.state.name, t.system_attrs.get("fail_reason")) for t in study.trials] == [("FAIL", "Opaque: <exception str() failed>")] * 2
