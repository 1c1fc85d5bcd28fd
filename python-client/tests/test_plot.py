"""``Study.plot``: the server renders each kind of chart; the PNG is real, non-blank and capped."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

import tuneport as tp
from conftest import ServerProcess
from tuneport._plot import PlotKind

KINDS: list[PlotKind] = ["history", "parallel", "importances", "intermediate", "slice", "contour", "edf"]


@pytest.fixture
def patient(server: ServerProcess) -> Iterator[tp.Client]:
    """A client that waits long enough for a plot on a busy machine (the first one starts the
    server's plot worker and loads Vega); a plot is not a request to resend after 5 s."""
    with tp.connect(server.endpoint, timeout=120.0, retries=0) as c:
        yield c


def _fill(study: tp.Study, client: tp.Client, n: int = 14) -> None:
    """``n`` trials with learning curves: most complete, some pruned, some failed."""
    for i, trial in enumerate(study.ask_many(n)):
        x = trial.params["x"]
        assert isinstance(x, (int, float))
        for step in range(3):
            # The raw op, so this test does not depend on the argument order of Trial.report.
            client.call("report", study=study.name, trial=trial.number, token=trial.lease.token, step=step, value=x * x + 3 - step)
        if i % 5 == 2:
            trial.prune()
        elif i % 7 == 4:
            trial.fail("diverged")
        else:
            trial.complete(x * x + 1)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_every_kind_renders_a_non_blank_png_within_the_cap(patient: tp.Client, name: str, tmp_path: Path) -> None:
    space = {"x": tp.Float(-5, 5), "n": tp.Int(1, 8), "act": tp.Categorical(["relu", "gelu"])}
    study = patient.create_study(name, strategy="random", space=space, seed=3)
    _fill(study, patient)
    for kind in KINDS:
        path = tmp_path / f"{kind}.png"
        plot = study.plot(kind, path, params=["x", "act"] if kind == "contour" else None)
        data = path.read_bytes()
        assert data == plot.png
        assert _png_size(data) == (plot.width, plot.height)
        assert plot.width <= 1600 and plot.height <= 1000
        pixels = np.asarray(mpimg.imread(path))
        ink = float(np.mean(np.any(pixels[..., :3] < 0.92, axis=-1)))
        assert 0.01 < ink < 0.9, (kind, ink)
        assert plot.caption and plot._repr_png_() == plot.png
    history = study.plot("history")
    assert history.kind == "history"
    assert "pruned" in history.caption and "failed" in history.caption


def test_options_and_errors(patient: tp.Client, name: str) -> None:
    study = patient.create_study(name, strategy="random", space={"x": tp.Float(0.1, 5), "y": tp.Float(0, 1)}, seed=1)
    with pytest.raises(tp.InvalidArgumentError, match="no finished trial"):
        study.plot("history")
    _fill_simple(study)
    assert "log-scale" in study.plot("history", log_y=True).caption
    assert "against its 1 parameter" in study.plot("slice", params=["y"]).caption
    with pytest.raises(tp.InvalidArgumentError, match=r"unknown parameter\(s\) z"):
        study.plot("parallel", params=["x", "z"])
    with pytest.raises(tp.InvalidArgumentError, match="no intermediate values"):
        study.plot("intermediate")
    # Kinds with no objective axis refuse log_y rather than drop it without a word.
    with pytest.raises(tp.InvalidArgumentError, match="no objective axis that log_y"):
        study.plot("importances", log_y=True)


def _fill_simple(study: tp.Study) -> None:
    for trial in study.ask_many(6):
        x, y = trial.params["x"], trial.params["y"]
        assert isinstance(x, (int, float)) and isinstance(y, (int, float))
        trial.complete(x + y)
