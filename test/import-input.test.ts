/**
 * `tuneport import` refuses what the wire refuses (issue 11 §3): bytes that are not UTF-8
 * (checked by the CLI, so tested through it), lone-surrogate escapes, nesting beyond the shared
 * limit, and names outside the grammar (checked by the service, tested in process) — naming
 * the line, and leaving the database unchanged.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../src/logger.js";
import { StudyService } from "../src/service/study-service.js";
import { MAX_USER_ATTRS_BYTES } from "../src/service/trial-ops.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";
import { CLI, tempDir } from "./helpers.js";

let storage: SqliteStorage;
let service: StudyService;
let header = "";
let trial = "";

beforeAll(async () => {
  storage = new SqliteStorage({ path: ":memory:" });
  service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  await service.createStudy({ name: "src", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
  const a = await service.ask({ study: "src" });
  await service.tell({ study: "src", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
  [header, trial] = [...service.exportStudy("src")] as [string, string];
});
afterAll(async () => {
  await service.close();
  await storage.close();
});

/** The INVALID_ARGUMENT message an import is refused with. */
async function refusal(text: string, rename?: string): Promise<string> {
  const err = await service.importStudy(text, rename).then(
    () => null,
    (e: unknown) => e as { code?: string; message: string },
  );
  expect(err?.code).toBe("INVALID_ARGUMENT");
  return err?.message ?? "";
}

const withAttrs = (attrs: string) => trial.replace('"user_attrs":{}', `"user_attrs":${attrs}`);

describe("tuneport import refuses input instead of rewriting it", () => {
  it("refuses bytes that are not UTF-8, naming the line, and imports nothing", async () => {
    const dir = tempDir();
    const db = join(dir, "t.db");
    const file = join(dir, "bad.jsonl");
    writeFileSync(file, Buffer.concat([Buffer.from(`${header}\n${withAttrs('{"n":"')}`), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}\n')]));
    const r = spawnSync(process.execPath, [CLI, "import", file, "--storage", db, "--name", "utf8"], { encoding: "utf8", timeout: 120_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/line 2 is not valid UTF-8.*INVALID_ARGUMENT/);
    const list = spawnSync(process.execPath, [CLI, "studies", "list", "--storage", db, "--json"], { encoding: "utf8", timeout: 120_000 });
    expect(list.stdout).not.toMatch(/"utf8"/);
  });

  it("refuses a SQLite database (an Optuna user's, say) saying what to do with it, and imports nothing", async () => {
    const dir = tempDir();
    const db = join(dir, "t.db");
    const optunaDb = join(dir, "example.db");
    const made = new SqliteStorage({ path: optunaDb });
    await made.close();
    const r = spawnSync(process.execPath, [CLI, "import", optunaDb, "--storage", db], { encoding: "utf8", timeout: 120_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/example\.db is a SQLite database, not a 'tuneport export' file; nothing was imported\. A tuneport database is read with --storage .*study\.add_trials/);
  });

  it("refuses lone-surrogate escapes and nesting beyond 32 levels", async () => {
    expect(await refusal(`${header}\n${withAttrs('{"n":"\\ud800"}')}\n`, "sur")).toMatch(/line 2: .*user_attrs.*not well-formed Unicode/);
    expect(await refusal(`${header}\n${withAttrs(`{"d":${"[".repeat(40)}${"]".repeat(40)}}`)}\n`, "deep")).toMatch(/line 2: nests deeper than 32 levels/);
  });

  it("refuses, through the real CLI on a SQLite file, attributes of 10,000 levels or of far more containers than the line's length allows, before parsing them", () => {
    // JSON.parse of `[{},{},…]` holds about 21 times the line (input-limits.ts): a 100 MB line of empty maps in user_attrs
    // would take some 2 GB of the CLI's heap (by that ratio; not run here) before the 64 KiB bound on attributes, checked after the parse, refused it.
    const dir = tempDir();
    const db = join(dir, "t.db");
    const cases: [string, string, RegExp][] = [
      ["deep", `{"d":${"[".repeat(10_000)}${"]".repeat(10_000)}}`, /line 2: nests deeper than 32 levels/],
      ["crowded", `{"many":[${Array.from({ length: 200_000 }, () => "{}").join(",")}]}`, /line 2: the line holds more maps and arrays than its \d+ characters allow .*nothing was imported/],
    ];
    for (const [name, attrs, message] of cases) {
      const file = join(dir, `${name}.jsonl`);
      writeFileSync(file, `${header}\n${withAttrs(attrs)}\n`);
      const r = spawnSync(process.execPath, [CLI, "import", file, "--storage", db, "--name", name], { encoding: "utf8", timeout: 120_000 });
      expect(r.stderr, name).toMatch(message);
      expect(r.status, name).toBe(1);
    }
    const list = spawnSync(process.execPath, [CLI, "studies", "list", "--storage", db, "--json"], { encoding: "utf8", timeout: 120_000 });
    expect(list.stdout).not.toMatch(/"(deep|crowded)"/);
    // The same values in few containers are only too big for the attributes' 64 KiB, said after the parse.
    const file = join(dir, "flat.jsonl");
    writeFileSync(file, `${header}\n${withAttrs(`{"many":[${Array.from({ length: 200_000 }, () => "0").join(",")}]}`)}\n`);
    const flat = spawnSync(process.execPath, [CLI, "import", file, "--storage", db, "--name", "flat"], { encoding: "utf8", timeout: 120_000 });
    expect(flat.stderr).toMatch(/line 2: .*user attributes are limited to 65536 bytes/);
  });

  it("refuses user attributes over the ops' 64 KiB, on a trial and on the study, and imports nothing", async () => {
    // A 200 MB attribute used to import, and every later read of the study carried it.
    const big = JSON.stringify({ blob: "x".repeat(MAX_USER_ATTRS_BYTES) });
    expect(await refusal(`${header}\n${withAttrs(big)}\n`, "big-trial")).toMatch(/line 2: .*user attributes are limited to 65536 bytes/);
    expect(await refusal(`${header.replace('"user_attrs":{}', `"user_attrs":${big}`)}\n${trial}\n`, "big-study")).toMatch(/line 1: .*user attributes are limited/);
    expect((await service.importStudy(`${header}\n${withAttrs(JSON.stringify({ blob: "x".repeat(1000) }))}\n`, "small")).name).toBe("small");
    expect((await service.listStudies()).map((s) => s.name)).not.toContain("big-trial");
    await service.execute("delete_study", { study: "small" });
  });

  it("refuses a result on a trial that has not run, and constraint vectors of different lengths", async () => {
    const t = JSON.parse(trial) as Record<string, unknown>;
    const line = (over: Record<string, unknown>) => JSON.stringify({ ...t, ...over });
    const waiting = { state: "WAITING", value: 0.5, started_at_ms: null, finished_at_ms: null };
    expect(await refusal(`${header}\n${line(waiting)}\n`, "w")).toMatch(/line 2: a WAITING trial has no result: it cannot have values or constraints/);
    expect(await refusal(`${header}\n${line({ ...waiting, value: null, constraints: [1] })}\n`, "w2")).toMatch(/a WAITING trial has no result/);
    const two = `${header}\n${line({ constraints: [1] })}\n${line({ number: 1, constraints: [1, 2] })}\n`;
    expect(await refusal(two, "c")).toMatch(/line 3: constraints has 2 values; earlier trials have 1/);
    expect((await service.importStudy(`${header}\n${line({ constraints: [1] })}\n${line({ number: 1, constraints: [-1] })}\n`, "c-ok")).name).toBe("c-ok");
    await service.execute("delete_study", { study: "c-ok" });
  });

  it("refuses times no server could have written (a JavaScript Date ends at 8.64e15 ms), and imports nothing", async () => {
    const t = JSON.parse(trial) as Record<string, unknown>;
    const line = (over: Record<string, unknown>) => JSON.stringify({ ...t, ...over });
    // 9e15 was stored, and `export --format optuna-journal` of the study then failed (RangeError: Invalid time value).
    for (const [over, name] of [
      [{ started_at_ms: 9e15 }, "t1"],
      [{ finished_at_ms: -1 }, "t2"],
      [{ created_at_ms: 2 ** 53 - 1 }, "t3"],
    ] as const)
      expect(await refusal(`${header}\n${line(over)}\n`, name)).toMatch(/line 2: .*_at_ms/);
    expect(await refusal(`${header.replace(/"created_at_ms":\d+/, '"created_at_ms":9000000000000000')}\n${trial}\n`, "t4")).toMatch(/line 1: .*created_at_ms/);
    // add_trial's latest time (1e11 s) still imports.
    expect((await service.importStudy(`${header}\n${line({ started_at_ms: 1e14, finished_at_ms: 1e14 })}\n`, "late")).name).toBe("late");
    expect((await service.listStudies()).map((s) => s.name).sort()).toEqual(["late", "src"]);
    await service.execute("delete_study", { study: "late" });
  });

  describe("the define-by-run space limits that create_study, suggest and add_trial apply", () => {
    /** A categorical of ~1 MB of JSON (10,000 choices of ~100 characters), its choices tagged `tag`. */
    const megabyte = (tag: string) => ({ type: "categorical", choices: Array.from({ length: 10_000 }, (_, j) => `${tag}:${j}:${"z".repeat(90)}`) });
    /** The header line's object (read once the study is exported, in beforeAll). */
    const head = () => JSON.parse(header) as { config: Record<string, unknown> } & Record<string, unknown>;
    /** Trial line `number` with a 1 MB categorical for each of `keys` (its value the first choice). */
    const withParams = (number: number, keys: string[]) => {
      const t = JSON.parse(trial) as { number: number; params: Record<string, unknown>; distributions: Record<string, unknown> };
      t.number = number;
      for (const k of keys) (t.params[k] = `${k}:0:${"z".repeat(90)}`), (t.distributions[k] = megabyte(k));
      return JSON.stringify(t);
    };
    const file = (lines: string[]) => `${lines.join("\n")}\n`;
    const KEYS = ["a", "b", "c", "d", "e"];

    it("refuses a declared space over 4 Mi characters of JSON, naming line 1", async () => {
      const h = head();
      const space = Object.fromEntries(KEYS.map((k) => [k, megabyte(k)]));
      const big = JSON.stringify({ ...h, trials: 0, config: { ...h.config, space } });
      expect(await refusal(file([big]), "space")).toMatch(/^line 1: the search space takes at most 4,194,304 characters of JSON/);
      const asCreated = JSON.stringify({ ...h, trials: 0, as_created: { space } });
      expect(await refusal(file([asCreated]), "as-created")).toMatch(/^line 1: the search space takes at most 4,194,304/);
    }, 60_000);

    it("refuses one trial's distributions over 4 Mi characters, naming the line and the trial", async () => {
      // Declared parameters (so no define-by-run ones), each drawn on this trial from a 1 MB widening of its declared choice.
      const h = head();
      const space = { ...(h.config.space as object), ...Object.fromEntries(KEYS.map((k) => [k, { type: "categorical", choices: [`${k}:0:${"z".repeat(90)}`] }])) };
      const declared = JSON.stringify({ ...h, config: { ...h.config, space } });
      expect(await refusal(file([declared, withParams(0, KEYS)]), "trial")).toMatch(
        /^line 2: trial 0: a trial's distributions take at most 4,194,304 characters of JSON together \(this one's take [\d,]+\), as suggest holds them/,
      );
      expect((await service.importStudy(file([declared, withParams(0, KEYS.slice(0, 3))]), "trial-ok")).name).toBe("trial-ok");
      await service.execute("delete_study", { study: "trial-ok" });
    }, 60_000);

    it("refuses define-by-run parameters over 4 Mi characters across trials, naming the line, the trial and the parameter", async () => {
      const h = head();
      const lines = [JSON.stringify({ ...h, trials: 5 }), ...KEYS.map((k, i) => withParams(i, [k]))];
      expect(await refusal(file(lines), "dbr")).toMatch(/^line 6: trial 4: parameter 'e': the define-by-run parameters of a study take at most 4,194,304 characters of JSON together \(with this trial's, [\d,]+\), as suggest and add_trial hold them/);
      // Within the limit (and a name reused across trials costs nothing more) it imports.
      const fine = [JSON.stringify({ ...h, trials: 5 }), ...KEYS.map((_, i) => withParams(i, ["a"]))];
      expect((await service.importStudy(file(fine), "dbr-ok")).name).toBe("dbr-ok");
      await service.execute("delete_study", { study: "dbr-ok" });
      expect((await service.listStudies()).map((s) => s.name)).toEqual(["src"]);
    }, 60_000);

    it("is what the tuneport import command says for a real file, importing nothing", async () => {
      const dir = tempDir();
      const db = join(dir, "t.db");
      const path = join(dir, "dbr.jsonl");
      writeFileSync(path, file([JSON.stringify({ ...head(), trials: 5 }), ...KEYS.map((k, i) => withParams(i, [k]))]));
      const r = spawnSync(process.execPath, [CLI, "import", path, "--storage", db, "--name", "dbr"], { encoding: "utf8", timeout: 120_000 });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/line 6: trial 4: parameter 'e': the define-by-run parameters of a study take at most/);
      const list = spawnSync(process.execPath, [CLI, "studies", "list", "--storage", db, "--json"], { encoding: "utf8", timeout: 120_000 });
      expect(list.stdout).not.toMatch(/"dbr"/);
    }, 120_000);
  });

  it("holds the file to --max-intermediate (serve's default, 100,000, unless told), naming the trial and the limit, and imports nothing", async () => {
    // A trial holding more values than any server lets a client report was imported whole.
    const dir = tempDir();
    const db = join(dir, "t.db");
    const t = JSON.parse(trial) as Record<string, unknown>;
    const withValues = (number: number, n: number) => JSON.stringify({ ...t, number, intermediate: Array.from({ length: n }, (_, k) => [k, k / 2]) });
    const run = (path: string, name: string, ...more: string[]) =>
      spawnSync(process.execPath, [CLI, "import", path, "--storage", db, "--name", name, ...more], { encoding: "utf8", timeout: 120_000 });
    const big = join(dir, "big.jsonl");
    writeFileSync(big, `${header}\n${withValues(0, 3)}\n${withValues(1, 100_001)}\n`);
    const r = run(big, "big");
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/line 3: trial 1 has 100,001 intermediate values, more than the 100,000 a trial holds \(--max-intermediate 100000\); nothing was imported.*INVALID_ARGUMENT/);
    const small = join(dir, "small.jsonl");
    writeFileSync(small, `${header}\n${withValues(0, 5)}\n`);
    expect(run(small, "four", "--max-intermediate", "4").stderr).toMatch(/line 2: trial 0 has 5 intermediate values, more than the 4 a trial holds \(--max-intermediate 4\)/);
    const list = () => spawnSync(process.execPath, [CLI, "studies", "list", "--storage", db, "--json"], { encoding: "utf8", timeout: 120_000 }).stdout;
    expect(list()).not.toMatch(/"big"|"four"/);
    // At the limit it imports; a larger limit takes the large file.
    expect(run(small, "five", "--max-intermediate", "5").status).toBe(0);
    expect(run(big, "big", "--max-intermediate", "100001").status).toBe(0);
    expect(list()).toMatch(/"five"[\s\S]*"big"|"big"[\s\S]*"five"/);
  }, 120_000);

  it("applies the study-name grammar to the file's name and to the new name", async () => {
    const rtl = `${header.replace('"name":"src"', `"name":${JSON.stringify("evil\u202Egnp")}`)}\n${trial}\n`;
    expect(await refusal(rtl)).toMatch(/line 1: .*U\+202E.*--name/);
    expect((await service.importStudy(rtl, "fine")).name).toBe("fine"); // renamed: fine
    for (const bad of [" padded", "../up", "."]) expect(await refusal(`${header}\n${trial}\n`, bad)).toMatch(/new name .* is not valid/);
    expect((await service.listStudies()).map((s) => s.name).sort()).toEqual(["fine", "src"]);
  });
});
