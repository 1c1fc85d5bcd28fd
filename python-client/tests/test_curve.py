"""CURVE from Python against a real server started with --curve-secret/--curve-allow."""

from __future__ import annotations

import re
import shlex
import subprocess
import time
from pathlib import Path

import pytest

import tuneport as tp
from conftest import REPO, SERVER_MAIN, ServerProcess, free_port


def keygen(name: str, out: Path) -> None:
    subprocess.run(["node", str(SERVER_MAIN), "keygen", name, "--out", str(out)], check=True, capture_output=True)


def test_allowed_key_works_and_refused_keys_say_so(tmp_path: Path) -> None:
    keys, allowed, strangers = tmp_path / "server", tmp_path / "allowed", tmp_path / "strangers"
    for d in (keys, allowed, strangers):
        d.mkdir()
    keygen("server", keys)
    keygen("worker", allowed)
    keygen("intruder", strangers)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen(
        ["node", str(SERVER_MAIN), "serve", "--storage", str(tmp_path / "db"), "--bind", endpoint, "--log-level", "warn",
         "--curve-secret", str(keys / "server.key"), "--curve-allow", str(allowed)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        good = tp.CurveKeys.from_files(keys / "server.pub", allowed / "worker.key")
        deadline = time.monotonic() + 60  # a hang guard
        while True:  # the server binds a moment after it starts: poll with short connects
            try:
                client = tp.connect(endpoint, curve=good, connect_timeout=0.5)
                break
            except tp.TimeoutError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
        with client:
            study = client.create_study("secret", strategy="random", space={"x": tp.Float(0, 1)})
            with study.ask() as trial:
                trial.complete(0.5)
            assert study.best_trial is not None

        # Refusals are told apart from silence, at once: the handshake fails (ZMTP ERROR / mechanism).
        bad = tp.CurveKeys.from_files(keys / "server.pub", strangers / "intruder.key")
        with pytest.raises(tp.UnauthenticatedError, match="CURVE keys not accepted"):
            tp.connect(endpoint, curve=bad, connect_timeout=10)
        # Another server's public key: the server drops the connection without a word; its greeting
        # (CURVE, as ours) says that this is the key, not a server that is down.
        wrong_server = tp.CurveKeys.from_files(strangers / "intruder.pub", allowed / "worker.key")
        with pytest.raises(tp.UnauthenticatedError, match="closed the CURVE handshake.*CURVE keys not accepted"):
            tp.connect(endpoint, curve=wrong_server, connect_timeout=10)
        # Plaintext: libzmq reports only "handshake failed, no detail", as for a dead port forward;
        # the server's greeting (CURVE) is what says that it requires CURVE.
        with pytest.raises(tp.UnauthenticatedError, match="the server uses CURVE, this client NULL.*it requires CURVE") as info:
            tp.connect(endpoint, connect_timeout=10)
        assert info.value.data["mechanism"] == "CURVE"
        assert tp._protocol.probe_mechanism(endpoint) == "CURVE"
        with pytest.raises(ValueError, match="no secret key"):
            tp.CurveKeys.from_files(keys / "server.pub", allowed / "worker.pub")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_the_readme_curve_steps_fit_together(tmp_path: Path) -> None:
    """The README's key set-up, run as written (loopback instead of 0.0.0.0), then the worker's
    connect line with the files those steps made."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"```sh\n(\s*npx tuneport keygen server.*?)```", readme, re.S)
    assert block, "no CURVE block in README.md"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert commands[-1].startswith("npx tuneport serve ")
    for command in commands[:-1]:
        for part in command.split("&&"):
            args = shlex.split(part.replace("npx tuneport", f"node {SERVER_MAIN}", 1))
            subprocess.run(args, cwd=tmp_path, check=True, capture_output=True)
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    serve = shlex.split(commands[-1].replace("npx tuneport", f"node {SERVER_MAIN}", 1).replace("tcp://0.0.0.0:5555", endpoint))
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([*serve, "--storage", str(tmp_path / "db")], cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        files = re.search(r'CurveKeys\.from_files\("([^"]+)", "([^"]+)"\)', readme)
        assert files, "no CurveKeys.from_files line in README.md"
        keys = tp.CurveKeys.from_files(tmp_path / files.group(1), tmp_path / files.group(2))
        deadline = time.monotonic() + 20
        while True:  # the server binds a moment after it starts
            try:
                client = tp.connect(endpoint, curve=keys, connect_timeout=0.5)
                break
            except tp.TimeoutError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
        with client:
            assert client.list_studies() == []
        assert not (tmp_path / "keys" / "clients" / "worker-01.key").exists()  # the allow-list holds public keys only
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_the_secret_key_stays_out_of_repr_and_tracebacks(tmp_path: Path) -> None:
    # repr() is what logging, debuggers, pytest's `-l` and error reporters that capture a frame's
    # locals print: a CurveKeys in scope there must not print the client's secret key.
    keygen("server", tmp_path)
    keygen("worker", tmp_path)
    keys = tp.CurveKeys.from_files(tmp_path / "server.pub", tmp_path / "worker.key")
    secret = re.search(r'secret-key = "(.{40})"', (tmp_path / "worker.key").read_text())
    assert secret is not None and keys.secret_key == secret.group(1)
    for shown in (repr(keys), str(keys), f"{keys}", f"{keys!r}"):
        assert secret.group(1) not in shown
        assert keys.public_key in shown  # the rest still identifies the key pair


def test_keys_for_a_server_without_curve_say_that_it_does_not_use_curve(tmp_path: Path) -> None:
    keygen("server", tmp_path)
    keygen("worker", tmp_path)
    keys = tp.CurveKeys.from_files(tmp_path / "server.pub", tmp_path / "worker.key")
    srv = ServerProcess(tmp_path / "plain.db").start()
    try:
        assert tp._protocol.probe_mechanism(srv.endpoint) == "NULL"
        with pytest.raises(tp.UnauthenticatedError, match="the server uses NULL, this client CURVE.*does not use CURVE"):
            tp.connect(srv.endpoint, curve=keys, connect_timeout=10)
    finally:
        srv.stop()
