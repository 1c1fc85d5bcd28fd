import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storageConformance } from "../../testing/storage.case.js";
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
