"""A trial used in a forked child (a DataLoader worker, ``os.fork``): its non-blocking reports
belong to the parent's background thread, which the child does not have, and any lock that thread
held at the fork stays held in the child for ever. Every call on the trial in the child says so
(``ClientClosedError``) before touching those locks, instead of hanging or pretending to have
waited. Real server; the forking script runs as a subprocess (a fork inside pytest would hit it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ServerProcess, free_port

HANG = 60.0  # only catches a hang

FORKED_TRIAL = """
    import faulthandler, os, sys, threading
    import tuneport as tp
    client = tp.connect(sys.argv[1], timeout=5.0)
    trial = client.create_study(sys.argv[2]).ask()
    trial.report(1.0, 0, wait=False)
    # The background thread holds its queue's lock for a moment around each report, and the trial's
    # when it hands an answer over: hold one across the fork as that thread would. "order": another
    # thread of the parent in a call on the trial (Trial._order, e.g. a blocking report waiting out an outage).
    lock = {"none": None, "queue": client._background._cond, "trial": trial._lock, "order": trial._order}[sys.argv[3]]
    held, release = threading.Event(), threading.Event()
    def hold():
        with lock:
            held.set()
            release.wait()
    if lock is not None:
        threading.Thread(target=hold, daemon=True).start()
        held.wait()
    pid = os.fork()
    if pid == 0:
        faulthandler.dump_traceback_later(20, exit=True)  # a hang ends the child (exit code 1)
        calls = {
            "flush_reports": trial.flush_reports,
            "pending_reports": trial.pending_reports,
            "should_prune": trial.should_prune,
            "report(wait=False)": lambda: trial.report(2.0, 1, wait=False),
            "report": lambda: trial.report(2.0, 1),
            "complete": lambda: trial.complete(2.0),
        }
        for what, call in calls.items():
            try:
                call()
                print(what, "returned", flush=True)
            except tp.ClientClosedError as err:
                print(what, "refused", "forked child" in str(err), flush=True)
        os._exit(0)
    release.set()
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status), flush=True)
    trial.flush_reports()
    trial.complete(1.0)
    print("parent", trial.state, [s for s, _ in client.load_study(sys.argv[2]).trials[0].intermediate], flush=True)
    client.close()
"""


@pytest.mark.parametrize("held", ["none", "queue", "trial", "order"])
def test_a_trial_used_in_a_forked_child_is_refused_without_hanging(tmp_path: Path, server: ServerProcess, held: str) -> None:
    """flush_reports() in the child returned None at once (the parent's thread counts as dead
    there), as if its reports had been answered; with the queue's or the trial's lock held at the
    fork it hung for ever, and so did report, should_prune and complete."""
    script = tmp_path / "forked.py"
    script.write_text(textwrap.dedent(FORKED_TRIAL))
    env = {k: v for k, v in os.environ.items() if k != "TUNEPORT_ENDPOINT"}
    done = subprocess.run(
        [sys.executable, str(script), server.endpoint, f"fork-{held}-{free_port()}", held],
        capture_output=True, text=True, env=env, timeout=3 * HANG, check=False,
    )  # fmt: skip
    out = done.stdout + done.stderr
    assert "child exit 0" in done.stdout, out
    for what in ("flush_reports", "pending_reports", "should_prune", "report(wait=False)", "report", "complete"):
        assert f"{what} refused True" in done.stdout, out
    assert "parent COMPLETE [0.0]" in done.stdout, out
