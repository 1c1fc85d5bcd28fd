/** The database, its -wal, -shm and .lock files are private to their owner (issue 11 §4). */
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteStorage } from "./sqlite-storage.js";

const CONFIG = {
  directions: ["minimize" as const],
  direction: "minimize" as const,
  space: {},
  strategy: { name: "random", options: {} },
  scheduler: null,
  seed: 1,
  retry: { maxRetries: 0, retryOnFail: false, keepIntermediate: false },
  leaseTtlS: 30,
};

const mode = (f: string) => statSync(f).mode & 0o777;
const dirs: string[] = [];
const open: SqliteStorage[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), "tuneport-modes-"));
  dirs.push(dir);
  return join(dir, "studies.db");
}

let made = 0;
async function writer(path: string): Promise<SqliteStorage> {
  const s = new SqliteStorage({ path });
  open.push(s);
  const id = ++made;
  await s.commit([{ kind: "insert-study", study: { id, name: `s${id}`, config: CONFIG, userAttrs: {}, createdAt: 0 } }]);
  return s;
}

describe("storage file modes", () => {
  it("creates the database, -wal, -shm and .lock with mode 0600", async () => {
    const db = tempDb();
    const s = await writer(db);
    for (const f of [db, `${db}-wal`, `${db}-shm`, `${db}.lock`]) {
      expect(existsSync(f), f).toBe(true);
      expect(mode(f).toString(8), f).toBe("600");
    }
    expect(s.tightenedFiles).toEqual([]);
  });

  it("tightens an existing database and -wal/-shm that others can read, and says which", async () => {
    const db = tempDb();
    await (await writer(db)).close();
    open.length = 0;
    chmodSync(db, 0o644);
    writeFileSync(`${db}-wal`, ""); // an empty WAL is valid: SQLite treats it as no log
    chmodSync(`${db}-wal`, 0o666);
    const s = await writer(db);
    expect(s.tightenedFiles.sort()).toEqual([db, `${db}-wal`].sort());
    for (const f of [db, `${db}-wal`, `${db}-shm`, `${db}.lock`]) expect(mode(f).toString(8), f).toBe("600");
  });

  it("leaves modes alone when it only reads", async () => {
    const db = tempDb();
    await (await writer(db)).close();
    open.length = 0;
    chmodSync(db, 0o640);
    const r = new SqliteStorage({ path: db, readonly: true });
    open.push(r);
    expect((await r.listStudies()).length).toBe(1);
    expect(mode(db).toString(8)).toBe("640");
  });
});
