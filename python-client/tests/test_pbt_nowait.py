"""PBT with non-blocking reports: an exploit decided on a ``report(..., wait=False)`` reaches the
training loop even when the next call is a blocking report (``pbt_report``) or ``should_prune()``,
and the checkpoints released by the last reports' decisions, which only ``complete`` receives, are
deleted by ``pbt_complete``."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

import tuneport as tp
from conftest import ServerProcess
from tuneport.torch import checkpoint_path, delete_checkpoints, load_checkpoint, pbt_complete, pbt_report, save_checkpoint


def _population(client: tp.Client, name: str) -> tuple[tp.Study, tp.Trial, tp.Trial]:
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=3, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1, "resample_probability": 0.0}})
    return study, study.ask(), study.ask()


def test_an_exploit_of_a_non_blocking_report_is_loaded_by_the_next_blocking_pbt_report(
    client: tp.Client, name: str, tmp_path: Path
) -> None:
    """The worse member reports per batch without waiting and calls pbt_report at the end of an
    epoch (not on the perturbation interval): the exploit its non-blocking report got must be
    returned by pbt_report, which loads the donor's weights; it was dropped (restore None,
    'continue'), so the member trained on its own weights under the donor's lineage."""
    study, a, b = _population(client, name)
    net_a, net_b = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    with torch.no_grad():
        net_a.weight.fill_(1.0)
        net_b.weight.fill_(7.0)
    assert pbt_report(b, 1.0, 1, net_b, checkpoint_dir=tmp_path).action == "continue"
    path = save_checkpoint(checkpoint_path(tmp_path, study.name, a.number, 1), net_a, fsync=False)
    assert a.report(5.0, 1, {"checkpoint": str(path)}, wait=False) is None  # decided: exploit b
    d = pbt_report(a, 4.0, 1.5, net_a, checkpoint_dir=tmp_path)
    assert d.action == "update" and d.restore is not None and d.restore.trial == b.number, d
    assert a.restore == d.restore
    assert torch.equal(net_a.weight, torch.full_like(net_a.weight, 7.0))  # the donor's weights
    assert str(path) in d.delete_checkpoints  # released by the exploit's own report or this one


def test_should_prune_between_keeps_the_exploit_and_the_released_checkpoints_for_the_next_report(
    client: tp.Client, name: str
) -> None:
    """Optuna's loop calls should_prune() after each report: it applies what the non-blocking
    reports got, but returns only a bool, so the exploit's restore and the checkpoints the server
    released must come with the next report's decision (they were dropped: nobody loaded the
    donor, and the released files were never deleted)."""
    _, a, b = _population(client, name)
    b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
    a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
    a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False)
    a._wait_reports()  # the answer has arrived (as it would by the time training goes on)
    assert a.should_prune() is False
    assert a.restore is None  # the next report returns it (a loop loading after both loaded it twice)
    d = a.report(4.0, 1.5, {"checkpoint": "/nowhere/a/step-1.5.pt"}, wait=False)
    assert d is not None and d.action == "update" and d.restore == a.restore, d
    assert "/nowhere/a/step-0.5.pt" in d.delete_checkpoints, d
    d2 = a.report(3.0, 1.6, {"checkpoint": "/nowhere/a/step-1.6.pt"})
    assert d2 is not None and d2.restore is None and a.restore is None  # returned once, not again


def test_pbt_complete_deletes_what_the_last_non_blocking_reports_released(client: tp.Client, name: str, tmp_path: Path) -> None:
    """The decision of a member's last non-blocking report arrives at complete(), which returns
    nothing: the checkpoints it released were left on disk for ever (pbt_released names only
    what is still held at the end)."""
    study, a, _ = _population(client, name)
    net = torch.nn.Linear(3, 1)
    for step in (1, 2):
        path = save_checkpoint(checkpoint_path(tmp_path, study.name, a.number, step), net, fsync=False)
        d = a.report(1.0 / step, step, {"checkpoint": str(path)}, wait=False)
        delete_checkpoints(d.delete_checkpoints if d is not None else [])
    released = pbt_complete(a, 0.5)
    assert sorted(Path(p).name for p in released) == ["step-1.pt", "step-2.pt"], released
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_an_exploit_stays_for_the_next_report_when_the_report_that_applied_it_raised(client: tp.Client, name: str) -> None:
    """A non-blocking report refused in the caller's thread (a step below the last) applied the
    exploit that had arrived, and the raise dropped it: the next report or flush returned neither
    the donor's restore nor the released checkpoints (the same for a queued report's error)."""
    _, a, b = _population(client, name)
    b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
    a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
    a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False)
    a._wait_reports()  # the exploit has arrived
    with pytest.raises(tp.InvalidArgumentError, match="steps must increase"):
        a.report(4.0, 0.75, {"checkpoint": "/nowhere/a/step-0.75.pt"}, wait=False)
    d = a.flush_reports()
    assert d is not None and d.action == "update" and d.restore is not None and d.restore.trial == b.number, d
    assert "/nowhere/a/step-0.5.pt" in d.delete_checkpoints, d


def test_an_exploit_stays_for_the_next_report_when_a_queued_report_failed(
    server: ServerProcess, client: tp.Client, name: str
) -> None:
    """The error a queued report got is raised by the next report, which applied the exploit an
    earlier queued report got: the raise dropped that exploit (restore and released checkpoints)."""
    _, a, b = _population(client, name)
    b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
    a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
    # Both queued before the first answer arrives. Without the pause the exploit could come back
    # before the second report was queued, which then applied and returned it (as documented): it
    # failed once at load 8-22 with flush_reports returning None, the exploit returned earlier.
    assert server.proc is not None
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False) is None  # decided: exploit b
        assert a.report(4.0, 1.5, {"checkpoint": ""}, wait=False) is None  # refused by the server: an empty path
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    a._wait_reports()
    with pytest.raises(tp.InvalidArgumentError, match="data.checkpoint"):
        a.report(3.0, 2, {"checkpoint": "/nowhere/a/step-2.pt"}, wait=False)
    d = a.flush_reports()
    assert d is not None and d.action == "update" and d.restore is not None and d.restore.trial == b.number, d
    assert "/nowhere/a/step-0.5.pt" in d.delete_checkpoints, d


def test_a_load_said_by_a_queued_report_the_server_refused_goes_with_the_next_report(client: tp.Client, name: str) -> None:
    """The order the test above holds off: the exploit is answered before the next report is queued,
    which returns it (loaded after that report) and says so (``pbt_loaded``); the server refused that
    report, and the marker, spent when it was queued, was lost with it. The server counted the
    exploit from the step that decided it (1, not 1.5), and the next report (step 2, one interval
    later) got a second exploit at once."""
    study, a, b = _population(client, name)
    b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
    a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
    a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False)  # decided: exploit b
    a._wait_reports()  # answered before the next report is queued (a fast server)
    d = a.report(4.0, 1.5, {"checkpoint": ""}, wait=False)  # refused by the server: an empty path
    assert d is not None and d.restore is not None and d.restore.trial == b.number, d  # loaded after step 1.5
    a._wait_reports()
    with pytest.raises(tp.InvalidArgumentError, match="data.checkpoint"):
        a.report(3.0, 2, {"checkpoint": "/nowhere/a/step-2.pt"}, wait=False)
    a.report(3.0, 2, {"checkpoint": "/nowhere/a/step-2.pt"}, wait=False)
    d = a.flush_reports()
    assert d is None or d.restore is None, d  # no second exploit: the interval runs from 1.5
    assert _exploit_steps(study, a.number) == [(1.5, b.number, 1.0)]


def _exploit_steps(study: tp.Study, number: int) -> list[tuple[float, int, float]]:
    lin = study.trial(number).system_attrs["pbt_lineage"]
    return [(e["step"], e["donor"], e["donor_step"]) for e in lin[1:] if e["donor"] is not None]


@pytest.mark.parametrize("wait", [True, False])
def test_the_lineage_records_an_exploit_at_the_step_after_which_it_was_loaded(
    client: tp.Client, name: str, tmp_path: Path, wait: bool
) -> None:
    """Real server, real torch. A non-blocking report's exploit comes back with the next report and
    is loaded after it, one interval late: the lineage said it was loaded after the report that got
    it (as a blocking report's is), so the member's next checkpoint and value were filed under the
    donor's weights and new params though they were its own, and the next interval was counted
    from there. Both paths must record where the weights were replaced."""
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=3, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 2, "resample_probability": 0.0}})
    a, b = study.ask(), study.ask()
    net_a, net_b = torch.nn.Linear(3, 1), torch.nn.Linear(3, 1)
    loads: list[tuple[float, int, float]] = []
    for step in range(1, 8):
        pbt_report(b, 1.0 / step, step, net_b, checkpoint_dir=tmp_path)
        path = save_checkpoint(checkpoint_path(tmp_path, study.name, a.number, step), net_a, fsync=False)
        d = a.report(10.0 / step, step, {"checkpoint": str(path)}, wait=wait)
        if not wait:
            a._wait_reports()  # the answer is in before the next step (it would be, a step later)
        if d is not None and d.restore is not None:
            load_checkpoint(d.restore.checkpoint, net_a, wait_s=10)
            assert d.restore.step is not None
            loads.append((float(step), d.restore.trial, d.restore.step))
    d = a.flush_reports()
    assert d is None or d.restore is None  # every exploit decided was loaded in the loop
    assert len(loads) >= 2, loads
    assert _exploit_steps(study, a.number) == loads
    lin = study.lineage(a.number)
    assert lin.schedule[-1].trial == a.number and lin.schedule[-1].trial_step == loads[-1][0]
    a.complete(1.0)
    b.complete(1.0 / 7)


def test_an_exploit_returned_by_flush_reports_is_recorded_after_the_last_step_reported(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    try:
        with tp.connect(srv.endpoint, timeout=5.0) as client:
            study, a, b = _population(client, "f")
            b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
            a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
            # Both queued before the first answer arrives (without the pause a fast answer could
            # come first, and the second report would return the exploit instead of flush_reports).
            os.kill(srv.proc.pid, signal.SIGSTOP)
            try:
                assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False) is None  # decided: exploit b
                assert a.report(4.0, 1.5, {"checkpoint": "/nowhere/a/step-1.5.pt"}, wait=False) is None
            finally:
                os.kill(srv.proc.pid, signal.SIGCONT)
            d = a.flush_reports()
            assert d is not None and d.restore is not None and d.restore.trial == b.number  # loaded now, after step 1.5
            assert _exploit_steps(study, a.number) == [(1, b.number, 1)]
            a.report(3.0, 1.75, {"checkpoint": "/nowhere/a/step-1.75.pt"})
            assert _exploit_steps(study, a.number) == [(1.5, b.number, 1)]
    finally:
        srv.kill()


def test_restore_is_the_latest_decisions_not_one_already_returned(tmp_path: Path) -> None:
    """``restore`` stayed set after the report that returned the exploit, through every later
    non-blocking report until another decision arrived: a loop that loads ``trial.restore`` after
    each report loaded the donor's weights again, over what it had trained since. A report that
    returns None (nothing arrived) leaves it None, as ``report``'s own decision does."""
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    try:
        with tp.connect(srv.endpoint, timeout=5.0) as client:
            _, a, b = _population(client, "r")
            b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
            a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
            a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False)  # decided: exploit b
            a._wait_reports()
            os.kill(srv.proc.pid, signal.SIGSTOP)  # the next answers do not arrive before the next reports
            try:
                d = a.report(4.0, 1.5, {"checkpoint": "/nowhere/a/step-1.5.pt"}, wait=False)
                assert d is not None and d.restore is not None and a.restore == d.restore, d
                assert a.report(3.0, 1.6, {"checkpoint": "/nowhere/a/step-1.6.pt"}, wait=False) is None
                assert a.restore is None
            finally:
                os.kill(srv.proc.pid, signal.SIGCONT)
            a.flush_reports()
            a.complete(3.0)
    finally:
        srv.kill()


def test_a_refused_report_keeps_the_load_that_flush_reports_returned_for_the_next_one(tmp_path: Path) -> None:
    """``flush_reports`` returned an exploit, loaded after step 1.5; the next report was refused (an
    empty checkpoint path) and the one after it, accepted, no longer said where the exploit was
    loaded: the marker was spent on the refused request, so the lineage kept the exploit at step 1
    (the member's own step-1.5 value filed under the donor's weights)."""
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    try:
        with tp.connect(srv.endpoint, timeout=5.0) as client:
            study, a, b = _population(client, "r")
            b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
            a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
            os.kill(srv.proc.pid, signal.SIGSTOP)  # both queued before the first answer arrives
            try:
                assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False) is None  # decided: exploit b
                assert a.report(4.0, 1.5, {"checkpoint": "/nowhere/a/step-1.5.pt"}, wait=False) is None
            finally:
                os.kill(srv.proc.pid, signal.SIGCONT)
            d = a.flush_reports()
            assert d is not None and d.restore is not None and d.restore.trial == b.number  # loaded now, after step 1.5
            with pytest.raises(tp.InvalidArgumentError, match="data.checkpoint"):
                a.report(3.0, 1.75, {"checkpoint": ""})
            a.report(3.0, 1.75, {"checkpoint": "/nowhere/a/step-1.75.pt"})
            assert _exploit_steps(study, a.number) == [(1.5, b.number, 1)]
            a.complete(3.0)
    finally:
        srv.kill()


def test_a_donor_checkpoint_is_kept_while_the_recipient_reports_blind(tmp_path: Path) -> None:
    """Member a's report of step 1 got an exploit of b's step-1 checkpoint, but its report of step
    1.5 was queued before that answer came: the server took the step-1.5 report as the sign that
    the exploit was loaded and let b's next reports release b's step-1 checkpoint (deleted by b's
    client), which a's next report then told a to load. A blind report (``pbt_blind``) keeps it."""
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    try:
        with tp.connect(srv.endpoint, timeout=5.0) as client:
            study, a, b = _population(client, "r")
            b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
            a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
            os.kill(srv.proc.pid, signal.SIGSTOP)  # both queued before the first answer arrives
            try:
                assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False) is None  # decided: exploit b
                assert a.report(4.0, 1.5, {"checkpoint": "/nowhere/a/step-1.5.pt"}, wait=False) is None
            finally:
                os.kill(srv.proc.pid, signal.SIGCONT)
            a._wait_reports()
            released = [p for step in (2, 3) for p in b.report(1.0 / step, step, {"checkpoint": f"/nowhere/b/step-{step}.pt"}).delete_checkpoints]
            assert "/nowhere/b/step-1.pt" not in released, released
            d = a.report(3.0, 2, {"checkpoint": "/nowhere/a/step-2.pt"}, wait=False)  # returns the exploit: loaded now
            assert d is not None and d.restore is not None and d.restore.checkpoint == "/nowhere/b/step-1.pt", d
            a.flush_reports()
            a.report(2.5, 3, {"checkpoint": "/nowhere/a/step-3.pt"})  # a later step, not blind: loaded
            assert "/nowhere/b/step-1.pt" in b.report(0.2, 4, {"checkpoint": "/nowhere/b/step-4.pt"}).delete_checkpoints
            a.complete(3.0)
            b.complete(0.2)
    finally:
        srv.kill()
