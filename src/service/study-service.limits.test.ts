/** The cap on the number of studies one server holds (`maxStudies`, serve --max-studies). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

async function refusal(p: Promise<unknown>): Promise<TuneportError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TuneportError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("maxStudies", () => {
  let dir: string;
  let storage: SqliteStorage;
  let svc: StudyService;
  const open = async (maxStudies: number) => {
    storage = new SqliteStorage({ path: join(dir, "db.sqlite") });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, maxStudies });
  };
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "tuneport-limits-"));
    await open(3);
  });
  afterEach(async () => {
    await svc.close();
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a study beyond the cap with FAILED_PRECONDITION and stores nothing; a deletion makes room", async () => {
    for (const name of ["a", "b", "c"]) await svc.createStudy({ name, space: SPACE });
    const e = await refusal(svc.createStudy({ name: "d", space: SPACE }));
    expect(e.code).toBe("FAILED_PRECONDITION");
    expect(e.data).toMatchObject({ reason: "max_studies", max_studies: 3, study: "d" });
    expect(e.message).toMatch(/--max-studies/);
    expect((await storage.listStudies()).map((s) => s.name).sort()).toEqual(["a", "b", "c"]);
    // Loading an existing study is no new study: allowed at the cap.
    expect((await svc.createStudy({ name: "a", space: SPACE, load_if_exists: true })).created).toBe(false);
    await svc.deleteStudy({ study: "b" });
    expect((await svc.createStudy({ name: "d", space: SPACE })).created).toBe(true);
    expect((await storage.listStudies()).map((s) => s.name).sort()).toEqual(["a", "c", "d"]);
  });

  it("refuses an import beyond the cap, and studies stored beyond it still load at a start", async () => {
    for (const name of ["a", "b", "c"]) await svc.createStudy({ name, space: SPACE });
    const text = [...svc.exportStudy("a")].join("\n");
    const e = await refusal(svc.importStudy(text, "a2"));
    expect(e.data).toMatchObject({ reason: "max_studies" });
    expect((await storage.listStudies()).length).toBe(3);
    // A restart with a smaller cap serves every stored study; only new ones are refused.
    await svc.close();
    storage.close();
    await open(2);
    expect((await svc.getStudy({ study: "c" })).name).toBe("c");
    expect((await refusal(svc.createStudy({ name: "e", space: SPACE }))).data).toMatchObject({ reason: "max_studies", max_studies: 2 });
  });
});

/** The cap on a trial's intermediate values (`maxIntermediate`, serve --max-intermediate). */
describe("maxIntermediate", () => {
  let dir: string;
  let storage: SqliteStorage;
  let svc: StudyService;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "tuneport-limits-"));
    storage = new SqliteStorage({ path: join(dir, "db.sqlite") });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, maxIntermediate: 3 });
  });
  afterEach(async () => {
    await svc.close();
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const stored = async (trial: number) => (await storage.loadTrials((await storage.listStudies())[0]!.id)).find((t) => t.number === trial)!.intermediate;

  it("refuses a report past the cap with INVALID_ARGUMENT, stores nothing, and does not count a repeat of the last step", async () => {
    await svc.createStudy({ name: "s", space: SPACE, strategy: "random" });
    const { trial, lease } = await svc.execute("ask", { study: "s" });
    const report = (step: number, value: number, requestId?: string) =>
      svc.execute("report", { study: "s", trial: trial.number, token: lease.token, step, value }, requestId ? { requestId } : {});
    for (let step = 0; step < 3; step++) await report(step, step / 10);
    // The last step again (a resend, the client's repeat of a step already reported): nothing stored, nothing counted.
    await report(2, 0.2);
    await report(2, 0.2);
    for (const requestId of ["r4", "r4", undefined]) {
      const e = await refusal(report(3, 0.3, requestId));
      expect(e.code).toBe("INVALID_ARGUMENT");
      expect(e.data).toMatchObject({ reason: "max_intermediate", max_intermediate: 3, study: "s", trial: trial.number });
      expect(e.message).toMatch(/trial 0 of 's' holds at most 3 intermediate values \(serve --max-intermediate 3\); it has 3 already/);
    }
    // The trial goes on: it is told as usual (committed after the reports, in order).
    await svc.execute("tell", { study: "s", trial: trial.number, token: lease.token, state: "COMPLETE", value: 1 });
    expect(await stored(trial.number)).toEqual([0, 1, 2].map((step) => ({ step, value: step / 10 })));
  });

  // A retry of a trial that reached the cap starts full (keep_intermediate): each of its reports
  // was refused "it has 3 already", with nothing saying none of the 3 were its own.
  it("says a retry's values were carried over from the failed attempt it retries, also after a restart", async () => {
    await svc.createStudy({ name: "s", space: SPACE, strategy: "random", retry: { max_retries: 2, retry_on_fail: true, keep_intermediate: true } });
    const first = await svc.execute("ask", { study: "s" });
    for (let step = 0; step < 3; step++)
      await svc.execute("report", { study: "s", trial: first.trial.number, token: first.lease.token, step, value: 1 });
    await svc.execute("tell", { study: "s", trial: first.trial.number, token: first.lease.token, state: "FAIL" });
    const retry = await svc.execute("ask", { study: "s" });
    expect(retry.trial.system_attrs.retry_of).toBe(first.trial.number);
    expect(retry.trial.intermediate).toHaveLength(3);
    for (let pass = 0; pass < 2; pass++) {
      const e = await refusal(svc.execute("report", { study: "s", trial: retry.trial.number, token: retry.lease.token, step: 10, value: 1 }));
      expect(e.code).toBe("INVALID_ARGUMENT");
      expect(e.data).toMatchObject({ reason: "max_intermediate", max_intermediate: 3, trial: retry.trial.number, retry_of: first.trial.number, carried: 3 });
      expect(e.message).toMatch(/it has 3 already, 3 of them carried over from trial 0, the failed attempt it retries .*keep_intermediate.*no room for a value of its own/);
      // The carried values are stored with the retry: a restart counts the same.
      await svc.close();
      svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, maxIntermediate: 3 });
    }
    // A trial of its own (no retry) is refused as before, without the words about a retry.
    const other = await svc.execute("ask", { study: "s" });
    for (let step = 0; step < 3; step++) await svc.execute("report", { study: "s", trial: other.trial.number, token: other.lease.token, step, value: 1 });
    const e = await refusal(svc.execute("report", { study: "s", trial: other.trial.number, token: other.lease.token, step: 3, value: 1 }));
    expect(e.data).not.toHaveProperty("carried");
    expect(e.message).not.toMatch(/carried/);
  });

  it("refuses an add_trial carrying more than the cap", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    const e = await refusal(svc.execute("add_trial", { study: "s", params: { x: 0.5 }, value: 1, intermediate: [[0, 1], [1, 1], [2, 1], [3, 1]] }));
    expect(e.code).toBe("INVALID_ARGUMENT");
    expect(e.data).toMatchObject({ reason: "max_intermediate", max_intermediate: 3 });
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(0);
    await svc.execute("add_trial", { study: "s", params: { x: 0.5 }, value: 1, intermediate: [[0, 1], [1, 1], [2, 1]] });
  });

  // add_trial's schema once capped `intermediate` at 100,000 pairs whatever the cap: a raised cap's
  // 150,000 got zod's "Too big", and 100,001 at the default cap got zod's message, not max_intermediate.
  it("bounds add_trial's intermediate by the cap, not by the schema, at the default and at a raised cap", async () => {
    const pairs = (n: number) => Array.from({ length: n }, (_, i) => [i, 1]);
    for (const [cap, n] of [[undefined, 100_001], [200_000, 200_001]] as const) {
      await svc.close();
      svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, ...(cap === undefined ? {} : { maxIntermediate: cap }) });
      const study = `s${cap ?? ""}`;
      await svc.createStudy({ name: study, space: SPACE });
      const e = await refusal(svc.execute("add_trial", { study, params: { x: 0.5 }, value: 1, intermediate: pairs(n) }));
      expect(e.code).toBe("INVALID_ARGUMENT");
      expect(e.data).toMatchObject({ reason: "max_intermediate", max_intermediate: cap ?? 100_000, study });
    }
    await svc.execute("add_trial", { study: "s200000", params: { x: 0.5 }, value: 1, intermediate: pairs(150_000) });
    const id = (await storage.listStudies()).find((st) => st.name === "s200000")!.id;
    expect((await storage.loadTrials(id))[0]!.intermediate.length).toBe(150_000);
  });
});

/**
 * What a change's reply may carry: bounds checked before a change is applied, since its reply is
 * stored for resends and sent whole (src/transports/zmq/zmq-server.reply-size.test.ts has the
 * same over real sockets).
 */
describe("bounds on what replies carry", () => {
  let dir: string;
  let storage: SqliteStorage;
  let svc: StudyService;
  const open = async (maxReplyBytes?: number) => {
    storage = new SqliteStorage({ path: join(dir, "db.sqlite") });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, ...(maxReplyBytes ? { maxReplyBytes } : {}) });
  };
  const reopen = async (maxReplyBytes?: number) => {
    await svc.close();
    storage.close();
    await open(maxReplyBytes);
  };
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "tuneport-limits-"));
    await open();
  });
  afterEach(async () => {
    await svc.close();
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  /** A categorical of ~1 MB of JSON (10,000 choices of ~100 characters), its choices tagged `tag`. */
  const megabyte = (tag: string) => ({ type: "categorical", choices: Array.from({ length: 10_000 }, (_, j) => `${tag}:${j}:${"z".repeat(90)}`) });

  it("refuses a declared space over 4 Mi characters of JSON at create_study", async () => {
    const space = Object.fromEntries(["a", "b", "c", "d", "e"].map((k) => [k, megabyte(k)]));
    const err = await refusal(svc.createStudy({ name: "s", space }));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.data).toMatchObject({ max_chars: 4 * 1024 * 1024 });
    expect(await svc.listStudies()).toHaveLength(0);
  });

  it("bounds define-by-run parameters added with add_trial, counting those stored before a restart", async () => {
    await svc.createStudy({ name: "s", space: SPACE });
    for (const k of ["a", "b", "c", "d"]) await svc.execute("add_trial", { study: "s", params: { x: 0.5, [k]: `${k}:0:${"z".repeat(90)}` }, distributions: { [k]: megabyte(k) }, value: 1 });
    await reopen();
    const err = await refusal(svc.execute("add_trial", { study: "s", params: { x: 0.5, e: `e:0:${"z".repeat(90)}` }, distributions: { e: megabyte("e") }, value: 1 }, { requestId: "e" }));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(/parameter 'e': the define-by-run parameters of study 's' take at most 4,194,304 characters/);
    expect((await svc.getStudy({ study: "s" })).n_trials).toBe(4);
    // A parameter the study has seen costs nothing more.
    await svc.execute("add_trial", { study: "s", params: { x: 0.5, a: `a:1:${"z".repeat(90)}` }, value: 1 });
  }, 60_000);

  it("refuses a tell whose reply would be over the limit before applying it: the trial runs on, and a resend is refused alike", async () => {
    await reopen(32 * 1024);
    await svc.createStudy({ name: "s", space: SPACE, strategy: "random" });
    const { trial, lease } = await svc.execute("ask", { study: "s" });
    for (let step = 0; step < 5000; step++) await svc.execute("report", { study: "s", trial: trial.number, token: lease.token, step, value: step / 7 });
    const tell = () => svc.execute("tell", { study: "s", trial: trial.number, token: lease.token, state: "COMPLETE", value: 1 }, { requestId: "t1" });
    for (let i = 0; i < 2; i++) {
      const err = await refusal(tell());
      expect(err.code).toBe("MESSAGE_TOO_LARGE");
      expect(err.message).toMatch(/its largest parts: trial\.intermediate \(\d+ kB\)\. A trial's reply carries all its intermediate values: report fewer/);
      expect(err.data).toMatchObject({ op: "tell", max_reply_bytes: 32 * 1024 });
    }
    expect((await svc.execute("trial", { study: "s", trial: trial.number })).trial.state).toBe("RUNNING");
  }, 60_000);
});
