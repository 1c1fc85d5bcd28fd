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
 * through `studyNames` and `trialStudy`, and through the studies and trials inserted by earlier
 * changes of the same list (they reach those maps only when encoded: an import's trials name the
 * study inserted just before them). An id that resolves to no name is not judged here (`commit`
 * refuses it, and the server stops as before): dropping its changes as "lost" acknowledged an
 * import that wrote nothing. A name in `gone` counts as not held: this server lost it after the
 * changes were made, even if it holds it again now (at a new epoch, its memory reloaded).
 */
export function fencedOutName(
  changes: readonly Change[],
  held: ReadonlyMap<string, number>,
  studyNames: ReadonlyMap<number, string>,
  trialStudy: ReadonlyMap<number, number>,
  gone?: ReadonlySet<string>,
): string | null {
  const studies = new Map<number, string>();
  const trials = new Map<number, number>();
  const byId = (studyId: number | undefined) => (studyId === undefined ? undefined : (studies.get(studyId) ?? studyNames.get(studyId)));
  const byTrial = (trialId: number) => byId(trials.get(trialId) ?? trialStudy.get(trialId));
  for (const c of changes) {
    let name: string | undefined;
    switch (c.kind) {
      case "insert-trial":
      case "update-trial":
        if (c.kind === "insert-trial") trials.set(c.trial.id, c.trial.studyId);
        name = byId(c.trial.studyId);
        break;
      case "add-intermediate":
      case "set-lease":
        name = byTrial(c.trialId);
        break;
      case "insert-study":
        studies.set(c.study.id, c.study.name);
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
        name = undefined;
    }
    if (name !== undefined && (!held.has(name) || gone?.has(name) === true)) return name;
  }
  return null;
}
