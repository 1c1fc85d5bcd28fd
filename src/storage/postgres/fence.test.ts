import { describe, expect, it } from "vitest";
import type { Study, StudyConfig } from "../../domain/trial.js";
import type { Change, StoredTrial } from "../storage.js";
import { fencedOutName } from "./fence.js";

const CONFIG = { space: {} } as unknown as StudyConfig;
const study = (id: number, name: string): Study => ({ id, name, config: CONFIG, userAttrs: {}, createdAt: 0 });
const trial = (id: number, studyId: number) => ({ id, studyId }) as unknown as StoredTrial;
const reply: Change = { kind: "put-reply", requestId: "r", op: "tell", reply: new Uint8Array(), at: 0 };

describe("fencedOutName: the study of a change set this server no longer holds", () => {
  it("resolves the study and trials inserted earlier in the same set (an import: a study, then its trials)", () => {
    const changes: Change[] = [
      { kind: "insert-study", study: study(7, "imp") },
      { kind: "insert-trial", trial: trial(70, 7) },
      { kind: "add-intermediate", trialId: 70, step: 0, value: 1 },
      reply,
    ];
    // Before, the trials named study '#7' (its name was known only once encoded), never held:
    // the import's changes were dropped as a lost study's, and the import said it had succeeded.
    expect(fencedOutName(changes, new Map([["imp", 1]]), new Map(), new Map())).toBeNull();
    expect(fencedOutName(changes, new Map(), new Map(), new Map())).toBe("imp");
  });

  it("names a lost study through the maps of earlier batches, and leaves ids it cannot resolve to the commit", () => {
    const names = new Map([[1, "s"]]);
    const trialStudy = new Map([[10, 1]]);
    const tell: Change[] = [{ kind: "set-lease", trialId: 10, lease: { token: "t", expiresAt: 0 } }, reply];
    expect(fencedOutName(tell, new Map([["s", 2]]), names, trialStudy)).toBeNull();
    expect(fencedOutName(tell, new Map([["t", 2]]), names, trialStudy)).toBe("s");
    expect(fencedOutName([{ kind: "delete-study", studyId: 99 }], new Map(), names, trialStudy)).toBeNull();
    expect(fencedOutName([reply], new Map(), names, trialStudy)).toBeNull();
    // Lost since the set was made, held again now (a new epoch): still fenced out.
    expect(fencedOutName(tell, new Map([["s", 3]]), names, trialStudy, new Set(["s"]))).toBe("s");
    expect(fencedOutName(tell, new Map([["s", 3]]), names, trialStudy, new Set(["t"]))).toBeNull();
  });
});
