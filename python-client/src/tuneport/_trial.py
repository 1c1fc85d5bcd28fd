"""Trials: the live ``Trial`` a worker trains, and the read-only ``FrozenTrial`` of listings."""

from __future__ import annotations

import copy
import functools
import logging
import math
import os
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast, overload

from . import _background
from ._enums import TrialState, trial_state
from ._distributions import Categorical, Distribution, Float, Int, Scalar, as_declared, distribution_from_wire, remember_categorical
from ._errors import (
    ClientClosedError,
    FailedPreconditionError,
    InvalidArgumentError,
    LeaseLostError,
    NotFoundError,
    TimeoutError,
    TrialPruned,
    TuneportError,
    UpdateFinishedTrialError,
)
from ._protocol import RELEARN_LOOK_S, json_attrs, make_request
from ._decision import Decision as Decision, Lease as Lease, Restore as Restore, _combined
from ._frozen import (  # re-exported: FrozenTrial and its helpers were defined in this module
    _MISSING as _MISSING,
    _TOLD_CONSTRAINT_NAMES as _TOLD_CONSTRAINT_NAMES,
    FrozenTrial as FrozenTrial,
    TrajectoryPoint as TrajectoryPoint,
    _check_compatible as _check_compatible,
    _constraints_arg as _constraints_arg,
    _fail_reason as _fail_reason,
    _float_or_none as _float_or_none,
    _floats_or_none as _floats_or_none,
    _number as _number,
    _OptunaV2Suggest as _OptunaV2Suggest,
    _set_named_constraint as _set_named_constraint,
    _short as _short,
    _short_repr as _short_repr,
    _typed_params as _typed_params,
    _typed_value as _typed_value,
    _values_args as _values_args,
    _why_not_in as _why_not_in,
    _check_enqueued_choice,
    _replaced_message,
    checked_constraint as checked_constraint,
    constraint_order as constraint_order,
    is_trial_pruned as is_trial_pruned,
)

if TYPE_CHECKING:
    from ._study import Lineage, Study

log = logging.getLogger("tuneport")

TRIAL_STATES: tuple[TrialState, ...] = tuple(TrialState)

#: When Ctrl-C (or another exception that is not an ``Exception``) ends a trial, how long telling
#: FAIL waits for a server that is away, and for the queued non-blocking reports, before giving up
#: (the lease then runs out on the server): the user asked to stop, not to wait out an outage.
INTERRUPTED_WAIT_S = 1.0

_F = TypeVar("_F", bound=Callable[..., Any])
_R = TypeVar("_R")


def _one_call_at_a_time(method: _F) -> _F:
    """A call on a trial that takes its turn (``Trial._order``) with the trial's other calls from any
    thread: see ``Trial._order``."""

    def turn(self: Trial, *args: Any, **kwargs: Any) -> Any:
        if not self._order.acquire(blocking=False):
            # Taken: by another thread, or by a thread of the parent when this process forked, where
            # it is held for ever (ClientClosedError here: the check costs a getpid, off the hot path).
            self.study.client._check_process()
            self._order.acquire()
        return self._run_in_turn(lambda: method(self, *args, **kwargs))

    return cast(_F, functools.wraps(method)(turn))  # its name, docstring and signature (inspect) are the method's


def _never_reached(err: TimeoutError) -> bool:
    """True when a request's TimeoutError says that no server could be reached (an outage: the
    request was not delivered), not that a connected one stayed silent (``attempts``) or closed
    the connection on it (``dropped``)."""
    data = err.data
    return isinstance(data, Mapping) and "attempts" not in data and "dropped" not in data


class Trial(_OptunaV2Suggest):
    """A running trial handed out by ``Study.ask``.

    Use it as a context manager: leaving the block without an outcome fails the trial,
    an exception fails it (and propagates), ``TrialPruned`` prunes it (and is swallowed).
    While it is open the client's heartbeat thread renews its lease.
    """

    def __reduce__(self) -> Any:
        """A running trial holds its lease for this process's client (heartbeats, queued reports), so
        it is not pickled; Optuna's pickles by its storage. Send the study and let the other process
        ``ask``, or tell this trial here."""
        raise TypeError(
            f"trial {self.number} of '{self.study.name}' cannot be pickled: its lease belongs to this process's client; "
            "pickle the study instead (it is reloaded in the other process) and ask there"
        )

    @property
    def params(self) -> dict[str, Scalar]:
        """The values suggested so far, in the order suggested (a copy, as Optuna's: changing it
        changes nothing the trial holds or tells)."""
        return dict(self._params)

    @property
    def distributions(self) -> dict[str, Distribution]:
        """The distribution of each parameter in ``params`` (a copy, as Optuna's)."""
        return dict(self._distributions)

    @property
    def user_attrs(self) -> dict[str, Any]:
        """The user attributes set so far (a deep copy, as Optuna's: set them with ``set_user_attr``)."""
        return copy.deepcopy(self._user_attrs)

    def __init__(self, study: Study, result: Mapping[str, Any]) -> None:
        view = result["trial"]
        lease = result["lease"]
        self.study = study
        self.number: int = int(view["number"])
        self._distributions: dict[str, Distribution] = as_declared(
            study.name, {k: distribution_from_wire(d) for k, d in (view.get("distributions") or {}).items()}
        )
        self._params: dict[str, Scalar] = _typed_params(view.get("params"), self._distributions)
        self.state: TrialState = trial_state(view["state"])
        self.value: float | None = _float_or_none(view.get("value"))
        self.values: list[float] | None = _floats_or_none(view.get("values"))
        """One value per objective once told COMPLETE (``[value]`` for one objective)."""
        self.intermediate: list[tuple[float, float]] = [(float(s), float(v)) for s, v in view.get("intermediate") or []]
        self._user_attrs: dict[str, Any] = dict(view.get("user_attrs") or {})
        self.system_attrs: dict[str, Any] = dict(view.get("system_attrs") or {})
        self._pbt_member = "pbt_member" in self.system_attrs
        """Started by PBT or PB2 as a population member: its strategy for its whole life (a switch
        to or from them waits until no trial runs), whatever the study object says."""
        start: Mapping[str, Any] = result.get("start") or {}
        self._start = start
        self.budget: float | None = start.get("budget", result.get("budget"))
        """How far to train (in your step units) when a scheduler sets it; updated by ``report``
        when a decision carries a budget."""
        self.lease = Lease(str(lease["token"]), float(lease["expires_at"]), float(lease["ttl_s"]))
        self.restore: Restore | None = Restore.from_wire(start.get("restore"))
        """A checkpoint of another trial to load before training on (PBT): set at ``ask`` when the
        trial refills a lost member; then the ``restore`` of the decision the last ``report`` (or
        ``flush_reports``) returned, None when it returned none or one without an exploit. Load it
        once per such call: right after it, or after the ``should_prune()`` that follows it, which
        never changes it (an exploit a non-blocking report got, its params included, is applied,
        returned and set here by the next report, which tells the server it was loaded after that
        report). It once set it too, so a loop loading ``restore`` after both loaded the donor's
        weights again over the step trained between."""
        self.start_step: float = self.restore.step if self.restore is not None and self.restore.step is not None else 0
        """The step to count from: a PBT refill continues at its donor checkpoint's step."""
        self._named_constraints: dict[str, float] = {}
        """``set_constraint``'s values, told with the COMPLETE result."""
        self._lock = threading.Lock()
        self._order = threading.RLock()
        """Held by each call that reports, applies decisions or tells (``report``, ``should_prune``,
        ``flush_reports``, ``complete``, ``fail``, ``prune``, ``suggest``): calls on one trial from
        several threads take turns, but for a non-blocking report, which never waits for it: while
        another thread holds it (maybe through an outage), the report is put ``_beside`` and returns.
        Taken by the non-blocking report too, it waited as long as that call waited for the server
        (31.8 s against a stopped server; tests/test_report_beside_wait.py)."""
        self._beside: deque[tuple[dict[str, Any], float, float]] = deque()
        """Non-blocking reports (message, step, value) made while another thread held ``_order``: the
        holder queues them, in order, before it sends anything else for the trial and when its call
        ends (``_submit_beside``), so none is sent ahead of a request that call made earlier. Each
        leaves it only once queued: ``pending_reports`` sees it all the way, and one that could not
        be queued (the queue call raised) stays for the next holder."""
        self._queueing: tuple[dict[str, Any], float, float] | None = None
        """The report put aside that ``_order``'s holder is queueing now (first in ``_beside``; the
        queue call may wait for room): another thread's ``_drop_beside`` leaves it to the holder.
        Dropped with the rest, it was named as not sent once queued, and the holder's call raised
        IndexError taking it out of the emptied list (tests/test_put_aside_reports.py)."""
        self._telling = False
        """Set (under ``_lock``) by a tell before it waits for the queued reports, cleared again if it
        fails with the trial still running: a report (either kind) made meanwhile raises
        UpdateFinishedTrialError at once. One that another thread queued during the tell's wait was
        neither waited for nor refused, reached the server after the tell (refused there, its value
        lost, after its call had returned; tests/test_nowait_tell_race.py)."""
        self._lost: LeaseLostError | None = None
        self._prune_requested = False
        self._view: Mapping[str, Any] = view
        # Non-blocking reports (``report(..., wait=False)``): the background thread hands each
        # answer over here; the training loop's thread applies them at its next report/should_prune().
        self._report_seq = 0
        """Sequence number of this trial's last queued non-blocking report (0: none)."""
        self._delivered: list[Decision] = []
        self._unreturned: list[Decision] = []
        """Decisions applied (by ``should_prune()``, or before a blocking report) but not yet returned:
        the next report or ``flush_reports`` returns them combined, so no exploit's ``restore`` and no
        released checkpoint is lost on the way."""
        self._loaded_after: tuple[str, float] | None = None
        """An exploit's donor checkpoint that ``flush_reports`` returned, and the step after which the
        caller loaded it: sent with the next report (``_with_loaded``)."""
        self._released_unreturned: list[str] = []
        """Checkpoints released by decisions that ``complete`` applied and nobody returned (a
        non-blocking report's last answers): ``tuneport.torch.pbt_complete`` deletes them too."""
        self._deferred_error: Exception | None = None
        self._warned_codes: set[str] = set()
        """Codes of the errors ending this trial that a non-blocking report already warned of."""
        self._unstored_steps: set[float] = set()
        """Steps of non-blocking reports the server refused at its per-trial limit (``serve
        --max-intermediate``), or that an outage ended (the report that waited it out, whose fate
        is unknown, and those queued behind it, dropped unsent), noted by the background thread:
        ``report`` had recorded them in ``intermediate`` when it queued them, and the training
        loop's thread takes them out again (``_apply_delivered``), so that ``intermediate`` holds
        what the server took or may still take (reports queued or in flight), never a value it was
        not sent. They stayed after an outage: a curve the server lacks, with no sign of it."""
        self._intermediate_full = False
        """The server refused a report of this trial past its per-trial limit (``serve
        --max-intermediate``), and has taken none since: later reports wait for their answer, so
        that a refusal is raised by the report refused, not queued and warned of once per step. Not
        refused here unsent: a server restarted with a larger limit takes them."""
        self._relearnt_at: int | None = None
        """The ``client.limits["max_intermediate"]`` a report taken past it made the client ask
        ``hello`` again at (``_taken_past_known_limit``): asked once per known value."""
        self._hypergradients_taken = False
        """The server took a report of this trial carrying hypergradients: its strategy reads them
        (one that does not refuses them, and a running trial's strategy is never switched)."""
        self._scopes = 0
        """Open ``with trial:`` blocks (``optimize`` runs the objective in one): inside one a prune
        decision raises ``TrialPruned`` from ``report`` by default, outside it does not (Optuna's
        ask-and-tell loop checks ``should_prune()`` and tells PRUNED itself)."""
        self._suggested: dict[str, Distribution] = {}
        """The distribution each parameter was first suggested from in this process (Optuna's checks)."""

    # ------------------------------------------------------------------ state

    @property
    def datetime_start(self) -> datetime | None:
        """When the trial started running (local time), as Optuna's ``trial.datetime_start``."""
        started = self._view.get("started_at")
        return None if started is None else datetime.fromtimestamp(float(started))

    @property
    def finished(self) -> bool:
        """True once the trial was told (COMPLETE, FAIL or PRUNED) or its lease was lost."""
        return self.state in ("COMPLETE", "FAIL", "PRUNED") or self._lost is not None

    @_one_call_at_a_time
    def should_prune(self) -> bool:
        """True once a ``report`` got a prune decision (Optuna's ``trial.should_prune()``). Inside
        ``with trial:`` (and ``optimize``) that report has already raised ``TrialPruned`` by
        default; outside, or with ``raise_on_prune=False``, check it and ``raise tp.TrialPruned()``
        or tell PRUNED. It also applies the decisions that non-blocking reports received since the
        last call (without waiting for those still in flight, and without raising their errors),
        up to an exploit (an ``update`` with a ``restore``): that one, its params included, and
        those after it are the next report's to apply and return, so ``params`` and ``restore``
        reach the loop together (``restore`` is unchanged here).
        In a study without a scheduler nothing is ever pruned (Optuna's ``create_study`` defaults to
        a MedianPruner; tuneport's to none): the first call then logs a warning naming ``scheduler=``."""
        if self.state in ("COMPLETE", "FAIL"):
            return False  # told otherwise than PRUNED: a prune decision it got no longer applies (Optuna: False)
        restore = self.restore
        self._apply_delivered(raise_on_prune=False, raise_error=False, keep=True, stop_at_exploit=True)
        # An exploit applied earlier and not returned yet is the next report's to return (and
        # ``restore``'s then): set here too, a loop loading ``restore`` after both calls loaded it
        # twice (see ``restore``).
        self.restore = restore
        # This call delivers a prune; the rest (an exploit's restore, released checkpoints) the next report returns.
        self._prune_delivered()
        if self.study.scheduler is None:
            self.study._warn_no_scheduler()
        return self._prune_requested

    def pending_reports(self) -> bool:
        """True while a non-blocking report of this trial is queued or in flight, or put aside
        behind another thread's call on the trial (queued when that call ends; see ``report``).
        It answered False for those, and a loop waiting on it stopped while they were still unsent.
        @raises ClientClosedError in a forked child (as every call that reports or tells there)."""
        self.study.client._check_process()
        if self._beside:
            return True
        return bool(self._report_seq) and self.study.client._reports_pending(self._report_seq)

    @_one_call_at_a_time
    def flush_reports(self) -> Decision | None:
        """Waits until this trial's non-blocking reports were answered and applies their decisions
        (as ``report`` would, ``should_prune()`` included); returns them combined as ``report``
        does, or None when none arrived since the last report or flush. Never raises ``TrialPruned``.
        @raises the error a non-blocking report got (LeaseLostError, InvalidArgumentError...).
        @raises ClientClosedError in a forked child (a DataLoader worker): the reports are the parent's."""
        self._wait_reports()
        latest = self._apply_delivered(raise_on_prune=False, raise_error=True)
        if latest is not None and latest.restore is not None and self.intermediate:
            # Loaded after this call, so after the last step reported: the next report says so.
            self._loaded_after = (latest.restore.checkpoint, self.intermediate[-1][0])
        return latest

    def _with_loaded(self, payload: dict[str, Any] | None, step: float, restore: Restore | None) -> dict[str, Any] | None:
        """``payload`` with ``pbt_loaded: {checkpoint, after_step}`` when the caller loads an exploit's
        donor checkpoint one report late: ``restore`` came with a non-blocking report's decision
        (or one that ``should_prune()`` applied) and this call returns it, so the weights are replaced
        after the report of ``step``, not after the report that got the exploit; or ``flush_reports``
        returned one (loaded after the last step reported before it). The server then records the
        exploit in the lineage where it was loaded, as for a blocking report (and keeps its donor
        checkpoint until a later report). ``_loaded_after`` is spent only by a report that was taken
        (``_loaded_sent``): one refused or never sent leaves it for the next."""
        loaded = self._loaded_after
        if loaded is not None and loaded[1] > step:
            # Armed again from a report refused at a step the server does not hold (``_deliver_error``),
            # and this step is below it: the server takes a load after this report's step at most.
            loaded = (loaded[0], step)
        if restore is not None:
            loaded = (restore.checkpoint, step)
        if loaded is None:
            return payload
        return {**(payload or {}), "pbt_loaded": {"checkpoint": loaded[0], "after_step": loaded[1]}}

    def _loaded_sent(self, payload: dict[str, Any] | None) -> None:
        """A report carrying ``payload`` was taken (answered, or queued to be sent): its
        ``pbt_loaded`` said where the exploit was loaded, so ``flush_reports``'s marker is spent."""
        if payload is not None and "pbt_loaded" in payload:
            self._loaded_after = None

    def _wait_reports(self) -> None:
        if self._report_seq:
            self.study.client._wait_reports(self._report_seq)
            self._report_seq = 0

    def _deliver(self, result: Mapping[str, Any], *, step: float | None = None) -> None:
        """Background thread: the answer to the non-blocking report of ``step``."""
        if self._unstored_steps:
            with self._lock:
                self._unstored_steps.discard(step)  # refused before, taken now (a server with a larger limit)
        try:
            decision = Decision.from_wire(result["decision"])
        except (TuneportError, KeyError, TypeError) as err:
            self._deliver_error(err if isinstance(err, TuneportError) else TuneportError("MALFORMED_MESSAGE", str(err)))
            return
        with self._lock:
            self._delivered.append(decision)

    def _deliver_error(self, err: Exception, *, quiet: bool = False, step: float | None = None, loaded: Any = None) -> None:
        """Background thread: the non-blocking report of ``step`` failed; the next ``report`` raises ``err``.
        ``quiet``: the background thread already warned (a report dropped behind an outage).
        ``loaded``: the ``pbt_loaded`` marker that report carried, armed again for the next report
        (``_loaded_after``) unless one is armed already: spent when it was queued, it was lost with a
        refusal (or an outage), and the server counted the exploit from the step that decided it, not
        from where the loop loaded it (the next interval one report early: a second exploit at once).
        One the server took already (an outage's report may have been stored) it ignores the second time.
        An error that ends the trial for this worker (lost lease, finished or deleted elsewhere)
        is warned once per trial, not once per report queued behind it; a lost lease not at all
        when a heartbeat already warned of it."""
        if isinstance(err, FailedPreconditionError) and not isinstance(err, UpdateFinishedTrialError):
            # A report on a trial finished elsewhere: what a blocking report raises (``_call``), Optuna's
            # UpdateFinishedTrialError (a RuntimeError), not the bare wire error.
            err = UpdateFinishedTrialError(err.message, err.data)
        if self._note_full(err):
            # Every report queued behind the first refused one is refused the same way: one warning.
            with self._lock:
                if step is not None:
                    self._unstored_steps.add(float(step))
                quiet = "max_intermediate" in self._warned_codes or quiet
                self._warned_codes.add("max_intermediate")
        if isinstance(err, TimeoutError) and step is not None:
            # An outage: dropped unsent, or sent and never answered (stored or not: the server's
            # copy says, study.trial(n).intermediate_values). Not kept as if it were stored.
            with self._lock:
                self._unstored_steps.add(float(step))
        if isinstance(err, LeaseLostError):
            quiet = not self._mark_lost(err) or quiet
        elif isinstance(err, (FailedPreconditionError, NotFoundError)):
            self.study.client._forget(self)
            with self._lock:
                quiet = err.code in self._warned_codes or quiet
                self._warned_codes.add(err.code)
        if not quiet:
            log.warning("non-blocking report of trial %d of '%s' failed: %s", self.number, self.study.name, err)
        with self._lock:
            if self._deferred_error is None:
                self._deferred_error = err
            if isinstance(loaded, Mapping) and self._loaded_after is None:
                self._loaded_after = (str(loaded["checkpoint"]), float(loaded["after_step"]))

    def _note_full(self, err: Exception) -> bool:
        """Notes ``err`` when it is the server's per-trial limit on intermediate values; True then."""
        if isinstance(err, InvalidArgumentError) and isinstance(err.data, Mapping) and err.data.get("reason") == "max_intermediate":
            self._intermediate_full = True
            return True
        return False

    def _apply_decision(self, decision: Decision) -> None:
        if decision.budget is not None:
            self.budget = decision.budget
        if decision.action == "update":
            self._params.update(_typed_params(decision.params, self._distributions))
            if decision.restore is not None:
                self.restore = decision.restore
        elif decision.action == "prune":
            self._prune_requested = True

    def _apply_delivered(self, *, raise_on_prune: bool, raise_error: bool, keep: bool = False, stop_at_exploit: bool = False) -> Decision | None:
        """Applies, in order, the decisions non-blocking reports received since the last call, and
        returns them with those applied earlier and not returned yet (``_unreturned``) combined
        (``_combined``), or None; ``keep`` returns nothing and keeps them for the next call that
        returns. ``restore`` is the last exploit's among them. @raises the first deferred error
        (``raise_error``), then TrialPruned (``raise_on_prune``) for a prune among them that nobody
        was given yet. A decision is dropped by neither: what was applied stays in ``_unreturned``
        until a call returns it (a prune, until a call returns or raises it, or ``should_prune()``
        says True), so the error a queued report got never hides a decision that came with it.
        ``stop_at_exploit`` (``should_prune()``): with no prune among them, the first exploit (an
        ``update`` with a ``restore``) and those after it are left undelivered for the next call that
        returns, which applies its params and sets ``restore`` together: applied here, the params
        changed at once while the donor's weights came with the next report, and the loop trained
        a step with the donor's params on its own weights.
        @raises ClientClosedError in a forked child, before touching ``_lock`` (see ``Client._check_process``)."""
        self.study.client._check_process()
        if self._unstored_steps:
            self._drop_unstored_steps()
        if self._delivered or self._deferred_error is not None:
            with self._lock:
                delivered, self._delivered = self._delivered, []
                if stop_at_exploit and not any(d.action == "prune" for d in delivered):
                    cut = next((i for i, d in enumerate(delivered) if d.action == "update" and d.restore is not None), len(delivered))
                    delivered, self._delivered = delivered[:cut], delivered[cut:]
                err = self._deferred_error if raise_error else None
                if raise_error:
                    self._deferred_error = None
            for d in delivered:
                self._apply_decision(d)
            if delivered:
                self._unreturned.extend(delivered)
                self.restore = _combined(self._unreturned).restore
            if err is not None:
                raise err
        prune = next((d for d in self._unreturned if d.action == "prune"), None)
        if raise_on_prune and prune is not None:
            self._prune_delivered()
            raise TrialPruned(prune.reason or f"trial {self.number} pruned (decided in the background)")
        return None if keep else self._take_unreturned()

    def _drop_unstored_steps(self) -> None:
        """Takes the steps the server refused at its limit, or an outage ended (``_unstored_steps``), out of
        ``intermediate``, in place (the training loop's thread, which alone appends to it)."""
        with self._lock:
            refused, self._unstored_steps = self._unstored_steps, set()
        self.intermediate[:] = [(s, v) for s, v in self.intermediate if s not in refused]

    def _take_unreturned(self) -> Decision | None:
        """The decisions applied and not returned yet, combined, or None; none are kept after.
        ``restore`` is then what is returned (None with nothing), as after a blocking report: an
        exploit already returned is not loaded again because a later report got no answer yet."""
        latest, self._unreturned = (_combined(self._unreturned) if self._unreturned else None), []
        self.restore = latest.restore if latest is not None else None
        return latest

    def _prune_delivered(self) -> None:
        """The prune among ``_unreturned`` reached the loop (``TrialPruned``, or ``should_prune()``
        True): it stays a ``continue`` there, whose exploit and released checkpoints the next
        report still returns, and ``complete`` does not apply it again."""
        self._unreturned = [d if d.action != "prune" else Decision("continue", d.budget, None, {}, None, d.delete_checkpoints)
                            for d in self._unreturned]  # fmt: skip

    @property
    def rung(self) -> int | None:
        """The rung the scheduler placed this trial in (ASHA promotion mode), else None."""
        v = self._start.get("rung")
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    @property
    def bracket(self) -> int | None:
        """The Hyperband/BOHB bracket of this trial, else None."""
        v = self._start.get("bracket")
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    @property
    def resume_from(self) -> int | None:
        """ASHA promotion mode: the number of the trial this one continues (same params, one rung
        higher). Load that trial's checkpoint, then train from ``resume_budget`` to ``budget``.
        None for a new configuration (train from scratch)."""
        v = (self._start.get("resume_from") or {}).get("trial")
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    @property
    def resume_budget(self) -> float | None:
        """ASHA promotion mode: the budget ``resume_from`` trained to (where this trial resumes), else None."""
        v = (self._start.get("resume_from") or {}).get("budget")
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    @property
    def lease_lost(self) -> bool:
        """True once the server said the lease is gone; ``report`` and ``complete`` then raise LeaseLostError."""
        return self._lost is not None

    def _mark_lost(self, err: LeaseLostError) -> bool:
        """Records the lost lease (the first error is kept); True when it was not lost before."""
        with self._lock:
            first = self._lost is None
            if first:
                self._lost = err
        self.study.client._forget(self)
        return first

    def _call(
        self, op: str, args: dict[str, Any], *, hurry: bool = False, outage_budget_s: float | None = None, reports_by: float | None = None
    ) -> Any:
        """Sends ``op`` for this trial. ``hurry`` (the last word of a trial that Ctrl-C ends): waits
        at most INTERRUPTED_WAIT_S (or until ``reports_by``, monotonic) for the queued reports, and
        INTERRUPTED_WAIT_S for a server that is away; if it does
        not come back in that time, the lease runs out on the server and finishes the trial.
        Queued reports still unanswered after that wait are dropped first (``_Background.abandon``):
        sent after this request they would reach a finished trial and be refused, and closing the
        client would wait for them while the server stays away."""
        lost = self._lost
        if lost is not None:
            raise self._lost_error(lost)
        full = {"study": self.study.name, "trial": self.number, "token": self.lease.token, **args}
        if self._report_seq:
            # Whatever is sent on this trial goes after its queued non-blocking reports.
            if not hurry:
                self._wait_reports()
            else:
                wait = INTERRUPTED_WAIT_S if reports_by is None else max(0.0, reports_by - time.monotonic())
                if not self.study.client._wait_reports(self._report_seq, wait):
                    unsent = self.study.client._abandon_reports(self)
                    log.warning(
                        "trial %d of '%s': the server did not answer its non-blocking reports within %gs of the "
                        "interrupt: %d queued report(s) dropped unsent (one already sent may still be stored)",
                        self.number, self.study.name, INTERRUPTED_WAIT_S, unsent,
                    )  # fmt: skip
                self._report_seq = 0
        try:
            return self.study.client._call(op, full, outage_budget_s=INTERRUPTED_WAIT_S if hurry else outage_budget_s, hurry=hurry)
        except LeaseLostError as err:
            self._mark_lost(err)
            again = None if hurry else self._created_again(err)
            if again is not None:
                raise LeaseLostError(again, err.data) from err
            raise
        except FailedPreconditionError as err:
            # Finished elsewhere: no point renewing it any more. Anything but a tell on a finished
            # trial is Optuna's UpdateFinishedTrialError (a RuntimeError); tell keeps its own errors.
            self.study.client._forget(self)
            if op != "tell" and not isinstance(err, UpdateFinishedTrialError):
                raise UpdateFinishedTrialError(err.message, err.data) from err
            raise
        except NotFoundError as err:
            # Deleted: no point renewing it any more.
            self.study.client._forget(self)
            if (err.data or {}).get("trial") is None:
                # The study itself is gone, and this trial was handed out by it: "no study named
                # 'x'" read as a typo in the worker's script, not as a delete while it trained.
                raise NotFoundError(
                    f"study '{self.study.name}' was deleted while its trial {self.number} ran here (delete_study); "
                    f"the trial's results went with it: {err.message}",
                    err.data,
                ) from err
            again = None if hurry else self._created_again(err)
            if again is not None:
                raise NotFoundError(again, err.data) from err
            raise

    def _created_again(self, err: NotFoundError | LeaseLostError) -> str | None:
        """The error to raise when this trial's study was deleted and another created under its
        name since it was asked (an agent starting over), else None. The request reached the new
        study, which has no trial of this number ("no trial 1", read as a bug in the worker) or
        one another worker holds ("leased to another worker")."""
        loaded = self.study._created_at
        if not loaded:
            return None
        try:
            now = float(self.study.client._call("get_study", {"study": self.study.name})["study"].get("created_at") or 0)
        except TuneportError:
            return None
        if not now or abs(now - loaded) < 0.0005:
            return None
        return (
            f"study '{self.study.name}' was deleted and created again while its trial {self.number} ran here; "
            f"the trial's results went with the old study (load the study again to work on the new one): {err.message}"
        )

    def __repr__(self) -> str:
        return f"Trial(study={self.study.name!r}, number={self.number}, state={self.state}, params={self._params!r})"

    # ------------------------------------------------------------------ define-by-run

    @_one_call_at_a_time
    def _suggest(self, name: str, dist: Distribution) -> Any:
        if type(dist) not in (Float, Int, Categorical):
            # Optuna 2's classes (tuneport.distributions.UniformDistribution...), subclasses of
            # Float and Int: a trial uses the Float or Int they stand for, as Optuna converts them.
            dist = distribution_from_wire(dist.to_wire())
        first = self._suggested.get(name)
        if first is not None:
            _check_compatible(name, first, dist)
        prev = self._distributions.get(name)
        if prev is not None and prev.to_wire() != dist.to_wire():
            from ._client import _user_stacklevel  # (a cycle at import time)

            # Optuna's RuntimeWarning and words (pytest.warns and filterwarnings("error") see it).
            warnings.warn(
                f'Inconsistent parameter values for distribution with name "{name}"! This might be a configuration '
                f"mistake: trial {self.number} of '{self.study.name}' already suggested '{name}' from {prev!r}; its "
                f"first value is returned for {dist!r} (as Optuna)",
                RuntimeWarning,
                stacklevel=_user_stacklevel(),  # the suggest_* call (3 named the turn's line, _one_call_at_a_time)
            )
        if name in self._params and self.state in ("COMPLETE", "FAIL", "PRUNED"):
            # Told: the server refuses a suggest now. A parameter the trial has is answered here, as
            # Optuna's finished trial returns it (code that rebuilds the model from the trial after
            # the tell); a new one raises UpdateFinishedTrialError there as here. Of another kind,
            # it raises as the server would have while the trial ran (one of the study's space was
            # never checked above: suggest_int truncated a float, suggest_categorical returned it).
            if prev is not None:
                _check_compatible(name, prev, dist, whence="is {old} in this trial")
            return self._params[name]
        where = f"trial {self.number} of '{self.study.name}'"
        fixed = (self.system_attrs.get("fixed_params") or {}).get(name, _MISSING)
        _check_enqueued_choice(where, name, dist, fixed)
        remember_categorical(self.study.name, name, dist)
        value = _typed_value(self._call("suggest", {"name": name, "distribution": dist.to_wire()})["value"], dist)
        if fixed is not _MISSING and fixed != value:
            from ._client import _user_stacklevel  # (a cycle at import time)

            # A Python UserWarning (pytest.warns and filterwarnings("error") see it; a log record did not).
            warnings.warn(_replaced_message(where, name, dist, fixed, value), UserWarning, stacklevel=_user_stacklevel())
        first_here = name not in self._distributions
        self._params[name] = value
        # A repeat returns the first value, so the first distribution stays the one it came from (Optuna).
        self._distributions.setdefault(name, dist)
        self._suggested.setdefault(name, dist)
        if first_here and len(self._params) > len(self._distributions):
            # Suggestion order, as Optuna's params: an enqueued trial's params came in the queue's order
            # (``{'m':..,'z':..}`` for a trial suggesting z, a, m), the values not suggested yet after.
            # Only while such values wait: otherwise the new name is last already (no O(n) per suggest).
            self._params = {**{k: self._params[k] for k in self._distributions if k in self._params}, **self._params}
        return value

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None, log: bool = False) -> float:
        """The value of float parameter ``name`` for this trial (drawn by the study's strategy on first use).
        A parameter the study does not declare may take another range in another trial (Optuna's
        dynamic search space); in the same trial a repeat returns the first value, with a warning when
        the range differs (another kind, log scale or choice list is ``InvalidArgumentError``, as in
        Optuna). @raises InvalidArgumentError when ``name`` is declared with another distribution."""
        return float(self._suggest(name, Float(low, high, log=log, step=step)))

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1, log: bool = False) -> int:
        """The value of int parameter ``name`` (``low`` and ``high`` included). See ``suggest_float``."""
        return int(self._suggest(name, Int(low, high, log=log, step=None if log and step == 1 else step)))

    def suggest_categorical(self, name: str, choices: Sequence[Scalar]) -> Scalar:
        """One of ``choices`` (a list, tuple or 1-d numpy array; numpy scalars come back as Python
        values) for parameter ``name``. Each choice once: the server cannot hold a repeat, which
        Optuna accepts (``InvalidArgumentError`` names the distinct list). See ``suggest_float``."""
        value: Scalar = self._suggest(name, Categorical(choices))
        return value

    # ------------------------------------------------------------------ reporting

    @overload
    def report(
        self,
        value: float,
        step: float,
        data: Mapping[str, Any] | None = None,
        *,
        hypergradients: Mapping[str, Any] | None = None,
        raise_on_prune: bool | None = None,
        wait: Literal[True] = True,
    ) -> Decision: ...

    @overload
    def report(
        self,
        value: float,
        step: float,
        data: Mapping[str, Any] | None = None,
        *,
        hypergradients: Mapping[str, Any] | None = None,
        raise_on_prune: bool | None = None,
        wait: bool,
    ) -> Decision | None: ...

    def report(
        self,
        value: float,
        step: float,
        data: Mapping[str, Any] | None = None,
        *,
        hypergradients: Mapping[str, Any] | None = None,
        raise_on_prune: bool | None = None,
        wait: bool = True,
    ) -> Decision | None:
        """Records intermediate ``value`` at ``step`` (Optuna's order) and returns the scheduler's
        decision, in the same reply.

        ``step`` is in your units (epoch, iteration, seconds…): finite, >= 0 and increasing.
        Repeating the last step with the same value is harmless (returns a fresh decision, stores
        nothing); a step already reported with another value is ignored with a ``UserWarning``, as
        in Optuna (the value stays the first one); a lower step not reported yet is ``InvalidArgumentError``.
        A trial holds at most the server's ``--max-intermediate`` values (100,000 by default): a
        report of a new step past it raises ``InvalidArgumentError`` (``data["reason"] ==
        "max_intermediate"``), nothing stored. The limit the server's ``hello`` gave
        (``client.limits["max_intermediate"]``) makes a report past it wait for its answer, whatever
        ``wait``, so its refusal is raised by that call (with a server that does not say it, older
        than 2026-12-06, a ``wait=False`` refusal is raised by the next
        report, warned of once, and the refused steps leave ``intermediate`` then); later reports of the trial then wait for their answer, whatever
        ``wait``, so each one refused raises at once (one a server restarted with a larger limit
        takes goes on as usual); the trial can still be told.
        ``value`` may be NaN (a diverged run): it is stored, and schedulers treat it as the worst
        value, so such a trial is usually pruned at its next rung. Infinity is stored as is.

        It updates ``budget`` when the decision carries one; on ``update`` it applies the new
        params to ``params`` and sets ``restore`` (None unless the decision carries one). On
        ``prune`` it makes ``should_prune()`` True and, inside ``with trial:`` or ``optimize``,
        raises ``TrialPruned`` (``raise_on_prune`` None, the default; True raises anywhere, False
        never). Outside such a block it returns the prune decision, as Optuna's ``report`` does
        not raise: check ``should_prune()`` and tell PRUNED (Optuna's ask-and-tell loop).
        ``hypergradients`` (name → dvalue/dparam, numbers or 0-d tensors) is sent as
        ``data["hypergradients"]`` for the ``hypergradient`` strategy, whose reply is an ``update``
        with the new values (see ``tuneport.hypergrad``); each name must be a float parameter of
        this trial that the strategy tunes (its ``params`` option, when set), or
        ``InvalidArgumentError`` names those that are (the server would ignore it). The server
        refuses them with ``InvalidArgumentError`` (storing nothing) when the study's strategy does
        not read them; a trial's first report carrying them therefore waits for its reply even
        with ``wait=False``, so that refusal is raised by that call.

        ``wait=False`` (non-blocking) queues the report for the client's background thread and
        returns at once, without a round trip and without waiting for the server or for another
        thread's call on this trial: made while another thread is in such a call (a blocking report
        waiting out an outage), it is queued when that call ends, applies nothing and returns None;
        made while another thread tells the trial, it raises UpdateFinishedTrialError at once
        (``_order``, ``_telling``). The decision it gets is applied at this trial's next ``report`` (either kind)
        or ``should_prune()`` (an exploit, params and ``restore``, at the next report only): that
        call applies, in order, every decision
        received since the last one and returns them combined (the latest, but an ``update`` with
        the last exploit's ``restore`` when any was one, and every released checkpoint in
        ``delete_checkpoints``; a blocking report combines them with its own decision; None when
        none arrived yet; ``restore`` is then the returned decision's, None with None), raising
        ``TrialPruned`` if one of them was prune, or the error a queued report got (LeaseLostError,
        InvalidArgumentError...). Queued reports are sent in order, each with its request id fixed
        when queued, so a resend is never applied twice; anything else sent for this trial
        (a blocking report, ``complete``...) waits for them first. See ``flush_reports``.

        @raises TrialPruned when the decision is prune (see ``raise_on_prune``).
        @raises UpdateFinishedTrialError (a FailedPreconditionError) when the trial is finished (COMPLETE, PRUNED or FAIL),
        checked here before anything is sent when this object was told; the server says the
        same for a trial finished elsewhere, and while another thread tells it. @raises LeaseLostError.
        @raises InvalidArgumentError."""
        if self._telling:
            raise self._refused_while_told()
        if wait:
            return self._report_in_turn(value, step, data, hypergradients, raise_on_prune, True)
        if self._order.acquire(blocking=False):
            return self._run_in_turn(lambda: self._report(value, step, data, hypergradients, raise_on_prune, False))
        # Another thread is in a call on this trial (maybe waiting out an outage): not waited for.
        # Or a thread of the parent held it when this process forked: ClientClosedError here.
        self.study.client._check_process()
        return self._report_beside(value, step, data, hypergradients, raise_on_prune)

    def _refused_while_told(self) -> UpdateFinishedTrialError | LeaseLostError:
        """The gate (``_telling``) stays closed after a tell that finished the trial or lost its
        lease: then what a report said before it, not a tell by another thread (there may be none)."""
        if self.state in ("COMPLETE", "FAIL", "PRUNED"):
            return UpdateFinishedTrialError(
                f"trial {self.number} of '{self.study.name}' is {self.state}; report after the trial finished",
                {"study": self.study.name, "trial": self.number, "state": self.state},
            )
        lost = self._lost
        if lost is not None:
            return self._lost_error(lost)
        return UpdateFinishedTrialError(
            f"trial {self.number} of '{self.study.name}' is being told by another thread; report before the tell",
            {"study": self.study.name, "trial": self.number, "state": str(self.state), "telling": True},
        )

    def _lost_error(self, lost: LeaseLostError) -> LeaseLostError:
        """The error a call on this trial raises once its lease was lost (``lost``, as first heard)."""
        return LeaseLostError(f"trial {self.number} of '{self.study.name}' lost its lease: {lost.message}", lost.data)

    def _run_in_turn(self, call: Callable[[], _R]) -> _R:
        """Runs ``call`` in this trial's turn (``_order``, taken by the caller): the reports put
        ``_beside`` are queued first, and the turn ends (``_end_turn``) however ``call`` ends,
        interrupted unless it returned or raised an ``Exception``."""
        ended = False
        try:
            if self._beside:
                self._submit_beside()
            out = call()
            ended = True
            return out
        except Exception:
            ended = True
            raise
        finally:
            self._end_turn(interrupted=not ended)

    def _end_turn(self, *, interrupted: bool = False) -> None:
        """Releases ``_order``; queues the reports put ``_beside`` meanwhile (one made after the
        check by another holder's, or by the reporter itself, which tries the lock after putting it).
        ``interrupted`` (the call ends in Ctrl-C): only where the queue has room now; the rest stay
        put aside for the trial's next call (the with-block's FAIL drops them, named). Waiting for
        room there, a Ctrl-C'd report waited as long as the server stayed away (for ever with an
        infinite outage budget) before the interrupt went on (tests/test_interrupted_full_queue.py)."""
        self._order.release()
        deadline = time.monotonic() if interrupted else None
        while self._beside and self._order.acquire(blocking=False):
            try:
                if not self._submit_beside(deadline):
                    return
            finally:
                self._order.release()

    def _submit_beside(self, deadline: float | None = None) -> bool:
        """``_order``'s holder: queues the reports put ``_beside``, in order, each taken out only once
        queued (False in a forked child, where they are the parent's and nothing is sent; and once
        the client is closed, when they are dropped with a warning that names them: ``_drop_beside``).
        When queueing one raises (Ctrl-C while it waits for room), it and those after it stay.
        ``deadline`` (monotonic): the queue's room is waited for until then at most; False when it
        came first, that report and those after it left put aside."""
        client = self.study.client
        if client._pid != os.getpid():
            return False
        while True:
            if client._closed:
                self._drop_beside("the client was closed before the call they waited behind ended")
                return False
            with self._lock:
                if not self._beside:
                    return True
                entry = self._queueing = self._beside[0]
            message, step, value = entry
            try:
                seq = client._submit_report(self, message) if deadline is None else client._submit_report(self, message, deadline=deadline)
            except BaseException as err:
                with self._lock:
                    self._queueing = None
                if deadline is not None and isinstance(err, TimeoutError):
                    return False  # no room in time: left put aside
                if not isinstance(err, ClientClosedError):
                    raise
                # close() stopped the queue while this one waited for room in it, or just before
                # (this call ended while close drained the queue). Raised, it ended this call in
                # ClientClosedError, though the call's own request was answered.
                self._drop_beside("the client was closed before they could be queued")
                return False
            self._report_seq = seq
            with self._lock:  # one step at a time: a report put aside meanwhile sees it in either place
                self._queueing = None
                if not self.intermediate or self.intermediate[-1][0] < step:
                    self.intermediate.append((step, value))
                self._beside.popleft()  # still first: ``_drop_beside`` leaves the one being queued

    def _drop_beside(self, why: str) -> int:
        """Drops the reports put ``_beside`` that will not be queued, with a warning that says which
        (they were dropped in silence: a closed client, a hurried tell); how many. One that the
        holder of ``_order`` is queueing now (``_queueing``) stays, for it to take out once queued."""
        with self._lock:
            beside = self._beside
            keep = self._queueing is not None and bool(beside) and beside[0] is self._queueing
            self._beside = deque([beside.popleft()]) if keep else deque()
            dropped = list(beside)
        if dropped:
            steps = ", ".join(f"{step:g}" for _, step, _ in dropped[:10]) + (", ..." if len(dropped) > 10 else "")
            log.warning(
                "trial %d of '%s': %d non-blocking report(s) put aside behind another thread's call on the trial "
                "were not sent (steps %s): %s",
                self.number, self.study.name, len(dropped), steps, why,
            )  # fmt: skip
        return len(dropped)

    def _report_beside(
        self, value: float, step: float, data: Mapping[str, Any] | None, hypergradients: Mapping[str, Any] | None, raise_on_prune: bool | None
    ) -> Decision | None:
        """``report(..., wait=False)`` while another thread holds ``_order``: builds the request and
        puts it ``_beside`` (the holder queues it) under ``_lock`` only; applies nothing and returns
        None (the decisions that arrived are the next call's to apply and return). One that has to
        wait for its answer (see ``report``), or with MAX_PENDING_REPORTS put aside already, takes
        its turn as a blocking report does. PBT: marked blind, as it does not see the decision of
        the holder's report (``_report_later``)."""
        beside = self._beside
        if beside:
            # A repeat of a step put aside (or of an earlier one): as when queued, the last report
            # again, its value ignored. Looked for among the queued steps only, it went with its own
            # value: refused by the server, the trial's next call raised InvalidArgumentError.
            s = _number(step, "step")
            if s <= beside[-1][1] and (any(b[1] == s for b in beside) or any(ps == s for ps, _ in self.intermediate)):
                step, value = self._repeated_step(s, _number(value, "value"), last=(beside[-1][1], beside[-1][2]))
        s, v, payload, raise_on_prune, wait, past = self._prepared(value, step, data, hypergradients, raise_on_prune, False)
        last = self._beside[-1][1] if self._beside else (self.intermediate[-1][0] if self.intermediate else None)
        if wait or len(self._beside) >= _background.MAX_PENDING_REPORTS:  # read now: a test sets it
            return self._send_in_turn(s, v, payload, raise_on_prune, True, past, hypergradients)
        def out_of_order(last: float) -> InvalidArgumentError:
            return InvalidArgumentError(
                f"trial {self.number} already reported step {last:g}; steps must increase (got {s:g})",
                {"study": self.study.name, "trial": self.number, "step": s, "last_step": last},
            )

        if last is not None and s < last:
            raise out_of_order(last)
        lost = self._lost
        if lost is not None:
            raise self._lost_error(lost)
        client = self.study.client
        if self._pbt_member or self.study._summary.strategy.get("name") in ("pbt", "pb2"):
            payload = {**(payload or {}), "pbt_blind": True, "pbt_nowait": True}
        args = {"study": self.study.name, "trial": self.number, "token": self.lease.token, "step": s, "value": v, "data": payload}
        message = make_request("report", args, version=client._version)
        if payload is not None:
            message = client._frozen(message)  # see _report_later
        with self._lock:
            if self._telling:
                raise self._refused_while_told()
            if client._closed:
                raise ClientClosedError("the client is closed")  # as a report queued on it (``_submit_report``)
            if self._beside and s < self._beside[-1][1]:
                # Put aside by another thread since the look above: sent after it, the server refused
                # it, and some later call on the trial raised that (``_report_later`` refuses it here).
                raise out_of_order(self._beside[-1][1])
            self._beside.append((message, float(s), float(v)))
        # The holder may have ended its call before the report was put aside: then it is queued here.
        if self._order.acquire(blocking=False):
            self._run_in_turn(lambda: None)
        return None

    @_one_call_at_a_time
    def _report_in_turn(
        self, value: float, step: float, data: Mapping[str, Any] | None, hypergradients: Mapping[str, Any] | None, raise_on_prune: bool | None, wait: bool
    ) -> Decision | None:
        return self._report(value, step, data, hypergradients, raise_on_prune, wait)

    def _report(
        self, value: float, step: float, data: Mapping[str, Any] | None, hypergradients: Mapping[str, Any] | None, raise_on_prune: bool | None, wait: bool
    ) -> Decision | None:
        """``report`` in its turn (``_order`` held)."""
        s, v, payload, raise_on_prune, wait, past = self._prepared(value, step, data, hypergradients, raise_on_prune, wait)
        return self._send(s, v, payload, raise_on_prune, wait, past, hypergradients)

    def _prepared(
        self, value: float, step: float, data: Mapping[str, Any] | None, hypergradients: Mapping[str, Any] | None, raise_on_prune: bool | None, wait: bool
    ) -> tuple[float, float, dict[str, Any] | None, bool, bool, bool]:
        """``report``'s checks: (step, value, payload, raise_on_prune, wait, past the known limit)."""
        s = _number(step, "step")
        v = _number(value, "value")
        # Steps are reported in increasing order: only one not past the last can be a repeat (the
        # scan is off the hot path, which a report every step of a long run is).
        if self.intermediate and s <= self.intermediate[-1][0] and any(ps == s for ps, _ in self.intermediate):
            s, v = self._repeated_step(s, v)
        if raise_on_prune is None:
            raise_on_prune = self._scopes > 0
        if self.state in ("COMPLETE", "FAIL", "PRUNED"):
            raise UpdateFinishedTrialError(
                f"trial {self.number} of '{self.study.name}' is {self.state}; report after the trial finished",
                {"study": self.study.name, "trial": self.number, "state": self.state},
            )
        payload = dict(data) if data is not None else None
        if hypergradients is not None:
            self._check_hypergradient_names([str(k) for k in hypergradients])
            payload = payload or {}
            payload["hypergradients"] = {str(k): _number(g, f"hypergradient of {k!r}") for k, g in hypergradients.items()}
            # The server refuses hypergradients the study's strategy does not read: the first of the
            # trial waits for its answer, so that refusal is raised here, with nothing stored or queued.
            wait = wait or not self._hypergradients_taken
        if not payload or "checkpoint" not in payload:
            self.study._warn_pbt_without_checkpoint(self.number, s)
        # A trial the server refused a report of past its limit: each later report waits for its
        # answer (raised here if refused again; taken by a server restarted with a larger limit).
        # So does one past the limit the server's hello gave (client.limits), the first one included.
        past = self._past_known_limit(s)
        return s, v, payload, raise_on_prune, wait or self._intermediate_full or past, past

    @_one_call_at_a_time
    def _send_in_turn(
        self, s: float, v: float, payload: dict[str, Any] | None, raise_on_prune: bool, wait: bool, past: bool, hypergradients: Mapping[str, Any] | None
    ) -> Decision | None:
        if self._telling:
            raise self._refused_while_told()
        return self._send(s, v, payload, raise_on_prune, wait, past, hypergradients)

    def _send(
        self, s: float, v: float, payload: dict[str, Any] | None, raise_on_prune: bool, wait: bool, past: bool, hypergradients: Mapping[str, Any] | None
    ) -> Decision | None:
        """``report`` after its checks (``_prepared``), in its turn."""
        if not wait:
            return self._report_later(s, v, payload, raise_on_prune)
        if self._report_seq:
            self._wait_reports()
        # Kept (not returned) until this report's own decision comes: should it raise, they stay.
        self._apply_delivered(raise_on_prune=raise_on_prune, raise_error=True, keep=True)
        payload = self._with_loaded(payload, s, _combined(self._unreturned).restore if self._unreturned else None)
        try:
            # Past the limit the client knows, a server that is away gets a short look only
            # (RELEARN_LOOK_S), not the outage budget: it would refuse the report once back.
            result = self._call("report", {"step": s, "value": v, "data": payload}, outage_budget_s=RELEARN_LOOK_S if past else None)
        except InvalidArgumentError as err:
            self._note_full(err)
            raise
        except TimeoutError as err:
            if past and _never_reached(err):
                raise self._refused_past_known_limit(s) from err
            raise
        self._loaded_sent(payload)
        self._intermediate_full = False
        self._hypergradients_taken = self._hypergradients_taken or hypergradients is not None
        decision = Decision.from_wire(result["decision"])
        if not self.intermediate or self.intermediate[-1][0] != s:
            self.intermediate.append((float(s), float(v)))
            self._taken_past_known_limit()
        self._apply_decision(decision)
        # An exploit a non-blocking report got and nobody returned yet still has to be loaded.
        combined, self._unreturned = _combined([*self._unreturned, decision]), []
        self.restore = combined.restore
        if decision.action == "prune" and raise_on_prune:
            raise TrialPruned(decision.reason or f"trial {self.number} pruned at step {s}")
        return combined

    def _past_known_limit(self, step: float) -> bool:
        """Whether a report of a new ``step`` would be past the server's per-trial limit as
        ``client.limits`` knows it (``max_intermediate``, from ``hello``; absent from a server older
        than 2026-12-06, which makes this False). Such a report waits for its answer, so that a
        refusal is raised by it; it is never refused here unsent: a server restarted with a larger
        limit takes it (``_taken_past_known_limit``)."""
        limit = self.study.client.limits.get("max_intermediate")
        new = not self.intermediate or self.intermediate[-1][0] != step
        return isinstance(limit, int) and new and len(self.intermediate) >= limit

    def _refused_past_known_limit(self, step: float) -> InvalidArgumentError:
        """The refusal of a report past ``client.limits["max_intermediate"]`` that the server, away,
        could not take: the server's own refusal at that limit (``reason: "max_intermediate"``),
        made here, nothing sent, after a short look for the server (a restarted one with a larger
        limit takes the report)."""
        limit = self.study.client.limits.get("max_intermediate")
        err = InvalidArgumentError(
            f"trial {self.number} of '{self.study.name}' already holds {len(self.intermediate)} intermediate values, the "
            f"server's limit (client.limits['max_intermediate'] = {limit}, from its hello), and the server is unreachable "
            f"now: the report of step {step:g} was refused here, unsent (a server back with a larger limit takes the next one)",
            {"reason": "max_intermediate", "max_intermediate": limit, "study": self.study.name, "trial": self.number, "step": step},
        )
        self._note_full(err)
        return err

    def _taken_past_known_limit(self) -> None:
        """The server took a report that put this trial past ``client.limits["max_intermediate"]``:
        its limit is larger than the client knew (a restart, a failover), so the limits are asked
        again (once per known value: a server that still says it changes nothing more)."""
        client = self.study.client
        limit = client.limits.get("max_intermediate")
        if isinstance(limit, int) and len(self.intermediate) > limit and self._relearnt_at != limit:
            self._relearnt_at = limit
            client._relearn()

    def _check_hypergradient_names(self, names: Sequence[str]) -> None:
        """Refuses a hypergradient the server's ``hypergradient`` strategy would ignore (it only
        notes it in ``hg_warnings``, which nobody reads while training): a name that is not a float
        parameter of this trial (a misspelling, a categorical), or one that the strategy's
        ``params`` option leaves out (a misspelt entry there tunes nothing). A study whose strategy
        does not read hypergradients at all is the server's to refuse (it knows its plug-ins).
        @raises InvalidArgumentError naming the valid choices; nothing is sent."""
        floats = sorted(k for k, d in self._distributions.items() if isinstance(d, Float) and d.high > d.low)
        strategy = self.study.strategy
        options = strategy.get("options") if strategy.get("name") == "hypergradient" else None
        listed = options.get("params") if isinstance(options, Mapping) else None
        tuned = floats if not isinstance(listed, list) else [k for k in floats if k in listed]
        wrong = [n for n in names if n not in tuned]
        if not wrong:
            return
        why = f"the float parameters of this trial are {floats}"
        if isinstance(listed, list):
            missing = [k for k in listed if k not in floats]
            why = f"the study's hypergradient option params is {listed}, so it tunes {tuned} ({why}"
            why += f"; {missing} in params name no float parameter of this trial)" if missing else ")"
        todo = f"pass hypergradients only for {tuned}" if tuned else "nothing is tuned: correct the names in the option"
        raise InvalidArgumentError(
            f"hypergradients for {wrong} of trial {self.number} of '{self.study.name}' would be ignored: {why}; {todo}",
            {"study": self.study.name, "trial": self.number, "names": wrong, "valid": tuned},
        )

    def _repeated_step(self, step: float, value: float, last: tuple[float, float] | None = None) -> tuple[float, float]:
        """A report at a step already reported: as in Optuna, the value is ignored with a warning
        (a repeat of the last step with the same value is a plain repeat, without one), and the
        last report (``last``, one put ``_beside``) is sent again for a fresh decision (the server
        takes increasing steps only)."""
        last_step, last_value = last if last is not None else self.intermediate[-1]
        if step != last_step or not (value == last_value or (math.isnan(value) and math.isnan(last_value))):
            shown = int(step) if float(step).is_integer() else step
            from ._client import _user_stacklevel  # (a cycle at import time)

            # The user's line: a fixed level named one of this file (the turn, report's helpers).
            warnings.warn(f"The reported value is ignored because this `step={shown}` is already reported.", UserWarning, stacklevel=_user_stacklevel())
        return last_step, last_value

    def _report_later(self, step: float, value: float, payload: dict[str, Any] | None, raise_on_prune: bool) -> Decision | None:
        """``report(..., wait=False)``: applies what arrived, then queues this report."""
        if self.intermediate and step < self.intermediate[-1][0]:
            # Refused here, in the caller's thread: queued, the server refuses it later, and two
            # threads reporting one trial out of order logged a warning per report. Before anything
            # is applied: the decisions that arrived stay for the next report to return.
            last = self.intermediate[-1][0]
            raise InvalidArgumentError(
                f"trial {self.number} already reported step {last:g}; steps must increase (got {step:g})",
                {"study": self.study.name, "trial": self.number, "step": step, "last_step": last},
            )
        client = self.study.client
        # Made before the answer to an earlier report came: an exploit it decided is not seen yet, so
        # this report is no sign that its donor checkpoint was loaded (the server keeps it, and
        # decides nothing new for the trial, until one that is not blind; an older server ignores
        # the mark). Asked before the answers are applied: an answer arriving in between was
        # neither applied nor marked, and the server took the report as the sign of a load the loop
        # had not made (it released the donor checkpoint, and could decide a second exploit).
        pbt = self._pbt_member or self.study._summary.strategy.get("name") in ("pbt", "pb2")
        blind = bool(self._report_seq) and pbt and client._reports_pending(self._report_seq)
        # Kept, not taken, until this report is queued: whatever raises on the way (a lost lease, data
        # that cannot be packed, a closed client) leaves them for the next report to return.
        self._apply_delivered(raise_on_prune=raise_on_prune, raise_error=True, keep=True)
        lost = self._lost
        if lost is not None:
            raise self._lost_error(lost)
        payload = self._with_loaded(payload, step, _combined(self._unreturned).restore if self._unreturned else None)
        if blind:
            payload = {**(payload or {}), "pbt_blind": True}
        if pbt:
            # Its answer (an exploit) reaches the loop one call late: completed right after, the value
            # told is not the exploit's, whatever it is (the server takes the exploit back then).
            payload = {**(payload or {}), "pbt_nowait": True}
        args = {"study": self.study.name, "trial": self.number, "token": self.lease.token, "step": step, "value": value, "data": payload}
        message = make_request("report", args, version=client._version)
        if payload is not None:
            # Packed by the background thread later, ``data`` went as it was then (a list the loop
            # appended to meanwhile, a tensor updated in place); what could not be packed ended that
            # thread (heartbeats and reports stopped; every lease ran out), and what was over the
            # server's limit was raised one report late, the report lost.
            message = client._frozen(message)
        self._report_seq = client._submit_report(self, message)
        self._loaded_sent(payload)
        if not self.intermediate or self.intermediate[-1][0] != step:
            self.intermediate.append((float(step), float(value)))
        return self._take_unreturned()

    def trajectory(self) -> list[TrajectoryPoint]:
        """This trial's hyperparameter trajectory as the server recorded it (see ``Study.trajectory``)."""
        return self.study.trajectory(self.number)

    def lineage(self) -> Lineage:
        """The hyperparameter schedule that produced this trial's model so far (PBT)."""
        return self.study.lineage(self.number)

    def set_user_attrs(self, attrs: Mapping[str, Any]) -> None:
        """Merges ``attrs`` into the trial's user attributes on the server.
        @raises UpdateFinishedTrialError once this trial was told, as Optuna's ``set_user_attr``
        (the server itself still accepts it: an agent may annotate a finished trial through MCP's
        ``set_user_attrs``)."""
        if self.state in ("COMPLETE", "FAIL", "PRUNED"):
            raise UpdateFinishedTrialError(
                f"trial {self.number} of '{self.study.name}' is {self.state}; set its user attributes before it is told",
                {"study": self.study.name, "trial": self.number, "state": str(self.state)},
            )
        result = self.study.client._call(
            "set_user_attrs", {"study": self.study.name, "trial": self.number, "attrs": json_attrs(attrs)}
        )
        self._user_attrs = dict(result["trial"].get("user_attrs") or {})

    def set_user_attr(self, key: str, value: Any) -> None:
        """Sets one user attribute on the server (Optuna's ``trial.set_user_attr``); ``value``
        must be MessagePack-able (numbers, strings, lists, dicts)."""
        self.set_user_attrs({key: value})

    # ------------------------------------------------------------------ telling

    def _tell(
        self,
        state: str,
        value: float | None,
        reason: str | None,
        user_attrs: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None = None,
        *,
        hurry: bool = False,
    ) -> None:
        self.study.client._check_process()
        # Its turn (``_order``); after Ctrl-C (``hurry``) for a moment at most: the interrupt wins.
        taken = self._order.acquire(timeout=INTERRUPTED_WAIT_S) if hurry else self._order.acquire()
        # Hurried, one second for the reports: room in the queue for those put aside, then their answers.
        reports_by = time.monotonic() + INTERRUPTED_WAIT_S if hurry else None
        try:
            try:
                # In the try: a gate left closed when it raises (Ctrl-C while a report put aside waits
                # for room in the queue) refused every later report as "being told by another thread".
                self._close_gate(mine=taken, until=reports_by)
                self._tell_now(state, value, reason, user_attrs, extra, hurry=hurry, reports_by=reports_by)
            finally:
                self._reopen_gate()
        finally:
            if taken:
                self._end_turn(interrupted=hurry)

    def _close_gate(self, *, mine: bool = True, until: float | None = None) -> None:
        """A tell begins: reports made from now on raise UpdateFinishedTrialError (``_telling``);
        those put ``_beside`` before are queued now, so that the tell waits for them. Not ``mine``
        (a hurried tell that did not get its turn): they are dropped, as the queued reports that
        the server does not answer within INTERRUPTED_WAIT_S are. ``until`` (a hurried tell's, monotonic):
        those the full queue has no room for by then are dropped too, named; the tell waited for room
        as long as the server stayed away, for ever with an infinite outage budget."""
        self.study.client._check_process()  # before ``_lock``: one a thread of the parent held is held for ever in a child
        with self._lock:
            self._telling = True
        if not mine:
            self._drop_beside("the trial is told FAIL after an interrupt, and another thread still held its turn")
        elif self._beside and not self._submit_beside(until) and until is not None:
            self._drop_beside(
                f"the trial is told FAIL after an interrupt, and the queue of non-blocking reports had no room for them "
                f"within {INTERRUPTED_WAIT_S:g}s (the server is slow or away)"
            )

    def _reopen_gate(self) -> None:
        """The tell failed with the trial still running (the server away...): reports are taken again.
        Not in a forked child, where the gate was never closed (``_close_gate`` refused first) and
        ``_lock`` may be held for ever by a thread of the parent."""
        if self.study.client._pid != os.getpid():
            return
        if not self.finished:
            with self._lock:
                self._telling = False

    def _tell_now(
        self,
        state: str,
        value: float | None,
        reason: str | None,
        user_attrs: Mapping[str, Any] | None,
        extra: Mapping[str, Any] | None,
        *,
        hurry: bool,
        reports_by: float | None = None,
    ) -> None:
        args: dict[str, Any] = {"state": state, "value": value, "reason": reason, **(extra or {})}
        if user_attrs is not None:
            args["user_attrs"] = json_attrs(user_attrs)
        result = self._call("tell", args, hurry=hurry, reports_by=reports_by)
        view = result["trial"]
        self._view = view
        self.state = trial_state(view["state"])
        self.value = _float_or_none(view.get("value"))
        self.values = _floats_or_none(view.get("values"))
        self._user_attrs = dict(view.get("user_attrs") or {})
        self.system_attrs = dict(view.get("system_attrs") or {})
        # The stored params: PBT gives a finished member back the params its value was trained with
        # when its last exploit took effect on nothing it reported or told (``pbt_not_loaded``). A value
        # the server dropped (an enqueued one never suggested) stays here, as before.
        self._params.update(_typed_params(view.get("params"), self._distributions))
        self.study.client._forget(self)

    @property
    def constraints(self) -> dict[str, float]:
        """The constraint values given with ``set_constraint`` so far, by name (Optuna 5's
        ``Trial.constraints``)."""
        return dict(self._named_constraints)

    def set_constraint(self, key: str, value: float) -> None:
        """Optuna 5's ``trial.set_constraint``: a constraint value, ``c <= 0`` satisfied, told with
        the trial's COMPLETE result (``complete``, ``study.tell``, the end of an ``optimize``
        objective) as its ``constraints`` list: the names are not stored, their values are told in
        the names' order (names of digits as numbers, then alphabetically), so give every trial
        the same names (a trial whose names differ from an earlier one's in this process is
        refused at its tell). A name set again is ignored with Optuna's warning.
        @raises TypeError (not a number), ValueError (NaN), UpdateFinishedTrialError (finished; a
        ``FailedPreconditionError`` and, as Optuna's, a ``RuntimeError``)."""
        if self.finished:
            raise UpdateFinishedTrialError(
                f"trial {self.number} of '{self.study.name}' is {self.state}; set_constraint before it is told",
                {"study": self.study.name, "trial": self.number},
            )
        _set_named_constraint(self._named_constraints, str(key), value)

    @_one_call_at_a_time
    def complete(
        self,
        value: float | Sequence[float],
        *,
        constraints: Sequence[float] | None = None,
        user_attrs: Mapping[str, Any] | None = None,
    ) -> None:
        """Finishes the trial with its objective ``value``, or in a multi-objective study with one
        finite value per objective in the order of the study's ``directions``
        (``trial.complete([accuracy, size])``). ``constraints`` are Optuna's constraint values:
        ``c <= 0`` is satisfied, and the study's first COMPLETE trial fixes how many there are
        (without them, those given to ``set_constraint``). A
        NaN or infinite one-objective value (a diverged run) is accepted by strategies that complete
        diverged runs (``pbt``, ``pb2``): the trial is COMPLETE with ``value`` None, ranks below every
        finite value, and ``system_attrs["diverged"]`` says what was told. After ``tell`` the reply's
        system attributes are in ``system_attrs`` (PBT: ``pbt_released``, checkpoints that may now be
        deleted; see ``tuneport.torch.pbt_complete``).

        It first waits for this trial's queued non-blocking reports and applies the decisions that
        arrived since the last ``report``/``should_prune()``: when one of them is prune (typically
        the answer to the last report, which a ``should_prune()`` right after it could not see
        yet), the trial is told PRUNED instead (its value: the last finite report), as Optuna's
        ``should_prune()`` check after that report would have raised ``TrialPruned``; inside
        ``with trial:`` or ``optimize`` it then raises ``TrialPruned`` (the block records the
        prune), outside it returns and ``state`` is PRUNED (``study.tell`` returns it so). A prune
        the loop saw already (``should_prune()`` was True) is not applied again: completing then
        is the caller's choice, as in Optuna.
        @raises InvalidArgumentError for NaN or infinity under other strategies (tell a diverged run
        with ``fail``), the wrong number of values or of constraints; nothing is stored then.
        @raises TrialPruned (see above). @raises LeaseLostError."""
        if self._named_constraints:
            if constraints is not None:
                raise InvalidArgumentError(
                    f"trial {self.number} has constraints from set_constraint ({sorted(self._named_constraints)}) "
                    "and constraints= (or optimize's constraints_func): give them one way"
                )
            names = tuple(sorted(self._named_constraints, key=constraint_order))
            first = _TOLD_CONSTRAINT_NAMES.setdefault(self.study.client, {}).setdefault(self.study.name, names)
            if names != first:
                raise InvalidArgumentError(
                    f"trial {self.number} of '{self.study.name}' set constraints {list(names)}, but an earlier trial "
                    f"in this process set {list(first)}: the server keeps each trial's constraint values as a list "
                    "in the names' order, so every trial must set the same names (set an unused one to 0.0 or less)",
                    {"study": self.study.name, "trial": self.number},
                )
            constraints = [self._named_constraints[k] for k in names]
        args = {**_values_args(value), **_constraints_arg(constraints)}
        # A prune the loop was given (raised, returned, or should_prune() True) is no longer among
        # the decisions kept: one still there (a queued report's last answer, or one that came
        # with an error raised instead of it) reached nobody and is applied here.
        try:
            # Before the wait: a report made during it is refused, not sent after the tell. In the
            # try, so that the gate opens again when closing it raises (see ``_tell``).
            self._close_gate()
            self._wait_reports()
            latest = self._apply_delivered(raise_on_prune=False, raise_error=False)
            self._released_unreturned = latest.delete_checkpoints if latest is not None else []
            if latest is not None and latest.action == "prune":
                self._prune_decided_late(latest, user_attrs)
                return
            self._tell("COMPLETE", args.pop("value", None), None, user_attrs, args)
        finally:
            self._reopen_gate()

    def _prune_decided_late(self, decision: Decision, user_attrs: Mapping[str, Any] | None) -> None:
        """``complete`` found a prune decision that no ``report``/``should_prune()`` had applied:
        tells PRUNED, and raises ``TrialPruned`` inside ``with trial:`` (see ``complete``)."""
        why = decision.reason or "a non-blocking report's decision"
        # A warning outside a block: there nothing else tells the caller that the value it passed to
        # complete() was not stored (a PRUNED trial's value is its last report, as in Optuna).
        (log.info if self._scopes > 0 else log.warning)(
            "trial %d of '%s' pruned (%s) when it was completed: a non-blocking report's prune decision "
            "arrived after the last should_prune(); told PRUNED instead of COMPLETE",
            self.number, self.study.name, why,
        )  # fmt: skip
        self._tell("PRUNED", None, None, user_attrs)
        if self._scopes > 0:
            raise TrialPruned(decision.reason or f"trial {self.number} pruned (decided on a non-blocking report)")

    def fail(self, reason: str | None = None, *, user_attrs: Mapping[str, Any] | None = None) -> None:
        """Finishes the trial as FAIL (re-queued when the study's retry policy says so)."""
        self._tell("FAIL", None, None if reason is None else str(reason)[:2000], user_attrs)

    def _tell_interrupted(self, exc_type: type[BaseException], exc: BaseException | None) -> None:
        """Tells FAIL for a trial that an interruption ended rather than its objective: Ctrl-C
        (``KeyboardInterrupt``) or another ``BaseException`` that is not an ``Exception``
        (``SystemExit`` from a stop signal's handler), with one short attempt (``hurry``). Marked
        ``interrupted`` where the server takes it (hello's ``optional_args`` lists
        ``tell.interrupted``): its strategy then does not learn from the trial, where a plain FAIL
        tells the model-based ones that the configuration fails. An older server gets a plain FAIL."""
        extra = {"interrupted": True} if "tell.interrupted" in self.study.client._optional_args else None
        self._tell("FAIL", None, _fail_reason(exc_type, exc)[:2000], None, extra, hurry=True)

    def prune(self, value: float | None = None, *, user_attrs: Mapping[str, Any] | None = None) -> None:
        """Finishes the trial as PRUNED; ``value`` defaults (on the server) to the last finite report."""
        self._tell("PRUNED", None if value is None else _number(value, "value"), None, user_attrs)

    def frozen(self) -> FrozenTrial:
        """This trial as a ``FrozenTrial``: as the server answered the tell once it is told
        (what ``optimize`` hands to callbacks), else as it was asked plus the reports seen here."""
        if self.state in ("COMPLETE", "FAIL", "PRUNED"):
            return FrozenTrial.from_wire(self._view, self.study.name)
        return FrozenTrial.from_wire(
            {**self._view, "params": self._params, "intermediate": self.intermediate, "user_attrs": self._user_attrs,
             # Those suggested since the ask (the asked view has only those it began with), as
             # Optuna's running trial shows them: constraints_func reads this snapshot.
             "distributions": {k: d.to_wire() for k, d in self._distributions.items()}},
            self.study.name,
        )

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> Trial:
        self._scopes += 1
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self._scopes -= 1
        pruned = exc_type is not None and is_trial_pruned(exc_type)
        if self.finished:
            return pruned
        try:
            if pruned:
                self.prune()
            elif exc_type is None:
                self.fail("the trial's with-block ended without complete(), fail() or prune()")
                log.warning("trial %d of '%s' ended without an outcome; told FAIL", self.number, self.study.name)
            elif issubclass(exc_type, Exception):
                self.fail(_fail_reason(exc_type, exc))
            else:  # Ctrl-C: tell FAIL, interrupted, without waiting out an outage
                self._tell_interrupted(exc_type, exc)
        except TuneportError as err:
            # Never hide the user's exception behind a failed tell; the lease reaper finishes the
            # trial, once this client stops renewing it (a worker's client outlives its trials).
            self.study.client._forget(self)
            if not isinstance(err, NotFoundError):
                log.warning("could not tell trial %d of '%s' (its lease is left to run out): %s", self.number, self.study.name, err)
            elif not isinstance(exc, NotFoundError):  # the study deleted: no lease is left, and the error that ended the block says so
                log.warning("could not tell trial %d of '%s': %s", self.number, self.study.name, err)
        except BaseException:
            # A second Ctrl-C while the outcome is told: the interrupt wins, and the trial is left to
            # its lease (no longer renewed) rather than kept RUNNING by a client that outlives it.
            self.study.client._forget(self)
            raise
        return pruned


__all__ = ["TRIAL_STATES", "Decision", "FrozenTrial", "Lease", "Restore", "TrajectoryPoint", "Trial", "TrialState"]

