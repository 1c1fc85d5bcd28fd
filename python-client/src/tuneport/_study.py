"""Studies: ``Study`` (a handle bound to a client) and ``StudySummary`` (a snapshot)."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ._distributions import Distribution, Scalar, distribution_from_wire
from ._errors import FailedPreconditionError, InvalidArgumentError, LeaseLostError, SearchSpaceExhaustedError
from ._trial import FrozenTrial, TrajectoryPoint, Trial, TrialState

if TYPE_CHECKING:
    from ._client import Client

log = logging.getLogger("tuneport")

Direction = Literal["minimize", "maximize"]


@dataclass(frozen=True)
class StudySummary:
    """A snapshot of a study (``StudyView`` on the wire)."""

    name: str
    direction: Direction
    space: dict[str, Distribution]
    strategy: dict[str, Any]
    """``{"name": ..., "options": {...}}`` with the server's defaults filled in."""
    scheduler: dict[str, Any] | None
    seed: int
    retry: dict[str, Any]
    lease_ttl_s: float
    user_attrs: dict[str, Any]
    created_at: float
    n_trials: int
    counts: dict[TrialState, int]
    best_trial: FrozenTrial | None

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> StudySummary:
        best = raw.get("best_trial")
        return cls(
            name=str(raw["name"]),
            direction=raw["direction"],
            space={k: distribution_from_wire(d) for k, d in (raw.get("space") or {}).items()},
            strategy=dict(raw.get("strategy") or {}),
            scheduler=dict(raw["scheduler"]) if raw.get("scheduler") else None,
            seed=int(raw.get("seed") or 0),
            retry=dict(raw.get("retry") or {}),
            lease_ttl_s=float(raw.get("lease_ttl_s") or 0),
            user_attrs=dict(raw.get("user_attrs") or {}),
            created_at=float(raw.get("created_at") or 0),
            n_trials=int(raw.get("n_trials") or 0),
            counts=dict(raw.get("counts") or {}),
            best_trial=FrozenTrial.from_wire(best) if best else None,
        )


class Study:
    """A study on the server, reached through ``client``. Cheap to create; holds no state but
    the configuration it was loaded with (``summary()`` fetches a fresh one)."""

    def __init__(self, client: Client, view: Mapping[str, Any]) -> None:
        self.client = client
        self._summary = StudySummary.from_wire(view)

    @property
    def name(self) -> str:
        return self._summary.name

    @property
    def direction(self) -> Direction:
        return self._summary.direction

    @property
    def space(self) -> dict[str, Distribution]:
        return dict(self._summary.space)

    @property
    def strategy(self) -> dict[str, Any]:
        return dict(self._summary.strategy)

    @property
    def scheduler(self) -> dict[str, Any] | None:
        return self._summary.scheduler

    @property
    def seed(self) -> int:
        return self._summary.seed

    @property
    def lease_ttl_s(self) -> float:
        return self._summary.lease_ttl_s

    @property
    def user_attrs(self) -> dict[str, Any]:
        return dict(self._summary.user_attrs)

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, direction={self.direction!r}, strategy={self.strategy.get('name')!r})"

    def summary(self) -> StudySummary:
        """A fresh snapshot: counts per state, best trial, configuration."""
        self._summary = StudySummary.from_wire(self.client._call("get_study", {"study": self.name})["study"])
        return self._summary

    # ------------------------------------------------------------------ ask / tell

    def ask(self) -> Trial:
        """Starts a trial: enqueued ones first, then the strategy's. The client renews its lease
        until it is told. @raises SearchSpaceExhaustedError, NotFoundError."""
        trial = Trial(self, self.client._call("ask", {"study": self.name}))
        self.client._track(trial)
        return trial

    def ask_many(self, n: int | None = None) -> Iterator[Trial]:
        """Yields up to ``n`` trials (forever when None), asking for each one only when the previous
        was consumed; stops early when the search space is exhausted."""
        count = 0
        while n is None or count < n:
            try:
                trial = self.ask()
            except SearchSpaceExhaustedError:
                return
            count += 1
            yield trial

    def tell(
        self,
        trial: Trial | int,
        value: float | None = None,
        *,
        state: Literal["COMPLETE", "FAIL", "PRUNED"] | None = None,
        reason: str | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Finishes a trial this client asked for. ``state`` defaults to COMPLETE when a value is
        given and FAIL otherwise. @raises InvalidArgumentError, LeaseLostError, FailedPreconditionError."""
        t = trial if isinstance(trial, Trial) else self.client._open_trial(self.name, trial)
        if t is None:
            raise InvalidArgumentError(f"trial {trial} of '{self.name}' was not asked by this client (no lease token)")
        final = state or ("COMPLETE" if value is not None else "FAIL")
        if final == "COMPLETE":
            if value is None:
                raise InvalidArgumentError("a COMPLETE trial needs a value")
            t.complete(value, user_attrs=user_attrs)
        elif final == "PRUNED":
            t.prune(value, user_attrs=user_attrs)
        elif final == "FAIL":
            t.fail(reason, user_attrs=user_attrs)
        else:
            raise InvalidArgumentError(f"state must be COMPLETE, FAIL or PRUNED (got {final!r})")

    def enqueue(
        self,
        params: Mapping[str, Scalar],
        *,
        user_attrs: Mapping[str, Any] | None = None,
        skip_if_exists: bool = False,
        rationale: str | None = None,
    ) -> FrozenTrial:
        """Queues a trial with fixed params; ``ask`` serves queued trials before new suggestions.
        With ``skip_if_exists``, params equal to an existing trial's return that trial instead."""
        result = self.client._call(
            "enqueue",
            {
                "study": self.name,
                "params": dict(params),
                "user_attrs": dict(user_attrs) if user_attrs is not None else None,
                "skip_if_exists": skip_if_exists or None,
                "rationale": rationale,
            },
        )
        return FrozenTrial.from_wire(result["trial"])

    # ------------------------------------------------------------------ reading

    def trials(
        self,
        states: Sequence[TrialState] | None = None,
        *,
        order_by: Literal["number", "value"] | None = None,
        descending: bool = False,
        offset: int | None = None,
        limit: int | None = None,
    ) -> list[FrozenTrial]:
        """Trials, optionally filtered by state; ``order_by="value"`` puts the best first.
        Without ``limit`` every matching trial is fetched, a page at a time."""
        page = limit if limit is not None else 1000
        out: list[FrozenTrial] = []
        start = offset or 0
        while True:
            result = self.client._call(
                "trials",
                {
                    "study": self.name,
                    "states": list(states) if states is not None else None,
                    "order_by": order_by,
                    "descending": descending or None,
                    "offset": start or None,
                    "limit": page,
                },
            )
            batch = [FrozenTrial.from_wire(t) for t in result["trials"]]
            out.extend(batch)
            start += len(batch)
            if limit is not None or not batch or start >= int(result["total"]):
                return out

    def trial(self, number: int) -> FrozenTrial:
        """One trial by number. @raises NotFoundError."""
        return FrozenTrial.from_wire(self.client._call("trial", {"study": self.name, "trial": number})["trial"])

    def trajectory(self, number: int) -> list[TrajectoryPoint]:
        """Trial ``number``'s hyperparameter trajectory, recorded by strategies that change params
        while a trial runs (``hypergradient``): the starting point (``step`` None), then the params
        after each applied report. Empty when nothing was recorded. @raises NotFoundError."""
        raw = self.client._call("trajectory", {"study": self.name, "trial": number})
        return [TrajectoryPoint.from_wire(e) for e in raw.get("trajectory") or []]

    @property
    def best_trial(self) -> FrozenTrial | None:
        """The best COMPLETE trial for the study's direction, or None (fetched on each access)."""
        raw = self.client._call("best", {"study": self.name})["trial"]
        return FrozenTrial.from_wire(raw) if raw else None

    def lineage(self, number: int | None = None) -> Lineage:
        """The hyperparameter schedule that produced trial ``number``'s model at its best report
        (default: the trial with the best reported value in the study, which after a late exploit
        or a divergence need not be the best *completed* trial), following PBT donors back to a
        fresh start; replay it with ``Lineage.params_at`` for ``until_step`` steps.
        @raises NotFoundError."""
        args: dict[str, Any] = {"study": self.name}
        if number is not None:
            args["trial"] = number
        return Lineage.from_wire(self.client._call("lineage", args)["lineage"])

    def set_user_attrs(self, attrs: Mapping[str, Any]) -> None:
        """Merges ``attrs`` into the study's user attributes."""
        view = self.client._call("set_user_attrs", {"study": self.name, "attrs": dict(attrs)}).get("study")
        if view is None:
            # A de-duplicated retry of this op answers {study: null} (server bug); read it back instead.
            self.summary()
        else:
            self._summary = StudySummary.from_wire(view)

    # ------------------------------------------------------------------ Optuna style

    def optimize(
        self,
        objective: Callable[[Trial], float],
        n_trials: int | None = None,
        *,
        catch: tuple[type[Exception], ...] = (),
    ) -> None:
        """Runs ``objective(trial) -> value`` for up to ``n_trials`` trials (until the space is
        exhausted when None). ``TrialPruned`` prunes a trial; a non-finite value or an exception in
        ``catch`` fails it and the loop goes on; any other exception fails it and propagates.
        A trial whose lease was lost is skipped with a warning."""
        for trial in self.ask_many(n_trials):
            try:
                with trial:
                    value = objective(trial)
                    number = float(value) if value is not None else math.nan
                    if math.isfinite(number):
                        trial.complete(number)
                    else:
                        trial.fail(f"objective returned {value!r}")
            except (LeaseLostError, FailedPreconditionError) as err:
                log.warning("trial %d of '%s' given up: %s", trial.number, self.name, err)
            except catch as err:
                log.warning("trial %d of '%s' failed: %r", trial.number, self.name, err)


__all__ = ["Direction", "Study", "StudySummary"]


@dataclass(frozen=True)
class ScheduleSegment:
    """``params`` apply from model age ``from_step`` on; ``trial`` trained the model then."""

    from_step: float
    params: dict[str, Scalar]
    trial: int
    trial_step: float


@dataclass(frozen=True)
class Lineage:
    """A trial's hyperparameter schedule (the ``lineage`` op)."""

    trial: int
    state: str
    value: float | None
    """The trial's best finite reported value (its COMPLETE value when it never reported)."""
    until_step: float
    """The model's training age at that report: the number of steps to replay. After a PBT
    exploit it differs from the trial's own ``step`` (the model came from a donor)."""
    schedule: list[ScheduleSegment]
    step: float | None = None
    """The trial's own step of that report (its ``report`` step counter)."""

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Lineage:
        return cls(
            trial=int(raw["trial"]),
            state=str(raw["state"]),
            value=raw.get("value"),
            until_step=float(raw["until_step"]),
            step=None if raw.get("step") is None else float(raw["step"]),
            schedule=[
                ScheduleSegment(float(s["from_step"]), dict(s["params"]), int(s["trial"]), float(s["trial_step"]))
                for s in raw.get("schedule") or []
            ],
        )

    def params_at(self, step: float) -> dict[str, Scalar]:
        """The params in force at model age ``step`` (a fixed schedule for a final training run)."""
        current: dict[str, Scalar] = dict(self.schedule[0].params) if self.schedule else {}
        for seg in self.schedule:
            if seg.from_step <= step:
                current = dict(seg.params)
        return current
