/**
 * Which study of a batch the fence no longer lets through (postgres-storage.ts `fencedOut`): the
 * commit pipeline drops the change sets of a study this server lost before it commits the rest.
 */
import type { Change } from "../storage.js";

/** Thrown by `commit` when this server no longer owns a study the batch touches (fencing). */
export class OwnershipLostError extends Error {
  override readonly name = "OwnershipLostError";
  /** Nothing of the batch was written (storage.ts `committed`). */
  readonly notCommitted = true;
}

/**
 * The name of a study `changes` write that is not in `held`, or null. Ids a change names resolve
 * through `studyNames` and `trialStudy` (an unknown one as `#id`, never held), and through the
 * trials inserted by earlier changes of the same list (they reach `trialStudy` only when encoded).
 */
export function fencedOutName(
  changes: readonly Change[],
  held: ReadonlyMap<string, number>,
  studyNames: ReadonlyMap<number, string>,
  trialStudy: ReadonlyMap<number, number>,
): string | null {
  const inserted = new Map<number, number>();
  const byId = (studyId: number | undefined) => (studyId === undefined ? "#?" : (studyNames.get(studyId) ?? `#${studyId}`));
  const byTrial = (trialId: number) => byId(inserted.get(trialId) ?? trialStudy.get(trialId));
  for (const c of changes) {
    let name: string | null;
    switch (c.kind) {
      case "insert-trial":
      case "update-trial":
        if (c.kind === "insert-trial") inserted.set(c.trial.id, c.trial.studyId);
        name = byId(c.trial.studyId);
        break;
      case "add-intermediate":
      case "set-lease":
        name = byTrial(c.trialId);
        break;
      case "insert-study":
        name = c.study.name;
        break;
      case "update-study":
        name = byId(c.study.id);
        break;
      case "set-study-user-attrs":
      case "delete-study":
        name = byId(c.studyId);
        break;
      case "put-reply":
        name = null;
    }
    if (name !== null && !held.has(name)) return name;
  }
  return null;
}
