/**
 * Property-based tests of the ZeroMQ adapter's request handling (`ZmqServer.process`), in
 * process on in-memory SQLite: whatever bytes arrive, it never throws, always answers a
 * typed reply, and an answer that is an error leaves every stored byte unchanged.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { context } from "zeromq";
import { ERROR_CODES } from "../../domain/errors.js";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { encode } from "./codec.js";
import { OP_NAMES } from "../../service/ops/ops.js";
import { ZmqServer } from "./zmq-server.js";

context.blocky = false;

const CODES = Object.keys(ERROR_CODES);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);

describe("ZmqServer.process under fuzzing", () => {
  let storage: SqliteStorage;
  let service: StudyService;
  let server: ZmqServer;
  let token = "";
  let running = 0;

  /** Everything storage holds, plus the service's in-memory view, as one string. */
  async function snapshot(): Promise<string> {
    const studies = await storage.listStudies();
    const trials = await Promise.all(studies.map((s) => storage.loadTrials(s.id)));
    const exported = (await service.listStudies()).map((s) => [...service.exportStudy(s.name)]);
    return JSON.stringify({ studies, trials, exported });
  }

  beforeAll(async () => {
    storage = new SqliteStorage({ path: ":memory:" });
    service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, defaultLeaseTtlS: 3600 });
    server = new ZmqServer(service, { bind: [], logger: silentLogger(), maxMessageBytes: 65_536 });
    await service.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 }, c: { type: "categorical", choices: ["a", "b"] } }, seed: 1 });
    for (let i = 0; i < 4; i++) {
      const a = await service.ask({ study: "s" });
      await service.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 0, value: 0.5 });
      if (i < 3) await service.tell({ study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.1 + i / 10 });
      else {
        token = a.lease.token;
        running = a.trial.number;
      }
    }
    // The last report answered `continue` is committed lazily: a read commits it, so that the
    // snapshots below compare a settled store.
    await service.getStudy({ study: "s" });
  });
  afterAll(async () => {
    await server.close();
    await service.close();
    await storage.close();
  });

  function checkTyped(reply: Record<string, unknown>): void {
    expect(reply.v).toBe(1);
    expect(reply.id === null || typeof reply.id === "string").toBe(true);
    if (reply.ok === true) {
      expect(reply).toHaveProperty("result");
      return;
    }
    expect(reply.ok).toBe(false);
    const err = reply.error as { code: string; message: string };
    expect(CODES).toContain(err.code);
    expect(typeof err.message).toBe("string");
    expect(err.code).not.toBe("INTERNAL");
  }

  /** Runs one payload: typed reply, and nothing stored changes when the reply is an error. */
  async function probe(payload: Uint8Array): Promise<Record<string, unknown>> {
    const before = await snapshot();
    const reply = await server.process(payload);
    checkTyped(reply);
    // the reply itself must be encodable for the wire
    expect(() => encode(reply)).not.toThrow();
    if (reply.ok === false) expect(await snapshot()).toBe(before);
    return reply;
  }

  it("answers random bytes with a typed error", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 256 }), async (bytes) => void (await probe(bytes))), { numRuns: RUNS });
  });

  it("answers every truncation of a valid request as malformed", async () => {
    const valid = fc.constantFrom(
      encode({ v: 1, id: "t1", op: "tell", study: "s", trial: running, token, state: "COMPLETE", value: 0.25 }),
      encode({ v: 1, id: "t2", op: "report", study: "s", trial: running, token, step: 5, value: 1, data: { ckpt: "/x" } }),
      encode({ v: 1, id: "t3", op: "enqueue", study: "s", params: { x: 0.5 } }),
    );
    await fc.assert(
      fc.asyncProperty(valid, fc.nat(), async (frame, cut) => {
        const r = await probe(frame.subarray(0, cut % frame.length));
        expect(r.ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it("answers type-confused envelopes and arguments without changing anything", async () => {
    // Every generated request is invalid by construction: a mistyped envelope field, or a
    // mutating op whose arguments carry at least one wrong-typed or unknown field.
    const junk = fc.oneof(fc.anything({ maxDepth: 3 }), fc.double(), fc.string(), fc.constant(null), fc.uint8Array({ maxLength: 8 }));
    const envelope = fc.record({
      v: fc.oneof(fc.constant(1), junk),
      id: fc.oneof(fc.string({ minLength: 1, maxLength: 20 }), junk),
      op: fc.oneof(fc.constantFrom(...OP_NAMES), junk),
    });
    const badArgs = fc.record({
      study: fc.oneof(fc.constant("s"), junk),
      trial: fc.oneof(fc.constant(running), junk),
      token: fc.oneof(fc.constant(token), junk),
      state: fc.oneof(fc.constantFrom("COMPLETE", "FAIL", "PRUNED"), junk),
      value: junk,
      step: junk,
      params: junk,
      name: junk,
      __bogus: junk, // strict schemas refuse unknown keys: never valid
    });
    await fc.assert(
      fc.asyncProperty(envelope, badArgs, async (env, args) => {
        const r = await probe(encode({ ...args, ...env }));
        expect(r.ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it("refuses deep nesting and oversize frames", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 33, max: 20_000 }), fc.boolean(), async (depth, arrays) => {
        // {"v":1,"id":"deep","op":"set_user_attrs","study":"s","attrs": {"a": [ ... 1 ]}}, built
        // byte by byte because encoders recurse
        const head = encode({ v: 1, id: "deep", op: "set_user_attrs", study: "s" });
        const level = arrays ? Buffer.from([0x91]) : Buffer.from([0x81, 0xa1, 0x61]);
        const frame = Buffer.concat([Buffer.from([(head[0] as number) + 1]), head.subarray(1), encode("attrs"), Buffer.from([0x81, 0xa1, 0x61]), Buffer.alloc(level.length * depth).fill(level), Buffer.from([1])]);
        const r = await probe(frame);
        expect(r.ok).toBe(false);
        expect(["INVALID_ARGUMENT", "MALFORMED_MESSAGE", "MESSAGE_TOO_LARGE"]).toContain((r.error as { code: string }).code);
      }),
      { numRuns: 200 },
    );
    const big = await probe(encode({ v: 1, id: "big", op: "ask", study: "s", pad: "x".repeat(70_000) }));
    expect((big.error as { code: string }).code).toBe("MESSAGE_TOO_LARGE");
  });

  it("still serves a valid request afterwards", async () => {
    const r = await server.process(encode({ v: 1, id: "after", op: "tell", study: "s", trial: running, token, state: "COMPLETE", value: 0.05 }));
    expect(r).toMatchObject({ ok: true });
    expect((await service.best({ study: "s" }))?.value).toBe(0.05);
  });
});
