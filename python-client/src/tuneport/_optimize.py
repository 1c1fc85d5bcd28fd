"""``Study.optimize``: Optuna's loop (trial budget, timeout, threads, callbacks, progress) over
ask and tell. One ``_Run`` is shared by the loop's threads; it hands out trial slots and knows
when to stop."""

from __future__ import annotations

import copy
import dataclasses
import gc
import importlib
import logging
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._errors import FailedPreconditionError, InvalidArgumentError, LeaseLostError, TuneportError
from ._study import _nan_message, _unusable_value
from ._trial import INTERRUPTED_WAIT_S, FrozenTrial, Trial
from ._told import as_float

if TYPE_CHECKING:
    from ._study import Study

log = logging.getLogger("tuneport")

Callback = Callable[["Study", FrozenTrial], None]

#: How long Ctrl-C in ``optimize(n_jobs > 1)`` waits for the FAIL of the trials still running, told
#: at once, each in a thread of its own: each waits at most INTERRUPTED_WAIT_S for its turn on the
#: trial, for the connection, for its queued reports and for the reply (``Trial._tell_interrupted``).
FAIL_OPEN_S = 4 * INTERRUPTED_WAIT_S + 1.0
ConstraintsFunc = Callable[[FrozenTrial], Sequence[float]]


class _Run:
    """The shared state of one ``optimize`` call."""

    def __init__(self, study: Study, n_trials: int | None, timeout: float | None, progress: _Progress | None) -> None:
        self.study = study
        self.n_trials = n_trials
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.progress = progress
        self.started = 0
        self.ended = False
        self.lock = threading.Lock()
        self.open: set[Trial] = set()
        """Trials the loop's threads are running now."""
        self.interrupt: BaseException | None = None
        """What interrupted the calling thread (Ctrl-C), once it has: a trial asked after it is not run."""

    def take_slot(self) -> bool:
        """True when one more trial may start (counted at once, so threads never overshoot)."""
        with self.lock:
            if self.ended or self.study._stop_requested:
                return False
            if self.deadline is not None and time.monotonic() >= self.deadline:
                return False
            if self.n_trials is not None and self.started >= self.n_trials:
                return False
            self.started += 1
            return True

    def end(self) -> None:
        with self.lock:
            self.ended = True

    def fail_open(self, exc: BaseException) -> None:
        """Tells FAIL, interrupted, for the trials still running in the loop's threads, which ``exc``
        (a Ctrl-C in the calling thread) cannot interrupt: as one thread's trial fails on Ctrl-C,
        instead of staying RUNNING until its lease runs out (and being retried as a lost worker's).
        Their threads stop at their next request (the trial is finished). Told at once, each in a
        thread of its own, waited for FAIL_OPEN_S at most."""
        with self.lock:
            self.interrupt = exc
            trials = list(self.open)
        # At once, not one after another: each waits its second for the trial's turn and for the
        # connection while its worker's request holds them (the server away), and Ctrl-C with
        # n_jobs=4 propagated after 8 s, n_jobs=16 after 32 s (tests/test_interrupted_optimize.py).
        tellers: list[threading.Thread] = []
        for trial in trials:
            teller = threading.Thread(target=self.tell_interrupted, args=(trial, exc), name="tuneport-interrupted-fail", daemon=True)
            try:
                teller.start()
            except RuntimeError:  # the system refuses another thread: told here
                self.tell_interrupted(trial, exc)
                continue
            tellers.append(teller)
        until = time.monotonic() + FAIL_OPEN_S
        for teller in tellers:
            teller.join(max(0.0, until - time.monotonic()))

    def tell_interrupted(self, trial: Trial, exc: BaseException) -> None:
        if trial.finished:
            return
        try:
            trial._tell_interrupted(type(exc), exc)
        except TuneportError as err:  # told by its thread meanwhile, or the server is gone
            log.warning("could not tell trial %d of '%s': %s", trial.number, self.study.name, err)


#: Per thread, the ids of the Study objects whose optimize loop runs an objective in it (Optuna's
#: nested-optimize check: an objective that calls ``optimize`` on its own study is a bug).
_IN_LOOP = threading.local()


def _running_in_this_thread(study: Study) -> set[int]:
    ids: set[int] | None = getattr(_IN_LOOP, "studies", None)
    if ids is None:
        ids = _IN_LOOP.studies = set()
    return ids


def run_optimize(
    study: Study,
    func: Callable[[Trial], Any],
    *,
    n_trials: int | None,
    timeout: float | None,
    n_jobs: int,
    catch: tuple[type[Exception], ...],
    callbacks: list[Callback],
    gc_after_trial: bool,
    show_progress_bar: bool,
    constraints_func: ConstraintsFunc | None = None,
) -> None:
    """The body of ``Study.optimize`` (see there). @raises the first exception outside ``catch``;
    RuntimeError when called from an objective that this study's ``optimize`` runs (as Optuna)."""
    if id(study) in _running_in_this_thread(study):
        raise RuntimeError(
            f"Nested optimize detected: an objective of study '{study.name}' called its optimize(); "
            "run a separate study, or call the objective directly"
        )
    # A budget already spent runs no trial, as in Optuna: `n_trials=100 - len(study.trials)` or
    # `timeout=deadline - time.time()` may come out negative. NaN would never end a loop: refused.
    if n_trials is not None and n_trials < 0:
        n_trials = 0
    if timeout is not None and math.isnan(timeout):
        raise ValueError("timeout must be a number of seconds or None, not NaN")
    if timeout is not None and timeout < 0:
        timeout = 0
    jobs = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    if jobs < 1:
        raise ValueError("n_jobs must be >= 1, or -1 for one per CPU")
    if n_trials is not None:
        # No more threads than trials (Optuna's pool starts them as trials are submitted):
        # n_jobs=10**9 for 2 trials built a billion Thread objects before starting any.
        jobs = min(jobs, max(1, math.ceil(n_trials)))
    progress = _Progress(n_trials, timeout) if show_progress_bar else None
    run = _Run(study, n_trials, timeout, progress)
    try:
        if jobs == 1:
            _worker(run, func, catch, callbacks, gc_after_trial, constraints_func)
            return
        errors: list[BaseException] = []

        def job() -> None:
            try:
                _worker(run, func, catch, callbacks, gc_after_trial, constraints_func)
            except BaseException as exc:  # re-raised in the calling thread below
                run.end()
                errors.append(exc)

        threads: list[threading.Thread] = []
        try:
            for i in range(jobs):
                t = threading.Thread(target=job, name=f"tuneport-optimize-{i}", daemon=True)
                try:
                    t.start()
                except RuntimeError as exc:  # the system refuses another thread
                    run.end()
                    errors.append(RuntimeError(f"n_jobs={n_jobs}: {len(threads)} threads started and the system refused the next ({exc}); ask for fewer"))
                    break
                threads.append(t)
            for t in threads:
                t.join()
        except BaseException as exc:  # Ctrl-C: only the calling thread gets it
            run.end()
            run.fail_open(exc)
            raise
        if errors:
            raise errors[0]
    finally:
        if progress is not None:
            progress.close()


def _worker(
    run: _Run,
    func: Callable[[Trial], Any],
    catch: tuple[type[Exception], ...],
    callbacks: list[Callback],
    gc_after_trial: bool,
    constraints_func: ConstraintsFunc | None = None,
) -> None:
    study = run.study
    running = _running_in_this_thread(study)
    running.add(id(study))
    try:
        while run.take_slot():
            trial = study._ask_or_none()
            if trial is None:
                run.end()
                return
            with run.lock:
                interrupt = run.interrupt
                if interrupt is None:
                    run.open.add(trial)
            if interrupt is not None:
                # Asked while Ctrl-C reached the calling thread (after its look at the open trials):
                # not run, so a daemon thread does not train on behind the user's back.
                run.tell_interrupted(trial, interrupt)
                return
            given_up = False
            try:
                given_up = _run_trial(trial, func, catch, constraints_func)
            finally:
                with run.lock:
                    run.open.discard(trial)
                if gc_after_trial:
                    gc.collect()
            frozen = _stored(trial) if given_up else trial.frozen()
            _report(run, frozen)
            for cb in callbacks:
                cb(study, copy.deepcopy(frozen))  # each its own, as Optuna: one callback's changes are not the next one's
    finally:
        running.discard(id(study))


def _stored(trial: Trial) -> FrozenTrial:
    """A trial given up (its lease lost, or finished elsewhere) as the server holds it, for the
    callbacks and the log line: this object never learnt how it ended, and its snapshot said
    RUNNING (Optuna's callbacks get the stored trial). That snapshot when the server cannot say."""
    try:
        return trial.study.trial(trial.number)
    except TuneportError as err:
        log.warning("trial %d of '%s': could not read how it ended: %s", trial.number, trial.study.name, err)
        return trial.frozen()


def _run_trial(
    trial: Trial, func: Callable[[Trial], Any], catch: tuple[type[Exception], ...], constraints_func: ConstraintsFunc | None = None
) -> bool:
    """Runs one trial; True when it was given up (lease lost, or finished elsewhere: not told here,
    the objective's error caught or not)."""
    study = trial.study
    try:
        with trial:
            value = func(trial)
            result = _as_values(value, len(study.directions))
            if result is not None:
                constraints = None
                if constraints_func is not None:
                    frozen = trial.frozen()
                    done = dataclasses.replace(
                        frozen, values=list(result), value=result[0] if len(result) == 1 else None
                    )
                    try:
                        constraints = _constraints_of(constraints_func, done)
                    except Exception as err:
                        _fail_keeping_values(trial, result, f"constraints_func raised {err!r}")
                        raise
                try:
                    trial.complete(result[0] if len(result) == 1 else list(result), constraints=constraints)
                except InvalidArgumentError as err:
                    if constraints is None:
                        raise
                    _fail_keeping_values(trial, result, f"its constraints {constraints} were refused: {err}")
                    raise
            else:
                why = _unusable_value(value, len(study.directions)) or _nan_message(value) or f"The value {value!r} is not a finite number"
                _log_failed(trial, why.rstrip("."), value)
                trial.fail(f"objective returned {value!r}")
    except (LeaseLostError, FailedPreconditionError) as err:
        log.warning("trial %d of '%s' given up: %s", trial.number, study.name, err)
        return not trial.state.is_finished()
    except catch as err:
        _log_failed(trial, repr(err), None, err)
        # Its FAIL not told (finished elsewhere, lease lost, the server away): given up likewise.
        return not trial.state.is_finished()
    except BaseException as err:
        if not isinstance(err, (TuneportError, GeneratorExit, SystemExit)):  # the objective's own error (optimize re-raises it)
            _log_failed(trial, repr(err), None, err)
        raise
    return False


def _constraints_of(constraints_func: ConstraintsFunc, trial: FrozenTrial) -> list[float]:
    """What ``constraints_func`` returns for ``trial``, as floats. @raises ValueError for a NaN
    (Optuna's words), TypeError or ValueError for what is not a sequence of numbers."""
    values = [float(c) for c in constraints_func(trial)]
    if any(math.isnan(c) for c in values):
        raise ValueError("Constraint values cannot be NaN.")
    return values


def _fail_keeping_values(trial: Trial, values: list[float], why: str) -> None:
    """Fails a trial whose objective returned ``values`` but whose constraints could not be told
    (the server takes them with the result): the values go in the fail reason, not lost."""
    told = values[0] if len(values) == 1 else values
    trial.fail(f"{why}; the objective returned {told!r}")


def _log_failed(trial: Trial, why: str, value: Any, err: BaseException | None = None) -> None:
    """Optuna's two lines for a failed trial (with the traceback of the objective's error)."""
    log.warning("Trial %d failed with parameters: %s because of the following error: %s.", trial.number, trial.params, why, exc_info=err)
    log.warning("Trial %d failed with value %r.", trial.number, value)


def _as_values(value: Any, n_objectives: int) -> list[float] | None:
    """The objective's return as one finite float per objective, or None (the trial fails). As in
    Optuna, one objective may return a one-element list or tuple, and a bool counts as 0 or 1; only
    a list or tuple holds one value per objective: a numpy array is one value, which ``float()`` casts
    (0-d) or refuses (``_study._told_items``)."""
    if n_objectives == 1:
        if isinstance(value, (list, tuple)) and len(value) == 1:
            value = value[0]
        number = _as_float(value)
        return [number] if number is not None and math.isfinite(number) else None
    if not isinstance(value, (list, tuple)):
        return None
    out = [_as_float(v) for v in value]
    if len(out) != n_objectives or any(v is None or not math.isfinite(v) for v in out):
        return None
    return [float(v) for v in out if v is not None]


def _as_float(value: Any) -> float | None:
    if value is None or isinstance(value, (str, bytes)):
        return None
    try:
        return as_float(value)  # a numpy array of one element is not a number, whatever numpy's version
    except (TypeError, ValueError, OverflowError):  # OverflowError: an int past the float range
        return None


def _report(run: _Run, frozen: FrozenTrial) -> None:
    """Optuna's per-trial log line (INFO) and the progress bar; both need the study's best."""
    progress = run.progress
    if progress is None and not log.isEnabledFor(logging.INFO):
        return
    try:
        best = None if len(run.study.directions) > 1 else run.study.best_trial
    except (TuneportError, ValueError):  # only for display (ValueError: nothing feasible yet): never end the loop over it
        best = None
    if frozen.state == "COMPLETE" and frozen.value is None:
        log.info("Trial %d finished with values: %s and parameters: %s.", frozen.number, frozen.values, frozen.params)
    elif frozen.state == "COMPLETE":
        best_text = f" Best is trial {best.number} with value: {best.value}." if best is not None else ""
        log.info("Trial %d finished with value: %s and parameters: %s.%s", frozen.number, frozen.value, frozen.params, best_text)
    elif frozen.state == "PRUNED":
        step = frozen.system_attrs.get("pruned_at_step")
        log.info("Trial %d pruned%s.", frozen.number, f" at step {step:g}" if isinstance(step, (int, float)) else "")
    if progress is not None:
        progress.update(frozen, best)


class _Progress:
    """``show_progress_bar``: a tqdm bar over trials (or seconds with only a timeout) when tqdm
    is installed, else one plain line per trial on stderr."""

    def __init__(self, n_trials: int | None, timeout: float | None) -> None:
        self._lock = threading.Lock()
        self._done = 0
        self._total = n_trials
        self._start = time.monotonic()
        self._bar: Any = None
        try:
            tqdm = importlib.import_module("tqdm.auto").tqdm
        except ImportError:
            return
        self._bar = tqdm(total=n_trials, unit="trial", file=sys.stderr, dynamic_ncols=True)

    def update(self, frozen: FrozenTrial, best: FrozenTrial | None) -> None:
        with self._lock:
            self._done += 1
            best_text = f"best {best.value:.6g} (trial {best.number})" if best is not None and best.value is not None else "no best yet"
            if self._bar is not None:
                self._bar.set_postfix_str(best_text, refresh=False)
                self._bar.update(1)
                return
            total = "?" if self._total is None else str(self._total)
            value = "" if frozen.value is None else f" value={frozen.value:.6g}"
            print(
                f"[{self._done}/{total}] trial {frozen.number} {frozen.state}{value} | {best_text} "
                f"| {time.monotonic() - self._start:.1f}s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
