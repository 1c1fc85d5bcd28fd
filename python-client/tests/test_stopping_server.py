"""A server stopping cleanly (SIGTERM: it waits out the requests in flight, here a long offloaded
suggestion, then exits) and started again, against clients that send a ``hello`` beside each resend
(LIVENESS_LOOK_S). The stopping server read nothing, the hello included, so both the client whose
ask was being finished and one that sent a request during the stop took it for hung and raised
TimeoutError ("is it hung?") after ``timeout + retries`` looks, where they had waited and resent to
the restarted server. It answers hello while it stops now (and drops the rest, as before)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import tuneport as tp
from conftest import REPO, ServerProcess

SUGGEST_S = 11  # the stop lasts about this long: past timeout + retries looks (7 s), within (1 + retries) x timeout (16 s)


def _sleepy_plugins(path: Path) -> Path:
    zod = (REPO / "node_modules" / "zod" / "index.js").as_uri()
    dist = (REPO / "dist" / "index.js").as_uri()
    path.write_text(
        f"""import {{ z }} from "{zod}";
import {{ BUILTIN_PLUGINS }} from "{dist}";
class Sleepy {{
  suggest(req) {{
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, {SUGGEST_S * 1000});
    return {{ params: Object.fromEntries(Object.entries(req.study.space).map(([k, d]) => [k, d.low])) }};
  }}
}}
export const plugins = BUILTIN_PLUGINS.with({{ strategies: [{{ name: "sleepy", description: "sleeps", options: z.object({{}}).strict(), offload: true, create: () => new Sleepy() }}] }});
"""
    )
    return path


def test_requests_ride_out_a_clean_stop_longer_than_the_timeout(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "t.db", extra=["--plugins", str(_sleepy_plugins(tmp_path / "sleepy.mjs")), "--plot-warmup", "0"]).start()
    restarting: threading.Thread | None = None
    try:
        with tp.connect(srv.endpoint, timeout=4.0, retries=3, heartbeat=False) as a, tp.connect(srv.endpoint, timeout=4.0, retries=3, heartbeat=False) as b:
            a.create_study("slow", strategy="sleepy", space={"x": tp.Float(0, 1)})
            b.create_study("plain", strategy="random", space={"x": tp.Float(0, 1)})
            got: dict[str, Any] = {}

            def ask_slow() -> None:
                try:
                    got["a"] = a.call("ask", study="slow")
                except tp.TuneportError as err:
                    got["a"] = err

            asking = threading.Thread(target=ask_slow)
            asking.start()
            time.sleep(1.0)  # the slow ask reaches the server (its suggestion runs for SUGGEST_S)
            assert srv.proc is not None
            old = srv.proc
            old.send_signal(signal.SIGTERM)

            def restart() -> None:
                old.wait()
                srv.start()

            restarting = threading.Thread(target=restart)
            restarting.start()
            # Sent during the stop: dropped unanswered; resent (same id) to the restarted server.
            reply = b.call("ask", study="plain")
            assert reply["trial"]["number"] == 0
            asking.join()
            restarting.join()
            assert not isinstance(got["a"], Exception), got["a"]
            assert got["a"]["trial"]["number"] == 0
            # The ask finished during the stop and its resend got that reply: one trial, not two.
            assert a.call("get_study", study="slow")["study"]["n_trials"] == 1
    finally:
        if restarting is not None:
            restarting.join()  # the restarted server too is killed, a failure or not
        srv.kill()
