"""A real server whose SQLite disk fills (docs/DURABILITY.md): it answers every change and read
UNAVAILABLE ``{reason: "storage_full", retry_after_ms: 1000}`` until space is freed, then goes on by
itself. Before, the client resent an UNAVAILABLE request three times with backoff (about 0.7 s in
all, ignoring ``retry_after_ms``) and the worker raised UnavailableError during an outage the server
rides out. Now a full disk is waited out like a lost connection, up to ``outage_budget_s``, resending
with the same request id after at least the server's hint, with one warning per outage.

A full disk needs a small filesystem of its own: this file, run as a script (``probe``), runs inside
a user and mount namespace (``unshare -rm``, as test/disk-full.test.ts does) on an 8 MiB tmpfs with a
PID namespace of its own (``--pid --kill-child``: a probe killed on its timeout leaves no server
behind), against a real ``tuneport serve`` on an ipc:// socket (no port), and prints one JSON line.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
REPO = Path(__file__).resolve().parents[2]
CLI = Path(os.environ["TUNEPORT_CLI"]) if os.environ.get("TUNEPORT_CLI") else REPO / "dist" / "cli" / "main.js"


def _fill(filler: Path, leave: int) -> None:
    """Writes ``filler`` until the tmpfs is full, then gives ``leave`` bytes of it back."""
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\1" * 65536)
                f.flush()
        except OSError:
            pass
        if leave:
            f.truncate(max(0, f.tell() - leave))


def _probe(mode: str, tmpfs: Path, sock: Path) -> dict[str, Any]:
    """The scenario, inside the namespace. ``ride``: the disk fills while a worker holds two trials
    (one in each of two clients); the worker reports (non-blocking) and tells one during the outage
    while the other client only heartbeats past its 3 s lease; the filler file is deleted after a
    few refusals. ``bound``: a worker with ``outage_budget_s=3`` tells while the disk stays full."""
    sys.path.insert(0, str(SRC))
    import tuneport as tp

    records: list[logging.LogRecord] = []
    refused = threading.Event()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            if record.levelno >= logging.WARNING and "disk is full" in record.getMessage():
                refused.set()

    logger = logging.getLogger("tuneport")
    logger.setLevel(logging.INFO)
    endpoint = f"ipc://{sock}"
    db, filler = tmpfs / "t.db", tmpfs / "filler"
    server = subprocess.Popen(
        ["node", str(CLI), "serve", "--storage", str(db), "--bind", endpoint, "--plot-warmup", "0", "--log-format", "json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    out: dict[str, Any] = {}
    try:
        # Connected only once the server has bound its socket: ``bound``'s 3 s budget is for the
        # full disk, and a server still starting on a loaded machine used it up (TIMEOUT at connect).
        deadline = time.monotonic() + 120
        while not sock.exists() and server.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        budget = 30.0 if mode == "ride" else 3.0
        beats = mode == "beats"  # the holder heartbeats every 6 s (a 60 s lease), the worker not at all
        if beats:
            # The client's defaults at half scale: heartbeats 6 s apart against an outage gap of 5 s
            # (10 s apart against 10 s by default; the test's heartbeats were 12 s apart, its sleeps 25 s).
            from tuneport import _unavailable

            _unavailable.OUTAGE_GAP_S = 5.0
        worker = tp.connect(endpoint, outage_budget_s=budget, heartbeat_interval_s=0.5, heartbeat=not beats)
        holder = tp.connect(endpoint, heartbeat_interval_s=6 if beats else 0.5)
        study = tp.create_study(study_name="s", storage=worker, lease_ttl_s=60 if beats else 3)
        held_study = tp.load_study(study_name="s", storage=holder)
        trial = study.ask()
        held = held_study.ask()
        trial.report(0.5, 0)
        # Fill the tmpfs but 256 KiB, then write until a commit finds no room (a client that gives
        # a full disk no time: outage_budget_s=0 raises at its first refusal).
        _fill(filler, leave=256 * 1024)
        filling = tp.connect(endpoint, outage_budget_s=0, heartbeat=False)
        big = "x" * 20_000
        out["fill_error"] = None
        try:
            fill_study = tp.load_study(study_name="s", storage=filling)
            for i in range(400):
                fill_study.set_user_attr(f"blob{i}", big)
        except tp.UnavailableError as err:
            out["fill_error"] = {"reason": err.reason, "data": err.data}
        filling.close()
        logger.addHandler(Keep())
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                trial.report(1.0, 1, wait=False)
                trial.report(2.0, 2, wait=False)
                trial.complete(3.0)
                result["ok"] = True
            except tp.TuneportError as err:
                result["error"] = {"type": type(err).__name__, "reason": getattr(err, "reason", None), "message": err.message}

        if beats:
            # Only the holder's heartbeats meet the outage: one, and the next 6 s later.
            out["refused_seen"] = refused.wait(60)
            time.sleep(7)
            os.remove(filler)
            full = [r for r in records if r.levelno >= logging.WARNING and "disk is full" in r.getMessage()]
            out["full_warnings"] = [str(r.args[0]) for r in full if r.args]  # type: ignore[index]
            out["refusals"] = sum(1 for r in records if r.getMessage().startswith("heartbeat refused"))
            # A second outage after a heartbeat was answered (the holder's only request meanwhile),
            # 7 s after the first one's last refusal: its read is given its own outage budget (3 s).
            time.sleep(6)  # the next heartbeat (12 s after the first refusal) is answered
            _fill(filler, leave=0)
            refill = tp.connect(endpoint, outage_budget_s=0, heartbeat=False)
            try:
                for i in range(50):  # until a commit finds no room
                    tp.create_study(study_name=f"again{i}", storage=refill)
            except tp.UnavailableError:
                pass
            refill.close()
            holder._channel.outage_budget_s = 3.0  # the read's budget (connect's outage_budget_s)
            try:
                held_study.trial(held.number)
                out["second"] = "answered"
            except tp.UnavailableError as err:
                out["second"] = err.message
            os.remove(filler)
            full = [r for r in records if r.levelno >= logging.WARNING and "disk is full" in r.getMessage()]
            out["all_warnings"] = [str(r.args[0]) for r in full if r.args]  # type: ignore[index]
            worker.close()
            holder.close()
            return out
        thread = threading.Thread(target=work)
        thread.start()
        out["refused_seen"] = refused.wait(60)
        if mode == "ride":
            # Full for longer than the 3 s leases: their heartbeats are refused meanwhile.
            end = time.monotonic() + 5
            while time.monotonic() < end:
                time.sleep(0.1)
            os.remove(filler)
        thread.join(90)
        out["worker_done"] = not thread.is_alive()
        out["result"] = result
        if mode == "bound":
            os.remove(filler)
        else:
            out["held_lease_lost"] = held.lease_lost
            held.complete(4.0)
            frozen = study.trial(trial.number)
            out["trial"] = {"state": frozen.state.name, "value": frozen.value, "intermediate": {str(k): v for k, v in frozen.intermediate_values.items()}}
            out["held_state"] = held_study.trial(held.number).state.name
        full = [r for r in records if r.levelno >= logging.WARNING and "disk is full" in r.getMessage()]
        out["full_warnings"] = sorted(str(r.args[0]) for r in full if r.args)  # type: ignore[index]
        out["other_warnings"] = [r.getMessage() for r in records if r.levelno >= logging.WARNING and r not in full]
        out["pauses"] = [r.args[1] for r in records if "storage_full); resending in" in r.msg]  # type: ignore[index]
        out["log"] = [f"{r.relativeCreated:.0f} {r.threadName} {r.levelname} {r.getMessage()}" for r in records]
        worker.close()
        holder.close()
    finally:
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
    return out


def _run(mode: str, tmp_path: Path) -> dict[str, Any]:
    """Runs the probe in a user+mount+PID namespace on a fresh 8 MiB tmpfs at ``tmp_path/fs``."""
    (tmp_path / "fs").mkdir()
    setup = 'set -e; mount -t tmpfs -o size=8m tmpfs "$1"; shift; exec "$0" "$@"'
    argv = ["unshare", "-rm", "--pid", "--fork", "--kill-child", "sh", "-c", setup, sys.executable, str(tmp_path / "fs")]
    argv += [__file__, "probe", mode, str(tmp_path / "fs"), str(tmp_path / "s.sock")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, f"the probe (needs unshare -rm --pid, user namespaces, tmpfs mounts in them): {r.stderr[-3000:]}"
    seen: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    # The disk did fill: a client that gives a full disk no time raised at once, with the reason.
    assert seen["fill_error"] is not None and seen["fill_error"]["reason"] == "storage_full", seen
    assert seen["fill_error"]["data"]["retry_after_ms"] == 1000
    assert seen["refused_seen"], seen
    return seen


def test_a_worker_rides_out_a_full_disk_and_its_tell_completes_once_space_is_freed(tmp_path: Path) -> None:
    seen = _run("ride", tmp_path)
    assert seen["worker_done"] and seen["result"] == {"ok": True}, seen
    # The queued reports and the tell, resent with their ids, were each applied once.
    assert seen["trial"] == {"state": "COMPLETE", "value": 3.0, "intermediate": {"0": 0.5, "1": 1.0, "2": 2.0}}, seen
    # Heartbeats refused past the 3 s lease did not lose it (the server gave the time back).
    assert seen["held_lease_lost"] is False and seen["held_state"] == "COMPLETE", seen
    # One warning per client for the outage (the worker's request, the holder's heartbeat), not per
    # resend or heartbeat; no "heartbeat failed" warnings.
    assert len(seen["full_warnings"]) == 2 and "heartbeat" in seen["full_warnings"], seen
    assert seen["other_warnings"] == [], seen
    # Each resend waited at least the server's retry_after_ms (1 s), not the 0.1 s backoff.
    assert seen["pauses"] and min(seen["pauses"]) >= 1.0, seen


def test_a_full_disk_longer_than_the_outage_budget_raises_unavailable_with_the_reason(tmp_path: Path) -> None:
    seen = _run("bound", tmp_path)
    assert seen["worker_done"], seen
    error = seen["result"].get("error")
    assert error is not None and error["type"] == "UnavailableError" and error["reason"] == "storage_full", seen
    assert "outage_budget_s=3" in error["message"], seen
    assert len(seen["pauses"]) >= 1 and min(seen["pauses"]) >= 1.0, seen
    # The report queued behind the one that waited the outage out failed with it at once (one warning).
    assert "the server's disk stayed full: 1 queued non-blocking report(s) dropped" in seen["other_warnings"], seen


def test_heartbeats_further_apart_than_the_outage_gap_warn_once_per_outage(tmp_path: Path) -> None:
    """A worker that only heartbeats through the outage (a long training step; 10 s apart with the
    defaults: a 30 s lease, the server's 10 s interval): each refusal came more than OUTAGE_GAP_S
    (10 s) after the last one, so each was taken for a new outage, with a new warning and the outage
    clock started again. The probe runs it at half scale, the time it sleeps through halved: 6 s
    apart against an OUTAGE_GAP_S of 5 s (it was 12 s apart against 10 s, 25 s of sleep)."""
    seen = _run("beats", tmp_path)
    assert seen["refusals"] >= 2, seen
    assert seen["full_warnings"] == ["heartbeat"], seen
    # The second outage, after an answered heartbeat, is a new one: a new warning, a whole budget
    # (once heartbeats were taken for one outage up to 2 periods apart, it raised at once: "full for 26s").
    assert [w for w in seen["all_warnings"] if w != "create_study"] == ["heartbeat", "trial"], seen  # not the refilling client's
    full_for = re.search(r"has been full for ([0-9.]+)s", seen["second"])
    assert full_for is not None and float(full_for.group(1)) < 10, seen  # its own ~2 s, not the first outage's ~13 s


if __name__ == "__main__" and sys.argv[1:2] == ["probe"]:
    print(json.dumps(_probe(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
