/** Study and trial rows as storage holds them, for tests that commit to a real database directly. */
import type { Study, StudyConfig } from "../domain/trial.js";
import type { StoredTrial } from "../storage/storage.js";

/** One float parameter x in [0, 1], random strategy, no retries. */
export const STORED_CONFIG: StudyConfig = {
  directions: ["minimize"],
  direction: "minimize",
  space: { x: { type: "float", low: 0, high: 1 } },
  strategy: { name: "random", options: {} },
  scheduler: null,
  seed: 1,
  retry: { maxRetries: 0, retryOnFail: false, keepIntermediate: false },
  leaseTtlS: 30,
};

/** Study `id` named `name`, of STORED_CONFIG. */
export const storedStudy = (id: number, name: string): Study => ({ id, name, config: STORED_CONFIG, userAttrs: {}, createdAt: 1_700_000_000_000 });

/** A RUNNING trial of study 1 under a lease (token `tok-NUMBER`). */
export const storedTrial = (id: number, number: number): StoredTrial => ({
  id,
  studyId: 1,
  number,
  state: "RUNNING",
  params: { x: 0.5 },
  distributions: { x: { type: "float", low: 0, high: 1 } },
  value: null,
  values: null,
  constraints: null,
  intermediate: [],
  userAttrs: {},
  systemAttrs: {},
  createdAt: 1_700_000_001_000,
  startedAt: 1_700_000_001_000,
  finishedAt: null,
  lease: { token: `tok-${number}`, expiresAt: 1_700_000_031_000 },
});
