"""The optional torch and Lightning helpers, against small stand-ins for torch and Lightning
(the real ones are optional extras; ``test_real_torch_round_trip`` runs where torch is installed)."""

from __future__ import annotations

import importlib
import pickle
import sys
import types
from pathlib import Path
from typing import Any, BinaryIO

import pytest

import tuneport as tp


class FakeModule:
    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = dict(weights)

    def state_dict(self) -> dict[str, float]:
        return dict(self.weights)

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.weights = dict(state)


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.SimpleNamespace:
    calls: list[Any] = []

    def save(obj: Any, f: BinaryIO) -> None:
        if obj["extra"].get("explode"):
            f.write(b"partial")
            raise OSError("disk full")
        pickle.dump(obj, f)

    def load(path: Path, map_location: Any = None, weights_only: bool = True) -> Any:
        calls.append((map_location, weights_only))
        with open(path, "rb") as f:
            return pickle.load(f)

    mod = types.ModuleType("torch")
    mod.save = save  # type: ignore[attr-defined]
    mod.load = load  # type: ignore[attr-defined]
    mod.device = lambda kind: f"device:{kind}"  # type: ignore[attr-defined]
    mod.cuda = types.SimpleNamespace(is_available=lambda: False)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", mod)
    return types.SimpleNamespace(calls=calls)


def test_checkpoint_round_trip_and_atomic_replace(tmp_path: Path, fake_torch: types.SimpleNamespace) -> None:
    from tuneport import torch as tpt

    assert tpt.device() == "device:cpu"
    path = tmp_path / "ckpt" / "trial-3.pt"
    model, opt = FakeModule({"w": 0.5}), FakeModule({"lr": 0.25})
    assert tpt.save_checkpoint(path, model, opt, epoch=4) == path
    with pytest.raises(OSError, match="disk full"):
        tpt.save_checkpoint(path, FakeModule({"w": 9.5}), None, explode=True)
    assert list(path.parent.iterdir()) == [path]  # no temporary file left, old checkpoint intact
    model2, opt2 = FakeModule({}), FakeModule({})
    assert tpt.load_checkpoint(path, model2, opt2) == {"epoch": 4}
    assert model2.weights == {"w": 0.5} and opt2.weights == {"lr": 0.25}
    assert fake_torch.calls == [("device:cpu", True)]


def test_real_torch_round_trip(tmp_path: Path) -> None:
    import torch  # the test virtualenv always has it (make venv installs the torch extra)

    from tuneport import torch as tpt

    model = torch.nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.125)
    tpt.save_checkpoint(tmp_path / "c.pt", model, opt, epoch=2)
    other = torch.nn.Linear(3, 2)
    assert tpt.load_checkpoint(tmp_path / "c.pt", other, torch.optim.SGD(other.parameters(), lr=0.5)) == {"epoch": 2}
    assert torch.equal(model.weight, other.weight)


def test_lightning_callback_reports_and_stops_on_prune(monkeypatch: pytest.MonkeyPatch) -> None:
    pl = types.ModuleType("lightning.pytorch")

    class Callback:
        pass

    pl.Callback = Callback  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lightning", types.ModuleType("lightning"))
    monkeypatch.setitem(sys.modules, "lightning.pytorch", pl)
    monkeypatch.delitem(sys.modules, "tuneport.lightning", raising=False)
    module = importlib.import_module("tuneport.lightning")

    reports: list[tuple[float, float]] = []

    class FakeTrial:
        def report(self, value: float, step: float, *, wait: bool = True) -> tp.Decision:  # Optuna's order, as Trial.report
            assert wait  # the blocking mode here; the non-blocking one is tested against a real server
            reports.append((step, value))
            if step >= 1:
                raise tp.TrialPruned("worse than the median")
            return tp.Decision("continue")

    trainer = types.SimpleNamespace(sanity_checking=True, callback_metrics={"val_loss": 0.75}, current_epoch=0)
    cb = module.TuneportPruningCallback(FakeTrial(), monitor="val_loss", wait=True)
    assert Callback in type(cb).__mro__
    cb.on_validation_end(trainer, None)
    assert reports == []  # the sanity check is not an epoch
    trainer.sanity_checking = False
    cb.on_validation_end(trainer, None)
    assert cb.last_decision == tp.Decision("continue")
    trainer.current_epoch, trainer.callback_metrics = 1, {"val_loss": 0.875}
    with pytest.raises(tp.TrialPruned):
        cb.on_validation_end(trainer, None)
    assert reports == [(0, 0.75), (1, 0.875)]
    # Not monkeypatch.delitem: its undo would put this stand-in-based module back into sys.modules.
    sys.modules.pop("tuneport.lightning", None)
