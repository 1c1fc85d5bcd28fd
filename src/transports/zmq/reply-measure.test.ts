/**
 * The ZeroMQ door decides on a reply (over the ceiling, or too big for the memory left) by its
 * measured size, before packing it (zmq-server.ts `reply`): packed-size.ts walks it, and a change's
 * reply is sized from its stored bytes (`okReplySize`). A size that differs from the bytes the codec
 * sends refuses a reply that fits, or lets out one over the ceiling. This test compares both with
 * the codec's own encoder (its integer pass included) over the replies the service really gives:
 * random valid requests carrying random user data (numbers such as -0, 2^40 and fractions; strings
 * of 1 to 4 UTF-8 bytes a character at the heads' bounds), and requests it refuses.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { context } from "zeromq";
import { UNMEASURED, packedSize } from "../../domain/packed-size.js";
import { silentLogger } from "../../logger.js";
import { packedResult } from "../../service/idempotency.js";
import { PLOT_KIND_NAMES } from "../../service/plots.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { encode, okReplySize } from "./codec.js";
import { ZmqServer } from "./zmq-server.js";

context.blocky = false;

/** Each run sends ~30 requests against a study that grows by two trials a run. */
const RUNS = Math.ceil(Number(process.env.FUZZ_RUNS ?? 1500) / 40);
const READS = ["get_study", "trials", "best", "best_trials", "study_summary", "export_study", "lineage", "param_importances", "query_trials"];

describe("a reply's measured size", () => {
  let storage: SqliteStorage;
  let service: StudyService;
  let server: ZmqServer;
  const answered = new Map<string, number>();
  let n = 0;

  beforeAll(async () => {
    storage = new SqliteStorage({ path: ":memory:" });
    service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, defaultLeaseTtlS: 3600 });
    server = new ZmqServer(service, { bind: [], logger: silentLogger() });
    const space = { x: { type: "float", low: 0, high: 1 }, n: { type: "int", low: -5, high: 2 ** 40 }, c: { type: "categorical", choices: ["a", 1, 0.5, true, null] } };
    await service.createStudy({ name: "s", space, seed: 1 });
  });
  afterAll(async () => {
    await server.close();
    await service.close();
    await storage.close();
  });

  /** Runs one request; its reply's measured size must be the codec's byte count. */
  async function check(op: string, args: Record<string, unknown>): Promise<any> {
    const reply = await server.process(encode({ v: 1, id: `${op}-${n++}`, op, ...args }));
    const bytes = encode(reply).byteLength;
    expect([op, packedSize(reply)]).toEqual([op, bytes]);
    const stored = reply.ok === true ? packedResult(reply.result) : undefined;
    if (stored !== undefined) expect([op, okReplySize(reply.v, reply.id, stored)]).toEqual([op, bytes]);
    if (reply.ok === true) answered.set(op, (answered.get(op) ?? 0) + 1);
    return reply;
  }

  it("is the codec's byte count for every reply the service gives", async () => {
    // Characters of 1, 2, 3 and 4 UTF-8 bytes, repeated to lengths around the str heads' bounds.
    const unit = fc.constantFrom("a", "é", "€", "😀", "\u0000");
    const boundary = fc.tuple(unit, fc.constantFrom(7, 8, 10, 11, 15, 16, 31, 32, 63, 64, 65, 85, 86, 127, 128, 255, 256)).map(([u, k]) => u.repeat(k));
    const str = fc.oneof(fc.string({ unit: "grapheme", maxLength: 40 }), fc.string({ unit: "binary", maxLength: 300 }), boundary);
    const num = fc.oneof(fc.double(), fc.integer(), fc.maxSafeInteger(), fc.constantFrom(-0, 2 ** 31, 2 ** 32, -(2 ** 31) - 1, 2 ** 40, 2 ** 53 - 1, 127, 128, -32, -33, 0.1));
    const leaf = fc.oneof(str, num, fc.boolean(), fc.constant(null));
    const value = fc.letrec((tie) => ({ v: fc.oneof({ depthSize: "small" }, leaf, fc.array(tie("v"), { maxLength: 20 }), fc.dictionary(str, tie("v"), { maxKeys: 18 })) })).v;
    const attrs = fc.dictionary(str.filter((k) => k.length > 0), value, { maxKeys: 17 });
    const finite = num.filter((x) => Number.isFinite(x));
    await fc.assert(
      fc.asyncProperty(attrs, finite, str, async (ua, v, name) => {
        const asked = await check("ask", { study: "s" });
        if (asked.ok !== true) return;
        const { number: trial } = asked.result.trial;
        const { token } = asked.result.lease;
        await check("report", { study: "s", trial, token, step: 0, value: v, data: ua });
        await check("set_user_attrs", { study: "s", trial, attrs: ua });
        await check("set_user_attrs", { study: "s", attrs: ua });
        await check("tell", { study: "s", trial, token, state: n % 7 === 0 ? "FAIL" : "COMPLETE", value: v });
        await check("enqueue", { study: "s", params: { x: 0.5, n: 2 ** 33, c: 0.5 }, user_attrs: ua });
        await check("add_trial", { study: "s", params: { x: 0.25, n: -3, c: "a", [name || "y"]: v }, distributions: { [name || "y"]: { type: "categorical", choices: [v] } }, value: v, user_attrs: ua });
        await check("create_study", { name: name || "z", space: { x: { type: "float", low: 0, high: 1 } }, load_if_exists: true, user_attrs: ua });
        for (const op of READS) await check(op, { study: "s" });
        await check("plot_spec", { study: "s", kind: PLOT_KIND_NAMES[n % PLOT_KIND_NAMES.length] });
        await check("trial", { study: "s", trial });
        await check("trajectory", { study: "s", trial });
        await check("list_studies", {});
        await check("studies_overview", {});
        await check("catalogue", {});
        await check("hello", { client: { name } });
        // Refusals: errors whose messages and data echo what the client sent.
        await check("get_study", { study: name, bogus: ua });
        await check("tell", { study: "s", trial, token: name, state: "COMPLETE", value: v });
      }),
      { numRuns: RUNS },
    );
    // The property held over real results, not only over refusals.
    for (const op of ["ask", "report", "set_user_attrs", "tell", "enqueue", "add_trial", "trial", "trajectory", "plot_spec", "list_studies", "hello", ...READS])
      expect([op, (answered.get(op) ?? 0) > 0]).toEqual([op, true]);
    expect(packedSize(await server.process(encode({ v: 1, id: "last", op: "export_study", study: "s" })))).not.toBe(UNMEASURED);
  });
});
