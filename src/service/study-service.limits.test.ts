/** The cap on the number of studies one server holds (`maxStudies`, serve --max-studies). */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import { StudyService } from "./study-service.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

async function refusal(p: Promise<unknown>): Promise<TuneportError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TuneportError) return e;
    throw e;
  }
  throw new Error("expected a refusal");
}

describe("maxStudies", () => {
  let dir: string;
  let storage: SqliteStorage;
  let svc: StudyService;
  const open = async (maxStudies: number) => {
    storage = new SqliteStorage({ path: join(dir, "db.sqlite") });
    svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0, maxStudies });
  };
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "tuneport-limits-"));
    await open(3);
  });
  afterEach(async () => {
    await svc.close();
    storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses a study beyond the cap with FAILED_PRECONDITION and stores nothing; a deletion makes room", async () => {
    for (const name of ["a", "b", "c"]) await svc.createStudy({ name, space: SPACE });
    const e = await refusal(svc.createStudy({ name: "d", space: SPACE }));
    expect(e.code).toBe("FAILED_PRECONDITION");
    expect(e.data).toMatchObject({ reason: "max_studies", max_studies: 3, study: "d" });
    expect(e.message).toMatch(/--max-studies/);
    expect((await storage.listStudies()).map((s) => s.name).sort()).toEqual(["a", "b", "c"]);
    // Loading an existing study is no new study: allowed at the cap.
    expect((await svc.createStudy({ name: "a", space: SPACE, load_if_exists: true })).created).toBe(false);
    await svc.deleteStudy({ study: "b" });
    expect((await svc.createStudy({ name: "d", space: SPACE })).created).toBe(true);
    expect((await storage.listStudies()).map((s) => s.name).sort()).toEqual(["a", "c", "d"]);
  });

  it("refuses an import beyond the cap, and studies stored beyond it still load at a start", async () => {
    for (const name of ["a", "b", "c"]) await svc.createStudy({ name, space: SPACE });
    const text = [...svc.exportStudy("a")].join("\n");
    const e = await refusal(svc.importStudy(text, "a2"));
    expect(e.data).toMatchObject({ reason: "max_studies" });
    expect((await storage.listStudies()).length).toBe(3);
    // A restart with a smaller cap serves every stored study; only new ones are refused.
    await svc.close();
    storage.close();
    await open(2);
    expect((await svc.getStudy({ study: "c" })).name).toBe("c");
    expect((await refusal(svc.createStudy({ name: "e", space: SPACE }))).data).toMatchObject({ reason: "max_studies", max_studies: 2 });
  });
});
