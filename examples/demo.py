"""`make demo`: start a tuneport server on a temporary SQLite file, tune a PyTorch MLP
on the digits data set against it, print what was found, stop the server.

    python examples/demo.py [--trials N] [--epochs E]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=int(os.environ.get("DEMO_TRIALS", "10")))
    ap.add_argument("--epochs", type=int, default=int(os.environ.get("DEMO_EPOCHS", "6")))
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="tuneport-demo-")
    db = os.path.join(tmp, "demo.db")
    endpoint = f"tcp://127.0.0.1:{free_port()}"
    cli = str(ROOT / "dist" / "cli" / "main.js")
    print(f"starting tuneport serve --storage {db} --bind {endpoint}", flush=True)
    log = open(os.path.join(tmp, "server.log"), "w")
    server = subprocess.Popen(
        ["node", cli, "serve", "--storage", db, "--bind", endpoint, "--log-format", "json"], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.time() + 30
        while True:
            with open(os.path.join(tmp, "server.log")) as f:
                if any(json.loads(line).get("msg") == "tuneport ready" for line in f if line.startswith("{")):
                    break
            if server.poll() is not None or time.time() > deadline:
                print(open(os.path.join(tmp, "server.log")).read(), file=sys.stderr)
                return 1
            time.sleep(0.1)
        rc = subprocess.call(
            [sys.executable, str(ROOT / "examples" / "pytorch_digits.py"), "--endpoint", endpoint,
             "--trials", str(args.trials), "--epochs", str(args.epochs)]
        )
        if rc != 0:
            return rc
        print("\nwhat the server stored (tuneport studies trials mlp-digits --sort value --limit 5):", flush=True)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        return subprocess.call(["node", cli, "studies", "trials", "mlp-digits", "--storage", db, "--sort", "value", "--limit", "5"])
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        log.close()


if __name__ == "__main__":
    sys.exit(main())
