"""``Study.enqueue`` returns the server's view of the queue with the enqueue (protocol ``enqueue``'s
``queue {ahead, queued}`` and ``trial_budget {max_trials, used}``), against a real server: the
client read only the trial and dropped both, so a script could not tell that its proposal sat
behind others or past the study's ``max_trials`` budget. ``enqueue_trial`` stays Optuna's (None)."""

from __future__ import annotations

import tuneport as tp


def test_enqueue_tells_where_the_trial_stands_and_the_trial_budget(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0, 1)}, max_trials=3)
    first = study.enqueue({"x": 0.1})
    assert isinstance(first, tp.EnqueuedTrial) and isinstance(first, tp.FrozenTrial)
    assert first.created and first.state == tp.TrialState.WAITING and first.params == {"x": 0.1}
    assert first.queue == tp.QueuePosition(ahead=0, queued=1)
    assert first.trial_budget == tp.TrialBudget(max_trials=3, used=0) and first.trial_budget.left == 3
    second = study.enqueue({"x": 0.2})
    assert second.queue == tp.QueuePosition(ahead=1, queued=2)
    trial = study.ask()
    assert trial.number == first.number
    third = study.enqueue({"x": 0.3})
    assert third.queue == tp.QueuePosition(ahead=1, queued=2)
    assert third.trial_budget == tp.TrialBudget(max_trials=3, used=1)
    trial.complete(1.0)
    again = study.enqueue({"x": 0.1}, skip_if_exists=True)  # the trial that ran: no longer queued
    assert not again.created and again.number == first.number and again.queue is None
    # The trial itself is the one read back elsewhere.
    assert study.trials[second.number] == second and second == study.trials[second.number]
    returned = study.enqueue_trial({"x": 0.4})  # type: ignore[func-returns-value]
    assert returned is None  # Optuna's enqueue_trial returns None


def test_without_max_trials_there_is_no_trial_budget(client: tp.Client, name: str) -> None:
    study = client.create_study(name, space={"x": tp.Float(0, 1)})
    queued = study.enqueue({"x": 0.5}, rationale="a guess")
    assert queued.trial_budget is None and queued.queue == tp.QueuePosition(ahead=0, queued=1)
