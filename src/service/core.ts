/**
 * What the service's modules share: the hooks `StudyService` gives the trial operations
 * (trial-ops.ts) so that they mutate state only the way the facade does — under the study's write
 * lock, through the commit pipeline, idempotent by request id.
 */
import type { Logger } from "pino";
import { TuneportError } from "../domain/errors.js";
import type { Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../domain/plugin.js";
import type { Change } from "../storage/storage.js";
import type { ReplyCtx } from "./idempotency.js";
import type { StudyChange } from "./study-service.js";
import type { StudyState } from "./study-state.js";

/** Runs a strategy's `suggest`, in process or in a worker thread. */
export interface SuggestRunner {
  suggest(factory: StrategyFactory<unknown>, strategy: Strategy, req: SuggestRequest): Promise<Suggestion>;
  close(): Promise<void>;
}

/** Runs every suggestion on the calling thread. */
export const inProcessRunner: SuggestRunner = {
  suggest: async (_f, strategy, req) => strategy.suggest(req),
  close: async () => undefined,
};

export interface ServiceCore {
  readonly log: Logger;
  readonly runner: SuggestRunner;
  /** Intermediate values one trial holds at most (study-limits.ts `DEFAULT_MAX_INTERMEDIATE`). */
  readonly maxIntermediate: number;
  /** Epoch milliseconds. */
  now(): number;
  /** A fresh storage-wide trial id (taken when the record is built, so concurrent studies never share one). */
  allocTrialId(): number;
  /** The live study of that name. @throws NOT_FOUND. */
  state(name: string): StudyState;
  /** Re-validates under the write lock that the study still exists. @throws NOT_FOUND. */
  live(s: StudyState): void;
  /**
   * Runs a mutation at most once per request id and resolves only once its effect is committed.
   * @throws UNAVAILABLE while stopping or after a failed commit.
   */
  mutate<T>(requestId: string | undefined, op: string, body: (rc: ReplyCtx | null) => Promise<T>): Promise<T>;
  /**
   * For a request that waited its turn (an ask queued behind its study's): @throws UNAVAILABLE once
   * the service takes no more (`StudyService.stopTaking`, at a stop signal), nothing applied; clients
   * resend it with the same id. A stop used to run every queued ask first: 20 clients that pipelined
   * 1,000 asks each on a GP study held a SIGTERM'd server for over 20 minutes, suggesting trials for
   * clients long gone.
   */
  taking(): void;
  /**
   * Queues the changes (and the reply, when `rc` is set) for the next group commit and applies the
   * in-memory effects. Call under the study's write lock; the reply waits for the commit in `mutate`,
   * except with `lazy` (intermediate values that decide nothing; docs/DURABILITY.md "Intermediate
   * values"): then the commit may follow the reply by up to the service's `lazyCommitMs`.
   */
  commit<T>(changes: Change[], result: T, apply: () => void, rc: ReplyCtx | null, lazy?: boolean): T;
  /** Announces a change once it is committed (progress waiters, change listeners). */
  bump(s: StudyState, kind?: StudyChange["kind"]): void;
  /** Resolves with `value` once everything queued so far is committed. @throws UNAVAILABLE after a failed commit. */
  visible<T>(value: T): Promise<T>;
  /** True while commits are held for want of space (commit-pipeline.ts): every change and read is refused. Brings no commit forward. */
  storageFull(): boolean;
  /** The studies this server holds in memory (deleted ones excluded or marked). */
  studies(): StudyState[];
}

/** The refusal of a request the service no longer takes: it is stopping. */
export function shuttingDown(): TuneportError {
  return new TuneportError("UNAVAILABLE", "the server is shutting down; retry against the next one");
}

/**
 * The state of study `name` for an ask. One with `createdAt` (`study_created_at`) comes from a
 * worker that loaded the study, so a missing one was deleted since: "no study named 'x'" read as
 * a typo in the worker's script when an agent had deleted the study under its loop. @throws NOT_FOUND.
 */
export function loadedState(core: ServiceCore, name: string, createdAt: number | undefined): StudyState {
  try {
    return core.state(name);
  } catch (err) {
    if (createdAt === undefined || !(err instanceof TuneportError) || err.code !== "NOT_FOUND") throw err;
    throw new TuneportError("NOT_FOUND", `study '${name}' was deleted since this worker loaded it (${err.message}): create it again and load it to go on`, err.data);
  }
}

/**
 * The refusal of an ask whose requester left while it waited its turn (`OpContext.gone`), nothing
 * applied. Asks queue per study, one suggestion at a time: a client that pipelined asks and closed its
 * connection had each of them suggested (seconds of a GP each) before anyone else's, for nobody.
 */
export function requesterGone(study: string): TuneportError {
  return new TuneportError(
    "UNAVAILABLE",
    `this ask of study '${study}' was dropped unanswered: the connection that sent it closed while it waited its turn; nothing was applied (resend it with the same id)`,
    { reason: "requester_gone", study },
  );
}
