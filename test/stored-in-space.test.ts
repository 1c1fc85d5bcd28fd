/**
 * Every value a real `tuneport serve` stores lies inside its distribution exactly (Optuna's
 * `_contains`: `low <= v <= high`), whoever sent it: `enqueue`, `add_trial`, an enqueued value
 * taken up by `suggest`, and a plug-in's suggestion, define-by-run value, update and finish. The
 * bounds used to allow 1e-9 of the range (at least 1e-9): 0 and -5e-10 were stored for a log range
 * of [1e-12, 1e-10] (whose log is then -inf or NaN), 1 + 5e-10 for [0, 1], 2^40 + 1000 for an int up
 * to 2^40.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitFor } from "../src/testing/waits.js";
import { CLI, type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

const DIST = pathToFileURL(join(import.meta.dirname, "..", "dist", "index.js")).href;
const ZOD = pathToFileURL(join(import.meta.dirname, "..", "node_modules", "zod", "index.js")).href;

const LOG = { type: "float", low: 1e-12, high: 1e-10, log: true } as const;
const BIG = { type: "int", low: 0, high: 2 ** 40 } as const;
const UNIT = { type: "float", low: 0, high: 1 } as const;
const SPACE = { lg: LOG, big: BIG, u: UNIT };
/** Values within the old tolerance of the bounds, one list per parameter of SPACE. */
const JUST_OUTSIDE: Record<keyof typeof SPACE, number[]> = { lg: [0, -5e-10, 1e-10 + 5e-10], big: [2 ** 40 + 1000, -1000], u: [1 + 5e-10, -5e-10] };

/** Exactly inside (no tolerance), as the server must store every value. */
function inside(d: { type: string; low: number; high: number }, v: unknown): boolean {
  return typeof v === "number" && v >= d.low && v <= d.high && (d.type !== "int" || Number.isInteger(v));
}

/**
 * "edge", a strategy plug-in that gets every value just wrong: its suggestions, define-by-run
 * values, updates and finishing params lie within the old tolerance outside the range.
 */
function pluginModule(dir: string): string {
  const path = join(dir, "edge.mjs");
  writeFileSync(
    path,
    `import { z } from ${JSON.stringify(ZOD)};
import { BUILTIN_PLUGINS } from ${JSON.stringify(DIST)};
const off = (d) => (d.log ? -5e-10 : d.type === "int" ? d.high + 1000 : d.high + 5e-10);
const all = (space) => Object.fromEntries(Object.entries(space).map(([k, d]) => [k, off(d)]));
class Edge {
  suggest(req) { return { params: all(req.study.space) }; }
  suggestParam(req) { return off(req.distribution); }
  onReport(req) { return { decision: { action: "update", params: { ...all(req.study.space), dyn: 0 } } }; }
  onFinish(req) { return { params: all(req.study.space) }; }
}
export const edge = { name: "edge", description: "Values just outside every range (a test plug-in).", options: z.object({}).strict(), create: () => new Edge() };
export const plugins = BUILTIN_PLUGINS.with({ strategies: [edge] });
`,
  );
  return path;
}

let server: ServerProcess;
let client: TestClient;

beforeAll(async () => {
  const dir = tempDir();
  server = await startServer(join(dir, "space.db"), ["--plugins", pluginModule(dir)]);
  client = new TestClient(server.endpoint);
  await client.call("hello", { versions: [1] });
}, 120_000);
afterAll(async () => {
  await client?.close();
  await stopServers();
});

/** Every stored value of every trial of `study` lies inside its trial's distribution. */
async function expectAllInside(study: string): Promise<void> {
  const { trials } = await client.call("trials", { study });
  for (const t of trials)
    for (const [k, v] of Object.entries(t.params)) expect(inside(t.distributions[k], v), `trial ${t.number}: ${k} = ${String(v)} in ${JSON.stringify(t.distributions[k])}`).toBe(true);
}

describe("values sent by a client", () => {
  it("enqueue refuses a declared value just outside its range, naming it", async () => {
    await client.call("create_study", { name: "enq", space: SPACE, strategy: "random", seed: 1 });
    for (const [k, vs] of Object.entries(JUST_OUTSIDE))
      for (const v of vs) {
        const r = await client.request("enqueue", { study: "enq", params: { [k]: v } });
        expect(r.ok, `${k} = ${v}`).toBe(false);
        expect(r.error?.code).toBe("INVALID_ARGUMENT");
        expect(r.error?.message).toContain(`outside [${SPACE[k as keyof typeof SPACE].low}, ${SPACE[k as keyof typeof SPACE].high}]`);
      }
    const r = await client.request("enqueue", { study: "enq", params: { lg: 0 } });
    expect(r.error?.message).toContain("a log range holds positive numbers only");
    // The bounds themselves are values.
    await client.call("enqueue", { study: "enq", params: { lg: 1e-12, big: 2 ** 40, u: 1 } });
    const a = await client.call("ask", { study: "enq" });
    expect(a.trial.params).toEqual({ lg: 1e-12, big: 2 ** 40, u: 1 });
    await expectAllInside("enq");
  }, 120_000);

  it("add_trial refuses a value just outside its range, declared or define-by-run", async () => {
    await client.call("create_study", { name: "added", space: SPACE, strategy: "random", seed: 1 });
    for (const [k, vs] of Object.entries(JUST_OUTSIDE))
      for (const v of vs) {
        const params = { lg: 1e-11, big: 7, u: 0.5, [k]: v };
        const r = await client.request("add_trial", { study: "added", params, value: 1 });
        expect(r.ok, `${k} = ${v}`).toBe(false);
        expect(r.error?.code).toBe("INVALID_ARGUMENT");
        expect(r.error?.message).toContain("outside");
        const dbr = await client.request("add_trial", { study: "added", params: { lg: 1e-11, big: 7, u: 0.5, [`d_${k}`]: v }, distributions: { [`d_${k}`]: SPACE[k as keyof typeof SPACE] }, value: 1 });
        expect(dbr.ok, `d_${k} = ${v}`).toBe(false);
        expect(dbr.error?.code).toBe("INVALID_ARGUMENT");
      }
    expect((await client.call("trials", { study: "added" })).total).toBe(0);
  }, 120_000);

  it("an enqueued define-by-run value just outside the range its trial suggests is replaced by a drawn one", async () => {
    await client.call("create_study", { name: "dbr", strategy: "random", seed: 1 });
    for (const [k, vs] of Object.entries(JUST_OUTSIDE))
      for (const [i, v] of vs.entries()) {
        // A name the study has not seen: enqueue cannot check it (a seen one is refused as above).
        await client.call("enqueue", { study: "dbr", params: { [`q_${k}_${i}`]: v } });
        const a = await client.call("ask", { study: "dbr" });
        const at = { study: "dbr", trial: a.trial.number, token: a.lease.token };
        const { value } = await client.call("suggest", { ...at, name: `q_${k}_${i}`, distribution: SPACE[k as keyof typeof SPACE] });
        expect(inside(SPACE[k as keyof typeof SPACE], value), `${k}: enqueued ${v}, suggest returned ${value}`).toBe(true);
        await client.call("tell", { ...at, state: "COMPLETE", value: 1 });
      }
    await expectAllInside("dbr");
  }, 120_000);
});

describe("values in a file", () => {
  it("tuneport import refuses a trial whose value lies just outside its distribution", () => {
    const dir = tempDir();
    const config = { direction: "minimize", space: SPACE, strategy: { name: "random", options: {} }, scheduler: null, seed: 1, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false }, lease_ttl_s: 30 };
    // One value per parameter (each a CLI process): 0 for the log range, 2^40 + 1000, 1 + 5e-10.
    for (const [k, [v]] of Object.entries(JUST_OUTSIDE)) {
      const file = join(dir, `${k}.jsonl`);
      const trial = { number: 0, state: "COMPLETE", params: { lg: 1e-11, big: 7, u: 0.5, [k]: v }, distributions: SPACE, value: 1, intermediate: [], user_attrs: {}, system_attrs: {}, created_at_ms: 2, started_at_ms: 2, finished_at_ms: 3, lease: null };
      writeFileSync(file, `${JSON.stringify({ format: "tuneport-study", version: 1, name: `f-${k}`, config, user_attrs: {}, created_at_ms: 1 })}\n${JSON.stringify(trial)}\n`);
      const r = spawnSync(process.execPath, [CLI, "import", file, "--storage", join(dir, "f.db")], { encoding: "utf8", timeout: 120_000 });
      expect(r.status, `${k} = ${v}: ${r.stderr}`).not.toBe(0);
      expect(r.stderr).toContain(`parameter '${k}' is ${JSON.stringify(v)}, which its distribution`);
    }
  }, 180_000);
});

describe("values proposed by a plug-in", () => {
  it("grid: a points_per_dim axis ends on low and high exactly, and explicit values outside are refused", async () => {
    const space = { x: { type: "float", low: 1e-4, high: 0.1, log: true } };
    const refused = await client.request("create_study", { name: "grid-out", space, strategy: { name: "grid", options: { values: { x: [0.05, 0.1 + 5e-10] } } } });
    expect(refused.error?.code).toBe("INVALID_ARGUMENT");
    expect(refused.error?.message).toContain("values of 'x' hold 0.1000000005");
    await client.call("create_study", { name: "grid-ends", space, strategy: { name: "grid", options: { points_per_dim: 4, ordered: true } } });
    const xs: number[] = [];
    for (let i = 0; i < 4; i++) {
      const a = await client.call("ask", { study: "grid-ends" });
      xs.push(a.trial.params.x);
      await client.call("tell", { study: "grid-ends", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i });
    }
    // exp(log(0.1)) was 0.10000000000000006: stored above the high before, a drawn value instead of the grid's point after contains turned exact.
    expect([Math.min(...xs), Math.max(...xs)]).toEqual([1e-4, 0.1]);
    await expectAllInside("grid-ends");
  }, 120_000);

  it("a suggestion, a define-by-run value, an update and a finish just outside the range are never stored", async () => {
    await client.call("create_study", { name: "edge", space: SPACE, strategy: "edge", seed: 1 });
    const a = await client.call("ask", { study: "edge" });
    for (const [k, d] of Object.entries(SPACE)) expect(inside(d, a.trial.params[k]), `ask: ${k} = ${a.trial.params[k]}`).toBe(true);
    const at = { study: "edge", trial: a.trial.number, token: a.lease.token };
    const { value } = await client.call("suggest", { ...at, name: "dyn", distribution: LOG });
    expect(inside(LOG, value), `suggest: ${value}`).toBe(true);
    const { decision } = await client.call("report", { ...at, step: 1, value: 0.5 });
    expect(decision.action).toBe("update");
    for (const [k, v] of Object.entries(decision.params as Record<string, number>)) expect(v, `update: ${k}`).toBe(a.trial.params[k] ?? value);
    const told = await client.call("tell", { ...at, state: "COMPLETE", value: 0.5 });
    expect(told.trial.params).toEqual({ ...a.trial.params, dyn: value });
    await expectAllInside("edge");
    // The server said which plug-in values it refused (and kept serving).
    const logged = (msg: string) => async () => server.lines.some((l) => l.includes(msg));
    await waitFor(logged("a proposed value lies outside its distribution"), 60_000);
    await waitFor(logged("strategy produced an invalid value"), 60_000);
    await waitFor(logged("plug-in proposed an invalid update"), 60_000);
    expect((await client.request("hello", { versions: [1] })).ok).toBe(true);
  }, 120_000);
});
