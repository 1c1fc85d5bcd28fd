"""The client as a package: ``pip wheel`` builds a wheel that installs into a fresh virtualenv with
pyzmq and msgpack only, and works there outside the checkout; the helpers' ImportError hints
name packages that pip can install."""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

from conftest import REPO, ServerProcess

CLIENT = REPO / "python-client"


def _pip(*args: str, cwd: Path) -> None:
    # The test virtualenv's pip, resolving from the same package index as `make venv` (and, as
    # there, failing at once rather than retrying an index it cannot reach).
    env = {**os.environ, "PIP_RETRIES": "0", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run([sys.executable, "-m", "pip", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=300)


SCRIPT = r"""
import importlib.metadata, json, sys
import tuneport as tp
hints = {}
# What first needs torch or Lightning: device(), the lazily built optimizer class, the import.
for name, use in (("tuneport.torch", "device"), ("tuneport.hypergrad", "HypergradSGD"), ("tuneport.lightning", None)):
    try:
        mod = __import__(name, fromlist=["_"])
        getattr(mod, use)() if use == "device" else getattr(mod, use or "__name__")
        hints[name] = "no ImportError"
    except ImportError as exc:
        hints[name] = str(exc)
with tp.connect(sys.argv[1], timeout=120.0, retries=0) as client:
    study = client.create_study(sys.argv[2], strategy="random", space={"x": tp.Float(0, 1)}, seed=1)
    for trial in study.ask_many(3):
        trial.complete(float(trial.params["x"]))
    plot = study.plot("history")
    complete = study.summary().counts["COMPLETE"]
print(json.dumps({
    "file": tp.__file__,
    "dists": sorted(d.metadata["Name"].lower() for d in importlib.metadata.distributions()),
    "complete": complete,
    "png": plot.png[:4].hex(),
    "hints": hints,
}))
"""


def test_the_wheel_installs_with_pyzmq_and_msgpack_only_and_works_outside_the_checkout(server: ServerProcess, tmp_path: Path) -> None:
    # Build from a copy, so the checkout gets no build/ directory. Without build isolation (the
    # test virtualenv's setuptools builds it) to save half a minute; `pip wheel ./python-client`
    # as the README says builds the same wheel in an isolated environment.
    src = tmp_path / "src"
    shutil.copytree(CLIENT, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".mypy_cache", ".pytest_cache", "tests"))
    _pip("wheel", str(src), "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp_path / "wheels"), cwd=tmp_path)
    wheels = list((tmp_path / "wheels").glob("tuneport-*.whl"))
    assert len(wheels) == 1
    fresh = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=False).create(fresh)
    python = fresh / "bin" / "python"
    _pip("--python", str(python), "install", str(wheels[0]), cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run([str(python), "-c", SCRIPT, server.endpoint, f"pkg-{tmp_path.name}"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["file"].startswith(str(fresh)), out["file"]  # the installed copy, not the checkout
    assert set(out["dists"]) == {"tuneport", "pyzmq", "msgpack"}
    assert out["complete"] == 3
    assert out["png"] == "89504e47"
    # Without torch and Lightning, the helpers say what to install...
    assert set(out["hints"]) == {"tuneport.torch", "tuneport.hypergrad", "tuneport.lightning"}
    for name, hint in out["hints"].items():
        assert "tuneport[" not in hint.replace("python-client[", ""), hint
        # ...and what they name is what the test virtualenv installed from the same index.
        installable = re.findall(r"pip install ([a-z][a-z-]*)", hint)
        assert installable, hint
        assert any(_installed(n) for n in installable), (name, installable)


def _installed(name: str) -> bool:
    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False
