"""PBT with non-blocking reports, against a real server: the lineage records only the exploits whose
donor checkpoint the training loop loaded, where it loaded them; ``should_prune()`` does not hand
out a restore that the next report hands out again; and a donor checkpoint the member has
confirmed loading is not kept for its later blind reports."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

import tuneport as tp
from conftest import ServerProcess


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    try:
        yield srv
    finally:
        srv.kill()


def _paused(srv: ServerProcess) -> _Pause:
    return _Pause(srv)


class _Pause:
    """SIGSTOP the server for the block: reports queued meanwhile are made before any answer comes
    (``pbt_blind``), and their answers then arrive together."""

    def __init__(self, srv: ServerProcess) -> None:
        assert srv.proc is not None
        self.pid = srv.proc.pid

    def __enter__(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)

    def __exit__(self, *exc: object) -> None:
        os.kill(self.pid, signal.SIGCONT)


def _population(client: tp.Client, name: str, mode: str = "asynchronous") -> tuple[tp.Study, tp.Trial, tp.Trial]:
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=3, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1, "resample_probability": 0.0, "mode": mode}})
    return study, study.ask(), study.ask()


def _exploits(study: tp.Study, number: int) -> list[tuple[float, str]]:
    """(step, donor checkpoint) of each exploit the trial's lineage records."""
    lin = study.trial(number).system_attrs["pbt_lineage"]
    return [(e["step"], e["checkpoint"]) for e in lin[1:] if e["donor"] is not None]


def test_a_blocking_report_that_loads_a_late_exploit_gets_no_second_one_in_its_own_answer(server: ServerProcess) -> None:
    """Synchronous mode: member a's non-blocking step-1 report got an exploit of b's step-1
    checkpoint; a's next report, blocking, said it would load it (``pbt_loaded``) and was itself
    answered with a second exploit, of b's step-2 checkpoint. The loop loads the last restore only,
    but the lineage recorded both at step 2: a segment of b's step-1 weights that never trained."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "s", "synchronous")
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt"}, wait=False) is None  # decided: exploit b's step 1
        a._wait_reports()
        b.report(0.5, 2, {"checkpoint": "/nowhere/b/2.pt"})
        d = a.report(4.0, 2, {"checkpoint": "/nowhere/a/2.pt"})
        assert d is not None and d.restore is not None
        loaded = [(2.0, d.restore.checkpoint)]  # what the loop loads after this report
        assert _exploits(study, a.number) == loaded
        a.complete(4.0)
        b.complete(0.5)


def test_two_exploits_in_one_batch_of_answers_are_not_decided(server: ServerProcess) -> None:
    """Member a queued its step-1 and step-2 reports before any answer came: the first got an
    exploit, and the second, blind (the member had not loaded it, nor even heard of it), got
    another. Both arrived together; the loop loads the last only (``restore``), yet the lineage
    said the first donor's weights trained from step 1 to 3. The server now gives a member no new
    exploit before it confirmed loading its last one: one exploit, recorded where it was loaded."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "t")
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/0.5.pt"})
        with _paused(server):
            assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt"}, wait=False) is None  # decided: exploit b's step 1
            b.report(0.8, 1.5, {"checkpoint": "/nowhere/b/1.5.pt"}, wait=False)
            assert a.report(4.0, 2, {"checkpoint": "/nowhere/a/2.pt"}, wait=False) is None  # blind
        client.load_study("t")  # a round trip: b's queued report is in
        a._wait_reports()
        d = a.report(3.0, 3, {"checkpoint": "/nowhere/a/3.pt"})
        assert d is not None and d.restore is not None
        assert _exploits(study, a.number) == [(3.0, d.restore.checkpoint)]
        a.complete(3.0)
        b.flush_reports()
        b.complete(0.8)


def test_should_prune_leaves_restore_to_the_report_that_returns_it(server: ServerProcess) -> None:
    """``should_prune()`` applied a non-blocking report's exploit and set ``restore``; the next
    report returned the same restore: a loop that loads ``trial.restore`` after both loaded the
    donor's weights twice, over the step it trained between, which the lineage files under the
    member's own weights (the load it records is the report's)."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "p")
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/0.5.pt"})
        loads: list[tuple[float, str]] = []
        for step, value in ((1.0, 5.0), (1.5, 4.0), (1.75, 3.0)):
            a.report(value, step, {"checkpoint": f"/nowhere/a/{step}.pt"}, wait=False)
            if a.restore is not None:
                loads.append((step, a.restore.checkpoint))
            a._wait_reports()  # the answer is in before the loop asks should_prune()
            assert a.should_prune() is False
            if a.restore is not None and (not loads or loads[-1][0] != step):
                loads.append((step, a.restore.checkpoint))
        assert loads == [(1.5, "/nowhere/b/1.pt")], loads
        assert _exploits(study, a.number) == loads
        a.complete(3.0)
        b.complete(1.0)


def test_should_prune_leaves_an_exploits_params_with_its_restore_for_the_next_report(server: ServerProcess) -> None:
    """``should_prune()`` applied a non-blocking report's exploit params at once while its restore
    waited for the next report: a loop reading ``trial.params`` each step trained a step with the
    donor's (perturbed) params on its own weights. Both now reach the loop with the report that
    returns the exploit, which is where the lineage records the load."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "q")
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/0.5.pt"})
        own = dict(a.params)
        a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt"}, wait=False)  # decided: exploit b's step 1
        a._wait_reports()  # the answer is in before the loop asks should_prune()
        assert a.should_prune() is False
        assert (a.params, a.restore) == (own, None)  # neither yet: the weights are still a's own
        d = a.report(4.0, 1.5, {"checkpoint": "/nowhere/a/1.5.pt"}, wait=False)
        assert d is not None and d.action == "update" and d.restore is not None, d
        assert a.restore == d.restore and a.params != own and a.params == {**own, **d.params}
        a.flush_reports()
        assert _exploits(study, a.number) == [(1.5, "/nowhere/b/1.pt")]
        a.complete(3.0)
        b.complete(1.0)


def test_a_loaded_donor_checkpoint_is_not_kept_for_the_members_later_blind_reports(server: ServerProcess) -> None:
    """Member a said it loaded b's step-1 checkpoint (``pbt_loaded``, step 2); its next reports,
    queued before their answers came, were blind, and each kept that checkpoint pinned (until a
    report that was not blind, which a loop reporting without waiting may never make) though the
    load was confirmed: b's reports could not release it."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        _, a, b = _population(client, "b")
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/0.5.pt"})
        a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt"}, wait=False)  # decided: exploit b's step 1
        a._wait_reports()
        with _paused(server):
            d = a.report(4.0, 2, {"checkpoint": "/nowhere/a/2.pt"}, wait=False)  # returns it: loaded now
            assert d is not None and d.restore is not None and d.restore.checkpoint == "/nowhere/b/1.pt"
            a.report(0.1, 3, {"checkpoint": "/nowhere/a/3.pt"}, wait=False)  # blind (and now the better one)
            a.report(0.09, 4, {"checkpoint": "/nowhere/a/4.pt"}, wait=False)  # blind
        a._wait_reports()
        released = [p for step in (2, 3) for p in b.report(0.1 - step / 100, step, {"checkpoint": f"/nowhere/b/{step}.pt"}).delete_checkpoints]
        assert "/nowhere/b/1.pt" in released, released
        a.flush_reports()
        a.complete(0.09)
        b.complete(0.07)


def test_an_answer_arriving_while_a_report_is_made_leaves_that_report_blind(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """The answer to a's step-1 report (an exploit) arrived after a's step-2 report had applied what
    had come (nothing) and before it asked whether an answer was still pending (none): the report
    went out neither blind nor saying it loaded the exploit, which the server took as the load
    confirmed (the donor checkpoint was released, and a second exploit decided) while the loop had
    not even seen it. The interleaving is forced by waiting for the answer right after the apply."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "r")
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/0.5.pt"})
        assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt"}, wait=False) is None  # decided: exploit b's step 1
        apply = a._apply_delivered

        def apply_then_the_answer_lands(**kw: bool) -> tp.Decision | None:
            out = apply(**kw)
            client._wait_reports(a._report_seq)
            return out

        monkeypatch.setattr(a, "_apply_delivered", apply_then_the_answer_lands)
        assert a.report(4.0, 2, {"checkpoint": "/nowhere/a/2.pt"}, wait=False) is None
        monkeypatch.undo()
        a._wait_reports()
        d = a.report(3.0, 3, {"checkpoint": "/nowhere/a/3.pt"})
        assert d is not None and d.restore is not None
        assert _exploits(study, a.number) == [(3.0, d.restore.checkpoint)]
        a.complete(3.0)
        b.complete(1.0)


def test_a_member_whose_reports_are_all_blind_gets_its_next_exploit_once_it_loaded_the_last(server: ServerProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Liveness: a loop so far ahead of the server that every report is blind (made before the
    answers to the earlier ones came) never makes a report that confirms a load by being sight
    unseen; the server decides nothing for the member while its last exploit is unconfirmed, so
    only the ``pbt_loaded`` marker, sent with the report that returns the exploit, lets it be
    exploited again. Forced here by taking every report after the first as made too early."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "l")
        monkeypatch.setattr(client, "_reports_pending", lambda seq: True)
        loads: list[tuple[float, str]] = []
        for step in range(1, 8):
            b.report(0.1, step, {"checkpoint": f"/nowhere/b/{step}.pt"})
            d = a.report(5.0, step, {"checkpoint": f"/nowhere/a/{step}.pt"}, wait=False)
            if d is not None and d.restore is not None:
                loads.append((float(step), d.restore.checkpoint))
            client._wait_reports(a._report_seq)  # its answer is in before the next step's report
        monkeypatch.undo()
        last = a.flush_reports()  # the last step's answer: loaded after it, where it was decided
        if last is not None and last.restore is not None:
            loads.append((7.0, last.restore.checkpoint))
        assert len(loads) >= 3, loads  # exploited again after each load, not once for the whole run
        assert _exploits(study, a.number) == loads
        a.complete(5.0)
        b.complete(0.1)


def test_an_unconfirmed_exploit_survives_a_server_restart(server: ServerProcess) -> None:
    """The hold (no new decision for a member whose blind reports leave its last exploit
    unconfirmed, its donor checkpoint kept) is read from storage, so a restarted server keeps it,
    and records the load the member names afterwards where it was made. The marks go in ``data``
    as a client of the wire protocol sends them."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "x")
        b.report(0.1, 1, {"checkpoint": "/nowhere/b/1.pt"})
        a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/0.5.pt"})
        assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt", "pbt_blind": True}).restore is not None  # exploit b's step 1
        assert a.report(5.0, 2, {"checkpoint": "/nowhere/a/2.pt", "pbt_blind": True}).action == "continue"  # held
        server.stop()
        server.start()
        # Still held: a, the worst member, would be exploited at once otherwise, and b's reports
        # would release the checkpoint a has yet to load.
        assert a.report(5.0, 3, {"checkpoint": "/nowhere/a/3.pt", "pbt_blind": True}).action == "continue"
        assert study.trial(a.number).system_attrs["pbt_unconfirmed"] == "/nowhere/b/1.pt"
        assert "/nowhere/b/1.pt" not in b.report(0.1, 2, {"checkpoint": "/nowhere/b/2.pt"}).delete_checkpoints
        server.stop()
        server.start()
        loaded = {"checkpoint": "/nowhere/b/1.pt", "after_step": 3}
        assert a.report(5.0, 4, {"checkpoint": "/nowhere/a/4.pt", "pbt_blind": True, "pbt_loaded": loaded}).action == "continue"
        server.stop()
        server.start()
        d = a.report(5.0, 5, {"checkpoint": "/nowhere/a/5.pt", "pbt_blind": True})
        assert d.restore is not None and d.restore.checkpoint == "/nowhere/b/2.pt", d
        assert _exploits(study, a.number) == [(3.0, "/nowhere/b/1.pt"), (5.0, "/nowhere/b/2.pt")]
        a.complete(5.0)
        b.complete(0.1)


def test_an_exploit_that_took_effect_on_nothing_reported_is_not_recorded_at_completion(server: ServerProcess) -> None:
    """Member a's last report got an exploit, and a completed with the value its own weights
    reported: a blocking loop ends right after loading the donor's checkpoint, a non-blocking one
    gets the exploit with its last answers at ``complete`` (its later reports blind) and never loads
    it. The record claimed the hand-over (lineage, generation) and the params explored for it, which
    nothing was trained with; now the exploit moves to ``pbt_not_loaded`` and the params go back."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "blocking")
        asked = dict(a.params)
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        d = a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt"})
        assert d is not None and d.restore is not None and a.params != asked  # the loop ends here
        a.complete(5.0)
        done = study.trial(a.number)
        assert _exploits(study, a.number) == [] and done.params == asked
        assert a.params == asked  # the told trial says what the server stored, as its frozen() does
        assert done.system_attrs["pbt_not_loaded"]["checkpoint"] == "/nowhere/b/1.pt"
        assert done.system_attrs["pbt_generation"] == 0
        b.complete(1.0)

        study, a, b = _population(client, "nonblocking")
        asked = dict(a.params)
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/0.5.pt"})
        with _paused(server):
            assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt"}, wait=False) is None  # decided: exploit b's step 1
            assert a.report(4.0, 2, {"checkpoint": "/nowhere/a/2.pt"}, wait=False) is None  # blind: the last one
        a.complete(4.0)
        done = study.trial(a.number)
        assert _exploits(study, a.number) == [] and done.params == asked and a.params == asked
        assert done.system_attrs["pbt_not_loaded"]["step"] == 1.0
        b.complete(1.0)


def test_a_member_lost_while_blind_reports_held_its_exploit_does_not_hand_that_checkpoint_to_its_refill(server: ServerProcess) -> None:
    """Member a's non-blocking reports went on past an exploit it had not heard of yet (blind), then
    the loading of that donor checkpoint raised and a failed. Its reports after the exploit's step
    counted as a confirmed load, so the refill of its slot was pointed at the same checkpoint."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "refill")
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/0.5.pt"})
        with _paused(server):
            assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt"}, wait=False) is None  # decided: exploit b's step 1
            assert a.report(4.0, 2, {"checkpoint": "/nowhere/a/2.pt"}, wait=False) is None  # blind
        a.flush_reports()
        assert a.restore is not None and a.restore.checkpoint == "/nowhere/b/1.pt"
        a.fail("RuntimeError: checkpoint /nowhere/b/1.pt could not be read")
        refill = study.ask()
        assert refill.system_attrs["pbt_refill_of"] == a.number and refill.restore is None
        refill.complete(1.0)
        b.complete(1.0)


def test_the_hold_outlasts_a_long_run_of_blind_reports_so_no_server_side_valve_releases_it(server: ServerProcess) -> None:
    """Why the server has no valve that ends a hold after K blind reports (PROTOCOL.md, "An exploit
    loaded late"): this client makes as many blind reports in a row as its queue holds
    (``MAX_PENDING_REPORTS``, 10,000) while the server is away, and loads the exploit only after
    them. Here 300: a valve below that released the donor checkpoint (the donor's report in the
    same batch deleted it before the member loaded it) and decided again for the member."""
    with tp.connect(server.endpoint, timeout=5.0) as client:
        study, a, b = _population(client, "valve")
        b.report(1.0, 1, {"checkpoint": "/nowhere/b/1.pt"})
        a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/0.5.pt"})
        with _paused(server):
            assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/1.pt"}, wait=False) is None  # decided: exploit b's step 1
            for i in range(1, 301):
                a.report(5.0, 1 + i / 1000, {"checkpoint": f"/nowhere/a/{i}.pt"}, wait=False)  # blind
            b.report(0.9, 2, {"checkpoint": "/nowhere/b/2.pt"}, wait=False)
        d = b.flush_reports()
        assert d is not None and "/nowhere/b/1.pt" not in d.delete_checkpoints
        a.flush_reports()
        assert a.restore is not None and a.restore.checkpoint == "/nowhere/b/1.pt"  # one exploit, loaded now
        a.report(3.0, 2, {"checkpoint": "/nowhere/a/2.pt"})
        assert _exploits(study, a.number) == [(1.3, "/nowhere/b/1.pt")]
        a.complete(3.0)
        b.complete(0.9)
