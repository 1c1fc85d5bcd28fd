/** The read-only dashboard's source: which writes of another process it announces. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StudyChange } from "../../service/change-feed.js";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { PolledSource } from "./polled-source.js";

const HANG = 60_000;

describe("PolledSource", () => {
  let dir: string;
  let storage: SqliteStorage;
  let writer: StudyService;
  let source: PolledSource;
  let changes: StudyChange[];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "tuneport-polled-"));
    storage = new SqliteStorage({ path: join(dir, "db.sqlite") });
    writer = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await writer.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
    source = await PolledSource.open({ path: join(dir, "db.sqlite"), logger: silentLogger(), intervalMs: 20 });
    changes = [];
    source.onChange((c) => changes.push(c));
  });
  afterEach(async () => {
    await source.close();
    await writer.close();
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Waits until the source announced a change of `s` after `write`, or fails after HANG. */
  async function announced(write: () => Promise<unknown>): Promise<void> {
    changes.length = 0;
    await write();
    const until = Date.now() + HANG;
    while (!changes.some((c) => c.study === "s")) {
      if (Date.now() > until) throw new Error("no change announced"); // a hang guard, not a timing check
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("announces what a page shows and the overview line does not: a running trial's reports, notes, a trial's attributes and notes", async () => {
    let a = null as unknown as Awaited<ReturnType<StudyService["ask"]>>;
    await announced(async () => (a = await writer.ask({ study: "s" }))); // a new RUNNING trial: in the overview line
    await announced(() => writer.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 1, value: 0.5 }));
    await announced(() => writer.report({ study: "s", trial: a.trial.number, token: a.lease.token, step: 2, value: 0.25 }));
    await announced(() => writer.execute("set_user_attrs", { study: "s", notes: "a note" }));
    await announced(() => writer.execute("set_user_attrs", { study: "s", trial: a.trial.number, attrs: { gpu: "A100" } }));
    await announced(() => writer.execute("set_user_attrs", { study: "s", trial: a.trial.number, notes: "diverged at step 2" }));
  }, 6 * HANG);
});
