/**
 * Leases: who may report and tell for a running trial, and what happens when a worker vanishes.
 *
 * - `ask` hands out a lease (a random token and an expiry). Heartbeats and reports extend it in
 *   memory, and write the expiry only when the stored one lags by half a TTL or more
 *   (`leaseChange`): one small write per half TTL per running trial, not one per heartbeat.
 * - After a restart a lease runs to `expiryAfterRestart(stored)`: never earlier than without the
 *   restart, at least half a TTL for the worker to reconnect, and never later than two TTLs after
 *   the worker's last heartbeat, however often the server restarts.
 * - The reaper fails trials whose lease expired (a pruned-but-not-told trial becomes PRUNED) and
 *   re-queues their params as a WAITING trial under the study's retry policy (`retryOf`).
 * - A stall of the server itself (stopped, a long GC pause, a paused VM) is given back to every
 *   running lease (`expiryAfterStall`) before the reaper looks: the heartbeats sent meanwhile are
 *   still queued behind the reaper's overdue tick, and the server's absence is not the workers'.
 */
import { randomFillSync } from "node:crypto";
import { TuneportError, failedPrecondition } from "../domain/errors.js";
import type { Change, Lease } from "../storage/storage.js";
import { type StudyState, type TrialRecord, setTrial } from "./study-state.js";
import type { LeaseView } from "./views.js";

/**
 * A trial's lease length in seconds: the `lease_ttl_s` its ask asked for (kept in its system
 * attributes, so retries and restarts keep it), else the study's.
 */
export function ttlOf(s: StudyState, t: { systemAttrs: Record<string, unknown> }): number {
  const own = t.systemAttrs.lease_ttl_s;
  return typeof own === "number" && own > 0 ? own : s.study.config.leaseTtlS;
}

/** Random bytes per lease token (96 bits; 16 base64url characters). */
const TOKEN_BYTES = 12;
/**
 * Token bytes drawn from the CSPRNG 256 tokens at a time: one `randomFillSync` per 256 asks
 * instead of one `randomBytes` call per ask (a few µs each, docs/BENCHMARKS.md "Server CPU per
 * request"). Each token's bytes are handed out once.
 */
const tokenPool = Buffer.alloc(TOKEN_BYTES * 256);
let tokenAt = tokenPool.length;

/** A fresh lease token: 96 random bits, base64url. */
export function leaseToken(): string {
  if (tokenAt + TOKEN_BYTES > tokenPool.length) {
    randomFillSync(tokenPool);
    tokenAt = 0;
  }
  const token = tokenPool.toString("base64url", tokenAt, tokenAt + TOKEN_BYTES);
  tokenAt += TOKEN_BYTES;
  return token;
}

/** A fresh lease for trial `t` of `s` starting at `now`. */
export function newLease(s: StudyState, now: number, t: { systemAttrs: Record<string, unknown> } = { systemAttrs: {} }): Lease {
  return { token: leaseToken(), expiresAt: now + ttlOf(s, t) * 1000 };
}

export function leaseView(s: StudyState, lease: Lease, t: { systemAttrs: Record<string, unknown> } = { systemAttrs: {} }): LeaseView {
  return { token: lease.token, expires_at: lease.expiresAt / 1000, ttl_s: ttlOf(s, t) };
}

/**
 * Checks that the caller holds the trial's live lease.
 * @throws LEASE_LOST (with `data.token_trial` when the token is another running trial's lease; for a
 * reaped trial, `data.checkpoints_needed`: its files live trials still need, `Strategy.neededFiles`), FAILED_PRECONDITION.
 */
export function checkLease(s: StudyState, t: TrialRecord, token: unknown): void {
  if (t.state === "RUNNING") {
    if (t.lease && typeof token === "string" && token === t.lease.token) return;
    // The caller's token leases another running trial: the trial number is the mistake (an agent
    // mixing up two trials it holds), and the trial it holds is alive; say which one it is.
    const own = typeof token === "string" && token !== "" ? tokenHolder(s, token) : null;
    if (own !== null)
      throw new TuneportError(
        "LEASE_LOST",
        `trial ${t.number} of '${s.study.name}' is leased to another worker; the token given is the lease of trial ${own}: call again with trial ${own}`,
        { study: s.study.name, trial: t.number, token_trial: own },
      );
    throw new TuneportError("LEASE_LOST", `trial ${t.number} of '${s.study.name}' is leased to another worker (stale or missing token)`, {
      study: s.study.name,
      trial: t.number,
    });
  }
  if (t.state === "FAIL" && t.systemAttrs.fail_reason === "lease_expired") {
    // Its files that live trials still need (a PBT recipient's unconfirmed load): the lost worker must not delete them.
    const needed = neededFiles(s, t);
    throw new TuneportError("LEASE_LOST", `trial ${t.number} of '${s.study.name}' was failed because its lease expired`, {
      study: s.study.name,
      trial: t.number,
      retried_as: t.systemAttrs.retried_as ?? null,
      ...(needed.length > 0 ? { checkpoints_needed: needed } : {}),
    });
  }
  throw failedPrecondition(`trial ${t.number} of '${s.study.name}' is ${t.state}, not RUNNING`, {
    study: s.study.name,
    trial: t.number,
    state: t.state,
  });
}

/**
 * A reaped trial's files that live trials still need (`Strategy.neededFiles`). Advisory: a plug-in's
 * hook that throws names none (the worker may then delete them, as before the hook) rather than
 * failing the refusal, and with it a heartbeat batch whose other leases would then expire.
 */
function neededFiles(s: StudyState, t: TrialRecord): readonly string[] {
  try {
    return s.strategy.neededFiles?.({ study: s.ctx, trials: s.trials, trial: t }) ?? [];
  } catch {
    return [];
  }
}

/** The number of the running trial of `s` whose live lease is `token`, else null. */
function tokenHolder(s: StudyState, token: string): number | null {
  for (const n of s.running) if (s.trials[n]?.lease?.token === token) return n;
  return null;
}

/**
 * The change that writes a running trial's lease expiry when the stored one lags memory by half a
 * TTL or more, else null. Bounding the lag is what lets a restart keep reaping on time.
 */
export function leaseChange(s: StudyState, t: TrialRecord): Change | null {
  if (!t.lease) return null;
  const halfTtl = (ttlOf(s, t) * 1000) / 2;
  if (t.persistedExpiry !== undefined && t.lease.expiresAt - t.persistedExpiry < halfTtl) return null;
  t.persistedExpiry = t.lease.expiresAt;
  return { kind: "set-lease", trialId: t.id, lease: t.lease };
}

/**
 * A running trial's lease expiry after a restart at `now`, from the expiry last written (`stored`).
 * The stored expiry lags the one in memory by less than half a TTL (`leaseChange`), so the lease
 * really ran to at most `stored + ttl/2`. The result is never earlier than that (a live worker keeps
 * its lease), gives workers at least half a TTL after the restart to reconnect, and is never later
 * than `stored + ttl` — at most two TTLs after the last heartbeat whatever the number of restarts,
 * because it depends on the stored expiry only, which no restart moves.
 */
export function expiryAfterRestart(stored: number, now: number, ttlMs: number): number {
  return Math.min(stored + ttlMs, Math.max(stored + ttlMs / 2, now + ttlMs / 2));
}

/**
 * A running lease's expiry once the server is back from a stall of `stalledMs` in which it read no
 * heartbeat: the stall is added, but never past a full TTL from `now` (what a heartbeat now would
 * give), and the lease is never shortened. Only the time the server was running counts against a
 * worker, so a worker that heartbeats every TTL/3 keeps its trial through any stall.
 */
export function expiryAfterStall(expiresAt: number, stalledMs: number, now: number, ttlMs: number): number {
  return Math.max(expiresAt, Math.min(expiresAt + stalledMs, now + ttlMs));
}

/**
 * A WAITING copy of a failed trial's params when the retry policy allows one more attempt, else
 * null. With `keepIntermediate` the copy starts with the failed attempt's intermediate values, so a
 * worker resuming from a checkpoint reports only later steps (steps must still increase).
 */
export function retryOf(s: StudyState, failed: TrialRecord, allocId: () => number, now: number): TrialRecord | null {
  if (s.strategy.refillsLostTrials) return null;
  const count = typeof failed.systemAttrs.retry_count === "number" ? failed.systemAttrs.retry_count : 0;
  // The ask's own max_retries (kept in system attributes, inherited by the retries) wins.
  const max = typeof failed.systemAttrs.max_retries === "number" ? failed.systemAttrs.max_retries : s.study.config.retry.maxRetries;
  if (count >= max) return null;
  const { retried_as: _r, fail_reason: _f, pruned_at_step: _p, interrupted: _i, ...inherited } = failed.systemAttrs;
  return {
    id: allocId(),
    studyId: s.study.id,
    number: s.trials.length,
    state: "WAITING",
    params: { ...failed.params },
    distributions: { ...failed.distributions },
    values: null,
    value: null,
    constraints: null,
    intermediate: s.study.config.retry.keepIntermediate ? failed.intermediate.map((iv) => ({ ...iv })) : [],
    userAttrs: { ...failed.userAttrs },
    systemAttrs: { ...inherited, retry_of: failed.number, retry_count: count + 1 },
    createdAt: now,
    startedAt: null,
    finishedAt: null,
    lease: null,
  };
}

/** Adds a re-queued (or enqueued) WAITING trial to the study's memory. */
export function addWaiting(s: StudyState, t: TrialRecord): void {
  setTrial(s, t);
  s.waiting.push(t.number);
}

/**
 * The terminal record of a running trial whose lease expired at or before `now`: PRUNED with its
 * last finite intermediate when a scheduler had pruned it, else FAIL (`lease_expired`).
 */
export function reapedRecord(t: TrialRecord, now: number): TrialRecord {
  const pruned = typeof t.systemAttrs.pruned_at_step === "number";
  const lastFinite = [...t.intermediate].reverse().find((iv) => Number.isFinite(iv.value));
  return {
    ...t,
    state: pruned ? "PRUNED" : "FAIL",
    value: pruned ? (lastFinite?.value ?? null) : null,
    finishedAt: now,
    lease: null,
    systemAttrs: pruned ? t.systemAttrs : { ...t.systemAttrs, fail_reason: "lease_expired" },
  };
}

/** Numbers of the study's running trials whose lease expired at or before `now`. */
export function expiredTrials(s: StudyState, now: number): number[] {
  return [...s.running].filter((n) => {
    const t = s.trials[n];
    return t !== undefined && t.lease !== null && t.lease.expiresAt <= now;
  });
}
