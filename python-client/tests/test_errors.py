"""The code -> class mapping mirrors ``src/domain/errors.ts`` exactly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import tuneport as tp
from tuneport._errors import WIRE_ERRORS, error_from_wire

ERRORS_TS = Path(__file__).resolve().parents[2] / "src" / "domain" / "errors.ts"


def server_codes() -> dict[str, str]:
    text = ERRORS_TS.read_text()
    block = re.search(r"export const ERROR_CODES = \{(.*?)\n\}", text, re.S)
    assert block, f"ERROR_CODES not found in {ERRORS_TS}"
    codes = dict(re.findall(r"^\s*([A-Z_]+):\s*\"([a-z-]+)\"", block.group(1), re.M))
    assert len(codes) >= 10, codes
    return codes


def test_every_server_code_has_a_class_and_no_class_is_extra() -> None:
    codes = server_codes()
    assert set(codes) - set(WIRE_ERRORS) == set(), "codes the client lacks"
    assert set(WIRE_ERRORS) - set(codes) == set(), "codes the server lacks"


def test_retry_meanings_match_the_server() -> None:
    for code, meaning in server_codes().items():
        assert WIRE_ERRORS[code].retry == meaning, code


@pytest.mark.parametrize("code", sorted(WIRE_ERRORS))
def test_error_from_wire_builds_the_subclass(code: str) -> None:
    e = error_from_wire({"code": code, "message": "boom", "data": {"x": 1}})
    assert type(e) is WIRE_ERRORS[code]
    assert isinstance(e, tp.TuneportError)
    assert (e.code, e.message, e.data) == (code, "boom", {"x": 1})
    assert str(e) == f"{code}: boom"


def test_unknown_code_is_a_plain_tuneport_error() -> None:
    e = error_from_wire({"code": "FROM_THE_FUTURE", "message": "?"})
    assert type(e) is tp.TuneportError and e.code == "FROM_THE_FUTURE" and e.data == {}


def test_public_names_match_the_brief() -> None:
    assert WIRE_ERRORS["LEASE_LOST"] is tp.LeaseLostError
    assert WIRE_ERRORS["SEARCH_SPACE_EXHAUSTED"] is tp.SearchSpaceExhaustedError
    assert WIRE_ERRORS["INTERNAL"] is tp.InternalError
