"""What the server tells a running trial: its ``Lease``, a PBT ``Restore``, and each report's ``Decision``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ._distributions import Scalar
from ._errors import TuneportError


@dataclass(frozen=True)
class Lease:
    """The right to report and tell for a trial, renewed by the client's heartbeats."""

    token: str
    expires_at: float
    """Epoch seconds at which the lease ran out when it was handed out (heartbeats extend it)."""
    ttl_s: float


@dataclass(frozen=True)
class Restore:
    """PBT exploit: load the weights of ``trial``'s checkpoint before training on."""

    trial: int
    checkpoint: str
    step: float | None = None
    """The donor's step when it saved ``checkpoint``."""

    @classmethod
    def from_wire(cls, raw: Any) -> Restore | None:
        if not isinstance(raw, Mapping):
            return None
        step = raw.get("step")
        return cls(int(raw["trial"]), str(raw["checkpoint"]), None if step is None else float(step))


@dataclass(frozen=True)
class Decision:
    """A scheduler's answer to ``report``: ``continue``, ``prune`` or ``update``."""

    action: Literal["continue", "prune", "update"]
    budget: float | None = None
    reason: str | None = None
    params: dict[str, Scalar] = field(default_factory=dict)
    restore: Restore | None = None
    delete_checkpoints: list[str] = field(default_factory=list)
    """PBT retention: checkpoints this trial saved earlier that nobody will load; safe to delete."""

    @classmethod
    def from_wire(cls, raw: Mapping[str, Any]) -> Decision:
        action = raw.get("action")
        if action not in ("continue", "prune", "update"):
            raise TuneportError("MALFORMED_MESSAGE", f"unknown decision action {action!r}")
        restore = raw.get("restore")
        return cls(
            action=action,
            budget=raw.get("budget"),
            reason=raw.get("reason"),
            params=dict(raw.get("params") or {}),
            restore=Restore.from_wire(restore),
            delete_checkpoints=[str(p) for p in raw.get("delete_checkpoints") or []],
        )


def _combined(decisions: Sequence[Decision]) -> Decision:
    """Several decisions applied at once (non-blocking reports' and the report that delivers them) as
    one: prune when any was; else an update when any was (``params`` all of theirs, ``restore`` the
    last exploit's: its checkpoint is not loaded yet); ``delete_checkpoints`` all of theirs."""
    last = decisions[-1]
    released = [p for d in decisions for p in d.delete_checkpoints]
    prune = next((d for d in decisions if d.action == "prune"), None)
    if prune is not None:
        return Decision("prune", last.budget, prune.reason, {}, None, released)
    updates = [d for d in decisions if d.action == "update"]
    if not updates:
        return Decision(last.action, last.budget, last.reason, dict(last.params), None, released)
    restore = next((d.restore for d in reversed(updates) if d.restore is not None), None)
    params = {k: v for d in updates for k, v in d.params.items()}
    return Decision("update", last.budget, updates[-1].reason, params, restore, released)


__all__ = ["Decision", "Lease", "Restore"]
