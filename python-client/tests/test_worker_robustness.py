"""The training-worker side under the accidents of real runs: forks, Ctrl-C, threads. Real
server processes throughout; worker scripts run as subprocesses (a fork or a signal inside the
test process would hit pytest). Timeouts only catch hangs."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import tuneport as tp
from conftest import ServerProcess, free_port

HANG = 90.0  # only catches a hang




@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("robust") / "tuneport.db", port=free_port()).start()
    yield srv
    srv.stop()


def run_script(tmp_path: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(code))
    env = {k: v for k, v in os.environ.items() if k != "TUNEPORT_ENDPOINT"}
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=env, timeout=3 * HANG, check=False
    )


FORK_CHILDREN = """
    import faulthandler, multiprocessing as mp, sys
    import tuneport as tp
    EP, NAME = sys.argv[1], sys.argv[2]

    def child():
        faulthandler.dump_traceback_later(60, exit=True)  # a hang ends the child (exit code 1)
        study = tp.load_study(study_name=NAME, storage=EP)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)

    if __name__ == "__main__":
        study = tp.create_study(storage=EP, study_name=NAME)  # the shared client, opened before the fork
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
        children = [mp.get_context("fork").Process(target=child) for _ in range(2)]
        for c in children:
            c.start()
        for c in children:
            c.join(90)
        print("exitcodes", [c.exitcode for c in children], flush=True)
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
"""


def test_forked_children_that_load_the_study_get_their_own_connection(tmp_path: Path, server: ServerProcess) -> None:
    """multiprocessing's fork: each child's tp.load_study used the parent's client, whose ZeroMQ
    sockets do not survive a fork: the children hung. Now a child connects anew."""
    name = f"fork-{free_port()}"
    done = run_script(tmp_path, FORK_CHILDREN, server.endpoint, name)
    assert "exitcodes [0, 0]" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0, done.stderr
    with tp.connect(server.endpoint) as client:
        states = [t.state for t in client.load_study(name).trials]
    assert states == ["COMPLETE"] * 6


INHERITED_CLIENT = """
    import faulthandler, os, sys
    import tuneport as tp
    client = tp.connect(sys.argv[1])
    study = client.create_study(sys.argv[2])
    pid = os.fork()
    if pid == 0:
        faulthandler.dump_traceback_later(60, exit=True)
        try:
            study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
        except tp.ClientClosedError as err:
            print("child:", err, flush=True)
            os._exit(0)
        os._exit(3)
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status), flush=True)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    print("parent trials", len(study.trials), flush=True)
    client.close()
"""


def test_a_client_used_in_a_forked_child_says_so_instead_of_hanging(tmp_path: Path, server: ServerProcess) -> None:
    done = run_script(tmp_path, INHERITED_CLIENT, server.endpoint, f"inherit-{free_port()}")
    assert "child exit 0" in done.stdout, done.stdout + done.stderr
    assert "forked child" in done.stdout and "tp.connect" in done.stdout
    assert "parent trials 1" in done.stdout, done.stdout + done.stderr


PRIVATE_FORK = """
    import faulthandler, os, sys
    import tuneport as tp
    from tuneport import _client, _private
    _client.DEFAULT_ENDPOINT = "tcp://127.0.0.1:" + sys.argv[1]  # nothing listens there
    study = tp.create_study(study_name="mine")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    pid = os.fork()
    if pid == 0:
        faulthandler.dump_traceback_later(60, exit=True)
        tp.load_study(study_name="mine").optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2)
        sys.exit(0)  # a normal exit: the exit handlers run in the child too
    _, status = os.waitpid(pid, 0)
    print("child exit", os.waitstatus_to_exitcode(status), flush=True)
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
    print("parent trials", len(study.trials), flush=True)
    print("directory kept", (_private.private_server().directory / "studies.db").exists(), flush=True)
"""


def test_a_forked_child_leaves_the_private_server_to_its_parent(tmp_path: Path) -> None:
    """A child forked from a script on a private server (no storage) used the parent's client (a
    hang) and, at its exit, stopped the private server and removed its directory, studies included."""
    done = run_script(tmp_path, PRIVATE_FORK, str(free_port()))
    assert "child exit 0" in done.stdout, done.stdout + done.stderr
    assert "parent trials 4" in done.stdout, done.stdout + done.stderr
    assert "directory kept True" in done.stdout, done.stdout + done.stderr
    assert done.returncode == 0, done.stderr


def interrupted(tmp_path: Path, script_text: str, args: list[str], ready: str, before: Callable[[], None] = lambda: None) -> str:
    """Runs ``script_text`` until it prints ``ready``, calls ``before``, sends SIGINT (Ctrl-C) and
    returns what the script wrote on stderr, once it has exited with an error and a KeyboardInterrupt."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(script_text))
    proc = subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == ready
        before()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=HANG)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err, err
    return err


CTRL_C_THREADS = """
    import signal, sys, threading, time
    import tuneport as tp
    # A shell that starts a job in the background (a CI runner) leaves SIGINT ignored, and Python
    # then installs no KeyboardInterrupt handler: put back the one a terminal's Ctrl-C meets.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    client = tp.connect(sys.argv[1])
    study = client.load_study(sys.argv[2])
    started, lock = [], threading.Lock()

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        with lock:
            started.append(trial.number)
            if len(started) == 4:
                print("all running", flush=True)
        for step in range(1_000_000):
            trial.report(x, step)
            time.sleep(0.01)
        return x

    study.optimize(objective, n_trials=100, n_jobs=4)
"""


def test_ctrl_c_with_threads_fails_every_running_trial(tmp_path: Path, server: ServerProcess) -> None:
    """Ctrl-C during optimize(n_jobs=4) reaches the calling thread only: the three other trials
    stayed RUNNING until their leases ran out, then counted as a lost worker's (and were retried)."""
    name = f"ctrl-c-{free_port()}"
    with tp.connect(server.endpoint) as client:
        client.create_study(name, lease_ttl_s=3600)
    err = interrupted(tmp_path, CTRL_C_THREADS, [server.endpoint, name], "all running")
    with tp.connect(server.endpoint) as client:
        trials = client.load_study(name).trials
    assert len(trials) == 4
    assert [(t.state, t.system_attrs.get("fail_reason")) for t in trials] == [("FAIL", "KeyboardInterrupt: ")] * 4
    # Told interrupted, the calling thread's trial and the three it failed for the others alike:
    # the strategy does not learn that their configurations fail.
    assert [t.system_attrs.get("interrupted") for t in trials] == [True] * 4


CTRL_C_DURING_AN_ASK = """
    import signal, sys, threading, time
    import tuneport as tp
    from tuneport import _optimize
    signal.signal(signal.SIGINT, signal.default_int_handler)
    client = tp.connect(sys.argv[1])
    study = client.load_study(sys.argv[2])
    # The second thread's ask is held until Ctrl-C has reached the calling thread and it has looked
    # at the running trials: the ask's reply arrives just after that look.
    looked, asks, lock = threading.Event(), [], threading.Lock()
    fail_open, ask = _optimize._Run.fail_open, study._ask_or_none

    def fail_open_then_release(run, exc):
        fail_open(run, exc)
        looked.set()

    def held_ask():
        with lock:
            asks.append(1)
            second = len(asks) == 2
        if second:
            looked.wait(60)
        return ask()

    _optimize._Run.fail_open = fail_open_then_release
    study._ask_or_none = held_ask
    ran = threading.Event()

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        if trial.number == 0:
            while len(asks) < 2:  # the second thread has started and waits in its ask
                time.sleep(0.01)
            print("running", flush=True)
        else:
            ran.set()
        try:
            for step in range(1_000_000):
                trial.report(x, step)
                time.sleep(0.01)
        except tp.TuneportError:
            pass  # told FAIL by the calling thread
        return x

    try:
        study.optimize(objective, n_trials=2, n_jobs=2)
    except KeyboardInterrupt:
        # Until the second trial is finished or its objective runs (the threads are daemons).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not ran.is_set():
            trials = study.trials
            if len(trials) == 2 and trials[1].state != "RUNNING":
                break
            time.sleep(0.05)
        print("second objective ran", ran.is_set(), flush=True)
        raise
"""


def test_ctrl_c_while_a_thread_asks_does_not_run_that_trial(tmp_path: Path, server: ServerProcess) -> None:
    """A trial whose ask was answered just after Ctrl-C reached the calling thread was not among
    the open trials it failed: its daemon thread ran the objective on behind the user's back (a
    REPL, a notebook), and at exit the trial stayed RUNNING until its lease ran out. It is told
    FAIL, interrupted, without being run."""
    name = f"ctrl-c-ask-{free_port()}"
    with tp.connect(server.endpoint) as client:
        client.create_study(name, strategy="random", lease_ttl_s=3600)
    err = interrupted(tmp_path, CTRL_C_DURING_AN_ASK, [server.endpoint, name], "running")
    with tp.connect(server.endpoint) as client:
        trials = client.load_study(name).trials
    assert len(trials) == 2, err
    assert [(t.state, t.system_attrs.get("interrupted")) for t in trials] == [("FAIL", True)] * 2, err


def test_ctrl_c_in_the_objective_ends_optimize_and_records_the_trial_as_interrupted(server: ServerProcess) -> None:
    """A KeyboardInterrupt in the objective (n_jobs=1) ends optimize and fails the trial, as in
    Optuna; it was told as a plain FAIL, which the model-based strategies learn from as a region
    where the objective fails. Now it is marked interrupted (hello lists tell.interrupted), and
    a server that does not list it gets the plain FAIL it takes."""
    name = f"ctrl-c-seq-{free_port()}"
    with tp.connect(server.endpoint) as client:
        study = client.create_study(name, strategy="random")

        def objective(trial: tp.Trial) -> float:
            x = trial.suggest_float("x", 0, 1)
            if trial.number == 2:
                raise KeyboardInterrupt
            return x

        assert "tell.interrupted" in client._optional_args
        with pytest.raises(KeyboardInterrupt):
            study.optimize(objective, n_trials=10)
        trials = study.trials
        assert [t.state for t in trials] == ["COMPLETE", "COMPLETE", "FAIL"]
        assert trials[2].system_attrs.get("fail_reason") == "KeyboardInterrupt: "
        assert trials[2].system_attrs.get("interrupted") is True
        # An older server refuses an argument it does not know: none is sent to one that does not list it.
        client._optional_args = frozenset()
        with pytest.raises(KeyboardInterrupt), study.ask() as trial:
            raise KeyboardInterrupt
        last = study.trial(trial.number)
        assert last.state == "FAIL" and last.system_attrs.get("fail_reason") == "KeyboardInterrupt: "
        assert "interrupted" not in last.system_attrs


def test_a_second_ctrl_c_during_the_failing_tell_leaves_the_trial_to_its_lease(server: ServerProcess) -> None:
    """The objective raised and its FAIL is being told (say the server is away and the client waits
    out its outage budget) when the user presses Ctrl-C: the KeyboardInterrupt propagates, and the
    client forgets the trial, so its heartbeat stops renewing the lease and the reaper finishes it.
    Before, only a TuneportError did that: a REPL or notebook kept the trial RUNNING for ever."""
    with tp.connect(server.endpoint) as client:
        study = client.create_study(f"ctrl-c-in-tell-{free_port()}", strategy="random")
        trial = study.ask()

        def interrupted_tell(*args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt

        trial.fail = interrupted_tell  # type: ignore[method-assign]
        assert (study.name, trial.number) in client._trials
        with pytest.raises(KeyboardInterrupt), trial:
            raise ValueError("the objective failed")
        assert (study.name, trial.number) not in client._trials


CTRL_C_SERVER_GONE = """
    import math, signal, sys, time
    import tuneport as tp
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in CTRL_C_THREADS
    client = tp.connect(sys.argv[1], outage_budget_s=math.inf)  # ride out any restart
    study = client.load_study(sys.argv[2])

    def objective(trial):
        x = trial.suggest_float("x", 0, 1)
        for step in range(1_000_000):
            trial.report(x, step, wait=step % 2 == 1)
            if step == 5:
                print("running", flush=True)
            time.sleep(0.01)
        return x

    with client:
        study.optimize(objective, n_trials=1)
"""


def test_ctrl_c_while_the_server_is_down_does_not_wait_out_the_outage(tmp_path: Path) -> None:
    """Ctrl-C while the server was away: telling FAIL waited the whole outage budget (forever
    with math.inf), and so did closing the client for the background thread's queued report."""
    srv = ServerProcess(tmp_path / "gone.db", port=free_port()).start()
    try:
        with tp.connect(srv.endpoint) as client:
            client.create_study("gone")
        err = interrupted(tmp_path, CTRL_C_SERVER_GONE, [srv.endpoint, "gone"], "running", before=srv.kill)
        assert "could not tell trial 0 of 'gone'" in err, err
    finally:
        srv.kill()


CTRL_C_STALL = """
    import signal, sys, time
    import tuneport as tp
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in CTRL_C_THREADS
    client = tp.connect(sys.argv[1], timeout=3600.0)  # a stalled server never times a request out
    study = client.load_study(sys.argv[2])
    with client, study.ask() as trial:
        for step in range(6):
            trial.report(float(step), step, wait=False)
        trial.flush_reports()
        print("answered", flush=True)
        sys.stdin.readline()  # the server is stopped now
        for step in range(6, 12):
            trial.report(float(step), step, wait=False)
        print("queued", flush=True)
        while True:
            time.sleep(0.05)
"""


def test_ctrl_c_during_a_server_stall_drops_the_queued_reports_instead_of_sending_them_after_the_tell(tmp_path: Path) -> None:
    """Ctrl-C while the server stalled (connected, silent) with reports queued: the FAIL tell went
    out after a 1 s wait for them, then closing the client sent the queued reports, which reached
    the server after the tell and were refused one by one; with a long timeout, closing waited
    that long for them. Now they are dropped (with one warning) and never sent."""
    srv = ServerProcess(tmp_path / "stall.db", port=free_port()).start()
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(CTRL_C_STALL))
    proc: subprocess.Popen[str] | None = None
    try:
        with tp.connect(srv.endpoint) as client:
            client.create_study("stall", lease_ttl_s=3600)
        proc = subprocess.Popen(
            [sys.executable, str(script), srv.endpoint, "stall"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        lines: list[str] = []
        gave_up = threading.Event()

        def read(stream: Iterator[str]) -> None:
            for line in stream:
                lines.append(line)
                if "could not tell trial" in line:
                    gave_up.set()

        reader = threading.Thread(target=read, args=(proc.stderr,), daemon=True)
        reader.start()
        assert proc.stdout.readline().strip() == "answered"
        assert srv.proc is not None
        os.kill(srv.proc.pid, signal.SIGSTOP)
        try:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            assert proc.stdout.readline().strip() == "queued"
            proc.send_signal(signal.SIGINT)
            assert gave_up.wait(HANG), "".join(lines)  # the tell got no answer in time
        finally:
            os.kill(srv.proc.pid, signal.SIGCONT)  # the stall ends while the worker closes its client
        proc.wait(HANG)
        reader.join(HANG)
        err = "".join(lines)
        assert "report of trial 0 of 'stall' failed" not in err, err  # none was sent after the tell (and refused)
        assert "KeyboardInterrupt" in err and "queued report(s) dropped unsent" in err, err
        with tp.connect(srv.endpoint) as client:
            study = client.load_study("stall")
            deadline = time.monotonic() + HANG
            while study.trial(0).state == "RUNNING" and time.monotonic() < deadline:
                time.sleep(0.05)  # the server reads the tell it was sent during the stall
            trial = study.trial(0)
        assert trial.state == "FAIL" and trial.system_attrs.get("fail_reason") == "KeyboardInterrupt: ", trial
        # The report in flight at Ctrl-C may land before the tell; none of those queued behind it.
        assert [s for s, _ in trial.intermediate] in ([float(s) for s in range(6)], [float(s) for s in range(7)])
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        srv.kill()


def test_an_infinite_outage_budget_rides_out_a_restart(tmp_path: Path) -> None:
    """outage_budget_s=math.inf (documented: wait forever) raised OverflowError as soon as the
    server went away: the wait was turned into integer milliseconds."""
    srv = ServerProcess(tmp_path / "inf.db", port=free_port()).start()
    try:
        with tp.connect(srv.endpoint, outage_budget_s=math.inf) as client:
            study = client.create_study("inf")
            study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
            srv.kill()
            restart = threading.Timer(1.0, srv.start)
            restart.start()
            try:
                study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1)
            finally:
                restart.join()
            assert [t.state for t in study.trials] == ["COMPLETE", "COMPLETE"]
    finally:
        srv.kill()


def test_n_jobs_beyond_the_trials_starts_one_thread_per_trial(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """n_jobs=10**9 for 2 trials built a billion Thread objects before starting one (memory until
    the machine gave out); Optuna's pool starts its threads as it submits trials."""
    name = f"jobs-{free_port()}"
    made: list[str] = []
    real = threading.Thread

    def counting(*args: object, **kwargs: object) -> threading.Thread:
        if str(kwargs.get("name")).startswith("tuneport-optimize-"):
            made.append(str(kwargs.get("name")))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("tuneport._optimize.threading.Thread", counting)
    with tp.connect(server.endpoint) as client:
        study = client.create_study(name, space={"x": tp.Float(0, 1)})
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=2, n_jobs=1000)
        assert len(study.trials) == 2
    assert 1 <= len(made) <= 2


def test_a_thread_the_system_refuses_ends_optimize_with_a_clear_error(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """With n_jobs past what the system allows (no n_trials to cap it), the threads started finish
    their trials and optimize raises one RuntimeError that says what to do."""
    name = f"refused-{free_port()}"
    started: list[int] = []
    real_start = threading.Thread.start

    def start(self: threading.Thread) -> None:
        if self.name.startswith("tuneport-optimize-"):
            if len(started) >= 3:
                raise RuntimeError("can't start new thread")
            started.append(1)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    with tp.connect(server.endpoint) as client:
        study = client.create_study(name, space={"x": tp.Float(0, 1)})
        with pytest.raises(RuntimeError, match=r"n_jobs=100000: 3 threads started and the system refused the next .*ask for fewer"):
            study.optimize(lambda t: t.suggest_float("x", 0, 1), timeout=HANG, n_jobs=100_000)
        assert all(t.state.name == "COMPLETE" for t in study.trials)
