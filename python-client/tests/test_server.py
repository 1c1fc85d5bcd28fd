"""The client against a real ``tuneport serve`` process."""

from __future__ import annotations

import math
import time

import pytest

import tuneport as tp
from conftest import ServerProcess
from tuneport import _protocol

SPACE = {"lr": tp.Float(1e-5, 1e-1, log=True), "layers": tp.Int(1, 4), "act": tp.Categorical(["relu", "gelu"])}


def test_connect_runs_the_hello_handshake(client: tp.Client) -> None:
    assert client.protocol_version == 1
    assert client.server["name"] == "tuneport"
    assert client.limits["max_message_bytes"] > 0
    assert "ask" in client.ops and "heartbeat" in client.ops


def test_no_common_version_is_refused(server: ServerProcess) -> None:
    with pytest.raises(tp.UnsupportedVersionError):
        tp.Client(server.endpoint, versions=(99,), timeout=2.0)


def test_create_load_list_delete(client: tp.Client, name: str) -> None:
    study = client.create_study(name, direction="maximize", space=SPACE, seed=7, user_attrs={"owner": "ana"})
    assert (study.name, study.direction, study.seed, study.user_attrs) == (name, "maximize", 7, {"owner": "ana"})
    assert study.space == {"lr": SPACE["lr"], "layers": tp.Int(1, 4, step=1), "act": SPACE["act"]}
    assert study.strategy["name"] == "auto"  # the server's default
    with pytest.raises(tp.AlreadyExistsError):
        client.create_study(name)
    again = client.create_study(name, direction="maximize", space=SPACE, load_if_exists=True)
    assert again.seed == 7
    with pytest.raises(tp.InvalidArgumentError):
        client.create_study(name, direction="minimize", load_if_exists=True)
    assert client.load_study(name).direction == "maximize"
    assert name in {s.name for s in client.list_studies()}
    client.delete_study(name)
    with pytest.raises(tp.NotFoundError):
        client.load_study(name)
    with pytest.raises(tp.NotFoundError):
        client.delete_study(name)


def test_strategy_as_a_map_with_options(client: tp.Client, name: str) -> None:
    study = client.create_study(name, strategy={"name": "grid", "options": {"ordered": True}}, space={"k": tp.Int(0, 2)})
    assert study.strategy["name"] == "grid"
    assert [t.params["k"] for t in study.ask_many()] == [0, 1, 2]


def test_ask_and_tell(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    trial = study.ask()
    assert trial.state == "RUNNING" and trial.number == 0
    assert set(trial.params) == {"lr", "layers", "act"}
    assert 1e-5 <= float(trial.params["lr"]) <= 1e-1  # type: ignore[arg-type]
    assert trial.lease.ttl_s > 0 and trial.budget is None
    assert trial in client.open_trials()
    study.tell(trial, 0.25)
    assert trial.value == 0.25
    assert study.trial(trial.number).state == "COMPLETE"
    assert trial not in client.open_trials()
    with pytest.raises(tp.FailedPreconditionError):
        trial.complete(0.5)
    assert study.trial(0).value == 0.25
    t2 = study.ask()
    study.tell(t2.number, state="FAIL", reason="oom")
    assert study.trial(t2.number).system_attrs["fail_reason"] == "oom"


def test_define_by_run_suggest(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"lr": tp.Float(1e-4, 1e-1, log=True)})
    with study.ask() as trial:
        dropout = trial.suggest_float("dropout", 0.0, 0.5)
        assert 0.0 <= dropout <= 0.5
        assert trial.suggest_float("dropout", 0.0, 0.5) == dropout  # same name, same value
        units = trial.suggest_int("units", 16, 128, step=16)
        assert units % 16 == 0 and 16 <= units <= 128
        act = trial.suggest_categorical("act", ["relu", "tanh"])
        assert act in ("relu", "tanh")
        assert trial.suggest_float("lr", 1e-4, 1e-1, log=True) == trial.params["lr"]  # declared params too
        with pytest.warns(RuntimeWarning, match="Inconsistent parameter values"):  # Optuna's warning
            assert trial.suggest_float("dropout", 0.0, 0.9) == dropout  # another range in the same trial: the first value
        with pytest.raises(tp.InvalidArgumentError, match="lr"):
            trial.suggest_float("lr", 0.0, 1.0)  # a declared parameter keeps its distribution
        trial.complete(dropout)
    frozen = study.trial(trial.number)
    assert frozen.params["dropout"] == dropout and frozen.params["units"] == units
    assert frozen.distributions["dropout"] == tp.Float(0.0, 0.5)
    with study.ask() as other:  # another trial may draw it from another distribution (Optuna's dynamic space)
        assert other.suggest_categorical("dropout", [0.1, 0.2]) in (0.1, 0.2)
        other.complete(1.5)
    assert study.trial(other.number).distributions["dropout"] == tp.Categorical([0.1, 0.2])


def test_exception_in_the_with_block_fails_the_trial_and_propagates(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    with pytest.raises(ZeroDivisionError):
        with study.ask() as trial:
            trial.report(0.5, 0)
            _ = 1 / 0
    frozen = study.trial(trial.number)
    assert frozen.state == "FAIL"
    assert "ZeroDivisionError" in frozen.system_attrs["fail_reason"]
    assert frozen.intermediate == [(0.0, 0.5)]


def test_pruned_in_the_with_block_prunes_and_is_swallowed(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    with study.ask() as trial:
        decision = trial.report(0.75, 0)
        assert decision.action == "continue" and trial.budget is None and trial.restore is None
        trial.report(0.5, 1)
        raise tp.TrialPruned()
    frozen = study.trial(trial.number)
    assert frozen.state == "PRUNED" and frozen.value == 0.5  # the last reported value
    assert frozen.intermediate == [(0.0, 0.75), (1.0, 0.5)]


def test_leaving_the_block_without_an_outcome_fails_the_trial(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    with study.ask() as trial:
        pass
    assert study.trial(trial.number).state == "FAIL"


def test_report_rules(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    with study.ask() as trial:
        trial.report(1.25, 0)
        trial.report(1.25, 0)  # repeating the last step with the same value is fine
        with pytest.warns(UserWarning, match="already reported"):
            trial.report(2.5, 0)  # another value at a reported step is ignored, as in Optuna
        assert trial.intermediate == [(0.0, 1.25)]
        with pytest.raises(tp.InvalidArgumentError):
            client.call("report", study=name, trial=trial.number, token=trial.lease.token, step=0, value=2.5)  # the server's rule
        trial.complete(0.5)


def test_report_accepts_nan_for_a_diverged_run(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    with study.ask() as trial:
        trial.report(math.nan, 0)
        trial.fail("diverged")


def test_enqueued_trials_are_served_first(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    queued = study.enqueue({"lr": 1e-3, "act": "relu"}, user_attrs={"why": "baseline"})
    assert queued.state == "WAITING"
    same = study.enqueue({"lr": 1e-3, "act": "relu"}, skip_if_exists=True)
    assert same.number == queued.number
    with pytest.raises(tp.InvalidArgumentError):
        study.enqueue({"lr": 10.0})  # outside the declared distribution
    trial = study.ask()
    assert trial.number == queued.number
    assert trial.params["lr"] == 1e-3 and trial.params["act"] == "relu" and "layers" in trial.params
    assert trial.system_attrs["enqueued"] is True and trial.user_attrs == {"why": "baseline"}
    trial.complete(0.5)


def test_listing_and_best_trial(client: tp.Client, name: str) -> None:
    study = client.create_study(name, direction="maximize", space=SPACE)
    with pytest.raises(ValueError, match="no COMPLETE trial yet"):
        study.best_trial  # as Optuna's: ValueError while no trial is COMPLETE
    assert study.summary().best_trial is None
    for value in (0.25, 0.75, 0.5):
        study.ask().complete(value)
    study.ask().fail("boom")
    running = study.ask()
    assert [t.number for t in study.get_trials()] == [0, 1, 2, 3, 4]
    assert [t.number for t in study.get_trials(states=["COMPLETE"])] == [0, 1, 2]
    assert [t.number for t in study.get_trials(states=["FAIL", "RUNNING"])] == [3, 4]
    assert [t.value for t in study.get_trials(order_by="value")] == [0.75, 0.5, 0.25]
    assert len(study.get_trials(limit=2, offset=1)) == 2
    best = study.best_trial
    assert best is not None and best.number == 1 and best.value == 0.75
    summary = study.summary()
    assert summary.n_trials == 5 and summary.counts["COMPLETE"] == 3 and summary.counts["RUNNING"] == 1
    assert summary.best_trial is not None and summary.best_trial.number == 1
    running.complete(0.125)


def test_grid_exhaustion_ends_ask_many(client: tp.Client, name: str) -> None:
    study = client.create_study(name, strategy="grid", space={"k": tp.Int(0, 2), "c": tp.Categorical(["a", "b"])})
    seen: list[tuple[object, object]] = []
    for trial in study.ask_many(100):
        with trial:
            seen.append((trial.params["k"], trial.params["c"]))
            trial.complete(float(len(seen)) + 0.5)
    assert sorted(seen) == [(k, c) for k in (0, 1, 2) for c in ("a", "b")]
    with pytest.raises(tp.SearchSpaceExhaustedError):
        study.ask()


def test_optimize(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(-2.0, 2.0)})

    def objective(trial: tp.Trial) -> float:
        x = float(trial.params["x"])  # type: ignore[arg-type]
        y = trial.suggest_float("y", -1.0, 1.0)
        if trial.number == 2:
            return math.nan
        if trial.number == 3:
            raise tp.TrialPruned()
        return x * x + y * y

    study.optimize(objective, n_trials=6)
    states = [t.state for t in study.get_trials()]
    assert states == ["COMPLETE", "COMPLETE", "FAIL", "PRUNED", "COMPLETE", "COMPLETE"]
    def broken(trial: tp.Trial) -> float:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        study.optimize(broken, n_trials=1)
    assert study.get_trials()[-1].state == "FAIL"
    study.optimize(broken, n_trials=2, catch=(KeyError,))
    assert study.summary().counts["FAIL"] == 4


@pytest.mark.parametrize(
    "dist",
    [
        {"type": "float", "low": 1.5, "high": 0.5},
        {"type": "float", "low": 0, "high": 1.5, "log": True},
        {"type": "int", "low": -1, "high": 4, "log": True},
        {"type": "categorical", "choices": []},
        {"type": "gaussian", "mu": 0},
    ],
)
def test_bad_spaces_are_refused_by_the_server(client: tp.Client, name: str, dist: dict[str, object]) -> None:
    with pytest.raises(tp.InvalidArgumentError):
        client.create_study(name, space={"p": dist})


def test_bad_values_are_refused(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    trial = study.ask()
    with pytest.raises(tp.InvalidArgumentError):
        trial.complete(math.nan)
    with pytest.raises(tp.InvalidArgumentError):
        trial.complete([math.inf])  # (study.tell fails the trial instead, as Optuna: test_optuna_compat.py)
    with pytest.raises(tp.InvalidArgumentError):
        trial.suggest_float("p", 2.0, 1.0)  # refused locally
    assert trial.state == "RUNNING"
    trial.complete(0.5)  # nothing above consumed the trial
    with pytest.raises(tp.NotFoundError):
        client.load_study(name + "-missing").ask()
    with pytest.raises(tp.InvalidArgumentError):
        study.tell(12345, 0.5)  # never asked by this client: no token


def test_an_oversized_request_is_refused_before_sending(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    with pytest.raises(tp.MessageTooLargeError):
        study.enqueue({"lr": 1e-3}, user_attrs={"blob": "x" * (client.limits["max_message_bytes"] + 1)})


def test_heartbeats_keep_a_short_lease_alive(server: ServerProcess, name: str) -> None:
    with tp.connect(server.endpoint, timeout=5.0) as client:
        # Beats every TTL/3 = 1 s: a stall of up to 2 s between beats still keeps the lease.
        study = client.create_study(name, space=SPACE, lease_ttl_s=3)
        trial = study.ask()
        time.sleep(7.5)  # two and a half TTLs without a report
        assert not trial.lease_lost
        assert study.trial(trial.number).state == "RUNNING"
        trial.report(0.5, 0)
        trial.complete(0.5)
        assert study.trial(trial.number).state == "COMPLETE"


def test_lease_lost_without_heartbeats(server: ServerProcess, name: str) -> None:
    with tp.connect(server.endpoint, timeout=5.0, heartbeat=False) as client:
        study = client.create_study(name, space=SPACE, lease_ttl_s=1, max_retries=1)
        trial = study.ask()
        deadline = time.monotonic() + 60  # a hang guard: the reaper fails it after the 1 s TTL
        while study.trial(trial.number).state == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.1)
        with pytest.raises(tp.LeaseLostError) as caught:
            trial.complete(0.5)
        assert caught.value.data.get("retried_as") is not None
        assert trial.lease_lost and trial.finished
        with pytest.raises(tp.LeaseLostError):
            trial.report(0.5, 0)  # raised locally, at once
        frozen = study.trial(trial.number)
        assert frozen.state == "FAIL" and frozen.system_attrs["fail_reason"] == "lease_expired"
        retry = study.ask()  # the retry policy re-queued the params
        assert retry.params == trial.params and retry.system_attrs["retry_of"] == trial.number
        retry.complete(0.5)


def test_heartbeat_marks_a_lost_lease(server: ServerProcess, name: str) -> None:
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study = client.create_study(name, space=SPACE, lease_ttl_s=1)
        trial = study.ask()
        trial.lease = tp.Lease("not-the-token", trial.lease.expires_at, trial.lease.ttl_s)
        deadline = time.monotonic() + 30.0  # a hang guard: the first heartbeat (after TTL/3) finds out
        while not trial.lease_lost and time.monotonic() < deadline:
            time.sleep(0.05)
        assert trial.lease_lost
        assert trial not in client.open_trials()
        with pytest.raises(tp.LeaseLostError):
            trial.complete(0.5)


def test_closed_client_refuses_requests(server: ServerProcess, name: str) -> None:
    client = tp.connect(server.endpoint)
    client.close()
    client.close()
    assert client.closed
    with pytest.raises(tp.ClientClosedError):
        client.list_studies()


def resend(client: tp.Client, op: str, **args: object) -> tuple[dict[str, object], dict[str, object]]:
    """Sends one request twice with the same id, as the Lazy Pirate loop does after a lost reply."""
    message = _protocol.make_request(op, args)
    first: dict[str, object] = client._channel.request(message)
    return first, client._channel.request(message)


def test_study_user_attrs(client: tp.Client, name: str) -> None:
    study = client.create_study(name, user_attrs={"a": 1})
    study.set_user_attrs({"b": 2})
    assert study.user_attrs == {"a": 1, "b": 2}
    assert client.load_study(name).user_attrs == {"a": 1, "b": 2}


BIG_INTS = {"p40": 2**40, "n40": -(2**40), "p32": 2**32, "n31": -(2**31) - 1, "max": 2**53 - 1, "min": -(2**53 - 1)}


def test_ints_beyond_32_bits_come_back_as_ints(server: ServerProcess, client: tp.Client, name: str) -> None:
    """The server sent a safe integer beyond 32 bits as a float 64: 2**40 came back as 1099511627776.0."""
    study = tp.create_study(storage=server.endpoint, study_name=name)
    study.set_user_attr("big", 2**40)
    study.enqueue_trial({"n": 2**45})
    trial = study.ask()
    assert trial.suggest_int("n", 0, 2**50) == 2**45
    for key, value in BIG_INTS.items():
        trial.set_user_attr(key, value)
    trial.set_user_attr("nested", [2**40, {"x": -(2**45)}])
    study.tell(trial, 2.0**40)
    frozen = study.trials[0]
    for key, value in BIG_INTS.items():
        assert type(frozen.user_attrs[key]) is int and frozen.user_attrs[key] == value, key
    assert frozen.user_attrs["nested"] == [2**40, {"x": -(2**45)}] and type(frozen.user_attrs["nested"][0]) is int
    assert type(frozen.params["n"]) is int and frozen.params["n"] == 2**45
    assert frozen.value == 2.0**40
    assert type(client.load_study(name).user_attrs["big"]) is int


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**64, -(2**70)])
def test_ints_beyond_53_bits_are_refused_not_rounded(server: ServerProcess, name: str, value: int) -> None:
    study = tp.create_study(storage=server.endpoint, study_name=name)
    trial = study.ask()
    with pytest.raises(tp.InvalidArgumentError, match=r"beyond ±\(2\^53 − 1\).*send it as a string"):
        trial.set_user_attr("big", value)
    assert "big" not in study.trials[0].user_attrs


def test_a_resent_tell_gets_the_first_answer(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space=SPACE)
    trial = study.ask()
    first, again = resend(client, "tell", study=name, trial=trial.number, token=trial.lease.token, state="COMPLETE", value=0.5)
    assert first == again and first["ok"] is True


def test_a_resent_create_study_gets_the_first_answer(client: tp.Client, name: str) -> None:
    first, again = resend(client, "create_study", name=name)
    assert again == first


def test_a_resent_delete_study_gets_the_first_answer(client: tp.Client, name: str) -> None:
    client.create_study(name)
    first, again = resend(client, "delete_study", study=name)
    assert again == first


def test_a_resent_study_set_user_attrs_gets_the_first_answer(client: tp.Client, name: str) -> None:
    client.create_study(name)
    first, again = resend(client, "set_user_attrs", study=name, attrs={"k": 1})
    assert again == first
