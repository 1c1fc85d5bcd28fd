"""Plots rendered by the server (the ``plot`` op): ``Study.plot`` returns a ``Plot``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

PlotKind = Literal[
    "history",
    "parallel",
    "parallel_coordinates",
    "importances",
    "intermediate",
    "intermediate_values",
    "slice",
    "contour",
    "edf",
    "pareto_front",
    "hypervolume_history",
    "lineage",
    "trajectories",
]
"""Chart kinds, after Optuna's ``optuna.visualization``: ``history`` (objective by trial, pruned
and failed included, best so far), ``parallel`` (parallel coordinates), ``importances``,
``intermediate`` (learning curves), ``slice`` (objective against each parameter),
``contour`` (objective over two parameters) and ``edf`` (the empirical distribution of the
objective); for multi-objective studies ``pareto_front`` (trials in the plane of the first two
objectives: front, dominated and infeasible ones told apart) and ``hypervolume_history``; for
PBT/PB2 studies ``lineage`` (the population's tree: generations, exploits and refills) and for
hypergradient studies ``trajectories`` (hyperparameters per step per trial). The long names are
accepted too."""


@dataclass(frozen=True)
class Plot:
    """A PNG chart (at most 1600 x 1000 pixels) and a caption saying what it shows and what it
    leaves out. Displays itself in Jupyter (``_repr_png_``)."""

    png: bytes
    caption: str
    kind: str
    width: int
    height: int

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Plot:
        return cls(
            png=bytes(raw["png"]),
            caption=str(raw.get("caption") or ""),
            kind=str(raw.get("kind") or ""),
            width=int(raw.get("width") or 0),
            height=int(raw.get("height") or 0),
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Writes the PNG to ``path`` (replacing it atomically)."""
        tmp = f"{os.fspath(path)}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(self.png)
        os.replace(tmp, path)

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        return f"Plot(kind={self.kind!r}, {self.width}x{self.height} px, {len(self.png)} bytes)"


__all__ = ["Plot", "PlotKind"]
