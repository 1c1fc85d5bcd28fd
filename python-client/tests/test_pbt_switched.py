"""A worker that loaded its study before ``update_study`` switched it to PBT, against a real
server: the client decided whether a non-blocking report was blind (``pbt_blind``: made before the
answers to the trial's earlier reports came) from the strategy it read at load, so it never marked
one, and the server took a blind report as the sign that an exploit was loaded and let the donor's
next reports release the checkpoint the member was then told to load. The client learns the switch
from the trials it is handed (``system_attrs["pbt_member"]``)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import tuneport as tp
from conftest import ServerProcess

PBT = {"name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1, "resample_probability": 0.0}}


def test_a_worker_loaded_before_the_switch_to_pbt_marks_its_reports_blind(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db").start()
    assert srv.proc is not None
    try:
        with tp.connect(srv.endpoint, timeout=5.0) as agent, tp.connect(srv.endpoint, timeout=5.0) as client:
            agent.create_study("r", space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=3, strategy="random")
            study = client.load_study("r")  # the worker, before the switch
            assert study.strategy["name"] == "random"
            assert agent.load_study("r").update(strategy=PBT) == ["strategy"]
            a, b = study.ask(), study.ask()
            assert study.strategy["name"] == "pbt"  # learnt from the members it was handed
            b.report(1.0, 1, {"checkpoint": "/nowhere/b/step-1.pt"})
            a.report(2.0, 0.5, {"checkpoint": "/nowhere/a/step-0.5.pt"})
            os.kill(srv.proc.pid, signal.SIGSTOP)  # both queued before the first answer arrives
            try:
                assert a.report(5.0, 1, {"checkpoint": "/nowhere/a/step-1.pt"}, wait=False) is None  # decided: exploit b
                assert a.report(4.0, 1.5, {"checkpoint": "/nowhere/a/step-1.5.pt"}, wait=False) is None  # blind
            finally:
                os.kill(srv.proc.pid, signal.SIGCONT)
            a._wait_reports()
            released = [p for step in (2, 3) for p in b.report(1.0 / step, step, {"checkpoint": f"/nowhere/b/step-{step}.pt"}).delete_checkpoints]
            assert "/nowhere/b/step-1.pt" not in released, released
            d = a.report(3.0, 2, {"checkpoint": "/nowhere/a/step-2.pt"}, wait=False)  # returns the exploit: loaded now
            assert d is not None and d.restore is not None and d.restore.checkpoint == "/nowhere/b/step-1.pt", d
            a.flush_reports()
            a.complete(3.0)
            b.complete(0.2)
    finally:
        srv.kill()
