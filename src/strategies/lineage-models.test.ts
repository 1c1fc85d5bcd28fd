import { describe, expect, it } from "vitest";
import { STRATEGIES } from "./index.js";
import { LINEAGE_READ_MODELS } from "./lineage-models.js";

describe("LINEAGE_READ_MODELS", () => {
  it("names the same read models as every factory that keeps a lineage, and no other", () => {
    const withLineage = [...STRATEGIES.values()].filter((f) => f.readModels?.lineage !== undefined);
    expect(withLineage.map((f) => f.name).sort()).toEqual(Object.keys(LINEAGE_READ_MODELS).sort());
    for (const f of withLineage) expect(LINEAGE_READ_MODELS[f.name]).toBe(f.readModels);
  });
});
