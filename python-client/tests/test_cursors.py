"""A page cursor continues only what it was made for (over ZeroMQ, as the op table answers every
surface): study A's ``next_cursor`` on study B, or with another order, is refused with
InvalidArgumentError naming what it was made for; so is a garbled one."""

from __future__ import annotations

from typing import Any

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


def _many_trials(client: tp.Client, name: str, n: int) -> None:
    client.call("create_study", name=name, space={"x": {"type": "float", "low": 0, "high": 1}}, strategy="random")
    for i in range(n):
        client.call("add_trial", study=name, params={"x": i / n}, value=i / n)


def test_study_trials_pages_by_cursor_so_a_study_recreated_between_pages_is_refused(client: tp.Client, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Past one page (1,000 trials): the second page is asked for after the study was deleted and
    # created again under its name. By offset it read the new study's trials after the old one's
    # (here none: 1,000 old trials were returned as the whole study); by cursor it is refused.
    _many_trials(client, name, 1001)
    study = client.load_study(name)
    assert [t.number for t in study.trials] == list(range(1001))  # two pages, none repeated or left out
    real = client._call
    pages: list[dict[str, Any]] = []

    def between_pages(op: str, args: dict[str, Any], *rest: Any, **kw: Any) -> Any:
        if op == "trials":
            pages.append(dict(args))
        result = real(op, args, *rest, **kw)
        if op == "trials":
            if len(pages) == 1:
                client.call("delete_study", study=name)
                _study_with_trials(client, name, 2)
        return result

    monkeypatch.setattr(client, "_call", between_pages)
    with pytest.raises(tp.InvalidArgumentError, match="start again without a cursor") as e:
        study.trials
    assert (e.value.data or {}).get("reason") == "study_recreated"
    assert "cursor" in pages[1] and "offset" not in pages[1]


def test_get_trials_by_value_pages_by_cursor_when_trials_finish_between_pages(client: tp.Client, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A trial better than every one shown, told between pages: by offset the best-first listing
    # shifted by one and repeated the first page's last trial; by cursor it continues after it.
    _many_trials(client, name, 1001)
    study = client.load_study(name)
    real = client._call
    seen = 0

    def between_pages(op: str, args: dict[str, Any], *rest: Any, **kw: Any) -> Any:
        nonlocal seen
        result = real(op, args, *rest, **kw)
        if op == "trials":
            seen += 1
            if seen == 1:
                client.call("add_trial", study=name, params={"x": 0.5}, value=-1.0)
        return result

    monkeypatch.setattr(client, "_call", between_pages)
    numbers = [t.number for t in study.get_trials(order_by="value")]
    assert len(numbers) == len(set(numbers)) == 1001
