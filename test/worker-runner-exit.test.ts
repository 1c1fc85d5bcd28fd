/**
 * A suggestion in flight on a worker thread keeps the process alive until it is answered; an idle
 * thread does not. The threads were unref'd for good, so a process whose event loop had nothing
 * else left (a stopping server: SIGTERM waits for the requests in flight) exited, status 0,
 * mid-suggestion: the ask was never answered.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

const DIST = join(import.meta.dirname, "..", "dist");
const url = (...p: string[]) => JSON.stringify(pathToFileURL(join(DIST, ...p)).href);
const ZOD = JSON.stringify(pathToFileURL(join(import.meta.dirname, "..", "node_modules", "zod", "index.js")).href);

describe("WorkerRunner and the process's life", () => {
  it("a pending offloaded suggestion holds the process until answered; idle threads let it exit", () => {
    const dir = tempDir();
    const plugins = join(dir, "sleepy.mjs");
    writeFileSync(
      plugins,
      `import { z } from ${ZOD};
import { BUILTIN_PLUGINS } from ${url("index.js")};
class Sleepy {
  suggest() {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
    return { params: { x: 0.5 } };
  }
}
export const plugins = BUILTIN_PLUGINS.with({ strategies: [{ name: "sleepy", description: "sleeps", options: z.object({}).strict(), offload: true, create: () => new Sleepy() }] });
`,
    );
    const main = join(dir, "main.mjs");
    writeFileSync(
      main,
      `import { WorkerRunner } from ${url("service", "worker-runner.js")};
import { silentLogger } from ${url("logger.js")};
import { plugins } from ${JSON.stringify(pathToFileURL(plugins).href)};
const runner = new WorkerRunner(silentLogger(), { catalogue: ${JSON.stringify(pathToFileURL(plugins).href)} });
const factory = plugins.strategy("sleepy");
const study = { name: "s", space: { x: { type: "float", low: 0, high: 1 } }, strategy: { name: "sleepy", options: {} }, seed: 1, directions: ["minimize"] };
if (!runner.offloads(factory, {}, study.space, 1)) throw new Error("not offloaded");
// Nothing else keeps this process alive: not awaited at the top level, no timer.
void runner.suggest(factory, factory.create({}), { study, trialNumber: 0, trials: [] }).then((s) => console.log("answered", JSON.stringify(s.params)));
`,
    );
    // A hang guard only: with the threads ref'd for good, the process would never exit.
    const run = spawnSync(process.execPath, [main], { encoding: "utf8", timeout: 60_000 });
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    // Before: the process exited at once, status 0, without the answer.
    expect(run.stdout).toContain('answered {"x":0.5}');
  }, 90_000);
});
