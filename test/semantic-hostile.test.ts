/**
 * Hostile input that is well-formed on the wire but extreme in meaning — search spaces with degenerate
 * bounds, values at the edges of a double — sent to a real `tuneport serve`: each is refused with a
 * typed error or stored so that every later read of the study still works, and the server stays up.
 * (Raw frames, bad UTF-8, nesting: raw-frame-fuzz; the HTTP doors: dashboard-hostile, mcp-hardening.)
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Packr } from "msgpackr";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

let server: ServerProcess;
let client: TestClient;

beforeAll(async () => {
  server = await startServer(join(tempDir(), "hostile.db"));
  client = new TestClient(server.endpoint);
  await client.call("hello", { versions: [1] });
}, 120_000);
afterAll(async () => {
  await client?.close();
  await stopServers();
});

/** The server still answers, and has not exited. */
async function stillServing(): Promise<void> {
  const r = await client.request("hello", { versions: [1] });
  expect(r.ok).toBe(true);
  expect(server.proc.exitCode).toBeNull();
  expect(server.proc.signalCode).toBeNull();
}

describe("plots of extreme but valid data", () => {
  it("draws a parameter declared over a subnormal span (its chart aborted the server in resvg)", async () => {
    const space = { x: { type: "float", low: 5e-324, high: 1e-323 }, y: { type: "float", low: 0, high: 1 } };
    // These trials made Vega write an SVG on which resvg panicked, and a Rust panic aborts the process.
    await client.call("create_study", { name: "subnormal-plot", space, strategy: "random", seed: 1 });
    for (let k = 0; k < 25; k++) {
      const a = await client.call("ask", { study: "subnormal-plot" });
      await client.call("tell", { study: "subnormal-plot", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: k % 7 });
    }
    for (const kind of ["slice", "contour"]) {
      const r = await client.request("plot", { study: "subnormal-plot", kind });
      expect(r.ok, `${kind}: ${r.error?.message}`).toBe(true);
      expect(r.result.width, kind).toBeGreaterThan(300);
    }
    await stillServing();
  }, 120_000);

  it("draws learning curves reported at subnormal steps (a PBT perturbation_interval of 5e-324; the chart failed INTERNAL)", async () => {
    // bench/hostile-sweep.mjs --focus pb2 found it: vega's ticks threw on the step axis from 0 to 1e-323.
    for (const [name, steps] of [["subnormal-steps", [5e-324, 1e-323, 1.5e-323]], ["one-subnormal-step", [5e-324]]] as const) {
      await client.call("create_study", { name, space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
      for (let k = 0; k < 3; k++) {
        const a = await client.call("ask", { study: name });
        for (const [i, step] of steps.entries()) await client.call("report", { study: name, trial: a.trial.number, token: a.lease.token, step, value: k + i });
        await client.call("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: k });
      }
      const r = await client.request("plot", { study: name, kind: "intermediate_values" });
      expect(r.ok, `${name}: ${r.error?.message}`).toBe(true);
      expect(r.result.width, name).toBeGreaterThan(300);
    }
    await stillServing();
  }, 120_000);

  it("draws the Pareto front of objectives told subnormal values (the chart failed INTERNAL)", async () => {
    // bench/hostile-sweep.mjs --plots seed 35 case 65 found it: vega's ticks threw on an axis from -5e-324 to 1e-323.
    const name = "subnormal-front";
    await client.call("create_study", { name, space: { x: { type: "float", low: 0, high: 1 } }, directions: ["minimize", "maximize"], strategy: "random", seed: 1 });
    await client.call("add_trial", { study: name, params: { x: 0.5 }, state: "COMPLETE", values: [-5e-324, 1e308] });
    for (let k = 0; k < 3; k++) {
      const a = await client.call("ask", { study: name });
      await client.call("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values: [k * 5e-324, -1e308 * (k / 2)] });
    }
    const r = await client.request("plot", { study: name, kind: "pareto_front" });
    expect(r.ok, r.error?.message).toBe(true);
    expect(r.result.width).toBeGreaterThan(300);
    await stillServing();
  }, 120_000);

  it("draws hypergradient trajectories of a parameter declared over a subnormal span (the chart failed INTERNAL)", async () => {
    // bench/hostile-sweep.mjs --focus asha found it: vega's ticks threw on a facet's y axis from 1e-310 to 1e-308.
    const name = "subnormal-trajectories";
    await client.call("create_study", { name, space: { x: { type: "float", low: 1e-310, high: 1e-308, log: true } }, strategy: "hypergradient", seed: 1 });
    for (let k = 0; k < 2; k++) {
      const a = await client.call("ask", { study: name });
      for (const step of [1, 2, 3]) await client.call("report", { study: name, trial: a.trial.number, token: a.lease.token, step, value: step, data: { hypergradients: { x: 3 } } });
      await client.call("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: k });
    }
    const r = await client.request("plot", { study: name, kind: "trajectories" });
    expect(r.ok, r.error?.message).toBe(true);
    expect(r.result.width).toBeGreaterThan(300);
    await stillServing();
  }, 120_000);
});

describe("search spaces at the edges of a double", () => {
  it("keeps a float stepped by a subnormal on its grid (its high was stored as 0, below its low, and 0 handed out)", async () => {
    const space = { c: { type: "float", low: 5e-324, high: 2e-323, step: 5e-324 }, d: { type: "float", low: 1e-320, high: 1e-319, step: 3e-321 } };
    for (const strategy of ["random", { name: "tpe", options: { n_startup_trials: 0 } }, "qmc"]) {
      const name = `subnormal-step-${typeof strategy === "string" ? strategy : strategy.name}`;
      const { study } = await client.call("create_study", { name, space, strategy, seed: 3 });
      expect(study.space.c).toEqual({ type: "float", low: 5e-324, high: 2e-323, step: 5e-324 });
      expect(study.space.d.high).toBeGreaterThanOrEqual(study.space.d.low);
      for (let k = 0; k < 6; k++) {
        const a = await client.call("ask", { study: name });
        for (const p of ["c", "d"] as const) {
          const v = a.trial.params[p] as number;
          const d = study.space[p] as { low: number; high: number; step: number };
          expect(v, `${name} ${p}`).toBeGreaterThanOrEqual(d.low);
          expect(v, `${name} ${p}`).toBeLessThanOrEqual(d.high);
          const steps = (v - d.low) / d.step;
          expect(Math.abs(steps - Math.round(steps)), `${name} ${p}=${v} on the grid`).toBeLessThan(1e-6);
        }
        await client.call("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: k });
      }
    }
    await stillServing();
  }, 120_000);
});

describe("values and grids at the ends of the double range", () => {
  it("refuses a stepped float whose cells span more than the largest double (TPE and ParEGO proposed NaN on it), declared or define-by-run", async () => {
    const c = { type: "float", low: 0, high: 1.7e308, step: 1e307 };
    const created = await client.request("create_study", { name: "cells-overflow", space: { c } });
    expect(created.ok).toBe(false);
    expect(created.error?.code).toBe("INVALID_ARGUMENT");
    expect(created.error?.message).toContain("high − low + step must be a finite number");
    await client.call("create_study", { name: "cells-overflow-dbr", space: {} });
    const a = await client.call("ask", { study: "cells-overflow-dbr" });
    const s = await client.request("suggest", { study: "cells-overflow-dbr", trial: a.trial.number, token: a.lease.token, name: "c", distribution: c });
    expect(s.error?.code).toBe("INVALID_ARGUMENT");
    await stillServing();
  }, 120_000);

  it("runs multi-objective TPE on values at ±Number.MAX_VALUE and the widest stepped float it accepts (the ask failed INTERNAL: hostile-sweep seed 11, case 28)", async () => {
    const space = { a: { type: "float", low: -8e307, high: 8e307 }, c: { type: "float", low: 0, high: 1.6e308, step: 1e307 } };
    const ends = [-Number.MAX_VALUE, -1e308, -5e-324, 0, 5e-324, 1e308, Number.MAX_VALUE];
    const directions = ["minimize", "maximize", "minimize", "maximize", "minimize"];
    await client.call("create_study", { name: "mo-ends", space, directions, strategy: { name: "tpe", options: { n_startup_trials: 4 } }, seed: 11 });
    for (let k = 0; k < 16; k++) {
      const a = await client.call("ask", { study: "mo-ends" });
      const v = a.trial.params.c as number;
      expect(v >= 0 && v <= 1.6e308 && Math.abs(v / 1e307 - Math.round(v / 1e307)) < 1e-6, `c = ${v}`).toBe(true);
      expect(Number.isFinite(a.trial.params.a), `a = ${a.trial.params.a}`).toBe(true);
      const values = directions.map((_, i) => ends[(k * 3 + i * 5) % ends.length]);
      await client.call("tell", { study: "mo-ends", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values });
    }
    await stillServing();
  }, 120_000);
});

describe("population-based training over define-by-run ranges that differ between members", () => {
  it("moves an exploited donor's value into the recipient's own range (it was proposed as it was, refused, and logged as an error: hostile-sweep seed 27)", async () => {
    const name = "pbt-dynamic-range";
    const options = { population_size: 2, perturbation_interval: 1, explore: false };
    await client.call("create_study", { name, space: { x: { type: "float", low: 0, high: 1 } }, direction: "maximize", strategy: { name: "pbt", options }, seed: 5, lease_ttl_s: 600 });
    const a = await client.call("ask", { study: name });
    const b = await client.call("ask", { study: name });
    const at = (t: typeof a) => ({ study: name, trial: t.trial.number, token: t.lease.token });
    // A range that depends on an earlier choice (Optuna's dynamic spaces): a's lies above b's.
    await client.call("suggest", { ...at(a), name: "dyn", distribution: { type: "int", low: 2_000_000, high: 3_000_000 } });
    const own = await client.call("suggest", { ...at(b), name: "dyn", distribution: { type: "int", low: 0, high: 1_000_000 } });
    expect(own.value).toBeLessThan(1_000_000);
    await client.call("report", { ...at(a), step: 1, value: 9, data: { checkpoint: "ck/a" } });
    const { decision } = await client.call("report", { ...at(b), step: 1, value: 0.1, data: { checkpoint: "ck/b" } });
    expect(decision).toMatchObject({ action: "update", restore: { trial: a.trial.number, checkpoint: "ck/a" } });
    expect(decision.params.dyn).toBe(1_000_000); // the nearest of b's values to a's (b's own before)
    await stillServing();
    expect(server.lines.filter((l) => l.includes("invalid update"))).toEqual([]);
  }, 60_000);
});

describe("data whose keys are the names of JavaScript's own hooks", () => {
  it("stores and returns user attributes named constructor and toJSON (their change's reply failed to pack: INTERNAL)", async () => {
    await client.call("create_study", { name: "hook-keys", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
    const attrs = { constructor: "resnet", toJSON: "yes", inner: { constructor: 1, toJSON: [2] } };
    // Packed here by a packer of its own (as Python's msgpack sends such keys), not by the codec under test.
    const own = new Packr({ useRecords: false, useToJSON: false });
    const send = (id: string, args: Record<string, unknown>) => client.raw(own.pack({ v: 1, id, op: "set_user_attrs", ...args }), id);
    const set = await send("hook-1", { study: "hook-keys", attrs });
    expect(set.ok, JSON.stringify(set)).toBe(true);
    const a = await client.call("ask", { study: "hook-keys" });
    const onTrial = await send("hook-2", { study: "hook-keys", trial: a.trial.number, attrs });
    expect(onTrial.ok, JSON.stringify(onTrial)).toBe(true);
    const { study } = await client.call("get_study", { study: "hook-keys" });
    expect(study.user_attrs).toMatchObject(attrs);
    await stillServing();
  }, 60_000);
});

describe("a chart renderer that dies", () => {
  /** The plot renderer's process: the server's child running plot-worker.js. */
  function rendererPids(): number[] {
    const out: number[] = [];
    for (const tid of readdirSync(`/proc/${server.proc.pid}/task`)) {
      const children = readFileSync(`/proc/${server.proc.pid}/task/${tid}/children`, "utf8").trim();
      for (const pid of children ? children.split(" ").map(Number) : []) {
        try {
          if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("plot-worker")) out.push(pid);
        } catch {
          // gone meanwhile
        }
      }
    }
    return out;
  }

  it("takes the charts it was drawing with it, not the server (resvg's native panics abort their process)", async () => {
    await client.call("create_study", { name: "renderer-dies", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 2 });
    for (let k = 0; k < 5; k++) {
      const a = await client.call("ask", { study: "renderer-dies" });
      await client.call("tell", { study: "renderer-dies", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: k });
    }
    expect((await client.request("plot", { study: "renderer-dies", kind: "history" })).ok).toBe(true);
    const [pid] = rendererPids();
    expect(pid, "the renderer runs in its own process").toBeGreaterThan(0);
    process.kill(pid as number, "SIGABRT"); // what a Rust panic does to the process it runs in
    while (rendererPids().includes(pid as number)) await new Promise((r) => setTimeout(r, 20));
    await stillServing();
    const again = await client.request("plot", { study: "renderer-dies", kind: "slice" }); // not a cached chart: drawn again
    expect(again.ok, again.error?.message).toBe(true);
    expect(rendererPids()).toHaveLength(1);
    await stillServing();
  }, 120_000);
});
