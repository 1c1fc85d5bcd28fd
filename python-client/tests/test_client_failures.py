"""The client on its failure paths (found by an audit of training scripts, 2026-12-02): reports
queued behind an outage, a script's exit with reports queued, Ctrl-C against a silent server,
pickling for spawned workers, and a checkpoint writer leaving on the training's own error.
Real server processes, except where a silent server is the point (FakeServer)."""

from __future__ import annotations

import logging
import multiprocessing as mp
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import tuneport as tp
from tuneport._trial import INTERRUPTED_WAIT_S

from conftest import FakeServer, ServerProcess


def test_reports_queued_behind_an_outage_fail_together_instead_of_each_waiting_it_out(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint, timeout=2.0, retries=0, outage_budget_s=1.0, heartbeat=False) as c:
            trial = c.create_study("q").ask()
            trial.report(0.0, 0)
            srv.kill()
            with caplog.at_level(logging.WARNING, logger="tuneport"):
                for step in range(1, 31):
                    trial.report(float(step), step, wait=False)
                with pytest.raises(tp.TimeoutError):
                    trial.complete(1.0)
        failed = [r.getMessage() for r in caplog.records if "non-blocking report of trial" in r.getMessage()]
        dropped = [r.getMessage() for r in caplog.records if "queued non-blocking report(s) dropped" in r.getMessage()]
        # One report waited out the outage; the 29 behind it were failed with it, in one warning
        # (each used to wait and warn on its own).
        assert len(failed) == 1, failed
        assert dropped == ["the server is unreachable: 29 queued non-blocking report(s) dropped"]
    finally:
        srv.kill()


@pytest.mark.parametrize("ending", ["ends", "raises"])
def test_a_connect_client_left_open_sends_its_queued_reports_at_exit(tmp_path: Path, ending: str) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        with tp.connect(srv.endpoint) as c:
            c.create_study("exit")
        script = textwrap.dedent(f"""
            import tuneport as tp
            c = tp.connect({srv.endpoint!r})
            t = c.load_study("exit").ask()
            for i in range(300):
                t.report(float(i), i, wait=False)
            {"raise RuntimeError('training crashed')" if ending == "raises" else "pass"}
            """)
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
        assert done.returncode == (1 if ending == "raises" else 0), done.stderr
        with tp.connect(srv.endpoint) as c:
            (trial,) = c.load_study("exit").trials
        assert [step for step, _ in sorted(trial.intermediate_values.items())] == list(range(300))
    finally:
        srv.stop()


def test_the_last_word_of_an_interrupted_trial_is_one_short_attempt() -> None:
    """Ctrl-C's FAIL tell (``hurry``) waited the whole timeout, with retries, for a server that is
    connected but silent; it now sends once and waits INTERRUPTED_WAIT_S."""
    with FakeServer(lambda msg: None) as fake, tp.connect(fake.endpoint, timeout=INTERRUPTED_WAIT_S * 1.5, retries=2, heartbeat=False) as c:
        with pytest.raises(tp.TimeoutError):
            c._call("get_study", {"study": "s"}, outage_budget_s=INTERRUPTED_WAIT_S, hurry=True)
        hurried = len(fake.received)
        with pytest.raises(tp.TimeoutError):
            c._call("get_study", {"study": "s"})
        patient = len(fake.received) - hurried
    assert hurried == 1
    assert patient == 3  # the same request and its two retries


def _ask_and_tell(study: Any) -> int:
    trial = study.ask()
    study.tell(trial, 0.5)
    return int(trial.number)


def test_a_study_pickles_for_spawned_workers_and_a_trial_says_why_it_does_not(server: ServerProcess, name: str) -> None:
    study = tp.create_study(study_name=name, storage=server.endpoint)
    again = pickle.loads(pickle.dumps(study))
    assert again.name == name and again is not study
    with mp.get_context("spawn").Pool(1) as pool:
        numbers = pool.map(_ask_and_tell, [study, study])
    assert sorted(numbers) == [0, 1]
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    trial = study.ask()
    with pytest.raises(TypeError, match="its lease belongs to this process's client; pickle the study instead"):
        pickle.dumps(trial)
    study.tell(trial, 1.0)


def test_a_checkpoint_writer_leaving_on_the_training_error_keeps_that_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    torch = pytest.importorskip("torch")
    from tuneport.torch import CheckpointWriter

    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING, logger="tuneport"), pytest.raises(RuntimeError, match="CUDA out of memory"):
        with CheckpointWriter() as w:
            w.save(blocker / "ckpt.pt", torch.nn.Linear(2, 2))  # its folder is a file: the write fails
            raise RuntimeError("CUDA out of memory")
    assert any("a checkpoint write failed while leaving on RuntimeError" in r.getMessage() for r in caplog.records)
    # Without an error of its own, the block still raises the write's.
    with pytest.raises(OSError):
        with CheckpointWriter() as w:
            w.save(blocker / "ckpt.pt", torch.nn.Linear(2, 2))


def test_list_studies_follows_the_pages_the_server_cuts_by_size(tmp_path: Path) -> None:
    """The server ends a list_studies page before about 8 MiB of search spaces; the client asks on."""
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        choices = [f"option-{i}-" + "o" * 90 for i in range(5_000)]  # ~0.5 MB a space
        with tp.connect(srv.endpoint) as c:
            for i in range(20):
                c.create_study(f"s{i:02d}", space={"x": tp.Categorical(choices)})
            first = c.call("list_studies")
            assert first["next_cursor"] is not None and 0 < len(first["studies"]) < 20
            assert [s.name for s in c.list_studies()] == [f"s{i:02d}" for i in range(20)]
            assert sorted(tp.get_all_study_names(storage=c)) == [f"s{i:02d}" for i in range(20)]
    finally:
        srv.stop()


def test_best_trials_follows_the_pages_of_a_big_front(tmp_path: Path) -> None:
    """A front past about 8 MiB comes in pages; ``best_trials`` asks for them all."""
    srv = ServerProcess(tmp_path / "t.db").start()
    try:
        blob = "u" * 60_000
        with tp.connect(srv.endpoint) as c:
            study = c.create_study("tied", directions=["minimize", "minimize"])
            for i in range(200):  # all tied: the whole study is the front, 12 MB of attributes
                c.call("add_trial", study="tied", params={}, state="COMPLETE", values=[1.0, 1.0], user_attrs={"blob": blob})
            first = c.call("best_trials", study="tied")
            assert first["n_front"] == 200 and first["next_cursor"] is not None and len(first["trials"]) < 200
            front = study.best_trials
            assert [t.number for t in front] == list(range(200))
            assert all(t.user_attrs["blob"] == blob for t in front)
    finally:
        srv.stop()
