"""PBT on the client side: decisions with restore and released checkpoints, refills, lineage."""

from __future__ import annotations

from tuneport import Decision, Lineage, Restore


def test_update_decision_carries_restore_and_released_checkpoints() -> None:
    d = Decision.from_wire({"action": "update", "params": {"lr": 0.1},
                            "restore": {"trial": 3, "checkpoint": "/c/3/step-4.pt", "step": 4},
                            "delete_checkpoints": ["/c/1/step-2.pt"]})
    assert d.restore == Restore(3, "/c/3/step-4.pt", 4.0)
    assert d.delete_checkpoints == ["/c/1/step-2.pt"]
    assert Decision.from_wire({"action": "continue"}).delete_checkpoints == []


def test_lineage_replays_as_a_fixed_schedule() -> None:
    lin = Lineage.from_wire({"study": "s", "trial": 5, "state": "COMPLETE", "value": 0.1, "until_step": 10, "schedule": [
        {"from_step": 0, "params": {"lr": 0.1}, "trial": 1, "trial_step": 0},
        {"from_step": 4, "params": {"lr": 0.05}, "trial": 5, "trial_step": 4},
    ]})
    assert [lin.params_at(s)["lr"] for s in (0, 3, 4, 9)] == [0.1, 0.1, 0.05, 0.05]
