/**
 * `tuneport import` refuses what the wire refuses (issue 11 §3): bytes that are not UTF-8,
 * lone-surrogate escapes, nesting beyond the shared limit, and names outside the grammar —
 * naming the line, and leaving the database unchanged.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../src/logger.js";
import { StudyService } from "../src/service/study-service.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";
import { CLI, tempDir } from "./helpers.js";

const dir = tempDir();
const target = join(dir, "target.db");
let header = "";
let trial = "";

function importFile(content: string | Buffer, ...args: string[]) {
  const file = join(dir, `in-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(file, content);
  const r = spawnSync(process.execPath, [CLI, "import", file, "--storage", target, ...args], { encoding: "utf8", timeout: 120_000 });
  return { code: r.status, stderr: r.stderr };
}

async function studyNames(): Promise<string[]> {
  const storage = new SqliteStorage({ path: target, readonly: true });
  try {
    return (await storage.listStudies()).map((s) => s.name);
  } finally {
    await storage.close();
  }
}

beforeAll(async () => {
  const storage = new SqliteStorage({ path: ":memory:" });
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  await service.createStudy({ name: "src", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
  const a = await service.ask("src");
  await service.tell("src", a.trial.number, a.lease.token, "COMPLETE", 0.5);
  [header, trial] = [...service.exportStudy("src")] as [string, string];
  await service.close();
  await storage.close();
  expect(importFile(`${header}\n${trial}\n`, "--name", "seed").code).toBe(0); // creates the target database
});

describe("tuneport import refuses input instead of rewriting it", () => {
  it("refuses bytes that are not UTF-8, naming the line", () => {
    const bad = Buffer.concat([Buffer.from(`${header}\n${trial.replace('"user_attrs":{}', '"user_attrs":{"n":"')}`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n')]);
    expect(bad.includes(Buffer.from([0xed, 0xa0, 0x80]))).toBe(true);
    const r = importFile(bad, "--name", "utf8");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/line 2 is not valid UTF-8.*INVALID_ARGUMENT/);
  });

  it("refuses lone-surrogate escapes and nesting beyond 32 levels", () => {
    const surrogate = importFile(`${header}\n${trial.replace('"user_attrs":{}', '"user_attrs":{"n":"\\ud800"}')}\n`, "--name", "sur");
    expect(surrogate.code).toBe(1);
    expect(surrogate.stderr).toMatch(/line 2: .*user_attrs.*not well-formed Unicode/);
    const deep = `${"[".repeat(40)}${"]".repeat(40)}`;
    const nested = importFile(`${header}\n${trial.replace('"user_attrs":{}', `"user_attrs":{"d":${deep}}`)}\n`, "--name", "deep");
    expect(nested.code).toBe(1);
    expect(nested.stderr).toMatch(/line 2: nests deeper than 32 levels/);
  });

  it("applies the study-name grammar to the file's name and to --name", () => {
    const named = (name: string) => header.replace('"name":"src"', `"name":${JSON.stringify(name)}`);
    const rtl = importFile(`${named("evil\u202Egnp")}\n${trial}\n`);
    expect(rtl.code).toBe(1);
    expect(rtl.stderr).toMatch(/line 1: .*U\+202E.*--name/);
    expect(importFile(`${named("evil\u202Egnp")}\n${trial}\n`, "--name", "fine").code).toBe(0); // renamed: fine
    for (const bad of ["../up"]) {
      const r = importFile(`${header}\n${trial}\n`, "--name", bad);
      expect(r.code, bad).toBe(1);
      expect(r.stderr).toMatch(/new name .* is not valid/);
    }
  });

  it("left the database with the accepted imports only", async () => {
    expect((await studyNames()).sort()).toEqual(["fine", "seed"]);
  });
});
