"""Which full-disk outage a request's ``outage_budget_s`` is counted from (``_unavailable.py``
``StorageOutage``), against a real ``tuneport serve`` whose SQLite disk fills (an 8 MiB tmpfs in a
user, mount and PID namespace, as tests/test_disk_full.py does; run as a script, ``probe``).

- ``beats``: a worker in a long training step sends only heartbeats while the disk is full; they
  were refused from the outage's start, and the first of them started the clock that the worker's
  next request waited against, so a request made after ``outage_budget_s`` of refused heartbeats
  gave up at its first refusal, without one resend. A heartbeat now announces the outage (one
  warning) but starts no clock: the request gets its whole budget.
- ``again``: a request waits out a first outage (answered once space is freed); a second outage
  begins within OUTAGE_GAP_S (10 s) and the next request gives up after its budget; a third begins
  within 10 s of that give-up, with no reply in between. The second was told new by the reply that
  ended the first (not a defect; kept here); the third was taken for the second (refusals less than
  10 s apart) and its request gave up at its first refusal. The server's ``full_since`` (when its
  storage became full) now tells them apart.

The assertions count resends (each logged at INFO); none depends on how long anything took."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"
REPO = Path(__file__).resolve().parents[2]
CLI = Path(os.environ["TUNEPORT_CLI"]) if os.environ.get("TUNEPORT_CLI") else REPO / "dist" / "cli" / "main.js"

BUDGET_S = 4.0


def _probe(mode: str, tmpfs: Path, sock: Path) -> dict[str, Any]:
    sys.path.insert(0, str(SRC))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import tuneport as tp

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("tuneport")
    logger.setLevel(logging.INFO)
    endpoint = f"ipc://{sock}"
    db, filler = tmpfs / "t.db", tmpfs / "filler"
    server = subprocess.Popen(
        ["node", str(CLI), "serve", "--storage", str(db), "--bind", endpoint, "--plot-warmup", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def fill(leave: int) -> None:
        """Fills the tmpfs, then writes (another client, no outage budget) until a commit finds no room."""
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)  # unbuffered: nothing left to flush at close
        try:
            size = 0
            while True:
                try:
                    size += os.write(fd, b"\1" * 65536)
                except OSError:
                    break
            os.ftruncate(fd, max(0, size - leave))
        finally:
            os.close(fd)
        filling = tp.connect(endpoint, outage_budget_s=0, heartbeat=False)
        try:
            for i in range(400):
                filling.create_study(f"fill-{time.monotonic_ns()}-{i}", user_attrs={"blob": "x" * 20_000})
        except tp.UnavailableError as err:
            assert err.reason == "storage_full", err
        finally:
            filling.close()

    def free() -> None:
        """Deletes the filler and waits until the server commits again (another client)."""
        os.remove(filler)
        probe = tp.connect(endpoint, outage_budget_s=60, heartbeat=False)
        try:
            probe.create_study(f"room-{time.monotonic_ns()}")  # waits the held commit out
        finally:
            probe.close()

    def resends(op: str, since: int) -> int:
        return sum(1 for r in records[since:] if r.getMessage().startswith(f"{op} answered UNAVAILABLE (storage_full); resending"))

    def warnings() -> list[str]:
        """The worker's warnings of a full disk (not those of the client that fills it: create_study)."""
        told = [str(r.args[0]) for r in records if r.levelno >= logging.WARNING and "disk is full" in r.getMessage() and r.args]  # type: ignore[index]
        return [op for op in told if op != "create_study"]

    out: dict[str, Any] = {}
    try:
        # Wait for the server with a budget of its own: the worker's BUDGET_S is for the outages,
        # and a start-up slower than it under load made the worker's first request give up.
        with tp.connect(endpoint, outage_budget_s=180, heartbeat=False) as up:
            up.list_studies()
        if mode == "beats":
            worker = tp.connect(endpoint, outage_budget_s=BUDGET_S, heartbeat_interval_s=0.5)
            study = worker.create_study("s", lease_ttl_s=60)
            trial = study.ask()
            logger.addHandler(Keep())
            fill(leave=256 * 1024)
            # The training step: only heartbeats go out, each refused, for longer than the budget.
            end = time.monotonic() + 60
            while not any(r.getMessage().startswith("heartbeat refused") for r in records) and time.monotonic() < end:
                time.sleep(0.1)
            time.sleep(BUDGET_S + 2)
            out["heartbeats_refused"] = sum(1 for r in records if r.getMessage().startswith("heartbeat refused"))
            mark = len(records)
            try:
                trial.report(1.0, 1)
                out["report"] = "answered"
            except tp.UnavailableError as err:
                out["report"] = err.reason
            out["report_resends"] = resends("report", mark)
            out["warnings"] = warnings()
            free()
            trial.complete(1.0)
            worker.close()
        else:
            worker = tp.connect(endpoint, outage_budget_s=BUDGET_S, heartbeat=False)
            study = worker.create_study("s")
            logger.addHandler(Keep())
            fill(leave=256 * 1024)
            # First outage: ridden out, answered once space is freed.
            mark = len(records)
            import threading

            first: dict[str, Any] = {}

            def ride() -> None:
                try:
                    first["attrs"] = study.summary().user_attrs
                except tp.TuneportError as err:
                    first["error"] = repr(err)

            rider = threading.Thread(target=ride)
            rider.start()
            end = time.monotonic() + 60
            while resends("get_study", mark) < 1 and time.monotonic() < end:
                time.sleep(0.05)
            free()
            rider.join(60)
            out["first"] = "answered" if "attrs" in first else first
            # Second outage, at once: the request gets its whole budget (the reply ended the first), then gives up.
            fill(leave=0)
            mark = len(records)
            try:
                study.set_user_attr("k", 1)
                out["second"] = "answered"
            except tp.UnavailableError as err:
                out["second"] = err.reason
            out["second_resends"] = resends("set_user_attrs", mark)
            # Third outage within 10 s of that give-up, no reply to this client in between.
            free()
            fill(leave=0)
            mark = len(records)
            try:
                study.set_user_attr("k", 2)
                out["third"] = "answered"
            except tp.UnavailableError as err:
                out["third"] = err.reason
            out["third_resends"] = resends("set_user_attrs", mark)
            out["warnings"] = warnings()
            os.remove(filler)
            worker.close()
        out["log"] = [f"{r.relativeCreated:.0f} {r.threadName} {r.levelname} {r.getMessage()[:160]}" for r in records]
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
    return seen


def test_refused_heartbeats_do_not_spend_the_next_requests_outage_budget(tmp_path: Path) -> None:
    seen = _run("beats", tmp_path)
    assert seen["heartbeats_refused"] >= 2, seen
    # Still full: the report gives up with the reason, after resending within its own budget.
    assert seen["report"] == "storage_full", seen
    assert seen["report_resends"] >= 1, seen
    # One outage, announced once, by the heartbeat that met it first.
    assert seen["warnings"] == ["heartbeat"], seen


def test_an_outage_soon_after_one_a_request_gave_up_on_gets_its_own_budget(tmp_path: Path) -> None:
    seen = _run("again", tmp_path)
    assert seen["first"] == "answered", seen
    assert seen["second"] == "storage_full" and seen["second_resends"] >= 1, seen
    assert seen["third"] == "storage_full" and seen["third_resends"] >= 1, seen
    # One warning per outage.
    assert seen["warnings"] == ["get_study", "set_user_attrs", "set_user_attrs"], seen


def test_two_servers_values_taking_turns_do_not_restart_the_clock_each_time() -> None:
    """Several servers (one PostgreSQL) each stamp their own ``full_since`` (commit-pipeline.ts: when that
    server first found the storage full): a client whose refusals come from two of them in turn sees two
    values for one outage. Only a later value is a new outage; taking each change of value for one
    restarted the request's clock at every refusal, and it never gave up. A scripted server stands for
    the two (one id, values taking turns); the assertion counts refusals, not seconds."""
    import tuneport as tp
    from conftest import FakeServer, ok

    stamps = (1000.0, 1005.0)

    def handler(msg: dict[str, Any]) -> dict[str, Any]:
        refusals = sum(1 for m in fake.received if m["op"] == "list_studies")
        if refusals > 12:
            return ok(msg, {"studies": []})  # the disk had room again: only a request that never gave up gets here
        data = {"reason": "storage_full", "retry_after_ms": 500, "full_since": stamps[refusals % 2]}
        return {"v": 1, "id": msg["id"], "ok": False, "error": {"code": "UNAVAILABLE", "message": "full", "data": data}}

    with FakeServer(handler) as fake, tp.connect(fake.endpoint, outage_budget_s=2.5, heartbeat=False) as client:
        try:
            client.list_studies()
            outcome = "answered"
        except tp.UnavailableError as err:
            outcome = str(err.reason)
        refused = sum(1 for m in fake.received if m["op"] == "list_studies")
    assert outcome == "storage_full", (outcome, refused)
    assert refused <= 12, refused


def test_replies_to_other_requests_do_not_restart_the_clock_of_one_outage() -> None:
    """A server that refuses one kind of request for want of space and answers the rest: on a full
    PostgreSQL, a new study's ownership claim is refused storage_full while heartbeats and reads are
    answered (a probe of 2026-12-07, real serve and PostgreSQL: create_study with outage_budget_s=3
    and a trial's heartbeats every 0.5 s still waited after 25 s, 15 warnings). Each reply ended the
    outage in the client and the next refusal began a new one with a new clock. Refusals naming the
    same outage (one ``full_since``) soon after a reply are the same outage now. A scripted server
    refuses ``create_study`` (one ``full_since``) and answers ``list_studies``, which another thread
    sends meanwhile; the assertion counts refusals, not seconds."""
    import threading

    import tuneport as tp
    from conftest import FakeServer, ok

    def handler(msg: dict[str, Any]) -> dict[str, Any]:
        if msg["op"] != "create_study":
            return ok(msg, {"studies": []})
        if sum(1 for m in fake.received if m["op"] == "create_study") > 12:
            return ok(msg, {"study": {}})  # only a request that never gave up gets here
        data = {"reason": "storage_full", "retry_after_ms": 500, "full_since": 1000.0}
        return {"v": 1, "id": msg["id"], "ok": False, "error": {"code": "UNAVAILABLE", "message": "full", "data": data}}

    with FakeServer(handler) as fake, tp.connect(fake.endpoint, outage_budget_s=2.5, heartbeat=False) as client:
        done = threading.Event()

        def others() -> None:
            while not done.is_set():
                client.call("list_studies")
                time.sleep(0.1)

        thread = threading.Thread(target=others)
        thread.start()
        try:
            client.call("create_study", name="t")
            outcome = "answered"
        except tp.UnavailableError as err:
            outcome = str(err.reason)
        finally:
            done.set()
            thread.join(60)
        refused = sum(1 for m in fake.received if m["op"] == "create_study")
        answered = sum(1 for m in fake.received if m["op"] == "list_studies")
    assert answered >= 2, answered  # other requests were answered during the outage
    assert outcome == "storage_full", (outcome, refused)
    assert refused <= 12, refused


if __name__ == "__main__" and sys.argv[1:2] == ["probe"]:
    print(json.dumps(_probe(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))))
