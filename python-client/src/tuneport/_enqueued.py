"""What ``Study.enqueue`` returns: the queued trial, where it stands in the queue, and the study's
trial budget, as the server read them with the enqueue (protocol ``enqueue``'s ``queue`` and
``trial_budget``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._trial import FrozenTrial


@dataclass(frozen=True)
class QueuePosition:
    """Where an enqueued trial stands: ``ahead`` queued trials that ``ask`` hands out before it
    (oldest first; 0: the next ask of any worker takes it), of ``queued`` queued (WAITING) trials of
    the study, this one included."""

    ahead: int
    queued: int


@dataclass(frozen=True)
class TrialBudget:
    """The study's ``max_trials`` budget: ``used`` trials counted against it so far. A queued trial
    runs only if ``ahead < max_trials - used`` (and the study is not stopped)."""

    max_trials: int
    used: int

    @property
    def left(self) -> int:
        """Trials that may still start: ``max(0, max_trials - used)``."""
        return max(0, self.max_trials - self.used)


def _ints(raw: Any, *keys: str) -> dict[str, int] | None:
    if not isinstance(raw, Mapping):
        return None
    values = {k: raw.get(k) for k in keys}
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values.values()):
        return None
    return {k: int(v) for k, v in values.items() if v is not None}


@dataclass(frozen=True, repr=False, eq=False)
class EnqueuedTrial(FrozenTrial):
    """``Study.enqueue``'s answer: the trial (a ``FrozenTrial``, equal to the same trial read back
    elsewhere) and the server's view of the queue with the enqueue. ``created``: False when
    ``skip_if_exists`` returned an existing trial. ``queue``: None when the trial is not queued (a
    ``skip_if_exists`` match that left the queue) or the server is older than these fields.
    ``trial_budget``: None without ``max_trials`` (or from such an older server)."""

    created: bool = True
    queue: QueuePosition | None = None
    trial_budget: TrialBudget | None = None

    @classmethod
    def from_enqueue(cls, result: Mapping[str, Any], study: str) -> EnqueuedTrial:
        """The result of an ``enqueue`` request."""
        trial = FrozenTrial.from_wire(result["trial"], study)
        queue = _ints(result.get("queue"), "ahead", "queued")
        budget = _ints(result.get("trial_budget"), "max_trials", "used")
        return cls(
            **{f.name: getattr(trial, f.name) for f in dataclasses.fields(FrozenTrial)},
            created=bool(result.get("created", True)),
            queue=QueuePosition(**queue) if queue is not None else None,
            trial_budget=TrialBudget(**budget) if budget is not None else None,
        )

    def _trial_fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, f.name) for f in dataclasses.fields(FrozenTrial))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, EnqueuedTrial):
            return self._trial_fields() == other._trial_fields() and (self.created, self.queue, self.trial_budget) == (
                other.created,
                other.queue,
                other.trial_budget,
            )
        if isinstance(other, FrozenTrial):
            return self._trial_fields() == tuple(getattr(other, f.name) for f in dataclasses.fields(FrozenTrial))
        return NotImplemented


__all__ = ["EnqueuedTrial", "QueuePosition", "TrialBudget"]
