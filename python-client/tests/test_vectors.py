"""Shared protocol vectors (protocol/vectors/*.json): bytes written by the TypeScript encoder."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgpack
import pytest

from tuneport import _protocol

VECTORS = Path(__file__).resolve().parents[2] / "protocol" / "vectors"


def load_vectors() -> list[dict[str, Any]]:
    # A missing directory must fail the run, not silently test nothing.
    assert VECTORS.is_dir(), f"missing test vectors: {VECTORS}"
    files = sorted(VECTORS.glob("*.json"))
    assert len(files) >= 8, f"expected at least 8 vectors in {VECTORS}"
    return [json.loads(f.read_text()) for f in files]


def test_vectors_cover_every_op_of_the_table() -> None:
    names = {v["name"] for v in load_vectors()}
    ops = [e["op"] for e in json.loads((VECTORS.parent / "ops.json").read_text())["ops"]]
    assert len(ops) >= 18
    for op in ops:
        assert f"{op}-request" in names, op
        assert any(n == f"{op}-reply" or n.startswith(f"{op}-reply-") for n in names), op
    assert any(n.startswith("error-reply") for n in names)


@pytest.mark.parametrize("vector", load_vectors(), ids=lambda v: str(v["name"]))
def test_vector_decodes_and_encodes_to_the_same_bytes(vector: dict[str, Any]) -> None:
    raw = bytes.fromhex(vector["msgpack_hex"])
    message = _with_bytes(vector["message"])
    assert msgpack.unpackb(raw, raw=False) == message
    assert _protocol.decode(raw) == message
    assert _protocol.encode(message).hex() == vector["msgpack_hex"]


def _with_bytes(v: Any) -> Any:
    """``{"$bin": hex}`` in a vector's JSON stands for MessagePack bin (bytes)."""
    if isinstance(v, list):
        return [_with_bytes(x) for x in v]
    if isinstance(v, dict):
        if list(v) == ["$bin"]:
            return bytes.fromhex(v["$bin"])
        return {k: _with_bytes(x) for k, x in v.items()}
    return v


def test_vectors_are_not_stale() -> None:
    node = shutil.which("node")
    assert node, "node is needed to check the vectors against the TypeScript encoder"
    run = subprocess.run([node, str(VECTORS / "generate.mjs"), "check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
