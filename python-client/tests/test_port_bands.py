"""Test runs sharing a machine can each keep to a band of ports of their own (TUNEPORT_TEST_PORTS, read
here and by test/helpers.ts' `freePort`): `free_port` keeps to the band it is given and splits it
between pytest-xdist's workers, as it splits the default band."""

from __future__ import annotations

import socket

import pytest

from conftest import _port_band, free_port


def test_an_explicit_band_is_split_between_xdist_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNEPORT_TEST_PORTS", "40000-40999")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert _port_band() == (40000, 40500)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    assert _port_band() == (40500, 41000)
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    assert _port_band() == (40000, 41000)


def test_free_port_keeps_to_the_band_and_never_leaves_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    low = free_port()
    monkeypatch.setenv("TUNEPORT_TEST_PORTS", f"{low}-{low + 19}")
    assert all(low <= free_port() <= low + 19 for _ in range(100))
    with socket.create_server(("127.0.0.1", low)):
        monkeypatch.setenv("TUNEPORT_TEST_PORTS", f"{low}-{low}")
        with pytest.raises(RuntimeError, match="no free loopback port"):
            free_port()


def test_a_band_too_narrow_to_split_or_malformed_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """One port between two workers left each an empty share, and every test then failed with "no free
    loopback port"; a band written backwards failed inside `random.sample`."""
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw1")
    monkeypatch.setenv("TUNEPORT_TEST_PORTS", "40000-40000")
    with pytest.raises(ValueError, match="TUNEPORT_TEST_PORTS=40000-40000: fewer ports than the 2 pytest-xdist workers"):
        _port_band()
    monkeypatch.setenv("TUNEPORT_TEST_PORTS", "40001-40000")
    with pytest.raises(ValueError, match="TUNEPORT_TEST_PORTS=40001-40000: expected LO-HI"):
        _port_band()
    monkeypatch.setenv("TUNEPORT_TEST_PORTS", "40000-40001")
    assert _port_band() == (40001, 40002)  # gw1 of the narrowest band that splits: one port each
