"""A page cursor continues only what it was made for (over ZeroMQ, as the op table answers every
surface): study A's ``next_cursor`` on study B, or with another order, is refused with
InvalidArgumentError naming what it was made for; so is a garbled one."""

from __future__ import annotations

import pytest

import tuneport as tp


def _study_with_trials(client: tp.Client, name: str, n: int) -> None:
    client.call("create_study", name=name, space={"x": {"type": "float", "low": 0, "high": 1}}, strategy="random")
    for i in range(n):
        client.call("add_trial", study=name, params={"x": i / 10}, value=i / 10)


def test_a_trials_cursor_is_refused_on_another_study_and_order(client: tp.Client, name: str) -> None:
    other = f"{name}-other"
    _study_with_trials(client, name, 3)
    _study_with_trials(client, other, 3)
    cursor = client.call("trials", study=name, limit=1)["next_cursor"]
    assert [t["number"] for t in client.call("trials", study=name, limit=5, cursor=cursor)["trials"]] == [1, 2]
    with pytest.raises(tp.InvalidArgumentError, match=rf"^INVALID_ARGUMENT: cursor was made for study '{name}', not '{other}': ") as e:
        client.call("trials", study=other, cursor=cursor)
    assert e.value.data == {"cursor_study": name}
    with pytest.raises(tp.InvalidArgumentError, match=r"^INVALID_ARGUMENT: cursor was made for order_by number, ascending, any state, and this call asks for order_by value, "):
        client.call("trials", study=name, order_by="value", cursor=cursor)
    with pytest.raises(tp.InvalidArgumentError, match=r"^INVALID_ARGUMENT: cursor is not a trials cursor"):
        client.call("trials", study=name, cursor="not-a-cursor")


def test_a_pareto_front_cursor_is_refused_on_another_study(client: tp.Client, name: str) -> None:
    other = f"{name}-other"
    for study in (name, other):
        client.call("create_study", name=study, directions=["minimize", "minimize"], space={"x": {"type": "float", "low": 0, "high": 1}}, strategy="random")
        for i in range(3):
            client.call("add_trial", study=study, params={"x": i / 10}, values=[i, 3 - i])
    cursor = client.call("best_trials", study=name, limit=1)["next_cursor"]
    with pytest.raises(tp.InvalidArgumentError, match=rf"^INVALID_ARGUMENT: cursor was made for study '{name}', not '{other}'"):
        client.call("best_trials", study=other, cursor=cursor)
