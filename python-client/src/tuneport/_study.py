"""Studies: ``Study`` (a handle bound to a client) and ``StudySummary`` (a snapshot)."""

from __future__ import annotations

import dataclasses
import logging
import math
import operator
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, Union, cast

from ._distributions import Distribution, DistributionLike, Scalar, distribution_from_wire, distribution_to_wire
from ._errors import InvalidArgumentError, NotFoundError, SearchSpaceExhaustedError, StudyStopped, TrialFinishedError, TuneportError
from ._plot import Plot, PlotKind
from ._protocol import NIL, json_attrs
from ._enums import StudyDirection, TrialState, trial_state
from ._enqueued import EnqueuedTrial
from ._frozen import _fail_reason, constraint_order
from ._trial import FrozenTrial, TrajectoryPoint, Trial
from ._told import as_float

if TYPE_CHECKING:
    from ._client import Client

log = logging.getLogger("tuneport")

# Errors after which a request may or may not have been applied: the ask sent again after Ctrl-C
# and answered with one of these says nothing of whether the first started a trial.
_OUTCOME_UNKNOWN = frozenset({"TIMEOUT", "UNAVAILABLE", "INTERNAL", "CLIENT_CLOSED"})

Direction = Union[Literal["minimize", "maximize"], Enum]
"""A direction: ``"minimize"``/``"maximize"``, or a ``StudyDirection`` member (tuneport's or Optuna's)."""

_METRIC_NAMES_ATTR = "tuneport:metric_names"
"""The study user attribute that holds ``set_metric_names``' names."""

_UNSET: Any = object()
"""An argument left out (where None means something: no scheduler, no budget)."""


@dataclass(frozen=True)
class StudySummary:
    """A snapshot of a study (``StudyView`` on the wire)."""

    name: str
    direction: StudyDirection
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
    counts: dict[str, int]
    """Trials per state name (``counts["COMPLETE"]``; a ``TrialState`` member works as a key too)."""
    best_trial: FrozenTrial | None
    max_trials: int | None = None
    """The study-wide trial budget (``create_study(max_trials=...)``), or None."""
    stopped: bool = False
    """True while the study is stopped for every worker (``Study.stop(all_workers=True)``)."""
    max_resource: float | None = None
    """The study's budget: how far one trial trains at most (``create_study(max_resource=...)``)."""
    directions: list[StudyDirection] | None = None
    """One direction per objective (``[direction]`` for a one-objective study)."""
    reference_point: list[float] | None = None
    """The hypervolume reference point given at creation, or None (derived from the front)."""
    metric_names: list[str] | None = None
    """The objectives' names given to ``Study.set_metric_names``, or None. They are kept in a
    study user attribute that ``user_attrs`` leaves out (Optuna keeps them in system attributes)."""

    @property
    def study_name(self) -> str:
        """The study's name (Optuna's ``StudySummary.study_name``)."""
        return self.name

    @property
    def datetime_start(self) -> datetime | None:
        """When the study was created (local time; Optuna's ``StudySummary.datetime_start``)."""
        return datetime.fromtimestamp(self.created_at) if self.created_at else None

    @property
    def system_attrs(self) -> dict[str, Any]:
        """Empty: tuneport keeps a study's settings in fields of their own (Optuna's ``system_attrs``)."""
        return {}

    def __lt__(self, other: object) -> bool:
        """Creation order (then name), as Optuna's summaries sort by study id:
        ``sorted(get_all_study_summaries(storage))`` works as in Optuna."""
        if not isinstance(other, StudySummary):
            return NotImplemented
        return (self.created_at, self.name) < (other.created_at, other.name)

    def __le__(self, other: object) -> bool:
        if not isinstance(other, StudySummary):
            return NotImplemented
        return self == other or self < other

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> StudySummary:
        best = raw.get("best_trial")
        user_attrs = dict(raw.get("user_attrs") or {})
        names = user_attrs.pop(_METRIC_NAMES_ATTR, None)
        return cls(
            name=str(raw["name"]),
            direction=StudyDirection(raw["direction"]),
            space={k: distribution_from_wire(d) for k, d in (raw.get("space") or {}).items()},
            strategy=dict(raw.get("strategy") or {}),
            scheduler=dict(raw["scheduler"]) if raw.get("scheduler") else None,
            seed=int(raw.get("seed") or 0),
            retry=dict(raw.get("retry") or {}),
            lease_ttl_s=float(raw.get("lease_ttl_s") or 0),
            user_attrs=user_attrs,
            metric_names=[str(n) for n in names] if isinstance(names, list) else None,
            created_at=float(raw.get("created_at") or 0),
            n_trials=int(raw.get("n_trials") or 0),
            counts=dict(raw.get("counts") or {}),
            best_trial=FrozenTrial.from_wire(best, str(raw["name"])) if best else None,
            max_trials=int(raw["max_trials"]) if raw.get("max_trials") is not None else None,
            stopped=bool(raw.get("stopped")),
            directions=[StudyDirection(d) for d in raw.get("directions") or [raw["direction"]]],
            reference_point=[float(x) for x in raw["reference_point"]] if raw.get("reference_point") else None,
            max_resource=float(raw["max_resource"]) if raw.get("max_resource") is not None else None,
        )


@dataclass(frozen=True)
class ParetoFront:
    """The answer of ``Study.pareto_front()`` (op ``best_trials``)."""

    trials: list[FrozenTrial]
    """COMPLETE feasible trials no other one dominates, in number order."""
    hypervolume: float | None
    """Exact hypervolume of the front at ``reference_point`` (None without a feasible trial)."""
    reference_point: list[float] | None
    reference_point_source: Literal["given", "derived"] | None
    """``given`` (the request's or the study's) or ``derived`` (the front's nadir moved out by 10% of its range)."""
    history: list[tuple[int, float]] | None
    """``(trial number, hypervolume)`` for each trial that changed it, when asked for."""
    n_complete: int
    n_feasible: int
    hypervolume_exact: bool = True
    """False when ``hypervolume`` and ``history`` are Monte Carlo estimates (4+ objectives, a large front)."""

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any], study: str | None = None) -> ParetoFront:
        ref = raw.get("reference_point")
        history = raw.get("history")
        return cls(
            trials=[FrozenTrial.from_wire(t, study) for t in raw.get("trials") or []],
            hypervolume=None if raw.get("hypervolume") is None else float(raw["hypervolume"]),
            reference_point=None if ref is None else [float(x) for x in ref],
            reference_point_source=raw.get("reference_point_source"),
            history=None if history is None else [(int(n), float(v)) for n, v in history],
            n_complete=int(raw.get("n_complete") or 0),
            hypervolume_exact=bool(raw.get("hypervolume_exact", True)),
            n_feasible=int(raw.get("n_feasible") or 0),
        )


class Study:
    """A study on the server, reached through ``client``. Cheap to create; holds no state but
    the configuration it was loaded with (``summary()`` fetches a fresh one)."""

    def __init__(self, client: Client, view: Mapping[str, Any]) -> None:
        self.client = client
        self._summary = StudySummary.from_wire(view)
        self._created_at = self._summary.created_at
        """The study this object was loaded as (``summary()`` never changes it): once its name is
        deleted and created again, ``ask`` raises NotFoundError instead of handing this process's
        loops the new study's trials."""
        self._loop_lock = threading.Lock()
        self._loops = 0
        self._stop_requested = False
        self._warned_no_scheduler = False
        self._warned_no_checkpoint = False
        self._created = False
        """True when ``create_study`` made it (not loaded with ``load_if_exists``)."""
        self._constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None
        """The ``constraints_func`` of the Optuna sampler ``create_study``/``load_study`` was given:
        ``optimize`` and ``tell`` use it when not given constraints (Optuna's sampler computes
        them after each trial)."""

    def __iter__(self) -> Iterator[Any]:
        """Refused with what to do: Optuna's ``optuna.visualization`` (plotly and matplotlib) and
        ``optuna.importance`` functions take an ``optuna.Study`` or a list of them, and iterate
        anything else, which said only "'Study' object is not iterable"."""
        raise TypeError(
            f"a tuneport Study is not an optuna.Study, which Optuna's plot and importance functions need: "
            f"draw it with study.plot(kind) ('history', 'importances', 'slice', 'contour', 'parallel', 'edf', "
            f"'intermediate', 'pareto_front', 'hypervolume_history'), compute importances with "
            f"tuneport.importance.get_param_importances(study), or export it for Optuna "
            f"(tuneport export '{self.name}' --format optuna --out study.log) and open that with "
            f"optuna.load_study(study_name='{self.name}', storage=optuna.storages.JournalStorage("
            f"optuna.storages.journal.JournalFileBackend('study.log')))"
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickles as (the server's endpoints, the study's name): unpickled in another process
        (spawn-started workers, joblib/loky, dask), it is loaded again there through that process's
        shared client, as Optuna's Study reopens its storage. A Study of a CURVE client is refused:
        its keys are not pickled."""
        if self.client._curve is not None:
            raise TypeError(
                f"study '{self.name}' is reached over CURVE, whose keys are not pickled: in the other process, "
                "connect with tp.connect(..., curve=...) and call load_study"
            )
        from ._client import _rebuild_study

        return _rebuild_study, (list(self.client._endpoints.all), self.name)

    @property
    def name(self) -> str:
        return self._summary.name

    @property
    def study_name(self) -> str:
        """The study's name (Optuna's attribute name for ``name``)."""
        return self._summary.name

    @property
    def direction(self) -> StudyDirection:
        """The first objective's direction (Optuna's name; see ``directions``)."""
        return self._summary.direction

    @property
    def directions(self) -> list[StudyDirection]:
        """One direction per objective (Optuna's name); one element for a one-objective study."""
        return list(self._summary.directions or [self._summary.direction])

    def _is_multi_objective(self) -> bool:
        return len(self.directions) > 1

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
    def max_resource(self) -> float | None:
        """The study's budget (how far one trial trains at most), or None."""
        return self._summary.max_resource

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The study's user attributes, fetched from the server on each access (as Optuna reads its
        storage), so attributes another worker set are seen."""
        return dict(self.summary().user_attrs)

    @property
    def max_trials(self) -> int | None:
        """The study-wide trial budget, or None (as loaded)."""
        return self._summary.max_trials

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, direction={str(self.direction)!r}, strategy={self.strategy.get('name')!r})"

    def _warn_pbt_without_checkpoint(self, trial: int, step: float) -> None:
        """Once per study object: a PBT report without ``data["checkpoint"]`` makes a member nobody
        can exploit; a population that reports none never exploits, silently (a plain ``report`` or
        the Lightning callback under ``pbt``: it ran as random search)."""
        strategy = self._summary.strategy
        options = strategy.get("options")
        if self._warned_no_checkpoint or strategy.get("name") not in ("pbt", "pb2"):
            return
        if isinstance(options, Mapping) and options.get("exploit") is False:
            return  # explore-only: no member loads another's weights
        self._warned_no_checkpoint = True
        log.warning(
            "study '%s' uses %s, but trial %d reported step %g without data['checkpoint']: a member that saves no "
            "checkpoint can never be exploited, and a population that reports none never exploits (each member "
            "trains with its own params). Save one and pass its path (tuneport.torch.pbt_report does both)",
            self.name, strategy.get("name"), trial, step,
        )  # fmt: skip

    def _warn_no_scheduler(self) -> None:
        """Once per study object: ``should_prune()`` in a study without a scheduler is always False."""
        if not self._warned_no_scheduler:
            self._warned_no_scheduler = True
            if self._is_multi_objective():  # schedulers are refused there: naming one would mislead
                log.warning(
                    "study '%s' has %d objectives, so should_prune() is always False: pruning compares one "
                    "objective's reports, and a multi-objective study takes no scheduler (Optuna raises "
                    "NotImplementedError here)",
                    self.name, len(self.directions),
                )  # fmt: skip
                return
            log.warning(
                "study '%s' has no scheduler, so should_prune() is always False: pass scheduler='median' to "
                "create_study for Optuna's default MedianPruner (or 'asha', 'hyperband', ...)",
                self.name,
            )

    def summary(self) -> StudySummary:
        """A fresh snapshot: counts per state, best trial, configuration."""
        self._summary = StudySummary.from_wire(self.client._call("get_study", {"study": self.name})["study"])
        return self._summary

    # ------------------------------------------------------------------ ask / tell

    def ask(
        self,
        fixed_distributions: Mapping[str, Any] | None = None,
        *,
        lease_ttl_s: float | None = None,
        max_retries: int | None = None,
    ) -> Trial:
        """Starts a trial: enqueued ones first, then the strategy's. The client renews its lease
        until it is told. ``fixed_distributions`` (Optuna's argument: name → tuneport or Optuna
        distribution) suggests those parameters at once, as ``trial.suggest_*`` would.
        ``lease_ttl_s`` and ``max_retries`` override the study's for this trial (a long
        evaluation between heartbeats wants a longer lease).
        @raises SearchSpaceExhaustedError, NotFoundError."""
        args: dict[str, Any] = {"study": self.name}
        if self._created_at and "ask.study_created_at" in self.client._optional_args:
            args["study_created_at"] = self._created_at
        if lease_ttl_s is not None:
            args["lease_ttl_s"] = lease_ttl_s
        if max_retries is not None:
            args["max_retries"] = max_retries
        # Read before the ask: an argument that is no distribution starts no trial.
        fixed = {name: dist if isinstance(dist, Distribution) else distribution_from_wire(_distribution_wire(dist))
                 for name, dist in (fixed_distributions or {}).items()}  # fmt: skip
        message = self.client._message("ask", args)
        try:
            result = self.client._request(message)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                self._fail_interrupted_ask(message, exc)
            raise
        trial = Trial(self, result)
        self.client._track(trial)
        self._learn_strategy_of(trial)
        try:
            for name, dist in fixed.items():
                trial._suggest(name, dist)
        except BaseException as exc:
            self._fail_unreturned(trial, exc)
            raise
        return trial

    def _learn_strategy_of(self, trial: Trial) -> None:
        """A PBT/PB2 member (``system_attrs["pbt_member"]``) handed out by a study this object
        knows under another strategy: ``update_study`` switched it since it was loaded (no trial
        runs then, so every trial asked since is a member). Reads the study again, so ``strategy``
        says so and the trial's non-blocking reports are marked blind (``pbt_blind``) as in a study
        loaded as PBT: they never were, and the server let the donor's next report release a
        checkpoint that the member was about to be told to load. Once per switch: the study read
        then agrees. Should that read fail, the trial still knows it is a member (``_pbt_member``)."""
        if trial._pbt_member and self._summary.strategy.get("name") not in ("pbt", "pb2"):
            try:
                self.summary()
            except TuneportError as err:
                log.info("trial %d of '%s' is a PBT member, but the study could not be read again (%s)", trial.number, self.name, err)

    def _fail_unreturned(self, trial: Trial, exc: BaseException) -> None:
        """A ``fixed_distributions`` suggest after the ask raised (the server refused the
        distribution, Ctrl-C while it waited, a lost server): the caller never gets the trial, which
        stayed RUNNING, its lease renewed by the heartbeats for as long as the client lived. Tells it
        FAIL, interrupted (the configuration was never evaluated: no strategy learns from it);
        Ctrl-C's with one short attempt, as a trial Ctrl-C ends gets. Should that tell fail too, or
        the server predate ``tell.interrupted``, the lease is no longer renewed and runs out."""
        if "tell.interrupted" not in self.client._optional_args:
            # An older server would store a plain FAIL, which teaches GP and TPE that the never
            # evaluated configuration fails: its lease runs out instead (a lost lease teaches nothing).
            self.client._forget(trial)
            return
        try:
            if isinstance(exc, Exception):
                reason = f"ask(fixed_distributions=...) raised {_fail_reason(type(exc), exc)}"
                trial._tell("FAIL", None, reason[:2000], None, {"interrupted": True})
            else:
                trial._tell_interrupted(type(exc), exc)
        except Exception as err:  # noqa: BLE001 - the ask's own error propagates; this only says what was left
            self.client._forget(trial)
            log.warning("ask in study '%s' raised after it started trial %d, which could not be told FAIL (%s): "
                        "its lease is left to run out", self.name, trial.number, err)  # fmt: skip

    def _fail_interrupted_ask(self, message: dict[str, Any], exc: BaseException) -> None:
        """Ctrl-C (or another ``BaseException`` that is not an ``Exception``) while ``ask`` waited
        for its reply: the server starts the trial all the same (the request is on its way), and it
        stayed RUNNING until its lease ran out, then was retried as a lost worker's. Sends the ask
        again with its id, which the server answers with the trial it started (once: an ask is
        idempotent by id), and tells that trial FAIL, interrupted; one short attempt, as a trial
        that Ctrl-C ends gets (``INTERRUPTED_WAIT_S``), after which the lease is left to run out.
        The ask sent again refused (the first started no trial) is logged at INFO; not learning the
        trial, or failing to tell it, at WARNING. Not with a server that predates
        ``tell.interrupted`` (see below): the lease runs out there."""
        from . import _trial  # read at the call: the wait is the trial module's

        if self.client._attempts and message.get("attempt") == 0:
            return  # never handed to the socket (the channel counts each send): nothing was started
        if "tell.interrupted" not in self.client._optional_args:
            # An older server would store a plain FAIL, which teaches GP and TPE that the configuration
            # fails (a lost lease does not), and the ask sent again may start a trial of its own.
            return
        try:
            result = self.client._request(message, outage_budget_s=_trial.INTERRUPTED_WAIT_S, hurry=True)
        except Exception as err:  # noqa: BLE001 - the interrupt propagates; this only says what was left
            if isinstance(err, TuneportError) and err.code not in _OUTCOME_UNKNOWN:
                # The server answers the ask's id with the trial it started, had it started one: a
                # refusal (SEARCH_SPACE_EXHAUSTED, STUDY_STOPPED, NOT_FOUND...) says it started none.
                log.info("Ctrl-C during ask in study '%s': the ask started no trial (%s); nothing to tell", self.name, err)
            else:
                log.warning("Ctrl-C during ask in study '%s': could not learn whether the ask started a trial (%s); "
                            "a trial it started is left for its lease to run out", self.name, err)  # fmt: skip
            return
        trial = Trial(self, result)
        try:
            trial._tell_interrupted(type(exc), exc)
        except Exception as err:  # noqa: BLE001 - the interrupt propagates; this only says what was left
            log.warning("Ctrl-C during ask in study '%s': could not tell FAIL for trial %d, which it started (%s); "
                        "its lease is left to run out", self.name, trial.number, err)  # fmt: skip

    def ask_many(self, n: int | None = None) -> Iterator[Trial]:
        """Yields up to ``n`` trials (forever when None), asking for each one only when the previous
        was consumed. Ends early, without an exception, when the search space is exhausted, the
        study is stopped or its ``max_trials`` budget is spent, or ``stop()`` was called."""
        with self._loop():
            count = 0
            while (n is None or count < n) and not self._stop_requested:
                trial = self._ask_or_none()
                if trial is None:
                    return
                count += 1
                yield trial

    def _ask_or_none(self) -> Trial | None:
        """``ask``, or None (logged at INFO) when the study has no more trials to give; at WARNING
        when that is because trials kept failing or their workers kept dying without reporting
        (PBT's ``max_failures``: the script is broken; the server's message says which)."""
        try:
            return self.ask()
        except SearchSpaceExhaustedError as err:
            reason = err.data.get("reason")
            if reason == "max_failures":
                log.warning("study '%s' hands out no more trials: %s", self.name, err.message)
            elif reason is not None:  # PBT's population_full: the server's message says which members
                log.info("study '%s' hands out no more trials: %s", self.name, err.message)
            else:
                log.info("study '%s': the search space is exhausted; no more trials", self.name)
        except StudyStopped as err:
            why = "its max_trials budget is spent" if err.data.get("reason") == "max_trials" else "it was stopped"
            log.info("study '%s' hands out no more trials: %s", self.name, why)
        return None

    @contextmanager
    def _loop(self) -> Iterator[None]:
        """Marks an ``optimize``/``ask_many`` loop as running (``stop()`` ends them); the first
        loop to start clears an earlier stop."""
        with self._loop_lock:
            if self._loops == 0:
                self._stop_requested = False
            self._loops += 1
        try:
            yield
        finally:
            with self._loop_lock:
                self._loops -= 1

    def stop(self, *, all_workers: bool = False) -> None:
        """Ends this process's ``optimize`` and ``ask_many`` loops on this study object once their
        running trials finish, as Optuna's ``Study.stop()`` does: other workers go on. With
        ``all_workers=True`` it also stops the study on the server (op ``stop_study``): every
        worker's next ``ask`` gets ``StudyStopped`` and its loops end; ``resume()`` undoes that.
        @raises RuntimeError outside a loop without ``all_workers`` (there is nothing to stop)."""
        with self._loop_lock:
            if self._loops == 0 and not all_workers:
                raise RuntimeError(
                    "Study.stop() ends this process's optimize()/ask_many() loops: call it from the objective "
                    "or a callback, or pass all_workers=True to stop the study for every worker"
                )
            if self._loops > 0:
                self._stop_requested = True
        if all_workers:
            self.client._call("stop_study", {"study": self.name})

    def resume(self) -> None:
        """Lets a study stopped with ``stop(all_workers=True)`` hand out trials again (op
        ``resume_study``). A spent ``max_trials`` budget stays spent."""
        self.client._call("resume_study", {"study": self.name})

    def tell(
        self,
        trial: Trial | int,
        value: float | Sequence[float] | None = None,
        state: Literal["COMPLETE", "FAIL", "PRUNED"] | Enum | None = None,
        skip_if_finished: bool = False,
        *,
        values: float | Sequence[float] | None = None,
        constraints: Sequence[float] | None = None,
        reason: str | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> FrozenTrial:
        """Finishes a trial this client asked for and returns it as told (Optuna's ``tell``, same
        order of arguments: ``tell(trial, values, state, skip_if_finished)``). ``trial`` is the ``Trial`` or
        its number, as in Optuna; anything else, a ``FrozenTrial`` too, is Optuna's ``TypeError``. ``value`` is a number, or one per objective in
        a multi-objective study (``values=`` is Optuna's name for the same); ``constraints`` go
        with a COMPLETE result (``c <= 0`` satisfied). ``state`` (a name, or a ``TrialState`` of
        tuneport or Optuna) defaults to COMPLETE when a value is given and FAIL otherwise; as in
        Optuna, without a state (and without ``reason``) a missing value, one that is not a number or
        not one per objective fails the trial with a UserWarning, and a finished trial raises
        ``TrialFinishedError`` (a ``ValueError``).
        ``skip_if_finished`` (Optuna's): a trial already finished is returned as it is instead of
        raising. As in Optuna, a NaN or infinite value that the study's strategy does not accept fails the trial
        with a warning instead of raising (``Trial.complete`` raises). A value with PRUNED or FAIL is
        refused with Optuna's ``ValueError`` and words, the trial left RUNNING: a PRUNED trial's value is
        its last finite report (``Trial.prune(v)`` records another on purpose).
        @raises InvalidArgumentError, LeaseLostError, FailedPreconditionError."""
        if values is not None:
            if value is not None:
                raise InvalidArgumentError("give value or values, not both")
            value = values  # read as Optuna reads it (``_told_items``)
        number = _trial_number(trial)
        t = trial if isinstance(trial, Trial) else self.client._open_trial(self.name, number)
        if skip_if_finished and (t is None or t.finished):
            done = self.trial(number)
            if done.state.is_finished():
                log.info("trial %d of '%s' is already %s; skipped", done.number, self.name, done.state)
                return done
        if t is None:
            try:
                known = self.trial(number)
            except NotFoundError as err:
                if (err.data or {}).get("trial") is None:
                    raise  # the study itself is gone
                raise InvalidArgumentError(  # Optuna's ValueError and words
                    f"Cannot tell for trial with number {number} since it has not been created (study '{self.name}').",
                    {"study": self.name, "trial": number},
                ) from None
            if known.state.is_finished():  # Optuna's ValueError; told elsewhere or before
                raise TrialFinishedError(
                    f"Cannot tell a {known.state} trial (trial {number} of '{self.name}'); skip_if_finished=True returns it instead",
                    {"study": self.name, "trial": number, "state": str(known.state)},
                )
            raise InvalidArgumentError(
                f"trial {number} of '{self.name}' ({known.state}) was not asked by this client (no lease token): "
                "tell it from the process that asked for it",
                {"study": self.name, "trial": number, "state": str(known.state)},
            )
        if t.state in ("COMPLETE", "FAIL", "PRUNED"):
            raise TrialFinishedError(
                f"Cannot tell a {t.state} trial (trial {t.number} of '{self.name}'); skip_if_finished=True returns it instead",
                {"study": self.name, "trial": t.number, "state": str(t.state)},
            )
        if state is None and reason is None:
            # Optuna's tell without a state fails the trial with a warning, instead of raising,
            # when the value is missing, not a number or not one per objective.
            unusable = _unusable_value(value, len(self.directions))
            if unusable is not None:
                warnings.warn(unusable, UserWarning, stacklevel=2)
                t.fail(unusable, user_attrs=user_attrs)
                return t.frozen()
        try:
            final = trial_state(state) if state is not None else ("COMPLETE" if value is not None else "FAIL")
        except ValueError as err:
            raise InvalidArgumentError(f"state must be COMPLETE, FAIL or PRUNED: {err}") from None
        if final == "COMPLETE":
            if value is None:
                raise InvalidArgumentError("a COMPLETE trial needs a value")
            uncast = _uncastable(value)
            if uncast is not None:  # Optuna's ValueError for state=COMPLETE; the trial stays RUNNING
                raise InvalidArgumentError(uncast, {"study": self.name, "trial": t.number})
            if constraints is None and self._constraints_func is not None:
                constraints = self._sampler_constraints(t, value)
            try:
                t.complete(value, constraints=constraints, user_attrs=user_attrs)
            except InvalidArgumentError:
                if not _non_finite(value):
                    raise
                nan = _nan_message(value)
                if nan is not None:  # Optuna's check and words (it completes a trial with an infinity)
                    warnings.warn(nan, UserWarning, stacklevel=2)
                else:
                    log.warning("Trial %d failed, because the value %r is not finite.", t.number, value)
                t.fail(f"the value {value!r} is not finite", user_attrs=user_attrs)
        elif final in ("PRUNED", "FAIL") and value is not None:
            # Optuna's check and words (``_check_state_and_values``): the trial stays RUNNING. A PRUNED
            # value was recorded here (Optuna refuses it); ``Trial.prune(v)`` records one on purpose.
            raise InvalidArgumentError(
                "Values were told. Values cannot be specified when state is TrialState.PRUNED or TrialState.FAIL.",
                {"study": self.name, "trial": t.number, "state": str(final)},
            )
        elif final == "PRUNED":
            t.prune(user_attrs=user_attrs)  # the value is the last finite report's (the server's, as Optuna's)
        elif final == "FAIL":
            t.fail(reason, user_attrs=user_attrs)
        else:
            raise InvalidArgumentError(f"state must be COMPLETE, FAIL or PRUNED (got {str(final)!r})")
        return t.frozen()

    def enqueue(
        self,
        params: Mapping[str, Any],
        *,
        user_attrs: Mapping[str, Any] | None = None,
        skip_if_exists: bool = False,
        rationale: str | None = None,
    ) -> EnqueuedTrial:
        """Queues a trial with fixed params; ``ask`` serves queued trials before new suggestions.
        With ``skip_if_exists``, params equal to an existing trial's (the same names, numbers within
        a relative 1e-5 as in Optuna) return that trial instead. As in Optuna, once the trial is told
        COMPLETE or PRUNED, a value it never suggested is only in ``system_attrs["fixed_params"]``.
        Returns the trial (a ``FrozenTrial``) with the server's view of the queue, read with the
        enqueue: ``created``, ``queue`` (``QueuePosition(ahead, queued)``) and ``trial_budget``
        (``TrialBudget(max_trials, used)``); the trial runs only if ``queue.ahead <
        trial_budget.left`` (see ``EnqueuedTrial``)."""
        result = self.client._call(
            "enqueue",
            {
                "study": self.name,
                "params": dict(params),
                "user_attrs": json_attrs(user_attrs) if user_attrs is not None else None,
                "skip_if_exists": skip_if_exists or None,
                "rationale": rationale,
            },
        )
        return EnqueuedTrial.from_enqueue(result, self.name)

    def enqueue_trial(
        self, params: Mapping[str, Any], user_attrs: Mapping[str, Any] | None = None, skip_if_exists: bool = False
    ) -> None:
        """Optuna's name for ``enqueue``: the next ``ask`` (of any worker) gets ``params``. Returns
        None, as Optuna's; ``enqueue`` returns the trial with its place in the queue and the study's
        trial budget."""
        self.enqueue(params, user_attrs=user_attrs, skip_if_exists=skip_if_exists)

    def cancel_trial(self, number: int, reason: str | None = None) -> FrozenTrial:
        """Withdraws a queued (WAITING) proposal, e.g. one made with ``enqueue``: it becomes FAIL
        with ``fail_reason`` "cancelled[: reason]" and no worker gets it.
        @raises FailedPreconditionError when the trial is not WAITING, NotFoundError."""
        args: dict[str, Any] = {"study": self.name, "trial": number}
        if reason is not None:
            args["reason"] = reason
        return FrozenTrial.from_wire(self.client._call("cancel_trial", args)["trial"], self.name)

    def add_trial(
        self,
        trial: Any = None,
        *,
        params: Mapping[str, Scalar] | None = None,
        distributions: Mapping[str, DistributionLike] | None = None,
        value: float | None = None,
        values: Sequence[float] | None = None,
        state: Any = "COMPLETE",
        constraints: Sequence[float] | None = None,
        intermediate_values: Mapping[float, float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
        rationale: str | None = None,
    ) -> FrozenTrial:
        """Records a finished trial evaluated elsewhere (op ``add_trial``), as Optuna's
        ``study.add_trial(trial)``: pass a trial object (a ``FrozenTrial`` of this client, or one
        with Optuna's attributes: ``params``, ``distributions``, ``value``/``values``, ``state``,
        ``intermediate_values``, ``user_attrs``), or the same fields as keywords. Distributions of
        parameters the study declares or has seen may be left out. It does not count against
        ``max_trials``. A WAITING trial (Optuna's ``enqueue_trial`` adds one) is enqueued: its
        ``params``, else its ``system_attrs["fixed_params"]``. @raises InvalidArgumentError (a value
        outside its distribution, a missing declared parameter, a RUNNING trial), NotFoundError."""
        given_result = value is not None or values is not None
        # A copied trial keeps its times (Optuna's add_trial and copy_study do), where the server takes them.
        times: dict[str, float] = {}
        if trial is not None and {"add_trial.started_at", "add_trial.finished_at"} <= self.client._optional_args:
            for key, attr in (("started_at", "datetime_start"), ("finished_at", "datetime_complete")):
                when = getattr(trial, attr, None)
                if isinstance(when, datetime):
                    times[key] = when.timestamp()
            if "started_at" in times and "finished_at" in times and times["started_at"] > times["finished_at"]:
                del times["started_at"]  # a clock stepped back: keep the finish, as it ended
        if trial is not None:
            params = getattr(trial, "params", None) if params is None else params
            if distributions is None:
                distributions = getattr(trial, "distributions", None)
            raw_values = getattr(trial, "values", None)
            if value is None and values is None:
                if raw_values is not None and len(raw_values) > 1:
                    values = list(raw_values)
                else:
                    value = getattr(trial, "value", None)
            if state == "COMPLETE":
                state = getattr(trial, "state", state)
            if intermediate_values is None:
                iv = getattr(trial, "intermediate_values", None)
                intermediate_values = dict(iv) if iv is not None else None
            if user_attrs is None:
                user_attrs = getattr(trial, "user_attrs", None) or None
            if constraints is None and _state_name(state) == "COMPLETE":
                # Optuna 5's FrozenTrial.constraints is a dict ({} when none were set; its
                # system_attrs["constraints"] the tuple constraints_func returned), kept on
                # FAIL/PRUNED trials too; the server takes them with a COMPLETE result only.
                constraints = _constraint_values(getattr(trial, "constraints", None))
                if constraints is None:
                    constraints = _constraint_values(_stored_constraints(getattr(trial, "system_attrs", None) or {}))
        if _state_name(state) == "RUNNING":
            raise InvalidArgumentError(_RUNNING_NOT_ADDED)
        if _state_name(state) == "WAITING":
            # Optuna's enqueue_trial is add_trial(create_trial(state=WAITING, system_attrs=
            # {"fixed_params": params})): a WAITING trial is a queued proposal, here enqueue's.
            if value is not None or values is not None:
                raise ValueError("values should be None for a waiting trial.")
            if not params and trial is not None:
                params = (getattr(trial, "system_attrs", None) or {}).get("fixed_params")
            return self.enqueue(dict(params or {}), user_attrs=user_attrs)
        if params is None:
            raise InvalidArgumentError("add_trial needs params (or a trial that has them)")
        if not given_result and _state_name(state) == "FAIL":
            # A failed trial has no result (the server refuses one, as Optuna's create_trial
            # does); a value a copied FAIL trial still carries is dropped.
            value = values = None
        args: dict[str, Any] = {"study": self.name, "params": dict(params), "state": _state_name(state)}
        told = [value] if values is None else list(values) if isinstance(values, (list, tuple)) or getattr(values, "ndim", 0) >= 1 else [values]
        not_finite = [v for v in told if v is not None and _non_finite(v)]  # numpy scalars too
        if not_finite:  # the server's schema said only "Invalid input: expected number, received Infinity"
            raise InvalidArgumentError(
                f"add_trial: the value {float(cast(Any, not_finite[0]))!r} is not finite: a trial's values must be finite numbers "
                "(Optuna's add_trial keeps an infinity, tuneport's tell fails such a trial); add it with "
                "state=FAIL, or a large finite value"
            )
        if distributions:
            args["distributions"] = {k: _distribution_wire(d) for k, d in distributions.items()}
        if values is not None:
            args["values"] = [as_float(v) for v in values]
        elif value is not None:
            args["value"] = as_float(value)
        if constraints is not None:
            args["constraints"] = _constraint_values(constraints) or []
        if intermediate_values:
            args["intermediate"] = [[float(k), float(v)] for k, v in sorted(intermediate_values.items())]
        if user_attrs:
            args["user_attrs"] = json_attrs(user_attrs)
        if rationale is not None:
            args["rationale"] = rationale
        args.update(times)
        return FrozenTrial.from_wire(self.client._call("add_trial", args)["trial"], self.name)

    def add_trials(self, trials: Iterable[Any]) -> list[FrozenTrial]:
        """``add_trial`` for each of ``trials``, in order (Optuna's ``study.add_trials``, e.g. the
        trials of another study; its WAITING trials are enqueued). Returns the recorded trials.
        @raises InvalidArgumentError before adding any when one is RUNNING."""
        trials = list(trials)
        if any(_state_name(getattr(t, "state", "COMPLETE")) == "RUNNING" for t in trials):
            raise InvalidArgumentError(_RUNNING_NOT_ADDED + "; none of the trials was added")
        return [self.add_trial(t) for t in trials]

    def update(
        self,
        *,
        scheduler: Any = _UNSET,
        strategy: Any = None,
        space: Mapping[str, DistributionLike] | None = None,
        max_trials: Any = _UNSET,
        notes: str | None = None,
    ) -> list[str]:
        """Changes the study while it runs, keeping its history (op ``update_study``): the
        ``scheduler`` (a name or ``{"name", "options"}``; naming the current one merges the given
        options over its own; None removes it), the ``strategy`` (rebuilt from every stored trial),
        a wider ``space`` (declared parameters only: wider bounds, categorical choices appended),
        ``max_trials`` (None: no budget) and ``notes``. Returns the settings that changed.
        @raises InvalidArgumentError (a narrowing, an unknown plug-in), FailedPreconditionError
        (a switch to or from PBT while trials run; a widening under grid or cmaes)."""
        args: dict[str, Any] = {"study": self.name}
        if scheduler is not _UNSET:
            args["scheduler"] = NIL if scheduler is None else scheduler
        if strategy is not None:
            args["strategy"] = strategy
        if space is not None:
            args["space"] = {k: _distribution_wire(d) for k, d in space.items()}
        if max_trials is not _UNSET:
            args["max_trials"] = NIL if max_trials is None else max_trials
        if notes is not None:
            args["notes"] = notes
        result = self.client._call("update_study", args)
        self._summary = StudySummary.from_wire(result["study"])
        return [str(c) for c in result["changed"]]

    def export(self) -> Iterator[str]:
        """The study as JSON Lines (op ``export_study``, page by page): what ``tuneport export``
        writes and ``tuneport import`` reads, one line (no newline) at a time, except that a running
        trial's lease token is withheld (a trial imported from it runs out its lease and is retried);
        to move a study whose workers carry on, use ``tuneport export`` on the server's database."""
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {"study": self.name}
            if cursor is not None:
                args["cursor"] = cursor
            page = self.client._call("export_study", args)
            yield from (str(line) for line in page["lines"])
            cursor = page.get("next_cursor")
            if cursor is None:
                return

    # ------------------------------------------------------------------ reading

    @property
    def trials(self) -> list[FrozenTrial]:
        """Every trial, in number order, fetched from the server on each access (Optuna's
        ``study.trials``). To filter, sort or page on the server, use ``get_trials``."""
        return self._fetch_trials()

    def get_trials(
        self,
        deepcopy: bool = True,
        states: Sequence[Any] | None = None,
        *,
        order_by: Literal["number", "value"] | None = None,
        descending: bool = False,
        offset: int | None = None,
        limit: int | None = None,
    ) -> list[FrozenTrial]:
        """Trials, optionally only those in ``states`` (names such as ``"COMPLETE"``, or anything
        with such a ``.name``, e.g. Optuna's ``TrialState.COMPLETE``), as Optuna's ``get_trials``;
        ``order_by="value"`` puts the best first; ``offset``/``limit`` page. Without ``limit``
        every matching trial is fetched, a page at a time, each page continuing after the last
        trial of the one before (a trial told meanwhile that sorts before it is not in this list; a
        study deleted and created again under its name meanwhile raises InvalidArgumentError).
        ``deepcopy`` is accepted and ignored: ``FrozenTrial`` is immutable already."""
        return self._fetch_trials(states, order_by=order_by, descending=descending, offset=offset, limit=limit)

    def _fetch_trials(
        self,
        states: Sequence[Any] | None = None,
        *,
        order_by: Literal["number", "value"] | None = None,
        descending: bool = False,
        offset: int | None = None,
        limit: int | None = None,
    ) -> list[FrozenTrial]:
        page = limit if limit is not None else 1000
        out: list[FrozenTrial] = []
        start = offset or 0
        if isinstance(states, str) or (hasattr(states, "name") and not hasattr(states, "__iter__")):
            # One state (a TrialState is a str too, whose letters would be sent as states).
            shown = f"TrialState.{getattr(states, 'name')}" if hasattr(states, "name") else repr(states)
            raise TypeError(f"states must be a collection of states, as in Optuna: pass ({shown},), not {shown} alone")
        names = [_state_name(x) for x in states] if states is not None else None
        if names == []:
            return []  # no state asked for: no trial (Optuna's get_trials(states=())), not every one
        # Pages after the first continue from the server's cursor, not an offset: a cursor is bound
        # to the study's identity (one deleted and created again under its name between pages is
        # refused, InvalidArgumentError with data reason "study_recreated", where an offset silently
        # mixed the two studies' trials) and continues after the last trial shown, so a trial that
        # finishes meanwhile does not shift an order_by="value" listing (repeating or skipping one).
        cursor: str | None = None
        while True:
            args: dict[str, Any] = {
                "study": self.name,
                "states": names,
                "order_by": order_by,
                "descending": descending or None,
                "limit": page if limit is None else limit - len(out),
            }
            if cursor is None:
                args["offset"] = start or None
            else:
                args["cursor"] = cursor
            result = self.client._call("trials", args)
            batch = [FrozenTrial.from_wire(t, self.name) for t in result["trials"]]
            out.extend(batch)
            start += len(batch)
            # A page may hold fewer trials than asked (the server ends one before its intermediate
            # values pass 100,000), so a limit is met by asking again, as "all" is.
            if not batch or (limit is not None and len(out) >= limit):
                return out
            if "next_cursor" in result:
                cursor = result["next_cursor"]
                if cursor is None:
                    return out
            elif start >= int(result["total"]):
                return out

    def trial(self, number: int) -> FrozenTrial:
        """One trial by number. @raises NotFoundError."""
        return FrozenTrial.from_wire(self.client._call("trial", {"study": self.name, "trial": number})["trial"], self.name)

    def trajectory(self, number: int) -> list[TrajectoryPoint]:
        """Trial ``number``'s hyperparameter trajectory, recorded by strategies that change params
        while a trial runs (``hypergradient``): the starting point (``step`` None), then the params
        after each applied report. Empty when nothing was recorded. @raises NotFoundError."""
        raw = self.client._call("trajectory", {"study": self.name, "trial": number})
        return [TrajectoryPoint.from_wire(e) for e in raw.get("trajectory") or []]

    @property
    def best_trial(self) -> FrozenTrial:
        """The best feasible COMPLETE trial for the study's direction (fetched on each access).
        @raises ValueError while there is none, and RuntimeError in a multi-objective study (use
        ``best_trials``), as Optuna's."""
        if self._is_multi_objective():
            raise RuntimeError("a multi-objective study has no single best trial: use study.best_trials")
        raw = self.client._call("best", {"study": self.name})["trial"]
        if raw:
            return FrozenTrial.from_wire(raw, self.name)
        if self.summary().counts.get("COMPLETE"):
            # Optuna: "No feasible trials are completed yet." Either every COMPLETE trial violates its
            # constraints, or (a PBT study) every one diverged and was completed without a value.
            raise ValueError(
                f"study '{self.name}' has no feasible COMPLETE trial yet: each one violates its constraints "
                "or diverged (a PBT member completed with NaN or infinity has no value)"
            )
        raise ValueError(f"study '{self.name}' has no COMPLETE trial yet")

    @property
    def best_trials(self) -> list[FrozenTrial]:
        """The Pareto front (Optuna's name): the COMPLETE feasible trials that no other one
        dominates, in number order; for one objective the best feasible trials (fetched on each access)."""
        return self.pareto_front().trials

    def pareto_front(self, *, reference_point: Sequence[float] | None = None, history: bool = False) -> ParetoFront:
        """The Pareto front with its exact hypervolume at ``reference_point`` (default: the
        study's, else derived from the front) and, with ``history``, the hypervolume after each
        trial that changed it (op ``best_trials``). @raises InvalidArgumentError for a reference
        point of the wrong length."""
        args: dict[str, Any] = {"study": self.name}
        if reference_point is not None:
            args["reference_point"] = [float(x) for x in reference_point]
        if history:
            args["history"] = True
        raw = dict(self.client._call("best_trials", args))
        # A front past about 8 MiB comes in pages (next_cursor): the rest of its trials are asked for.
        trials = list(raw.get("trials") or [])
        while raw.get("next_cursor"):
            rest = {k: v for k, v in args.items() if k != "history"}  # the history came with the first page
            page = self.client._call("best_trials", {**rest, "cursor": raw["next_cursor"]})
            trials.extend(page.get("trials") or [])
            raw["next_cursor"] = page.get("next_cursor")
        raw["trials"] = trials
        return ParetoFront.from_wire(raw, self.name)

    @property
    def best_params(self) -> dict[str, Scalar]:
        """The params of the best COMPLETE trial (Optuna's name). @raises ValueError when there is none."""
        return dict(self.best_trial.params)

    @property
    def best_value(self) -> float:
        """The value of the best COMPLETE trial (Optuna's name). @raises ValueError when there is none."""
        value = self.best_trial.value
        assert value is not None, "a COMPLETE trial has a value"
        return float(value)

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

    def set_user_attr(self, key: str, value: Any) -> None:
        """Sets one study user attribute (Optuna's ``study.set_user_attr``)."""
        self.set_user_attrs({key: value})

    def set_user_attrs(self, attrs: Mapping[str, Any]) -> None:
        """Merges ``attrs`` into the study's user attributes."""
        view = self.client._call("set_user_attrs", {"study": self.name, "attrs": json_attrs(attrs)}).get("study")
        if view is None:
            # A de-duplicated retry of this op answers {study: null} (server bug); read it back instead.
            self.summary()
        else:
            self._summary = StudySummary.from_wire(view)

    def set_notes(self, notes: str, *, trial: int | None = None) -> None:
        """Replaces the study's notes or, with ``trial``, that trial's (``system_attrs["notes"]``,
        shown by MCP's ``get_trial``); ``""`` clears them. @raises NotFoundError."""
        args: dict[str, Any] = {"study": self.name, "notes": notes}
        if trial is not None:
            args["trial"] = trial
        result = self.client._call("set_user_attrs", args)
        if trial is None and result.get("study") is not None:
            self._summary = StudySummary.from_wire(result["study"])

    def plot(
        self,
        kind: PlotKind = "history",
        path: str | os.PathLike[str] | None = None,
        *,
        params: Sequence[str] | None = None,
        log_y: bool = False,
    ) -> Plot:
        """A chart of the study rendered by the server (the same as ``tuneport plot`` and the MCP
        ``plot`` tool), saved to ``path`` when given. ``params`` picks the parameters of
        ``parallel``, ``slice`` and ``contour`` (default: the most important ones); ``log_y`` puts
        the objective on a log scale (the kinds with an objective axis: ``history``,
        ``intermediate_values``, ``edf``, ``parallel``, ``slice``, ``contour``). Rendering takes up to a few
        seconds on large studies.
        @raises InvalidArgumentError (unknown parameter, params or log_y for another kind, nothing
        to draw yet), NotFoundError."""
        args: dict[str, Any] = {"study": self.name, "kind": kind}
        if params is not None:
            args["params"] = list(params)
        if log_y:
            args["log_y"] = True
        result = Plot.from_wire(self.client._call("plot", args))
        if path is not None:
            result.save(path)
        return result

    # ------------------------------------------------------------------ Optuna style

    def _sampler_constraints(self, t: Trial, value: Any) -> list[float] | None:
        """What the sampler's ``constraints_func`` gives for ``t`` finished with ``value``, as
        ``optimize`` computes it (where it raises, the trial fails with the values in its reason)."""
        from ._optimize import _as_values, _constraints_of, _fail_keeping_values

        func = self._constraints_func
        result = _as_values(value, len(self.directions))
        if func is None or result is None:
            return None  # a value that is no result: tell's own checks answer it
        frozen = t.frozen()
        done = dataclasses.replace(frozen, values=list(result), value=result[0] if len(result) == 1 else None)
        try:
            return _constraints_of(func, done)
        except Exception as err:
            _fail_keeping_values(t, result, f"constraints_func raised {err!r}")
            raise

    def optimize(
        self,
        func: Callable[[Trial], float | Sequence[float]],
        n_trials: int | None = None,
        timeout: float | None = None,
        n_jobs: int = 1,
        catch: Iterable[type[Exception]] | type[Exception] | None = (),
        callbacks: Iterable[Callable[[Study, FrozenTrial], None]] | None = None,
        gc_after_trial: bool = False,
        show_progress_bar: bool = False,
        constraints_func: Callable[[FrozenTrial], Sequence[float]] | None = None,
    ) -> None:
        """Runs ``func(trial) -> value`` trial after trial, as Optuna's ``Study.optimize``.

        Stops after ``n_trials`` trials (of this call), once ``timeout`` seconds have passed (no
        new trial starts after that), on ``stop()``, or when the study has no more trials to give
        (search space exhausted, ``max_trials`` spent, stopped on the server): those end the loop
        quietly (a PBT population whose slots failed more than ``max_failures`` times each, with
        a warning naming the last failure). ``n_jobs`` threads (-1: one per CPU) run trials at once over this client.
        ``TrialPruned`` prunes a trial; a non-finite or missing value, or an exception in
        ``catch``, fails it and the loop goes on; any other exception fails it and propagates.
        Ctrl-C (KeyboardInterrupt) fails the running trial and propagates; with ``n_jobs`` > 1
        it reaches the calling thread only, which tells FAIL for every trial still running (their
        threads stop at their next request) before it propagates. Such a trial is marked
        ``system_attrs["interrupted"]`` (by servers that support it), and GP, TPE and ``auto``
        do not learn from it as they learn from other failed trials. A trial whose lease was lost
        (or that was told elsewhere) is given up with a warning. ``callbacks`` get
        ``(study, frozen_trial)`` after each trial (a given-up one as the server holds it);
        ``gc_after_trial`` runs ``gc.collect()``.
        Each finished trial is logged at INFO (logger ``"tuneport"``, as Optuna's lines);
        ``show_progress_bar`` draws a tqdm bar when tqdm is installed, plain lines otherwise.
        In a multi-objective study ``func`` returns one value per objective. ``constraints_func``
        (Optuna's sampler argument, here the loop's) gets the finished trial (params and values)
        before it is told and returns its constraint values, ``c <= 0`` satisfied; without one,
        the ``constraints_func`` of the sampler the study was created or loaded with is used."""
        from ._optimize import run_optimize

        with self._loop():
            run_optimize(
                self,
                func,
                n_trials=n_trials,
                timeout=timeout,
                n_jobs=n_jobs,
                catch=(catch,) if isinstance(catch, type) else tuple(catch or ()),
                callbacks=list(callbacks or ()),
                gc_after_trial=gc_after_trial,
                show_progress_bar=show_progress_bar,
                constraints_func=constraints_func if constraints_func is not None else self._constraints_func,
            )

    def trials_dataframe(
        self,
        attrs: tuple[str, ...] = (
            "number",
            "value",
            "datetime_start",
            "datetime_complete",
            "duration",
            "params",
            "user_attrs",
            "system_attrs",
            "state",
        ),
        multi_index: bool = False,
    ) -> Any:
        """The trials as a pandas DataFrame with Optuna's columns (``number``, ``value``,
        ``datetime_start``, ``datetime_complete``, ``duration``, ``params_<name>``,
        ``user_attrs_<key>``, ``system_attrs_<key>``, ``state``; also ``intermediate_values``
        on request; ``values_0``, ``values_1``... instead of ``value`` in a multi-objective
        study); ``multi_index`` keeps ``(attr, key)`` column pairs.
        @raises ImportError when pandas is not installed (``pip install pandas``)."""
        from ._dataframe import trials_dataframe

        if self._is_multi_objective():
            # Optuna's columns for several objectives: values_0, values_1, ...
            attrs = tuple("values" if a == "value" else a for a in attrs)
        return trials_dataframe(self.get_trials(), attrs, multi_index, self.metric_names, len(self.directions))

    def set_metric_names(self, metric_names: Sequence[str]) -> None:
        """Names the objectives, one name per direction (Optuna's ``set_metric_names``): kept on the
        server with the study (in its user attributes, under a key ``user_attrs`` does not show) and
        used for ``trials_dataframe``'s columns (``values_<name>``). @raises ValueError when the
        number of names is not the number of objectives."""
        names = [str(n) for n in metric_names]
        if len(names) != len(self.directions):
            raise ValueError("The number of objectives must match the length of the metric names.")
        self.set_user_attrs({_METRIC_NAMES_ATTR: names})

    @property
    def metric_names(self) -> list[str] | None:
        """The objectives' names given to ``set_metric_names``, or None (fetched on each access)."""
        names = self.summary().metric_names
        return None if names is None else list(names)


def create_trial(
    *,
    state: Any = TrialState.COMPLETE,
    value: float | None = None,
    values: Sequence[float] | None = None,
    params: Mapping[str, Any] | None = None,
    distributions: Mapping[str, Any] | None = None,
    user_attrs: Mapping[str, Any] | None = None,
    system_attrs: Mapping[str, Any] | None = None,
    intermediate_values: Mapping[float, float] | None = None,
    constraints: Mapping[str, float] | Sequence[float] | None = None,
) -> FrozenTrial:
    """Optuna's ``optuna.trial.create_trial``: a finished trial built by hand, to record with
    ``study.add_trial`` (warm-starting a study with results obtained elsewhere). ``distributions``
    are tuneport's or Optuna's; unlike Optuna they may be left out for parameters the study
    declares. Its ``number`` is -1 until it is added. @raises ValueError as Optuna's does (value
    and values both given, a COMPLETE trial without one or with a NaN, a value on a FAIL trial, params and
    distributions naming different parameters, a value outside its distribution). ``constraints`` (Optuna 5's name → value, or a
    list; ``c <= 0`` satisfied) become the trial's ``constraints`` list, in order; without them a
    ``system_attrs["constraints"]`` sequence (where Optuna's ``constraints_func`` puts them) is used."""
    final = trial_state(state)
    if value is not None and values is not None:
        raise ValueError("Specify only one of `value` and `values`.")
    told = [as_float(value)] if value is not None else None if values is None else [as_float(v) for v in values]
    if final == TrialState.COMPLETE and told is None:
        raise ValueError("values should be set for a complete trial.")
    if final == TrialState.COMPLETE and any(math.isnan(v) for v in told or ()):
        raise ValueError("values should not contain NaN.")  # Optuna's FrozenTrial._validate, here as there
    if final in (TrialState.FAIL, TrialState.WAITING, TrialState.RUNNING) and told is not None:
        raise ValueError(f"values should be None for a {'failed' if final == TrialState.FAIL else final.name.lower()} trial, but got {told}.")
    params = dict(params or {})
    dists = {k: d if isinstance(d, Distribution) else distribution_from_wire(_distribution_wire(d)) for k, d in (distributions or {}).items()}
    if distributions is not None and set(params) != set(dists):
        raise ValueError(f"Inconsistent parameters {set(params)} and distributions {set(dists)}.")
    for name, dist in dists.items():
        if name in params and not dist._contains(dist.to_internal_repr(params[name])):
            raise ValueError(f"The value {params[name]!r} of parameter '{name}' isn't contained in the distribution {dist!r}.")
    system = dict(system_attrs or {})
    told_constraints = _constraint_values(constraints if constraints is not None else _stored_constraints(system))
    if told_constraints is not None:
        system["constraints"] = tuple(told_constraints)
    now = time.time()
    return FrozenTrial(
        number=-1,
        state=final,
        params=params,
        distributions=dists,
        value=told[0] if told is not None and len(told) == 1 else None,
        intermediate=sorted((float(k), float(v)) for k, v in (intermediate_values or {}).items()),
        user_attrs=dict(user_attrs or {}),
        system_attrs=system,
        # Optuna's create_trial stamps now: the start unless WAITING, the end once finished.
        created_at=now,
        started_at=None if final == TrialState.WAITING else now,
        finished_at=now if final.is_finished() else None,
        duration_s=0.0 if final.is_finished() else None,
        values=told,
        constraints=told_constraints,
        feasible=all(c <= 0 for c in told_constraints or []) if final == TrialState.COMPLETE else None,
    )


def _stored_constraints(system_attrs: Mapping[str, Any]) -> Any:
    """The constraints in a trial's system attributes, where Optuna keeps them: a list under
    ``"constraints"`` (``constraints_func``'s) or ``{name: value}`` from ``"constraints:<name>"`` keys
    (``set_constraint``'s); None without."""
    named = {k[len("constraints:") :]: v for k, v in system_attrs.items() if k.startswith("constraints:")}
    return named or system_attrs.get("constraints")


def _constraint_values(constraints: Any) -> list[float] | None:
    """Constraint values as a list: from a sequence, or from Optuna 5's ``{name: value}`` dict (its
    values in ``set_constraint``'s order: names of digits as numbers, then alphabetically; a dict's
    keys are names, not values). None for None or an empty one.
    @raises InvalidArgumentError for anything else (a number, a string)."""
    if constraints is None:
        return None
    if isinstance(constraints, Mapping):
        items: list[Any] = [constraints[k] for k in sorted(constraints, key=lambda k: constraint_order(str(k)))]
    elif isinstance(constraints, (str, bytes)) or not isinstance(constraints, Iterable):
        raise InvalidArgumentError(f"constraints must be a sequence of numbers or a {{name: number}} dict (got {constraints!r})")
    else:
        items = list(constraints)
    try:
        values = [float(c) for c in items]
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"constraint values must be numbers (got {items!r})") from None
    return values or None


def _distribution_wire(d: Any) -> dict[str, Any]:
    """A distribution's wire map: one of this client's, a wire map, or an Optuna distribution
    (``FloatDistribution``, ``IntDistribution``, ``CategoricalDistribution``, read by attributes)."""
    if isinstance(d, (Distribution, Mapping)):
        return distribution_to_wire(d)
    if hasattr(d, "choices"):
        return {"type": "categorical", "choices": list(d.choices)}
    if hasattr(d, "low") and hasattr(d, "high"):
        kind = "int" if type(d).__name__.startswith("Int") else "float"
        out: dict[str, Any] = {"type": kind, "low": d.low, "high": d.high}
        if getattr(d, "log", False):
            out["log"] = True
        if getattr(d, "step", None) is not None:
            out["step"] = d.step
        return out
    raise InvalidArgumentError(f"not a distribution: {d!r}")


def _trial_number(trial: Any) -> int:
    """The number of the trial ``tell`` is given: a ``Trial`` or a trial number (an int, numpy's
    too), as Optuna 5.0's ``Study.tell`` takes. @raises TypeError, in Optuna's words, for anything
    else, a ``FrozenTrial`` too (Optuna refuses the snapshot ``study.trials`` holds; its number is
    the one to pass)."""
    if isinstance(trial, Trial):
        return trial.number
    if isinstance(trial, FrozenTrial):
        raise TypeError(f"Trial must be a trial object or trial number (got a FrozenTrial; pass its number, study.tell({trial.number}, ...)).")
    if not isinstance(trial, bool):
        try:
            return operator.index(trial)
        except TypeError:
            pass
    raise TypeError(f"Trial must be a trial object or trial number (got {type(trial).__name__}: {trial!r:.80}).")


def _told_items(value: Any) -> list[Any]:
    """The values a told ``value`` holds, read as Optuna 5.0 reads a tell's or an objective's return:
    a list or tuple holds one per objective; anything else is one value, a numpy array too (it is not a
    ``Sequence``), which ``float()`` then casts or refuses (numpy 2 refuses an array of one element or
    more: the trial fails "could not be cast to float", in ``tell`` as in ``optimize``)."""
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _uncastable(value: Any) -> str | None:
    """Optuna's words for the items of ``value`` (a number or a sequence of them) that cannot be
    cast to float, or None when all can (ints of any size within the float range, bools, numpy
    scalars: they are told as floats). A string is not a number even when ``float`` parses it
    ("1.5"), as ``optimize`` counts an objective's return (Optuna 5.0 fails on one, in both)."""
    items = _told_items(value)
    bad = []
    for v in items:
        try:
            if isinstance(v, (str, bytes)):
                raise TypeError(v)
            as_float(v)  # a numpy array of one element is not a number, whatever numpy's version
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int past the float range
            shown = repr(v)
            bad.append(f"The value {shown if len(shown) <= 80 else shown[:77] + '...'} could not be cast to float")
    return "; ".join(bad) or None


def _unusable_value(value: Any, objectives: int) -> str | None:
    """Why ``value`` cannot complete a trial of a study with ``objectives`` objectives (Optuna's
    wording), or None when it can (a NaN or infinity is left to the strategy's rule)."""
    if value is None:
        return "The value None could not be cast to float."
    uncast = _uncastable(value)
    if uncast is not None:
        return uncast
    items = _told_items(value)
    if len(items) != objectives:
        return f"The number of the values {len(items)} did not match the number of the objectives {objectives}"
    return None


def _nan_message(value: Any) -> str | None:
    """Optuna's words for the NaNs in ``value`` (a number or a sequence of them), or None without one."""
    items = _told_items(value)
    try:
        nans = [as_float(v) for v in items if math.isnan(as_float(v))]
    except (TypeError, ValueError, OverflowError):
        return None
    return "; ".join(f"The value {v} is not acceptable" for v in nans) or None


def _non_finite(value: Any) -> bool:
    """True when ``value`` (a number or a sequence of them) holds a NaN or an infinity."""
    items = _told_items(value)
    try:
        return any(not math.isfinite(as_float(v)) for v in items)
    except (TypeError, ValueError, OverflowError):
        return False


_RUNNING_NOT_ADDED = (
    "a RUNNING trial cannot be added: a trial runs for the worker that asked for it (study.ask()); "
    "add it once finished (COMPLETE, PRUNED or FAIL), or enqueue its params (study.enqueue_trial)"
)


def _state_name(state: Any) -> str:
    """A trial state's wire name from a string or an enum member (Optuna's ``TrialState.COMPLETE``)."""
    name = getattr(state, "name", state)
    if not isinstance(name, str):
        raise InvalidArgumentError(f"not a trial state: {state!r}")
    return name


__all__ = ["Direction", "ParetoFront", "Study", "StudySummary", "create_trial"]


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
