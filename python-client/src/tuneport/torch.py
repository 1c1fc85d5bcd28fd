"""PyTorch helpers (they need PyTorch: ``pip install torch``). torch is imported on first use only,
so importing this module costs nothing where torch is absent.

Checkpoints are written atomically (a temporary file in the same directory, then
``os.replace``): a worker killed mid-save leaves no partial file under the final name, which is
what PBT relies on when another trial is told to restore from it.

**When fsync is needed.** ``os.replace`` makes the file appear whole or not at all to every
process, also when the writing process is killed right after: the data is in the operating
system's page cache and reaches the disk without the process. Only a crash of the *machine*
(power loss, kernel panic) before the cache is written back (seconds) can leave a renamed file
empty or torn. So ``save_checkpoint`` fsyncs by default (a general-purpose save), while
``pbt_report`` does not (``fsync=False``): a PBT checkpoint lives for a few intervals, and a
torn one is detected when loaded (``torch.load`` raises), failing only the recipient's trial,
whose slot PBT refills from another donor. Pass ``fsync=True`` when checkpoints sit on a local
disk that must outlive a machine crash together with a server run with ``--durability power``.

**Off the critical path.** ``CheckpointWriter`` snapshots the state dicts (a copy in memory, well
under a millisecond for small models) and writes them on one background thread, so training
goes on while the file is written; ``pbt_report(..., writer=w)`` reports as soon as the
snapshot is taken. A recipient that is told to load a checkpoint still in flight waits for it
(``load_checkpoint(..., wait_s=...)``; in the writing process, ``CheckpointWriter.wait``).

**A write that fails** (disk full, a state that cannot be pickled) is not silent until ``close``:
the writer's next ``save`` raises its error (so ``pbt_report`` raises before it reports again),
and it leaves a marker file, ``<checkpoint>.failed``, next to where the checkpoint should be, so
a recipient in any process that waits for that checkpoint raises ``FileNotFoundError`` at once
instead of waiting ``wait_s`` for a file that will never come. (Where the directory itself cannot
be written, no marker can be left either: other processes then wait as before.)
**A writer killed mid-save** (SIGKILL, the OOM killer, a crash) leaves its temporary file,
``.<name>.<host>-<pid>.<random>.tmp``, behind: no final name ever appears, but the file would stay
for ever. ``remove_stale_temp_files(directory)`` removes such files whose writer is provably dead
(it ran in this host's pid namespace, under a pid no process has now) or, where that cannot be
checked (a writer on another host of a shared filesystem or in another container, even one with
the same host name; an older client's name without host and pid), that nobody wrote to for
``STALE_TEMP_AGE_S`` (an hour): a live writer's file in another process is never
removed, so cleaning does not race a concurrent save. It runs by itself the first time a process
writes to a directory, and at each trial's first ``pbt_report`` in a process over every trial
directory of the study (a killed member's own directory is never written again: its refill is
another trial). A reused pid only keeps a dead writer's file until the age rule removes it.
**A writer stopped mid-save** for longer (SIGSTOP, a frozen VM) whose file was removed meanwhile
writes the checkpoint again when it resumes: the age rule costs it a write, never the checkpoint.
(A stricter age rule would keep a killed foreign writer's file for ever, the leak it is for.) A PBT
member stopped that long has lost its lease too, and its checkpoints were released meanwhile, maybe
before that late write brought one back: ``pbt_report``/``pbt_complete``, refused with
``LeaseLostError``, delete such rewritten files of the trial (but those the refusal names as still
needed: a recipient has not loaded it yet) and the checkpoint of the refused report (``_torch_pbt.py``).
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import logging
import os
import queue
import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from ._extras import TORCH_HINT

log = logging.getLogger("tuneport")

if TYPE_CHECKING:
    from ._trial import Decision, Trial

__all__ = [
    "CheckpointWriter",
    "checkpoint_path",
    "delete_checkpoints",
    "device",
    "load_checkpoint",
    "pbt_complete",
    "pbt_report",
    "pbt_restore",
    "remove_stale_temp_files",
    "save_checkpoint",
]

PathLike = Union[str, "os.PathLike[str]"]


def _torch() -> Any:
    try:
        return importlib.import_module("torch")
    except ImportError as exc:
        raise ImportError(TORCH_HINT.format(module="tuneport.torch")) from exc


def device() -> Any:
    """``torch.device("cuda")`` when a GPU is available, else ``torch.device("cpu")``."""
    torch = _torch()
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


STALE_TEMP_AGE_S = 3600.0
"""A temporary file whose writer cannot be checked (another host, an older client's name) is
removed once it was not written to for this long (see the module doc)."""



def _writer_host() -> str:
    """This process's host as a temporary file's name gives it: the host name, and on Linux a hash of
    the kernel's boot id and this process's pid namespace. Containers sharing a filesystem often share
    the host name too (``--network host``, ``--uts host``, or every container named ``localhost``)
    while each numbers its processes from 1: a pid absent here may be a live writer there, so only a
    file of this very pid namespace of this very boot is judged by its pid."""
    name = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname()) or "host"
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
        ns = os.readlink("/proc/self/ns/pid")
    except OSError:
        return name  # not Linux: no pid namespaces to tell apart
    return f"{name}_{hashlib.sha256(f'{boot} {ns}'.encode()).hexdigest()[:10]}"


_HOST = _writer_host()
# ``.<final name>.<host>-<pid>.<mkstemp's random part>.tmp``: the writer's host and pid say whether it is alive.
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<host>[A-Za-z0-9_-]+)-(?P<pid>[0-9]+)\.[A-Za-z0-9_]+\.tmp$")
_cleaned: set[Path] = set()
"""Directories this process already cleaned of stale temporary files (once each)."""
_cleaned_lock = threading.Lock()


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{_HOST}-{os.getpid()}."


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    except OSError:
        return True  # cannot tell: keep its file
    return True


def remove_stale_temp_files(directory: PathLike, *, max_age_s: float = STALE_TEMP_AGE_S) -> list[Path]:
    """Removes the temporary files (``.<name>.*.tmp``) that atomic checkpoint writes left in
    ``directory`` when their writer died mid-save (SIGKILL, OOM killer, a crash): those whose writer
    ran in this host's pid namespace (``_writer_host``) under a pid that no process has any more,
    and any not modified for ``max_age_s`` seconds (a writer on another host or in another
    container, or a name without host and pid). A live writer's file in another process is never
    removed (unless it stalled that long). Returns what it removed; a missing directory is fine."""
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return removed
    for entry in entries:
        if not (entry.name.startswith(".") and entry.name.endswith(".tmp")):
            continue
        m = _TEMP_NAME.match(entry.name)
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            dead = m is not None and m["host"] == _HOST and not _pid_alive(int(m["pid"]))
            if not dead and now - entry.stat(follow_symlinks=False).st_mtime < max_age_s:
                continue
            os.unlink(entry.path)
        except FileNotFoundError:
            continue  # renamed by its writer, or removed by another cleaner meanwhile
        except OSError as err:
            log.warning("could not remove stale checkpoint temporary file %s: %s", entry.path, err)
            continue
        removed.append(Path(entry.path))
    if removed:
        log.info("removed %d stale checkpoint temporary file(s) in %s", len(removed), directory)
    return removed


def _clean_once(directory: Path) -> None:
    """``remove_stale_temp_files(directory)`` the first time this process writes there."""
    key = directory.absolute()
    with _cleaned_lock:
        if key in _cleaned:
            return
        _cleaned.add(key)
    remove_stale_temp_files(directory)


def _write_atomic(target: Path, state: Any, fsync: bool) -> bool:
    """Writes ``state`` to ``target`` atomically; True when it had to be written again (see below)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    _clean_once(target.parent)
    if _write_temp_then_replace(target, state, fsync):
        return False
    # Removed before the rename by a cleaner elsewhere (this process was stopped for over
    # STALE_TEMP_AGE_S mid-save): write it again, once. A directory removed meanwhile raises.
    if not _write_temp_then_replace(target, state, fsync):
        raise FileNotFoundError(f"the temporary file of {target} was removed twice while it was written")
    return True


def _write_temp_then_replace(target: Path, state: Any, fsync: bool) -> bool:
    """Writes ``state`` to a temporary file next to ``target`` and renames it over ``target``; False
    (nothing left behind) when the temporary file was removed by someone else before the rename."""
    torch = _torch()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=_temp_prefix(target), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        try:
            os.replace(tmp, target)
        except FileNotFoundError:
            if os.path.lexists(tmp) or not target.parent.is_dir():
                raise
            return False
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return True


def _failed_marker(target: Path) -> Path:
    """The file a ``CheckpointWriter`` leaves when the write of ``target`` failed."""
    return target.with_name(f"{target.name}.failed")


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _state(model: Any, optimizer: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "extra": extra,
    }


def save_checkpoint(path: PathLike, model: Any, optimizer: Any = None, *, fsync: bool = True, **extra: Any) -> Path:
    """Saves ``{"model", "optimizer", "extra"}`` state dicts to ``path`` atomically and returns it.
    ``extra`` (epoch, step, metrics…) should hold tensors and plain Python values only.
    ``fsync`` (default True) also survives a machine crash; see the module doc for when it is needed."""
    target = Path(path)
    _write_atomic(target, _state(model, optimizer, extra), fsync)
    return target


def _snapshot(x: Any) -> Any:
    """A deep copy of a state dict whose tensors are detached clones (on their device)."""
    torch = _torch()
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, dict):
        return {k: _snapshot(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_snapshot(v) for v in x)
    return copy.deepcopy(x)


class CheckpointWriter:
    """Writes checkpoints on one background thread, in order, so the training loop does not wait.

    ``save`` snapshots the state now (training may change the model right after) and queues the
    write; ``delete`` queues deletions behind the writes already queued (a path released by the
    server may still be in flight). ``wait`` blocks until a path (or everything) is on disk and
    re-raises a write's error. Use it as a context manager, or ``close()`` it: both wait for the
    queue to drain. One writer per process is enough.

    A failed write is raised by the next ``save`` (or ``wait``/``close``, whichever comes first;
    once), logged when it happens, and marked on disk (``<path>.failed``, see the module doc) so
    that ``load_checkpoint`` of that path does not wait for it; ``wait(path)`` raises it for
    that path every time."""

    def __init__(self, *, fsync: bool = False) -> None:
        self.fsync = fsync
        self._queue: queue.Queue[tuple[str, Path, Any] | None] = queue.Queue()
        self._pending: dict[Path, threading.Event] = {}
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        """The first failed write not raised yet (raised once, by the next save/wait/close)."""
        self._failed: dict[Path, BaseException] = {}
        """Each path whose last write failed, with the error (for ``wait(path)``)."""
        self._rewritten: set[Path] = set()
        """Paths written again after a stall whose temporary file a cleaner removed (``drop_rewritten``)."""
        self._thread = threading.Thread(target=self._run, name="tuneport-checkpoints", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                self._queue.task_done()
                return
            kind, path, state = job
            try:
                if kind == "save":
                    rewritten = _write_atomic(path, state, self.fsync)
                    with self._lock:
                        self._failed.pop(path, None)
                        if rewritten:
                            self._rewritten.add(path)
                        else:
                            self._rewritten.discard(path)
                    _unlink(_failed_marker(path))  # an earlier write of this path failed
                elif kind == "drop":
                    keep = state
                    with self._lock:
                        dropped = sorted(p for p in self._rewritten if p.parent == path and str(p) not in keep)
                        self._rewritten.difference_update(dropped)
                    for p in dropped:
                        log.warning("deleting checkpoint %s: written again after a stall, by a trial that lost its lease", p)
                        _unlink(p)
                else:
                    with self._lock:
                        self._rewritten.discard(path)
                    _unlink(path)
                    _unlink(_failed_marker(path))
                    with self._lock:
                        self._failed.pop(path, None)
            except BaseException as err:  # raised by the next save()/wait()/close()
                with self._lock:
                    self._error = self._error or err
                    if kind == "save":
                        self._failed[path] = err
                if kind == "save":
                    self._mark_failed(path, err)
            finally:
                with self._lock:
                    ev = self._pending.pop(path, None) if kind == "save" else None
                if ev is not None:
                    ev.set()
                self._queue.task_done()

    @staticmethod
    def _mark_failed(path: Path, err: BaseException) -> None:
        """Says on disk that ``path`` will not come (``load_checkpoint`` stops waiting for it)."""
        log.warning("checkpoint %s was not written: %s: %s", path, type(err).__name__, err)
        marker = _failed_marker(path)
        tmp: str | None = None
        try:
            # Whole or not at all, as a checkpoint: a reader may look at it while it is written.
            fd, tmp = tempfile.mkstemp(dir=marker.parent, prefix=_temp_prefix(marker), suffix=".tmp")
            with os.fdopen(fd, "w") as f:
                f.write(f"{type(err).__name__}: {err}\n")
            os.replace(tmp, marker)
        except OSError as marker_error:
            if tmp is not None:
                _unlink(Path(tmp))
            log.warning("could not mark checkpoint %s as failed (readers wait for it): %s", path, marker_error)

    def _raise_error(self) -> None:
        """Raises the first failed write not raised yet (once)."""
        with self._lock:
            err, self._error = self._error, None
        if err is not None:
            raise err

    def save(self, path: PathLike, model: Any, optimizer: Any = None, **extra: Any) -> Path:
        """Snapshots ``model``/``optimizer`` and queues an atomic write to ``path``; returns it at once.
        @raises the error of an earlier background write that failed (once; nothing is queued then)."""
        self._raise_error()
        target = Path(path)
        state = _snapshot(_state(model, optimizer, extra))
        with self._lock:
            retried = self._failed.pop(target, None) is not None
        if retried:
            _unlink(_failed_marker(target))  # written again: readers wait for this write
        with self._lock:
            self._pending[target] = threading.Event()
        self._queue.put(("save", target, state))
        return target

    def delete(self, paths: Iterable[PathLike]) -> None:
        """Queues deletions (after every write queued so far); missing files are fine."""
        for p in paths:
            self._queue.put(("delete", Path(p), None))

    def drop_rewritten(self, directory: PathLike, *, keep: Iterable[PathLike] = ()) -> None:
        """Queues (after every write queued so far) the deletion of the checkpoints in ``directory``
        that were written again after a stall (``_write_atomic``), but those in ``keep``:
        ``pbt_report``/``pbt_complete`` call it for a trial that lost its lease. Its checkpoints were
        then released by other members' reports, possibly before the late write brought one back,
        and nobody would release that file again; ``keep`` are those the server still pins for a
        recipient that has not loaded them (``LeaseLostError.data["checkpoints_needed"]``)."""
        self._queue.put(("drop", Path(directory), frozenset(str(Path(p)) for p in keep)))

    def pending(self, path: PathLike) -> bool:
        """True while ``path`` is queued or being written."""
        with self._lock:
            return Path(path) in self._pending

    def failed(self, path: PathLike) -> BaseException | None:
        """The error of the last write of ``path`` when it failed, else None."""
        with self._lock:
            return self._failed.get(Path(path))

    def wait(self, path: PathLike | None = None, timeout: float | None = None) -> None:
        """Blocks until ``path`` is written (default: until the queue is empty).
        @raises the error of ``path``'s write when it failed (every time; a ``save`` after it does
        not raise it again); without ``path``, the first error a background write hit and no call
        raised yet; TimeoutError after ``timeout``
        seconds."""
        if path is None:
            self._queue.join()
            self._raise_error()
            return
        with self._lock:
            ev = self._pending.get(Path(path))
        if ev is not None and not ev.wait(timeout):
            raise TimeoutError(f"checkpoint {path} not written after {timeout} s")
        err = self.failed(path)
        if err is not None:
            with self._lock:
                if self._error is err:
                    self._error = None  # raised here: the next save() does not raise it again
            raise err

    def close(self) -> None:
        """Waits for every queued write and deletion, then stops the thread. @raises as ``wait``."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self.wait()

    def __enter__(self) -> CheckpointWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc_type is None:
            self.close()
            return
        # Leaving on the training's own error: that error is the one to see (a trial's fail
        # reason, optimize's ``catch``), not a failed background write, which is logged instead.
        try:
            self.close()
        except Exception as write_error:  # noqa: BLE001 - logged, the training's error propagates
            log.warning("a checkpoint write failed while leaving on %s: %s", exc_type.__name__, write_error)


def load_checkpoint(
    path: PathLike,
    model: Any,
    optimizer: Any = None,
    *,
    map_location: Any = None,
    weights_only: bool = True,
    wait_s: float = 0.0,
) -> dict[str, Any]:
    """Loads a checkpoint written by ``save_checkpoint`` (or a ``CheckpointWriter``) into ``model``
    (and ``optimizer`` when given and saved) and returns its ``extra`` dict. ``map_location``
    defaults to ``device()``. With ``wait_s`` > 0 a missing file is waited for that long (a donor's
    background write may still be in flight), unless its writer marked it failed
    (``<path>.failed``, see the module doc). @raises FileNotFoundError when it does not appear, at
    once when its write failed; RuntimeError (naming the file, from torch's error) when it cannot be
    read."""
    torch = _torch()
    target = Path(path)
    deadline = time.monotonic() + wait_s
    marker = _failed_marker(target)
    while not target.exists():
        if marker.exists():
            try:
                why = marker.read_text().strip()
            except OSError:
                why = "unknown error"
            if not target.exists():  # written again meanwhile: load it
                raise FileNotFoundError(f"checkpoint {target} was not written: its writer failed ({why})")
        if time.monotonic() >= deadline:
            break
        time.sleep(0.005)
    if not target.exists():
        waited = f" after waiting {wait_s:g} s" if wait_s > 0 else ""
        raise FileNotFoundError(
            f"checkpoint {target} does not exist{waited}: trials load each other's checkpoints (PBT exploits "
            "and refills, ASHA promotions), so checkpoint_dir must be on a filesystem every worker can read, "
            "and its files are deleted only when the server releases them"
        )
    try:
        state = torch.load(target, map_location=map_location if map_location is not None else device(), weights_only=weights_only)
    except Exception as err:
        # torch's own words for a torn or foreign file ("pop from empty list", "invalid load key")
        # name neither the file nor the cause; PBT then fails the trial that loaded it (and the server
        # points no refill at that checkpoint again).
        raise RuntimeError(
            f"checkpoint {target} could not be read ({type(err).__name__}: {err}): a torn or partial file "
            "(written without save_checkpoint's atomic replace, or a machine crash before it reached the disk) "
            "or not a checkpoint"
        ) from err
    model.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    extra: dict[str, Any] = dict(state.get("extra") or {})
    return extra


# The PBT helpers (checkpoint_path, pbt_report...) live in _torch_pbt.py, re-exported here.
from ._torch_pbt import checkpoint_path, delete_checkpoints, pbt_complete, pbt_report, pbt_restore  # noqa: E402
