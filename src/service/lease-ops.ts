/**
 * The lease operations that span a server's studies: heartbeats (many trials in one request) and
 * the reaper (every study). The lease rules themselves are in leases.ts.
 */
import { TuneportError } from "../domain/errors.js";
import type { Change } from "../storage/storage.js";
import type { ServiceCore } from "./core.js";
import { addWaiting, checkLease, expiredTrials, expiryAfterStall, leaseChange, reapedRecord, retryOf, ttlOf } from "./leases.js";
import type * as S from "./ops/schemas.js";
import { type TrialRecord, applyFinish, setTrial } from "./study-state.js";
import { trialOf } from "./trial-ops.js";

/** One heartbeat entry's answer. */
export interface HeartbeatEntry {
  study: string;
  trial: number;
  ok: boolean;
  expires_at?: number;
  ttl_s?: number;
  code?: string;
  message?: string;
  data?: Record<string, unknown>;
}

/**
 * Extends the leases of running trials. Each entry answers `ok` with the new expiry, or the error
 * code (`LEASE_LOST`, `NOT_FOUND`, `FAILED_PRECONDITION`, or `UNAVAILABLE` with the redirect of
 * `elsewhere` for a study another server serves) for that trial alone.
 */
export async function heartbeat(core: ServiceCore, a: S.HeartbeatArgs, elsewhere: ReadonlyMap<string, TuneportError>): Promise<HeartbeatEntry[]> {
  // Refused whole while the storage is full (UNAVAILABLE storage_full), like every change and read,
  // before a lease is touched: one with nothing to write was answered ok (renewed in memory only), and
  // a refused one's leaseChange had already counted its expiry as written, so the next one was too.
  // The leases lose nothing: the reaper gives them the time the storage was full (startReaper).
  if (core.storageFull()) await core.visible(null);
  const now = core.now();
  const changes: Change[] = [];
  const out = a.leases.map((l): HeartbeatEntry => {
    try {
      const moved = elsewhere.get(l.study);
      if (moved) throw moved;
      const s = core.state(l.study);
      const t = trialOf(s, l.trial);
      checkLease(s, t, l.token);
      const expiresAt = now + ttlOf(s, t) * 1000;
      t.lease = { token: t.lease?.token ?? l.token, expiresAt };
      const change = leaseChange(s, t);
      if (change) changes.push(change);
      return { study: l.study, trial: l.trial, ok: true, expires_at: expiresAt / 1000, ttl_s: ttlOf(s, t) };
    } catch (err) {
      if (!(err instanceof TuneportError)) throw err;
      // The redirect of a study served elsewhere; a reaped trial's files that live trials still need
      // (`checkLease`): a worker that learns of its lost lease here deletes what it wrote, but those.
      const needed = err.code === "LEASE_LOST" ? err.data?.checkpoints_needed : undefined;
      const data = err.code === "UNAVAILABLE" ? err.data : needed !== undefined ? { checkpoints_needed: needed } : undefined;
      return { study: l.study, trial: l.trial, ok: false, code: err.code, message: err.message, ...(data ? { data } : {}) };
    }
  });
  if (changes.length === 0) return out;
  core.commit(changes, null, () => undefined, null);
  return core.visible(out);
}

/**
 * How often the reaper's timer looks at the clock, in ms: the resolution to which a stall of the
 * server is measured. A worker heartbeats every TTL/3 (`hello`), so a stall measured short by this
 * much still leaves a lease of the shortest TTL (1 s) more than 0.4 s to be renewed after it.
 */
export const STALL_PROBE_MS = 250;
/** A tick later than this means the server did not run meanwhile (timers are late by a few ms). */
const STALL_MIN_MS = 100;

/**
 * Starts the reaper: `reap` every `everyMs`, on a timer that ticks every `STALL_PROBE_MS` (at most
 * `everyMs`) and measures how late it comes. A late tick means the server did not run (SIGSTOP, a
 * long GC pause, a paused VM, a blocked event loop): the heartbeats of that time are still queued
 * behind this tick, so the lateness is given back to every running lease (`forgiveStall`) before the
 * reaper looks. Only the lateness, not the whole time since the last tick: under a sustained overload
 * every tick is late, and leases that grew by a whole period each tick would never expire. Returns
 * the function that stops it.
 */
export function startReaper(core: ServiceCore, everyMs: number, reap: () => Promise<unknown>): () => void {
  const probeMs = Math.min(STALL_PROBE_MS, everyMs);
  let last = core.now();
  let reapedAt = last;
  // Whether the storage was full at the last tick (commit-pipeline.ts holds commits, refusing heartbeats
  // too): that time is given back to the leases like a stall's, as a restart would regrant them.
  let full = false;
  const timer = setInterval(() => {
    const now = core.now();
    const late = now - last - probeMs;
    last = now;
    if (late >= STALL_MIN_MS || full) forgiveStall(core, Math.max(late, 0) + (full ? probeMs : 0), now);
    // Not `visible`: it brings a lazy batch's commit forward, which cut every --report-commit-ms to this probe's period.
    full = core.storageFull();
    if (now - reapedAt < everyMs - probeMs / 2) return;
    reapedAt = now;
    // While the storage is full every reap is refused; the commit pipeline said so once.
    reap().catch((err: unknown) => (isStorageFull(err) ? undefined : core.log.error({ err }, "reaper failed")));
  }, probeMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** UNAVAILABLE `storage_full` (commit-pipeline.ts). */
const isStorageFull = (err: unknown): boolean => err instanceof TuneportError && err.data?.reason === "storage_full";

/** Gives `stalledMs` in which the server did not run back to every running lease (leases.ts `expiryAfterStall`). */
export function forgiveStall(core: ServiceCore, stalledMs: number, now: number): void {
  let extended = 0;
  for (const s of core.studies())
    for (const n of s.running) {
      const t = s.trials[n];
      if (!t?.lease) continue;
      t.lease = { token: t.lease.token, expiresAt: expiryAfterStall(t.lease.expiresAt, stalledMs, now, ttlOf(s, t) * 1000) };
      extended++;
    }
  const log = { stalled_ms: Math.round(stalledMs), leases_extended: extended };
  if (stalledMs >= 1000) core.log.warn(log, "the server did not run for a while: running leases were extended by that time");
  else core.log.debug(log, "the server did not run for a while: running leases were extended by that time");
}

/**
 * Leases expired now, over every study: the ids `reap` may need for retries are reserved before it
 * runs. With ids in blocks (PostgreSQL), 3,000 leases expiring together ran out of them mid-loop,
 * and the reaper and the asks of that moment failed UNAVAILABLE until refills caught up.
 */
export function expiring(core: ServiceCore): number {
  let n = 0;
  for (const s of core.studies()) n += expiredTrials(s, core.now()).length;
  return n;
}

/** Fails every trial whose lease expired, re-queueing params per the retry policy. Returns how many were reaped. */
export async function reap(core: ServiceCore): Promise<number> {
  let reaped = 0;
  for (const s of core.studies()) {
    if (expiredTrials(s, core.now()).length === 0) continue;
    await s.writeLock.run(async () => {
      if (s.deleted) return;
      for (const n of expiredTrials(s, core.now())) {
        const t = s.trials[n] as TrialRecord;
        const next = reapedRecord(t, core.now());
        try {
          applyFinish(s, next);
        } catch (err) {
          // A plug-in's onFinish that throws must not keep an expired lease alive: it threw here at
          // every tick, and the studies after this one were never reaped. Reaped without its look.
          core.log.error({ err, study: s.study.name, trial: n }, "the strategy's onFinish failed on a reaped trial; reaped without it");
        }
        const retry = next.state === "FAIL" ? retryOf(s, next, () => core.allocTrialId(), core.now()) : null;
        if (retry) next.systemAttrs = { ...next.systemAttrs, retried_as: retry.number };
        const changes: Change[] = [{ kind: "update-trial", trial: next }];
        if (retry) changes.push({ kind: "insert-trial", trial: retry });
        core.commit(changes, null, () => {
          setTrial(s, next);
          s.running.delete(n);
          if (retry) {
            addWaiting(s, retry);
            s.started--; // the retry counts against the budget when it is asked
          }
          core.bump(s);
        }, null);
        reaped++;
        core.log.warn({ study: s.study.name, trial: n, retried_as: retry?.number ?? null }, "lease expired; trial reaped");
      }
    });
  }
  return core.visible(reaped);
}
