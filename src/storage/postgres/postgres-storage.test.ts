/**
 * PostgresStorage against the shared test server: the Storage contract as the service relies on it
 * (exact round trips, atomic and ordered batches, replies, reopen), and what only PostgreSQL has
 * (versioned migrations shared by several servers, fencing, id blocks). The service suite runs on
 * this storage too (src/service/*.test.ts, "on postgres").
 */
import pg from "pg";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import type { Study, StudyConfig } from "../../domain/trial.js";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { postgresBackend } from "../../testing/storage-backends.js";
import { checkSummaryReader, storageConformance } from "../../testing/storage.case.js";
import type { Change, StoredTrial } from "../storage.js";
import { PgOwnershipStore } from "./pg-ownership.js";
import { ID_BLOCK, PG_MIGRATIONS, PG_SCHEMA_VERSION } from "./postgres-schema.js";
import { OwnershipLostError, PostgresStorage } from "./postgres-storage.js";

const CONFIG: StudyConfig = {
  directions: ["minimize"],
  direction: "minimize",
  space: { lr: { type: "float", low: 1e-5, high: 0.1, log: true }, act: { type: "categorical", choices: ["relu", null, 1.5, true] } },
  strategy: { name: "tpe", options: { nested: { a: [1, { b: "ü ✓" }] } } },
  scheduler: null,
  seed: 4_294_967_295,
  retry: { maxRetries: 2, retryOnFail: true, keepIntermediate: false },
  leaseTtlS: 30,
};

// The storage contract every backend passes (src/testing/storage.case.ts), each check on a fresh schema.
storageConformance("postgres", {
  open: async () => {
    const location = postgresBackend(inject("pgUrl")).location();
    let current = await PostgresStorage.open({ url: location, poolSize: 3 });
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = await PostgresStorage.open({ url: location, poolSize: 3 });
        return current;
      },
    };
  },
});

const study = (id: number, name: string): Study => ({ id, name, config: CONFIG, userAttrs: { owner: "ana" }, createdAt: 1_700_000_000_000.5 + id });

const trial = (id: number, studyId: number, number: number, over: Partial<StoredTrial> = {}): StoredTrial => ({
  id,
  studyId,
  number,
  state: "RUNNING",
  params: { lr: 0.001 * (number + 1), act: null },
  distributions: { lr: CONFIG.space.lr!, act: CONFIG.space.act! },
  value: null,
  values: null,
  constraints: null,
  intermediate: [],
  userAttrs: { note: `trial ${number}` },
  systemAttrs: { budget: 9, nested: [{ x: 1 }] },
  createdAt: 1_700_000_001_000 + number,
  startedAt: 1_700_000_001_500.25 + number,
  finishedAt: null,
  lease: { token: `tok-${number}`, expiresAt: 1_700_000_031_000 + number / 3 },
  ...over,
});

const opened: PostgresStorage[] = [];
async function open(url: string): Promise<PostgresStorage> {
  const s = await PostgresStorage.open({ url, poolSize: 2 });
  opened.push(s);
  return s;
}

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
});

describe("PostgresStorage", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("answers tuneport studies list's summaries: counts by state, the best feasible trial, the lowest number on ties", async () => {
    await checkSummaryReader(await open(backend.location()));
  });

  it("round-trips studies, trials, intermediates (NaN, ±Infinity), leases and replies exactly, across a reopen", async () => {
    const url = backend.location();
    const st = await open(url);
    expect(await st.listStudies()).toEqual([]);
    expect(await st.maxTrialId()).toBe(0);
    const t0 = trial(1, 7, 0, { intermediate: [{ step: 0, value: Number.NaN }, { step: 1.5, value: Number.POSITIVE_INFINITY }] });
    const t1 = trial(2, 7, 1);
    const reply = new Uint8Array([0, 1, 2, 255]);
    await st.commit([
      { kind: "insert-study", study: study(7, "s") },
      { kind: "insert-trial", trial: t0 },
      { kind: "insert-trial", trial: t1 },
      { kind: "add-intermediate", trialId: 2, step: 3, value: Number.NEGATIVE_INFINITY },
      { kind: "add-intermediate", trialId: 2, step: 4, value: -0.125 },
      { kind: "set-lease", trialId: 2, lease: { token: "tok-1", expiresAt: 1_700_000_099_999.5 } },
      { kind: "put-reply", requestId: "r1", op: "ask", reply, at: 123 },
    ]);
    const done: StoredTrial = { ...t0, state: "COMPLETE", value: 0.1 + 0.2, values: [0.1 + 0.2], finishedAt: 1_700_000_002_000, lease: null, userAttrs: { n: "ü" } };
    await st.commit([{ kind: "update-trial", trial: done }, { kind: "update-study", study: { ...study(7, "s"), stopped: true } }]);
    for (const s of [st, await open(url)]) {
      expect(await s.listStudies()).toEqual([{ ...study(7, "s"), stopped: true }]);
      const got = await s.loadTrials(7);
      expect(got[0]).toEqual({ ...done, intermediate: t0.intermediate });
      expect(got[1]).toEqual({ ...t1, intermediate: [{ step: 3, value: Number.NEGATIVE_INFINITY }, { step: 4, value: -0.125 }], lease: { token: "tok-1", expiresAt: 1_700_000_099_999.5 } });
      expect(await s.getReply("r1")).toEqual(reply);
      expect(await s.getReply("nope")).toBeNull();
      expect(await s.maxTrialId()).toBe(2);
      expect(await s.maxStudyId()).toBe(7);
      expect(await s.checkIntegrity()).toEqual([]);
    }
  });

  it("sets synchronous_commit of its sessions when --durability asks, and otherwise keeps the database's", async () => {
    const url = backend.location();
    const setting = async (st: PostgresStorage) =>
      (await st.pool.query("SELECT setting, source, current_schema() AS schema FROM pg_settings WHERE name = 'synchronous_commit'")).rows[0] as {
        setting: string;
        source: string;
        schema: string;
      };
    const schema = new URLSearchParams(url.slice(url.indexOf("?") + 1)).get("schema");
    const asIs = await open(url);
    expect(await setting(asIs)).toMatchObject({ schema, source: expect.not.stringMatching(/^client$/) });
    for (const synchronousCommit of ["on", "off"] as const) {
      const st = await PostgresStorage.open({ url, poolSize: 1, synchronousCommit });
      opened.push(st);
      expect(await setting(st)).toEqual({ setting: synchronousCommit, source: "client", schema });
      await st.commit([{ kind: "put-reply", requestId: `sc-${synchronousCommit}`, op: "ask", reply: new Uint8Array([1]), at: 1 }]);
      expect(await asIs.getReply(`sc-${synchronousCommit}`)).toEqual(new Uint8Array([1]));
    }
  });

  it("applies a batch all or nothing, in order; answers concurrent reply lookups from one query each turn", async () => {
    const st = await open(backend.location());
    // create, delete, re-create one name in one batch: only order makes this valid.
    await st.commit([
      { kind: "insert-study", study: study(1, "x") },
      { kind: "delete-study", studyId: 1 },
      { kind: "insert-study", study: study(2, "x") },
      { kind: "put-reply", requestId: "a", op: "create_study", reply: new Uint8Array([1]), at: 1 },
    ]);
    expect((await st.listStudies()).map((s) => s.id)).toEqual([2]);
    const bad: Change[] = [
      { kind: "insert-trial", trial: trial(10, 2, 0) },
      { kind: "put-reply", requestId: "b", op: "ask", reply: new Uint8Array([2]), at: 2 },
      { kind: "insert-trial", trial: trial(11, 2, 0) }, // the same number twice: refused
    ];
    await expect(st.commit(bad)).rejects.toThrow();
    expect(await st.loadTrials(2)).toEqual([]);
    const [a, b, again] = await Promise.all([st.getReply("a"), st.getReply("b"), st.getReply("a")]);
    expect([a, b, again]).toEqual([new Uint8Array([1]), null, new Uint8Array([1])]);
    expect(await st.pruneReplies(2)).toBe(1);
    expect(await st.getReply("a")).toBeNull();
  });

  it("cuts a batch longer than one call's JSON into calls of one transaction: all or nothing, in order", async () => {
    const url = backend.location();
    const st = await PostgresStorage.open({ url, poolSize: 2, commitChunkChars: 2_000 });
    opened.push(st);
    const many = Array.from({ length: 40 }, (_, i) => trial(100 + i, 3, i));
    const batch: Change[] = [{ kind: "insert-study", study: study(3, "big") }, ...many.map((t): Change => ({ kind: "insert-trial", trial: t }))];
    expect(JSON.stringify(batch).length).toBeGreaterThan(10 * 2_000); // a dozen calls or more
    const query = vi.spyOn(pg.Client.prototype, "query");
    await st.commit(batch);
    const calls = query.mock.calls.filter(([q]) => (q as { text?: string }).text?.includes("tuneport_commit_rows(") === true).length;
    query.mockRestore();
    expect(calls).toBeGreaterThan(10);
    expect((await st.loadTrials(3)).map((t) => t.number)).toEqual(many.map((t) => t.number));
    expect((await st.studySummary(3, "minimize")).counts.RUNNING).toBe(40);
    // A change that fails in a later call rolls back the calls before it.
    const more = Array.from({ length: 40 }, (_, i) => trial(200 + i, 3, 40 + i));
    await expect(st.commit([...more.map((t): Change => ({ kind: "insert-trial", trial: t })), { kind: "insert-trial", trial: trial(100, 3, 99) }])).rejects.toThrow();
    expect(await st.loadTrials(3)).toHaveLength(40);
    expect((await st.studySummary(3, "minimize")).counts.RUNNING).toBe(40);
  });

  it("looks reply ids up by the index however much request_log grew after the first lookups", async () => {
    // A prepared lookup settles on one plan after five runs; made while the table was small, that plan scanned
    // every stored reply for ever after, and PostgreSQL's CPU per request grew with the study.
    const st = await PostgresStorage.open({ url: backend.location(), poolSize: 1 });
    opened.push(st);
    const grow = (chunk: number, n = 2000) =>
      st.commit(
        Array.from({ length: n }, (_, i): Change => ({ kind: "put-reply", requestId: `r-${chunk}-${i}`, op: "ask", reply: new Uint8Array([i % 256]), at: 1 })),
      );
    // As a server with many workers starts: the first lookups find a small table, just analysed
    // (autovacuum does that within its first minute), many ids each.
    await grow(0, 50);
    await st.pool.query("ANALYZE request_log");
    const ids = Array.from({ length: 30 }, (_, j) => j);
    for (let i = 0; i < 8; i++) expect(new Set(await Promise.all(ids.map((j) => st.getReply(`none-${i}-${j}`))))).toEqual(new Set([null]));
    for (let chunk = 1; chunk < 10; chunk++) await grow(chunk);
    const scans = async () => {
      const { rows } = await st.pool.query<{ seq: number; idx: number }>(
        "SELECT seq_scan::INTEGER AS seq, COALESCE(idx_scan, 0)::INTEGER AS idx FROM pg_stat_user_tables WHERE relid = 'request_log'::regclass",
      );
      return rows[0]!;
    };
    // A backend's statistics reach pg_stat_user_tables when it goes idle (forced here); each lookup is one scan.
    const settled = async (atLeast: number) => {
      for (;;) {
        await st.pool.query("SELECT pg_stat_force_next_flush()");
        const s = await scans();
        if (s.seq + s.idx >= atLeast) return s;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const before = await settled(0);
    for (let i = 0; i < 20; i++) expect(await st.getReply(`r-3-${i}`)).toEqual(new Uint8Array([i]));
    const after = await settled(before.seq + before.idx + 20);
    expect(after.seq).toBe(before.seq);
  });

  it("keeps counts by state and distribution lists on write (migration 3), and its backfill gives the same", async () => {
    const url = backend.location();
    const SPACE = { x: { type: "float", low: 0, high: 1 } };
    const play = async (svc: StudyService, name: string, plan: string[]) => {
      for (const step of plan) {
        const a = await svc.execute("ask", { study: name });
        const token = a.lease.token;
        if (step === "dbr") await svc.execute("suggest", { study: name, trial: a.trial.number, token, name: "n", distribution: { type: "int", low: 1, high: 3 } });
        if (step !== "RUNNING")
          await svc.execute("tell", { study: name, trial: a.trial.number, token, state: step === "PRUNED" || step === "FAIL" ? step : "COMPLETE", value: step === "PRUNED" || step === "FAIL" ? undefined : 0.5 });
      }
    };
    const dump = async (st: PostgresStorage) => {
      const q = async (sql: string) => (await st.pool.query(sql)).rows;
      return {
        counts: await q("SELECT study_id, state, n::INTEGER AS n, valued::INTEGER AS valued FROM study_state_counts WHERE n > 0 ORDER BY study_id, state"),
        lists: await q("SELECT study_id, name, distribution, first_number FROM study_param_distributions ORDER BY study_id, first_number, name"),
        truth: await q(
          "SELECT study_id, state, COUNT(*)::INTEGER AS n, COUNT(value)::INTEGER AS valued FROM trials GROUP BY study_id, state ORDER BY study_id, state",
        ),
      };
    };
    let storage = await open(url);
    let svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    for (const name of ["a", "b", "gone"]) await svc.execute("create_study", { name, space: SPACE, strategy: "random", seed: 3 });
    await play(svc, "a", ["COMPLETE", "PRUNED", "dbr", "RUNNING", "FAIL", "dbr"]);
    await play(svc, "b", ["RUNNING", "COMPLETE"]);
    await play(svc, "gone", ["COMPLETE", "dbr"]);
    const goneId = (await storage.findStudy("gone"))!.id;
    await svc.execute("delete_study", { study: "gone" });
    await svc.close();
    const kept = await dump(storage);
    expect(kept.counts).toEqual(kept.truth);
    // The trigger keys each pair as the backfill and the repair do, or a repaired study would list a pair twice.
    const misKeyed = await storage.pool.query("SELECT name FROM study_param_distributions WHERE digest <> tuneport_param_digest(name, distribution)");
    expect(misKeyed.rows).toEqual([]);
    const aId = (await storage.findStudy("a"))!.id;
    const firsts = (d: typeof kept, id: number) => [...new Set(d.lists.filter((r) => Number(r.study_id) === id).map((r) => r.first_number))];
    expect(firsts(kept, aId)).toEqual([0, 2]); // the declared parameters at 0, the define-by-run "n" at 2
    expect(kept.lists.some((r) => Number(r.study_id) === goneId)).toBe(false);
    expect(kept.counts.some((r) => Number(r.study_id) === goneId)).toBe(false);

    // The same schema back at version 2, opened again: the backfill gives what the triggers kept.
    const v2Commit = PG_MIGRATIONS[1]!.slice(PG_MIGRATIONS[1]!.indexOf("CREATE OR REPLACE FUNCTION tuneport_commit"));
    await storage.pool.query(`DROP TABLE study_state_counts, study_distributions, study_param_distributions; DROP INDEX trials_by_value; DROP INDEX studies_by_creation;
      DROP TRIGGER trials_param_distributions_insert ON trials; DROP TRIGGER trials_param_distributions_update ON trials;
      DROP FUNCTION tuneport_trial_param_distributions(); DROP FUNCTION tuneport_trial_param_distributions_stmt(); DROP FUNCTION tuneport_param_digest(TEXT, TEXT);
      DROP FUNCTION tuneport_commit_trials(TEXT, TEXT[], BIGINT[], JSON); DROP TYPE tuneport_trial_change; DROP TABLE tuneport_pending_repair; ${v2Commit}; UPDATE tuneport_schema SET version = 2`);
    storage = await open(url);
    expect(await dump(storage)).toEqual(kept);
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await play(svc, "b", ["dbr", "PRUNED", "RUNNING"]);
    await svc.close();
    const after = await dump(storage);
    expect(after.counts).toEqual(after.truth);
    const bId = (await storage.findStudy("b"))!.id;
    expect(firsts(after, bId)).toEqual([0, 2]);

    // A trial that leaves a valued state (not a service transition, but storage allows it).
    const valuedTrial = trial(90_003, bId, 50, { state: "COMPLETE", value: 1, values: [1] });
    await storage.commit([{ kind: "insert-trial", trial: valuedTrial }]);
    await storage.commit([{ kind: "update-trial", trial: { ...valuedTrial, state: "FAIL", value: null, values: null } }]);
    const moved = await dump(storage);
    expect(moved.counts).toEqual(moved.truth);

    // A list far longer than a b-tree entry may be (~2.7 kB) is kept by its digest.
    const big = { c: { type: "categorical" as const, choices: Array.from({ length: 2000 }, (_, i) => `choice-${i}`) } };
    await storage.commit([{ kind: "insert-study", study: study(900, "big") }, { kind: "insert-trial", trial: trial(90_001, 900, 0, { distributions: big, params: { c: "choice-7" } }) }]);
    expect(await storage.distinctDistributions(900)).toEqual([big]);

    // Counts are applied at the end of a batch: a study created, given a trial and deleted in one
    // batch leaves none (and does not fail the batch).
    await storage.commit([
      { kind: "insert-study", study: study(901, "brief") },
      { kind: "insert-trial", trial: trial(90_002, 901, 0) },
      { kind: "delete-study", studyId: 901 },
    ]);
    expect((await storage.pool.query("SELECT * FROM study_state_counts WHERE study_id = 901")).rows).toEqual([]);
  });

  it("writes a batch of only trial inserts (with intermediate values), updates and lease writes set-based (migration 8), with the rows, counts and lists the loop gives", async () => {
    const st = await open(backend.location());
    const q = async (sql: string, v: unknown[] = []) => (await st.pool.query(sql, v)).rows;
    const state = async () => ({
      trials: await st.loadTrials(5),
      counts: await q("SELECT state, n::INTEGER AS n, valued::INTEGER AS valued FROM study_state_counts WHERE study_id = 5 AND (n <> 0 OR valued <> 0) ORDER BY state"),
      truth: await q("SELECT state, COUNT(*)::INTEGER AS n, COUNT(value)::INTEGER AS valued FROM trials WHERE study_id = 5 GROUP BY state ORDER BY state"),
      lists: await q("SELECT name, distribution, first_number FROM study_param_distributions WHERE study_id = 5 ORDER BY first_number, name"),
    });
    // Which path a batch takes: the set-based function says whether it wrote the batch (true) or
    // left it to tuneport_commit's loop (false), asked in a transaction that is rolled back.
    const row = (c: Change) => {
      if (c.kind === "set-lease") return { k: "sl", t: c.trialId, lt: c.lease.token, le: c.lease.expiresAt };
      if (c.kind !== "insert-trial" && c.kind !== "update-trial") return { k: "x" };
      const t = c.trial;
      return { k: c.kind === "insert-trial" ? "it" : "ut", id: t.id, sid: t.studyId, n: t.number, st: t.state, p: JSON.stringify(t.params),
        d: JSON.stringify(t.distributions), v: t.value, ov: null, cv: null, ua: "{}", sa: "{}", ca: t.createdAt, sta: t.startedAt, fa: t.finishedAt,
        iv: c.kind === "insert-trial" ? t.intermediate.map((iv) => [iv.step, iv.value]) : [] };
    };
    const fast = async (changes: Change[]) => {
      const client = await st.pool.connect();
      try {
        await client.query("BEGIN");
        return (await client.query("SELECT tuneport_commit_trials(NULL, '{}', '{}', $1) AS f", [JSON.stringify(changes.map(row))])).rows[0].f as boolean;
      } finally {
        await client.query("ROLLBACK");
        client.release();
      }
    };
    await st.commit([{ kind: "insert-study", study: study(5, "set") }]);
    const dbr = { ...trial(0, 5, 0).distributions, n: { type: "int" as const, low: 0, high: 9, step: 1 } };
    const a = trial(101, 5, 0);
    const b = trial(102, 5, 1, { state: "COMPLETE", value: 2, values: [2], finishedAt: 1_700_000_009_000, lease: null });
    const c = trial(103, 5, 2, { params: { lr: 0.01, act: null, n: 3 }, distributions: dbr });
    const first: Change[] = [{ kind: "insert-trial", trial: a }, { kind: "insert-trial", trial: b }, { kind: "insert-trial", trial: c }];
    // Tells (RUNNING → COMPLETE with ±Infinity, COMPLETE → FAIL without a value), an unchanged trial and new asks, one batch.
    const second: Change[] = [
      { kind: "update-trial", trial: { ...a, state: "COMPLETE", value: Number.POSITIVE_INFINITY, values: [Number.POSITIVE_INFINITY], lease: null } },
      { kind: "insert-trial", trial: trial(104, 5, 3, { params: { lr: 0.02, act: null, n: 4 }, distributions: dbr }) },
      { kind: "update-trial", trial: { ...b, state: "FAIL", value: null, values: null } },
      { kind: "update-trial", trial: { ...c, userAttrs: { seen: true } } },
      { kind: "insert-trial", trial: trial(105, 5, 4) },
    ];
    // The same trial twice (asked and told in one batch) goes through the loop, in order.
    const third: Change[] = [
      { kind: "insert-trial", trial: trial(106, 5, 5) },
      { kind: "update-trial", trial: trial(106, 5, 5, { state: "PRUNED", value: 1, values: [1], lease: null }) },
    ];
    // Lease writes (a heartbeat's) and a finished trial added with its intermediate values, beside a tell.
    const done = (n: number, v: number) => ({ state: "COMPLETE" as const, value: v, values: [v], finishedAt: 1_700_000_009_000 + n, lease: null });
    const fourth: Change[] = [
      { kind: "set-lease", trialId: 103, lease: { token: "tok-2", expiresAt: 1_800_000_000_000.5 } },
      { kind: "insert-trial", trial: trial(107, 5, 6, { ...done(6, 3), intermediate: [{ step: 0, value: Number.NaN }, { step: 1.5, value: Number.NEGATIVE_INFINITY }, { step: 2, value: 3 }] }) },
      { kind: "update-trial", trial: trial(105, 5, 4, done(4, 0.5)) },
      { kind: "set-lease", trialId: 104, lease: { token: "tok-3", expiresAt: 1_800_000_000_001 } },
    ];
    // A lease write and a tell of the same trial: the loop, in order (the tell's null lease last).
    const fifth: Change[] = [
      { kind: "set-lease", trialId: 104, lease: { token: "tok-3", expiresAt: 1_800_000_000_002 } },
      { kind: "update-trial", trial: trial(104, 5, 3, { ...done(3, 4), params: { lr: 0.02, act: null, n: 4 }, distributions: dbr }) },
    ];
    for (const [batch, setBased] of [[first, true], [second, true], [third, false], [fourth, true], [fifth, false]] as const) {
      expect(await fast(batch)).toBe(setBased);
      await st.commit(batch);
    }
    const got = await state();
    expect(got.counts).toEqual(got.truth);
    expect(got.counts).toEqual([
      { state: "COMPLETE", n: 4, valued: 4 },
      { state: "FAIL", n: 1, valued: 0 },
      { state: "PRUNED", n: 1, valued: 1 },
      { state: "RUNNING", n: 1, valued: 0 },
    ]);
    expect(got.lists.map((r) => [r.name, r.first_number])).toEqual([["act", 0], ["lr", 0], ["n", 2]]);
    expect(got.trials.map((t) => [t.id, t.state, t.value, t.userAttrs, t.lease, t.intermediate])).toEqual([
      [101, "COMPLETE", Number.POSITIVE_INFINITY, a.userAttrs, null, []],
      [102, "FAIL", null, b.userAttrs, null, []],
      [103, "RUNNING", null, { seen: true }, { token: "tok-2", expiresAt: 1_800_000_000_000.5 }, []],
      [104, "COMPLETE", 4, trial(104, 5, 3).userAttrs, null, []],
      [105, "COMPLETE", 0.5, trial(105, 5, 4).userAttrs, null, []],
      [106, "PRUNED", 1, trial(106, 5, 5).userAttrs, null, []],
      [107, "COMPLETE", 3, trial(107, 5, 6).userAttrs, null, [{ step: 0, value: Number.NaN }, { step: 1.5, value: Number.NEGATIVE_INFINITY }, { step: 2, value: 3 }]],
    ]);
  });

  it("probes a study's known parameter pairs by index in the insert trigger, not by hashing the whole table each statement (migration 8)", async () => {
    const st = await open(backend.location());
    await st.commit([{ kind: "insert-study", study: study(6, "probe") }]);
    const client = await st.pool.connect();
    const notices: string[] = [];
    client.on("notice", (n) => notices.push(n.message ?? ""));
    try {
      // A table of many pairs (many studies, or one wide space), its statistics known.
      await client.query(`INSERT INTO study_param_distributions (study_id, digest, name, distribution, first_number)
        SELECT 6, sha256(convert_to(i::TEXT, 'UTF8')), 'p' || i, '{}', 0 FROM generate_series(1, 5000) i; ANALYZE study_param_distributions`);
      // The trigger's plan, sent to this session as a notice (auto_explain ships with PostgreSQL).
      await client.query(`LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
        SET auto_explain.log_level = notice`);
      await client.query(`INSERT INTO trials (id, study_id, number, state, params, distributions, created_at)
        VALUES (601, 6, 0, 'RUNNING', '{"lr":0.1}', $1, 1)`, [JSON.stringify(trial(0, 6, 0).distributions)]);
    } finally {
      client.release(true); // auto_explain stays loaded in the session: not back to the pool
    }
    const plan = notices.find((n) => n.includes("Insert on study_param_distributions")) ?? "";
    expect(plan).toContain("Index Scan using study_param_distributions_pkey");
    expect(plan).not.toContain("Seq Scan on study_param_distributions");
    expect((await st.pool.query("SELECT name, first_number FROM study_param_distributions WHERE study_id = 6 AND name IN ('lr', 'act') ORDER BY name")).rows)
      .toEqual([{ name: "act", first_number: 0 }, { name: "lr", first_number: 0 }]);
  });

  it("migrates to 3 while an older server's batch is inside the old commit function, and repairs the counts after it", async () => {
    // A schema at version 2, as the previous release left it, and the connections of an "older server".
    const url = backend.location();
    const [, schema] = /[?&]schema=([a-z0-9_]+)$/.exec(url)!; // postgresBackend appends the schema last
    const connect = async () => {
      const c = new pg.Client({ connectionString: url.replace(/[?&]schema=[a-z0-9_]+$/, ""), options: `-c search_path=${schema}` });
      await c.connect();
      return c;
    };
    const [oldServer, blocker, watcher] = [await connect(), await connect(), await connect()];
    try {
      await oldServer.query(`CREATE SCHEMA ${schema}; CREATE TABLE tuneport_schema (version INTEGER NOT NULL); INSERT INTO tuneport_schema VALUES (2)`);
      await oldServer.query(PG_MIGRATIONS[0]!);
      await oldServer.query(PG_MIGRATIONS[1]!);
      await oldServer.query("INSERT INTO study_owners VALUES ('a', 'old', 'tcp://old', 1, now() + interval '1 hour')");
      const row = (id: number, n: number) => ({
        k: "it", id, sid: 1, n, st: "COMPLETE", p: "{}", d: '{"x":{"type":"float","low":0,"high":1}}', v: 0.5, ov: null, cv: null,
        ua: "{}", sa: "{}", ca: 1, sta: 1, fa: null, lt: null, le: null, iv: [],
      });
      const commit = (changes: unknown[]) => oldServer.query("SELECT tuneport_commit('old', '{a}', '{1}', $1)", [JSON.stringify(changes)]);
      await commit([{ k: "is", id: 1, name: "a", cfg: "{}", ua: "{}", ca: 1, stp: false }, row(1, 0)]);
      // The older server's next batch enters the old function and waits at its ownership check
      // (the blocker holds the owner row) before it writes a trial.
      await blocker.query("BEGIN");
      await blocker.query("SELECT 1 FROM study_owners WHERE name = 'a' FOR UPDATE");
      const inFlight = commit([row(2, 1), row(3, 2)]);
      const order: string[] = [];
      const opening = open(url).then((s) => (order.push("opened"), s));
      // Once the migration has committed, the old batch goes on, with the old body: nothing counted.
      for (let v = 2; v < 3; await new Promise((r) => setTimeout(r, 5))) v = (await watcher.query<{ version: number }>("SELECT version FROM tuneport_schema")).rows[0]!.version;
      await blocker.query("COMMIT");
      await inFlight;
      order.push("old batch committed");
      const st = await opening;
      expect(order).toEqual(["old batch committed", "opened"]);
      const { rows } = await st.pool.query("SELECT state, n::INTEGER AS n, valued::INTEGER AS valued FROM study_state_counts");
      expect(rows).toEqual([{ state: "COMPLETE", n: 3, valued: 3 }]);
      expect((await st.pool.query("SELECT * FROM tuneport_pending_repair")).rows).toEqual([]);
    } finally {
      await blocker.query("ROLLBACK").catch(() => undefined);
      for (const c of [oldServer, blocker, watcher]) await c.end();
    }
  });

  it("repairs the counts after migration 3 once older writers are done (an older server's batch counts nothing)", async () => {
    const url = backend.location();
    const st = await open(url);
    await st.commit([
      { kind: "insert-study", study: study(5, "r") },
      { kind: "insert-trial", trial: trial(51, 5, 0) },
      { kind: "insert-trial", trial: trial(52, 5, 1, { state: "COMPLETE", value: 2, values: [2], lease: null }) },
    ]);
    // As a migration leaves it: a pending repair, and counts that miss a batch of the old body.
    await st.pool.query("UPDATE study_state_counts SET n = 0, valued = 0; INSERT INTO tuneport_pending_repair VALUES ('counts')");
    // An older server's transaction, open before the next server starts, writing without counting.
    const old = await st.pool.connect();
    const order: string[] = [];
    try {
      await old.query("BEGIN");
      await old.query("SELECT 1");
      const reopening = open(url).then((s) => {
        order.push("opened");
        return s;
      });
      await new Promise((r) => setTimeout(r, 200));
      await old.query(
        `INSERT INTO trials (id, study_id, number, state, params, distributions, value, created_at)
         VALUES (53, 5, 2, 'COMPLETE', '{}', '{"y":{"type":"float","low":0,"high":1}}', 1, 0)`,
      );
      order.push("old batch committed");
      await old.query("COMMIT");
      const again = await reopening;
      expect(order).toEqual(["old batch committed", "opened"]);
      const counts = (await again.pool.query("SELECT state, n::INTEGER AS n, valued::INTEGER AS valued FROM study_state_counts WHERE study_id = 5 ORDER BY state")).rows;
      expect(counts).toEqual([
        { state: "COMPLETE", n: 2, valued: 2 },
        { state: "RUNNING", n: 1, valued: 0 },
      ]);
      expect((await again.distinctDistributions(5)).map((d) => Object.keys(d))).toEqual([["act"], ["lr"], ["y"]]); // pairs, by first use then name
      expect((await again.pool.query("SELECT * FROM tuneport_pending_repair")).rows).toEqual([]);
    } finally {
      old.release();
    }
  });

  it("migrates once when several servers open a new database together, and refuses a newer schema", async () => {
    const url = backend.location();
    const all = await Promise.all([open(url), open(url), open(url)]);
    const { rows } = await (all[0] as PostgresStorage).pool.query<{ version: number }>("SELECT version FROM tuneport_schema");
    expect(rows).toEqual([{ version: PG_SCHEMA_VERSION }]);
    await (all[0] as PostgresStorage).pool.query("UPDATE tuneport_schema SET version = version + 1");
    await expect(PostgresStorage.open({ url })).rejects.toMatchObject({ code: "FAILED_PRECONDITION" });
  });

  it("fences writes: a server writes only the studies it holds, at the epoch it took them", async () => {
    const url = backend.location();
    const a = await open(url);
    const b = await open(url);
    const sa = new PgOwnershipStore(a);
    const sb = new PgOwnershipStore(b);
    const held = new Map<string, number>();
    sa.setFence("A", held);
    const claim = await sa.claim("s", "A", "tcp://a:1", 60_000);
    expect(claim).toEqual({ held: true, epoch: 1 });
    held.set("s", 1);
    await a.commit([{ kind: "insert-study", study: study(1, "s") }, { kind: "insert-trial", trial: trial(1, 1, 0) }]);
    // Another server cannot take a live name, and is told where it lives.
    expect(await sb.claim("s", "B", "tcp://b:1", 60_000)).toMatchObject({ held: false, endpoint: "tcp://a:1" });
    // Not holding a name: refused before the database is asked.
    await expect(a.commit([{ kind: "insert-study", study: study(2, "t") }])).rejects.toBeInstanceOf(OwnershipLostError);
    // Once A's row expired and B took it (epoch 2), A's writes fail in the database.
    await a.pool.query("UPDATE study_owners SET expires_at = now() - interval '1 second'");
    expect(await sb.claim("s", "B", "tcp://b:1", 60_000)).toEqual({ held: true, epoch: 2 });
    await expect(a.commit([{ kind: "add-intermediate", trialId: 1, step: 0, value: 1 }])).rejects.toBeInstanceOf(OwnershipLostError);
    expect((await b.loadTrials(1))[0]?.intermediate).toEqual([]);
    expect([...(await sa.renew("A", 60_000)).keys()]).toEqual([]);
    expect(await sb.renew("B", 60_000)).toEqual(new Map([["s", 2]]));
  });

  it("hands out id blocks no two servers share", async () => {
    const url = backend.location();
    const [a, b] = [await open(url), await open(url)];
    const firsts = await Promise.all([...Array(5)].flatMap(() => [a.reserveIds("trial"), b.reserveIds("trial")]));
    const blocks = firsts.map((f) => [f, f + ID_BLOCK - 1] as const).sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < blocks.length; i++) expect(blocks[i]![0]).toBeGreaterThan(blocks[i - 1]![1]);
    expect(await a.maxTrialId()).toBe(blocks[blocks.length - 1]![1]);
  });
});
