/**
 * Drift guards for the op table (issue 12): every op is reachable over ZeroMQ from a real server
 * process, through the typed client behind `tuneport mcp --connect`, and through the in-process MCP
 * backend; every reply matches the op's result schema; every op has request and reply vectors that
 * match its schemas; and every mutating op sent twice with the same request id is applied once.
 */
import { readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../src/logger.js";
import { MUTATING_OPS, OPS, OP_NAMES, type OpName } from "../src/service/ops/ops.js";
import { StudyService } from "../src/service/study-service.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";
import { RemoteBackend, serviceBackend } from "../src/transports/mcp/backend.js";
import { ZmqClient } from "../src/transports/zmq/zmq-client.js";
import { type ServerProcess, TestClient, startServer, tempDir } from "./helpers.js";
import { type Exchange, runEveryOp } from "./op-session.js";

const VECTORS = join(import.meta.dirname, "..", "protocol", "vectors");

function checkSession(log: Exchange[], withHello: boolean) {
  const reached = new Set(log.map((e) => e.op));
  const expected = OP_NAMES.filter((op) => withHello || op !== "hello");
  expect([...reached].sort()).toEqual([...expected].sort());
  for (const e of log) {
    const parsed = OPS[e.op].result.safeParse(e.result);
    expect(parsed.success, `${e.op} reply: ${parsed.success ? "" : parsed.error.message}`).toBe(true);
  }
}

describe("the op table over every path", () => {
  let dir: string;
  let server: ServerProcess;
  let raw: TestClient;

  beforeAll(async () => {
    dir = tempDir();
    server = await startServer(join(dir, "ops.db"));
    raw = new TestClient(server.endpoint);
  });
  afterAll(async () => {
    await raw.close();
    await server.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("reaches every op over ZeroMQ and every reply matches its result schema", async () => {
    const frames = new Map<OpName, { request: Record<string, unknown>; reply: unknown }>();
    const log = await runEveryOp(async (op, args) => {
      const id = `v-${op}`;
      const reply = await raw.request(op, args, id);
      if (!reply.ok) throw new Error(`${op}: ${reply.error?.code} ${reply.error?.message}`);
      if (!frames.has(op)) frames.set(op, { request: { v: 1, id, op, ...args }, reply });
      return reply.result;
    }, "zmq-path");
    checkSession(log, true);
    // UPDATE_VECTORS=1 records a vector for each op that has none yet (then run generate.mjs).
    if (process.env.UPDATE_VECTORS)
      for (const [op, f] of frames) {
        const have = readdirSync(VECTORS).some((n) => n === `${op}-request.json`);
        if (have) continue;
        const write = (name: string, description: string, message: unknown) =>
          writeFileSync(join(VECTORS, `${name}.json`), `${JSON.stringify({ name, description, message, msgpack_hex: "" }, null, 2)}\n`);
        write(`${op}-request`, `${op}: ${OPS[op].summary}`, f.request);
        write(`${op}-reply`, `a successful ${op} reply, recorded from a real server`, f.reply);
      }
  });

  it("reaches every op (but hello, the transport's) through the MCP --connect backend", async () => {
    const client = new ZmqClient(server.endpoint, { timeoutMs: 30_000 });
    await client.connect();
    const remote = new RemoteBackend(client, silentLogger(), 60_000);
    try {
      checkSession(await runEveryOp((op, args) => remote.call(op, args as never), "remote-path", false), false);
    } finally {
      await remote.close();
    }
  });

  it("reaches every op (but hello) through the in-process MCP backend", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    try {
      checkSession(await runEveryOp((op, args) => serviceBackend(service).call(op, args as never), "embedded-path", false), false);
    } finally {
      await service.close();
      await storage.close();
    }
  });

  it.each([...MUTATING_OPS])("applies %s once when it is sent twice with the same request id", async (op) => {
    const study = `retry-${op}`;
    const space = { x: { type: "float", low: 0, high: 1 } };
    const snapshot = async () => {
      const s = await raw.request("get_study", { study });
      const t = await raw.request("trials", { study });
      return JSON.stringify([s.result?.study?.counts, s.result?.study?.user_attrs, t.result?.trials?.map((x: any) => [x.state, x.params, x.intermediate, x.user_attrs])]);
    };
    let args: Record<string, unknown>;
    if (op === "create_study") args = { name: study, space, strategy: "random" };
    else {
      await raw.call("create_study", { name: study, space, strategy: "random", seed: 3 });
      const a = op === "ask" || op === "enqueue" || op === "delete_study" ? null : await raw.call("ask", { study });
      if (op === "cancel_trial") await raw.call("enqueue", { study, params: { x: 0.75 } }); // trial 1, queued
      const tok = a?.lease.token;
      const trial = a?.trial.number;
      const byOp: Partial<Record<OpName, Record<string, unknown>>> = {
        delete_study: { study },
        ask: { study },
        suggest: { study, trial, token: tok, name: "y", distribution: { type: "int", low: 0, high: 9 } },
        report: { study, trial, token: tok, step: 1, value: 0.5 },
        tell: { study, trial, token: tok, state: "COMPLETE", value: 0.5 },
        enqueue: { study, params: { x: 0.5 } },
        set_user_attrs: { study, attrs: { n: 1 } },
        stop_study: { study },
        resume_study: { study },
        cancel_trial: { study, trial: 1 },
        add_trial: { study, params: { x: 0.25 }, value: 0.5 },
        update_study: { study, space: { x: { type: "float", low: 0, high: 2 } }, notes: "once" },
      };
      args = byOp[op] as Record<string, unknown>;
      expect(args, `a retry case for mutating op ${op}`).toBeDefined();
    }
    const id = `same-id-${op}`;
    const first = await raw.request(op, args, id);
    expect(first.ok, JSON.stringify(first.error)).toBe(true);
    const after = op === "delete_study" ? "" : await snapshot();
    const second = await raw.request(op, args, id);
    expect(second).toEqual(first);
    if (op !== "delete_study") expect(await snapshot()).toBe(after);
    else expect((await raw.request("get_study", { study })).error?.code).toBe("NOT_FOUND");
  });
});

/** `{"$bin": hex}` in a vector stands for MessagePack bin (see protocol/vectors/generate.mjs). */
function binReviver(_key: string, v: unknown): unknown {
  if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { $bin?: unknown }).$bin === "string")
    return new Uint8Array(Buffer.from((v as { $bin: string }).$bin, "hex"));
  return v;
}

describe("protocol/vectors", () => {
  const vectors = readdirSync(VECTORS)
    .filter((f) => f.endsWith(".json"))
    .map((f) => ({ file: f, ...(JSON.parse(readFileSync(join(VECTORS, f), "utf8"), binReviver) as { name: string; message: Record<string, unknown> }) }));

  it.each(OP_NAMES)("has a request and a reply vector for %s", (op) => {
    const req = vectors.filter((v) => v.name === `${op}-request` || v.name.startsWith(`${op}-request-`));
    const rep = vectors.filter((v) => v.name === `${op}-reply` || v.name.startsWith(`${op}-reply-`));
    expect(req.filter((v) => v.name === `${op}-request`).length, `${op}-request.json`).toBe(1);
    expect(rep.length, `${op}-reply*.json`).toBeGreaterThan(0);
    for (const v of req) {
      const { v: ver, id, op: name, attempt, ...args } = v.message;
      expect([ver, typeof id, name]).toEqual([1, "string", op]);
      expect(attempt === undefined || (Number.isSafeInteger(attempt) && (attempt as number) >= 0), `${v.file}: attempt`).toBe(true);
      const parsed = OPS[op].args.safeParse(args);
      expect(parsed.success, `${v.file}: ${parsed.success ? "" : parsed.error.message}`).toBe(true);
    }
    for (const v of rep) {
      expect(v.message.ok, v.file).toBe(true);
      const parsed = OPS[op].result.safeParse(v.message.result);
      expect(parsed.success, `${v.file}: ${parsed.success ? "" : parsed.error.message}`).toBe(true);
    }
  });
});
