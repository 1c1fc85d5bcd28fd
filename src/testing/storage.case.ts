/**
 * The conformance suite every storage runs (in the spirit of Optuna's
 * testing/pytest_storages.py): the contract of src/storage/storage.ts, as the service relies on
 * it. Call `storageConformance(label, conf)` from the storage's own test file; list any
 * exempt check by name with its reason in `skip` (it runs as an expected failure, see skips.ts).
 *
 * What is checked: every `Change` kind round-trips exactly (ids, JSON attributes, NaN and
 * ±Infinity intermediates, leases); a batch is atomic (a failing change leaves nothing of its
 * batch, a stored reply included) and applied in order (a create, a delete and a re-create of
 * one name in one batch); study ids are never reused; replies are pruned by age; and, for a
 * storage that outlives its connection, everything survives a reopen.
 */
import { afterEach, beforeEach, describe, expect } from "vitest";
import type { Study, StudyConfig } from "../domain/trial.js";
import type { Change, Storage, StoredTrial, SummaryReader } from "../storage/storage.js";
import { conformanceChecks } from "./skips.js";

/** A storage under test and how to get at its database again. */
export interface StorageHandle {
  readonly storage: Storage;
  /** Closes `storage` and opens the same database again; absent when the data ends with the connection. */
  reopen?(): Promise<Storage>;
  /** Releases what `open` made (temporary files); called after the storage was closed. */
  dispose?(): Promise<void> | void;
}

/** How to run the suite on one storage. */
export interface StorageConformance {
  /** A new, empty storage for each check. */
  open(): Promise<StorageHandle> | StorageHandle;
  skip?: Partial<Record<StorageCheck, string>>;
}

/** The checks of the storage suite, by the name `skip` uses. */
export type StorageCheck =
  | "empty"
  | "studies"
  | "trials"
  | "update-trial"
  | "intermediates"
  | "set-lease"
  | "delete-study"
  | "atomic"
  | "ordered"
  | "replies"
  | "durable";

const CONFIG: StudyConfig = {
  directions: ["minimize"],
  direction: "minimize",
  space: {
    lr: { type: "float", low: 1e-5, high: 0.1, log: true },
    layers: { type: "int", low: 1, high: 4 },
    act: { type: "categorical", choices: ["relu", "gelu", null, 1.5, true] },
  },
  strategy: { name: "tpe", options: { n_startup_trials: 10, nested: { a: [1, 2, { b: "ü ✓" }] } } },
  scheduler: { name: "asha", options: { max_resource: 27 } },
  seed: 4_294_967_295,
  retry: { maxRetries: 2, retryOnFail: true, keepIntermediate: false },
  leaseTtlS: 30,
};

/** A study as the service creates it. */
export function studyOf(id: number, name: string, over: Partial<Study> = {}): Study {
  return { id, name, config: CONFIG, userAttrs: { owner: "ana", tags: ["a", "b"] }, createdAt: 1_700_000_000_000 + id, ...over };
}

/** A RUNNING trial with a lease, params of every kind and nested attributes. */
export function storedTrialOf(id: number, studyId: number, number: number, over: Partial<StoredTrial> = {}): StoredTrial {
  return {
    id,
    studyId,
    number,
    state: "RUNNING",
    params: { lr: 0.001 * (number + 1), layers: 2, act: "gelu" },
    distributions: { lr: CONFIG.space.lr!, layers: CONFIG.space.layers!, act: CONFIG.space.act! },
    value: null,
    values: null,
    constraints: null,
    intermediate: [],
    userAttrs: { note: `trial ${number}` },
    systemAttrs: { budget: 9, pbt_lineage: [{ step: 0, params: { lr: 0.1 } }], flag: false },
    createdAt: 1_700_000_001_000 + number,
    startedAt: 1_700_000_001_500 + number,
    finishedAt: null,
    lease: { token: `tok-${id}`, expiresAt: 1_700_000_030_000 + number },
    ...over,
  };
}

const bytes = (...xs: number[]) => Uint8Array.from(xs);

/** What each check gets: the storage under test (replaced by `reopen`) and shorthands. */
interface CheckContext {
  readonly label: string;
  readonly handle: StorageHandle;
  storage: Storage;
  commit(...changes: Change[]): Promise<void>;
  trialsOf(studyId: number): Promise<StoredTrial[]>;
}

type Check = (c: CheckContext) => Promise<void>;

/** A new storage holds nothing and is sound. */
const checkEmpty: Check = async (c) => {
  expect(await c.storage.listStudies()).toEqual([]);
  expect(await c.storage.maxTrialId()).toBe(0);
  expect(await c.storage.maxStudyId()).toBe(0);
  expect(await c.storage.getReply("r1")).toBeNull();
  expect(await c.storage.pruneReplies(Number.MAX_SAFE_INTEGER)).toBe(0);
  expect(await c.storage.checkIntegrity()).toEqual([]);
  await c.commit();
  expect(await c.storage.listStudies()).toEqual([]);
};

/** Stores studies with the ids the service allocated, in id order, attributes replaceable. */
const checkStudies: Check = async (c) => {
  await c.commit({ kind: "insert-study", study: studyOf(7, "seven ✓") });
  await c.commit({ kind: "insert-study", study: studyOf(3, "three") }, { kind: "insert-study", study: studyOf(12, "twelve") });
  expect(await c.storage.listStudies()).toEqual([studyOf(3, "three"), studyOf(7, "seven ✓"), studyOf(12, "twelve")]);
  expect(await c.storage.maxStudyId()).toBe(12);
  await c.commit({ kind: "set-study-user-attrs", studyId: 7, userAttrs: { replaced: { deep: [1, null] } } });
  const seven = (await c.storage.listStudies()).find((s) => s.id === 7);
  expect(seven?.userAttrs).toEqual({ replaced: { deep: [1, null] } });
  expect(seven?.config).toEqual(CONFIG);
};

/** Stores trials with every field, loads them in number order per study. */
const checkTrials: Check = async (c) => {
  await c.commit({ kind: "insert-study", study: studyOf(1, "a") }, { kind: "insert-study", study: studyOf(2, "b") });
  const done = storedTrialOf(5, 1, 2, {
    state: "COMPLETE", value: -1.25, values: [-1.25], finishedAt: 1_700_000_009_000, lease: null,
    intermediate: [{ step: 0, value: 3 }, { step: 1.5, value: Number.NaN }, { step: 2, value: Infinity }, { step: 3, value: -Infinity }],
  });
  const waiting = storedTrialOf(4, 1, 1, { state: "WAITING", startedAt: null, lease: null, params: {}, distributions: {} });
  const other = storedTrialOf(6, 2, 0);
  // A multi-objective result: `value` null, the vector and constraint values exact to the last bit.
  const vector = storedTrialOf(7, 2, 1, {
    state: "COMPLETE", value: null, values: [0.1 + 0.2, -2e-300, 1e300], constraints: [0, -1e-9, 5e-324], finishedAt: 1_700_000_010_000, lease: null,
  });
  await c.commit({ kind: "insert-trial", trial: done }, { kind: "insert-trial", trial: other }, { kind: "insert-trial", trial: vector });
  await c.commit({ kind: "insert-trial", trial: storedTrialOf(3, 1, 0) }, { kind: "insert-trial", trial: waiting });
  const loaded = await c.trialsOf(1);
  expect(loaded.map((t) => t.number)).toEqual([0, 1, 2]);
  expect(loaded[0]).toEqual(storedTrialOf(3, 1, 0));
  expect(loaded[1]).toEqual(waiting);
  expect(loaded[2]).toEqual(done); // toEqual treats NaN as equal to NaN
  expect(Number.isNaN(loaded[2]!.intermediate[1]!.value)).toBe(true);
  expect(await c.trialsOf(2)).toEqual([other, vector]);
  expect((await c.trialsOf(2))[1]!.values).toStrictEqual([0.1 + 0.2, -2e-300, 1e300]);
  expect(await c.trialsOf(99)).toEqual([]);
  expect(await c.storage.maxTrialId()).toBe(7);
};

/** An update rewrites the trial's fields and keeps its intermediates. */
const checkUpdateTrial: Check = async (c) => {
  await c.commit({ kind: "insert-study", study: studyOf(1, "a") });
  const t = storedTrialOf(1, 1, 0, { intermediate: [{ step: 1, value: 0.5 }] });
  await c.commit({ kind: "insert-trial", trial: t });
  const told = {
    ...t, state: "PRUNED" as const, value: 0.5, values: [0.5], params: { ...t.params, extra: "x" }, distributions: { ...t.distributions, extra: { type: "categorical" as const, choices: ["x"] } },
    userAttrs: {}, systemAttrs: { budget: 27 }, finishedAt: 1_700_000_050_000, lease: null, intermediate: [],
  };
  await c.commit({ kind: "update-trial", trial: told });
  expect(await c.trialsOf(1)).toEqual([{ ...told, intermediate: [{ step: 1, value: 0.5 }] }]);
};

/** Adds intermediates in step order; a repeated step replaces its value. */
const checkIntermediates: Check = async (c) => {
  await c.commit({ kind: "insert-study", study: studyOf(1, "a") }, { kind: "insert-trial", trial: storedTrialOf(1, 1, 0) });
  await c.commit({ kind: "add-intermediate", trialId: 1, step: 4, value: 0.4 }, { kind: "add-intermediate", trialId: 1, step: 1, value: 0.1 });
  await c.commit({ kind: "add-intermediate", trialId: 1, step: 2.5, value: Number.NaN });
  await c.commit({ kind: "add-intermediate", trialId: 1, step: 4, value: -0.4 });
  expect((await c.trialsOf(1))[0]?.intermediate).toEqual([
    { step: 1, value: 0.1 },
    { step: 2.5, value: Number.NaN },
    { step: 4, value: -0.4 },
  ]);
};

/** Moves a lease and nothing else. */
const checkSetLease: Check = async (c) => {
  const t = storedTrialOf(1, 1, 0);
  await c.commit({ kind: "insert-study", study: studyOf(1, "a") }, { kind: "insert-trial", trial: t });
  await c.commit({ kind: "set-lease", trialId: 1, lease: { token: "tok-1", expiresAt: 1_800_000_000_000 } });
  expect(await c.trialsOf(1)).toEqual([{ ...t, lease: { token: "tok-1", expiresAt: 1_800_000_000_000 } }]);
};

/** Deletes a study with its trials and intermediates; its id is never reused, its name is free. */
const checkDeleteStudy: Check = async (c) => {
  await c.commit(
    { kind: "insert-study", study: studyOf(1, "keep") },
    { kind: "insert-study", study: studyOf(2, "gone") },
    { kind: "insert-trial", trial: storedTrialOf(1, 1, 0) },
    { kind: "insert-trial", trial: storedTrialOf(2, 2, 0, { intermediate: [{ step: 1, value: 1 }] }) },
  );
  await c.commit({ kind: "delete-study", studyId: 2 });
  expect((await c.storage.listStudies()).map((s) => s.name)).toEqual(["keep"]);
  expect(await c.trialsOf(2)).toEqual([]);
  expect(await c.trialsOf(1)).toEqual([storedTrialOf(1, 1, 0)]);
  expect(await c.storage.maxStudyId()).toBe(2);
  expect(await c.storage.maxTrialId()).toBeGreaterThanOrEqual(1);
  await c.commit({ kind: "insert-study", study: studyOf(3, "gone") }, { kind: "insert-trial", trial: storedTrialOf(3, 3, 0) });
  expect((await c.storage.listStudies()).map((s) => [s.id, s.name])).toEqual([[1, "keep"], [3, "gone"]]);
  expect(await c.storage.checkIntegrity()).toEqual([]);
};

/** A batch with a failing change leaves nothing of itself, its reply included. */
const checkAtomic: Check = async (c) => {
  await c.commit({ kind: "insert-study", study: studyOf(1, "a") }, { kind: "insert-trial", trial: storedTrialOf(1, 1, 0) });
  const failing: Change[] = [
    { kind: "insert-trial", trial: storedTrialOf(2, 1, 1) },
    { kind: "add-intermediate", trialId: 1, step: 1, value: 1 },
    { kind: "set-study-user-attrs", studyId: 1, userAttrs: { lost: true } },
    { kind: "put-reply", requestId: "r-failed", op: "tell", reply: bytes(1, 2, 3), at: 10 },
    { kind: "insert-study", study: studyOf(2, "a") }, // the name is taken
  ];
  await expect(c.storage.commit(failing)).rejects.toBeDefined();
  const dupId: Change[] = [{ kind: "put-reply", requestId: "r-dup", op: "create_study", reply: bytes(9), at: 10 }, { kind: "insert-study", study: studyOf(1, "b") }];
  await expect(c.storage.commit(dupId)).rejects.toBeDefined();
  expect(await c.storage.listStudies()).toEqual([studyOf(1, "a")]);
  expect(await c.trialsOf(1)).toEqual([storedTrialOf(1, 1, 0)]);
  expect(await c.storage.getReply("r-failed")).toBeNull();
  expect(await c.storage.getReply("r-dup")).toBeNull();
  // Still usable, and the rolled-back ids are free.
  await c.commit({ kind: "insert-trial", trial: storedTrialOf(2, 1, 1) }, { kind: "put-reply", requestId: "r-failed", op: "tell", reply: bytes(4), at: 11 });
  expect((await c.trialsOf(1)).map((t) => t.id)).toEqual([1, 2]);
  expect(await c.storage.getReply("r-failed")).toEqual(bytes(4));
};

/** Applies a batch's changes in order (create, fill, delete and re-create one name). */
const checkOrdered: Check = async (c) => {
  const t = storedTrialOf(1, 1, 0);
  await c.commit(
    { kind: "insert-study", study: studyOf(1, "x") },
    { kind: "insert-trial", trial: t },
    { kind: "add-intermediate", trialId: 1, step: 1, value: 9 },
    { kind: "add-intermediate", trialId: 1, step: 1, value: 2 }, // the same step again in the batch: the last value stays
    { kind: "update-trial", trial: { ...t, state: "COMPLETE", value: 2, values: [2], lease: null, finishedAt: 5 } },
  );
  expect(await c.trialsOf(1)).toEqual([{ ...t, state: "COMPLETE", value: 2, values: [2], lease: null, finishedAt: 5, intermediate: [{ step: 1, value: 2 }] }]);
  await c.commit(
    { kind: "add-intermediate", trialId: 1, step: 3, value: 1 }, // before its study's deletion in the same batch
    { kind: "delete-study", studyId: 1 },
    { kind: "insert-study", study: studyOf(2, "x") },
    { kind: "insert-trial", trial: storedTrialOf(2, 2, 0) },
  );
  expect((await c.storage.listStudies()).map((s) => [s.id, s.name])).toEqual([[2, "x"]]);
  expect(await c.trialsOf(1)).toEqual([]);
  expect(await c.trialsOf(2)).toEqual([storedTrialOf(2, 2, 0)]);
};

/** Remembers replies byte for byte, keeps an id's first one, and prunes them by age. */
const checkReplies: Check = async (c) => {
  const big = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31) % 256);
  await c.commit(
    { kind: "put-reply", requestId: "old", op: "ask", reply: bytes(0, 255, 0), at: 100 },
    { kind: "put-reply", requestId: "edge", op: "tell", reply: bytes(), at: 200 },
    { kind: "put-reply", requestId: "big", op: "trials", reply: big, at: 300 },
  );
  expect(await c.storage.getReply("old")).toEqual(bytes(0, 255, 0));
  expect(await c.storage.getReply("edge")).toEqual(bytes());
  const gotBig = await c.storage.getReply("big");
  // Buffer comparison: a deep equality over 70,000 elements is slow.
  expect(gotBig !== null && Buffer.from(gotBig).equals(Buffer.from(big)), "70,000-byte reply").toBe(true);
  expect(await c.storage.getReply("never")).toBeNull();
  // The first reply of an id stays: a reused id cannot replace what a retry of the first request gets.
  await c.commit({ kind: "put-reply", requestId: "old", op: "delete_study", reply: bytes(7), at: 150 });
  expect(await c.storage.getReply("old")).toEqual(bytes(0, 255, 0));
  await c.commit(
    { kind: "put-reply", requestId: "twice", op: "ask", reply: bytes(1), at: 150 },
    { kind: "put-reply", requestId: "twice", op: "ask", reply: bytes(2), at: 150 },
  );
  expect(await c.storage.getReply("twice")).toEqual(bytes(1));
  if (c.storage.knowsReply) {
    expect(c.storage.knowsReply("old")).toBe(true);
    expect(c.storage.knowsReply("never")).toBe(false);
  }
  expect(await c.storage.pruneReplies(151)).toBe(2); // strictly older than the cut-off
  expect(await c.storage.getReply("old")).toBeNull();
  expect(await c.storage.getReply("edge")).toEqual(bytes());
  expect(await c.storage.pruneReplies(200)).toBe(0);
  // A pruned id can be stored again.
  await c.commit({ kind: "put-reply", requestId: "old", op: "ask", reply: bytes(8), at: 400 });
  expect(await c.storage.getReply("old")).toEqual(bytes(8));
};

/** Everything committed survives a reopen; deleted study ids stay used. */
const checkDurable: Check = async (c) => {
  expect(c.handle.reopen, `${c.label} cannot reopen its database: exempt "durable" in skip with the reason`).toBeTypeOf("function");
  const t = storedTrialOf(2, 2, 0, { intermediate: [{ step: 1, value: Number.NaN }] });
  await c.commit(
    { kind: "insert-study", study: studyOf(1, "deleted") },
    { kind: "insert-study", study: studyOf(2, "kept") },
    { kind: "insert-trial", trial: t },
    { kind: "set-study-user-attrs", studyId: 2, userAttrs: { v: 2 } },
    { kind: "put-reply", requestId: "r", op: "ask", reply: bytes(1, 2), at: 5 },
  );
  await c.commit({ kind: "delete-study", studyId: 1 }, { kind: "set-lease", trialId: 2, lease: { token: "tok-2", expiresAt: 9 } });
  c.storage = await c.handle.reopen!();
  expect(await c.storage.listStudies()).toEqual([studyOf(2, "kept", { userAttrs: { v: 2 } })]);
  expect(await c.trialsOf(2)).toEqual([{ ...t, lease: { token: "tok-2", expiresAt: 9 } }]);
  expect(await c.storage.getReply("r")).toEqual(bytes(1, 2));
  expect(await c.storage.maxStudyId()).toBe(2);
  expect(await c.storage.maxTrialId()).toBe(2);
  expect(await c.storage.checkIntegrity()).toEqual([]);
  // Still writable after the reopen.
  await c.commit({ kind: "insert-study", study: studyOf(3, "after") });
  expect((await c.storage.listStudies()).map((s) => s.id)).toEqual([2, 3]);
};

const CHECKS: readonly (readonly [StorageCheck, string, Check])[] = [
  ["empty", "a new storage holds nothing and is sound", checkEmpty],
  ["studies", "stores studies with the ids the service allocated, in id order, attributes replaceable", checkStudies],
  ["trials", "stores trials with every field, loads them in number order per study", checkTrials],
  ["update-trial", "an update rewrites the trial's fields and keeps its intermediates", checkUpdateTrial],
  ["intermediates", "adds intermediates in step order; a repeated step replaces its value", checkIntermediates],
  ["set-lease", "moves a lease and nothing else", checkSetLease],
  ["delete-study", "deletes a study with its trials and intermediates; its id is never reused, its name is free", checkDeleteStudy],
  ["atomic", "a batch with a failing change leaves nothing of itself, its reply included", checkAtomic],
  ["ordered", "applies a batch's changes in order (create, fill, delete and re-create one name)", checkOrdered],
  ["replies", "remembers replies byte for byte, replaces them, and prunes them by age", checkReplies],
  ["durable", "everything committed survives a reopen; deleted study ids stay used", checkDurable],
];

/** Declares the suite for one storage; see the file comment. */
export function storageConformance(label: string, conf: StorageConformance): void {
  const check = conformanceChecks<StorageCheck>(conf.skip ?? {});

  describe(`storage conformance: ${label}`, () => {
    let ctx: CheckContext;
    beforeEach(async () => {
      const handle = await conf.open();
      ctx = {
        label,
        handle,
        storage: handle.storage,
        commit(...changes) {
          return this.storage.commit(changes);
        },
        trialsOf(studyId) {
          return this.storage.loadTrials(studyId);
        },
      };
    });
    afterEach(async () => {
      await ctx.storage.close();
      await ctx.handle.dispose?.();
    });
    for (const [name, title, fn] of CHECKS) check(name, title, () => fn(ctx));
  });
}

/**
 * What `tuneport studies list` reads through `SummaryReader` (SQLite and PostgreSQL): counts by
 * state, and the best feasible COMPLETE trial — the lowest (highest when maximising) value, the
 * lowest trial number among equal values, infeasible trials (a constraint > 0) left out.
 */
export async function checkSummaryReader(storage: Storage & SummaryReader): Promise<void> {
  const done = (id: number, number: number, value: number, constraints: number[] | null = null): StoredTrial =>
    storedTrialOf(id, 1, number, { state: "COMPLETE", value, values: [value], constraints, finishedAt: 1_700_000_100_000 + number, lease: null });
  await storage.commit([
    { kind: "insert-study", study: studyOf(1, "summary") },
    { kind: "insert-study", study: studyOf(2, "other") },
    { kind: "insert-trial", trial: storedTrialOf(1, 1, 0) },
    { kind: "insert-trial", trial: done(2, 1, 0.5) },
    { kind: "insert-trial", trial: done(3, 2, 0.25, [0.5]) }, // infeasible: never the best
    { kind: "insert-trial", trial: done(4, 3, 0.5) }, // ties trial 1: trial 1 stays the best
    { kind: "insert-trial", trial: done(5, 4, 2, [-1, 0]) },
    { kind: "insert-trial", trial: storedTrialOf(6, 1, 5, { state: "PRUNED", lease: null }) },
    { kind: "insert-trial", trial: storedTrialOf(7, 1, 6, { state: "FAIL", lease: null }) },
    { kind: "insert-trial", trial: { ...done(8, 0, -5), studyId: 2 } }, // another study's
  ]);
  const min = await storage.studySummary(1, "minimize");
  expect(min.counts).toEqual({ WAITING: 0, RUNNING: 1, COMPLETE: 4, PRUNED: 1, FAIL: 1 });
  expect(min.best?.number).toBe(1);
  expect(min.best?.values).toEqual([0.5]);
  const max = await storage.studySummary(1, "maximize");
  expect(max.counts).toEqual(min.counts);
  expect(max.best?.number).toBe(4);
  expect(max.best?.constraints).toEqual([-1, 0]);
  await storage.commit([{ kind: "insert-study", study: studyOf(3, "empty") }, { kind: "insert-trial", trial: storedTrialOf(9, 3, 0) }]);
  expect(await storage.studySummary(3, "minimize")).toEqual({ counts: { WAITING: 0, RUNNING: 1, COMPLETE: 0, PRUNED: 0, FAIL: 0 }, best: null });
}
