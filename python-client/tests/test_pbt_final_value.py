"""A PBT member exploited at its last report and then completed, through a real server: which
weights the completed value measured decides whether the exploit stays in its record. A blocking
``pbt_report`` loads the donor's weights before it returns, so a final evaluation after the loop
(a value other than the last report's) measured them: the exploit stays. The last report's own
value, or any value after a non-blocking report whose exploit the loop never saw, is the old
weights': the exploit is taken back (``pbt_not_loaded``, the params back)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

import tuneport as tp
from tuneport.torch import checkpoint_path, pbt_complete, pbt_report, save_checkpoint


@pytest.mark.parametrize(
    ("how", "told", "stays"),
    [("blocking", 0.3, True), ("blocking", 5.0, False), ("nowait", 0.3, False)],
)
def test_a_completed_value_keeps_the_exploit_only_when_measured_on_its_weights(
    client: tp.Client, name: str, tmp_path: Path, how: str, told: float, stays: bool
) -> None:
    study = client.create_study(name, space={"lr": tp.Float(1e-3, 1.0, log=True)}, seed=3, strategy={
        "name": "pbt", "options": {"population_size": 2, "perturbation_interval": 1, "resample_probability": 0.0}})
    a, b = study.ask(), study.ask()
    before = dict(a.params)
    assert pbt_report(b, 1.0, 1, torch.nn.Linear(3, 1), checkpoint_dir=tmp_path).action == "continue"
    net = torch.nn.Linear(3, 1)
    if how == "blocking":
        d = pbt_report(a, 5.0, 1, net, checkpoint_dir=tmp_path)  # the exploit: b's weights are loaded now
        assert d.restore is not None and d.restore.trial == b.number
    else:
        path = save_checkpoint(checkpoint_path(tmp_path, study, a.number, 1), net, fsync=False)
        assert a.report(5.0, 1, {"checkpoint": str(path)}, wait=False) is None  # decided: exploit b, never seen
        end = time.monotonic() + 60  # only against a hang
        while not study.trial(a.number).intermediate:
            assert time.monotonic() < end, "the non-blocking report never arrived"
            time.sleep(0.02)
    explored = dict(study.trial(a.number).params)
    assert explored != before
    pbt_complete(a, told)  # a final evaluation of the model as it is now (or the last report's value)
    pbt_complete(b, 1.0)
    stored = study.trial(a.number)
    assert ("pbt_not_loaded" not in stored.system_attrs) is stays
    assert stored.params == (explored if stays else before)
    assert a.params == stored.params
