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



def test_the_strategies_said_to_ignore_hypergradients_are_the_servers_built_ins_but_hypergradient(client: tp.Client) -> None:
    """The client keeps the built-in names (a plug-in's may read hypergradients, so it passes): a
    strategy added to the server without its name here would take hypergradients unchecked."""
    from tuneport._trial import _IGNORE_HYPERGRADIENTS

    built_in = {p["name"] for p in client.catalogue() if p["kind"] == "strategy"}
    assert _IGNORE_HYPERGRADIENTS == built_in - {"hypergradient"}
