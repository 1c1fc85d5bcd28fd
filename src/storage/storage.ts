/**
 * The storage plug-in family: where studies and trials persist.
 *
 * The service keeps the authoritative in-memory copy of every open study and sends
 * storage *change sets*: each `commit` applies a batch atomically (all or nothing) and
 * resolves only once the batch is durable at the configured level. A reply that
 * acknowledges a change is sent only after its commit resolves. The interface is
 * asynchronous so that a network database (PostgreSQL) can implement it unchanged;
 * the embedded SQLite implementation completes synchronously underneath.
 */
import type { Study, StudyConfig, Trial } from "../domain/trial.js";

/** A trial as stored: the domain trial plus its lease. */
export interface StoredTrial extends Trial {
  readonly studyId: number;
  readonly lease: Lease | null;
}

export interface Lease {
  readonly token: string;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

export type Change =
  | { readonly kind: "insert-trial"; readonly trial: StoredTrial }
  /** Rewrites every column of the trial except intermediates (stored separately). */
  | { readonly kind: "update-trial"; readonly trial: StoredTrial }
  | { readonly kind: "add-intermediate"; readonly trialId: number; readonly step: number; readonly value: number }
  | { readonly kind: "set-study-user-attrs"; readonly studyId: number; readonly userAttrs: Record<string, unknown> }
  /** Remembers the reply to a request id so a retry is answered without re-applying it. */
  | { readonly kind: "put-reply"; readonly requestId: string; readonly op: string; readonly reply: Uint8Array; readonly at: number };

export interface NewStudy {
  readonly name: string;
  readonly config: StudyConfig;
  readonly userAttrs: Record<string, unknown>;
  readonly createdAt: number;
}

export interface Storage {
  /** Creates a study. @throws TuneportError ALREADY_EXISTS when the name is taken. */
  createStudy(study: NewStudy): Promise<Study>;
  listStudies(): Promise<Study[]>;
  /** Deletes a study and all its trials. Resolves false when it did not exist. */
  deleteStudy(studyId: number): Promise<boolean>;
  /** Every trial of a study, in number order, with intermediates. */
  loadTrials(studyId: number): Promise<StoredTrial[]>;
  /**
   * The largest trial id in use (0 when none). The service is the single writer and
   * allocates ids from there on; storages must refuse a second writer (see `open`).
   */
  maxTrialId(): Promise<number>;
  commit(changes: readonly Change[]): Promise<void>;
  /**
   * Creates a study together with its trials (given numbers, ids, states and timestamps) in
   * one transaction: all or nothing. @throws TuneportError ALREADY_EXISTS when the name is taken.
   */
  importStudy(study: NewStudy, trials: readonly StoredTrial[]): Promise<Study>;
  /** A stored reply for a request id, or null. */
  getReply(requestId: string): Promise<Uint8Array | null>;
  /** Forgets replies older than the cut-off (epoch ms). Returns how many were dropped. */
  pruneReplies(olderThan: number): Promise<number>;
  /** Verifies the database's integrity; resolves to a list of problems (empty when sound). */
  checkIntegrity(): Promise<string[]>;
  close(): Promise<void>;
}
