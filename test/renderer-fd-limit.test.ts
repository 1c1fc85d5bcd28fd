import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { CLI, tempDir } from "./helpers.js";

/**
 * The chart renderer when the server has no file descriptor left (a connection flood past `ulimit
 * -n`, docs/SECURITY.md): the fork of its worker process failed with `spawn EMFILE`, Node handed
 * back a process without an IPC channel, and the chart failed with a TypeError (`worker.send is not
 * a function`) as INTERNAL. A real process under `ulimit -n 128` takes every descriptor it may
 * hold, asks the built renderer (dist/) for a chart, then gives the descriptors back and warms the
 * renderer up: the chart is refused UNAVAILABLE, and the real worker then starts and draws. Before,
 * the failed process was also kept as the worker: the warm-up found "a worker" and did nothing, and
 * `close` waited for ever for the exit of a process that never ran (this driver hung).
 */

const DIST = dirname(dirname(CLI));

const DRIVER = `
import { closeSync, openSync } from "node:fs";
const { PlotRenderer } = await import(process.argv[2]);
const { silentLogger } = await import(process.argv[3]);
const renderer = new PlotRenderer(silentLogger());
const alive = setInterval(() => {}, 1_000); // the renderer's worker and channel keep no event loop alive: the server's sockets do
const fds = [];
try {
  for (;;) fds.push(openSync("/dev/null", "r"));
} catch (e) {
  if (e.code !== "EMFILE") throw e;
}
const filled = fds.length;
const during = await renderer.render("history", { name: "s" }, []).then(
  () => ({ ok: true }),
  (e) => ({ name: e.name, code: e.code, message: e.message, data: e.data }),
);
for (const fd of fds) closeSync(fd);
const warmed = await renderer.warm();
await renderer.close();
clearInterval(alive);
process.stdout.write(JSON.stringify({ filled, during, warmed }));
`;

describe.skipIf(process.platform !== "linux")("the chart renderer with no file descriptor left", () => {
  it("refuses the chart UNAVAILABLE (spawn EMFILE), and starts its worker once descriptors are free", async () => {
    const driver = join(tempDir(), "driver.mjs");
    writeFileSync(driver, DRIVER);
    const url = (rel: string) => pathToFileURL(join(DIST, rel)).href;
    const out = await new Promise<string>((resolve, reject) => {
      execFile(
        "bash",
        ["-c", 'ulimit -n 128 && exec "$0" "$@"', process.execPath, driver, url("service/plot-renderer.js"), url("logger.js")],
        { timeout: 120_000 }, // a hang guard
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      );
    });
    const r = JSON.parse(out) as { filled: number; during: Record<string, unknown>; warmed: boolean };
    expect(r.filled).toBeGreaterThan(0);
    expect(r.during).toMatchObject({
      name: "TuneportError",
      code: "UNAVAILABLE",
      message: expect.stringContaining("the chart renderer could not be started (EMFILE"),
      data: { reason: "renderer_unavailable", errno: "EMFILE" },
    });
    expect(r.warmed).toBe(true);
  }, 150_000);
});
