import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "vitest";
import { checkSummaryReader, storageConformance } from "../../testing/storage.case.js";
import { SqliteStorage } from "./sqlite-storage.js";

storageConformance("sqlite :memory:", {
  open: () => ({ storage: new SqliteStorage({ path: ":memory:" }) }),
  skip: { durable: "an in-memory database ends with its connection (the file variant below checks durability)" },
});

storageConformance("sqlite file", {
  open: () => {
    const dir = mkdtempSync(join(tmpdir(), "tuneport-storage-"));
    const path = join(dir, "studies.db");
    let current = new SqliteStorage({ path });
    return {
      storage: current,
      reopen: async () => {
        await current.close();
        current = new SqliteStorage({ path });
        return current;
      },
      dispose: () => rmSync(dir, { recursive: true, force: true }),
    };
  },
});

describe("sqlite summaries (tuneport studies list)", () => {
  it("counts by state and finds the best feasible trial in one pass, the lowest number on ties", async () => {
    const storage = new SqliteStorage({ path: ":memory:" });
    try {
      await checkSummaryReader(storage);
    } finally {
      await storage.close();
    }
  });
});
