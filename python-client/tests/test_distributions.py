from __future__ import annotations

import pytest

import tuneport as tp
from tuneport._distributions import distribution_from_wire


@pytest.mark.parametrize(
    "make",
    [
        lambda: tp.Float(1.0, 0.5),
        lambda: tp.Float(0.0, 1.0, log=True),
        lambda: tp.Float(-1.0, 1.0, log=True),
        lambda: tp.Float(0.0, float("nan")),
        lambda: tp.Float(0.0, 1.0, step=0.0),
        lambda: tp.Float(1e-3, 1.0, log=True, step=0.1),
        lambda: tp.Int(3, 1),
        lambda: tp.Int(0, 8, log=True),
        lambda: tp.Int(0, float("nan")),  # type: ignore[arg-type]
        lambda: tp.Categorical([]),
        lambda: tp.Categorical(["a", "a"]),
        lambda: tp.Categorical("ab"),
        lambda: tp.Categorical([[1]]),  # type: ignore[list-item]
    ],
)
def test_bad_distributions_fail_before_anything_is_sent(make: object) -> None:
    with pytest.raises(tp.InvalidArgumentError):
        make()  # type: ignore[operator]


def test_wire_maps_round_trip() -> None:
    for d in (
        tp.Float(1e-5, 1e-1, log=True),
        tp.Float(0.0, 1.0, step=0.25),
        tp.Int(1, 4),
        tp.Int(1, 64, log=True),
        tp.Categorical(["relu", 1, 2.5, True, None]),
    ):
        assert distribution_from_wire(d.to_wire()) == d
    assert tp.Float(0.0, 1.0).to_wire() == {"type": "float", "low": 0.0, "high": 1.0}
    assert tp.Categorical([1, True]).choices == (1, True)  # 1 and True are distinct choices
