/**
 * The database encodings tuneport writes to (connection.ts `encodingRefusal`), against the
 * real PostgreSQL of the test run: a database in another encoding (LATIN1 here) is refused before
 * anything is created in it, by the storage and so by `serve`, since a client's "😀" there made a
 * group commit fail and stopped the server; reading it stays possible; SQL_ASCII, which stores the
 * driver's UTF-8 bytes as sent, is served and keeps every character across a restart.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, inject, it } from "vitest";
import { TuneportError } from "../../domain/errors.js";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { PG_MIGRATIONS } from "./postgres-schema.js";
import { PostgresStorage } from "./postgres-storage.js";

const CLI = join(import.meta.dirname, "..", "..", "..", "dist", "cli", "main.js");
const base = inject("pgUrl");
const admin = new pg.Pool({ connectionString: base, max: 1 });
afterAll(() => admin.end());

/** A fresh empty database in `encoding`, and its URL. */
async function database(encoding: string): Promise<string> {
  const name = `tp_enc_${encoding.toLowerCase()}_${randomBytes(4).toString("hex")}`;
  await admin.query(`CREATE DATABASE ${name} ENCODING '${encoding}' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0`);
  return base.replace("/postgres?", `/${name}?`);
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

const failure = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e);

describe("the encoding of the PostgreSQL database", () => {
  it("refuses to write to a LATIN1 database, before creating anything in it; serve says why and exits", async () => {
    const url = await database("LATIN1");
    const err = await failure(PostgresStorage.open({ url }));
    expect(err).toBeInstanceOf(TuneportError);
    expect([(err as TuneportError).code, (err as TuneportError).data]).toEqual(["FAILED_PRECONDITION", { encoding: "LATIN1" }]);
    expect((err as Error).message).toMatch(/is encoded LATIN1, which cannot hold every character.*ENCODING 'UTF8'/);
    expect(await sql(url, "SELECT to_regclass('tuneport_schema') AS t")).toEqual([{ t: null }]);
    // The server never starts: before, it served, and the first "😀" a client stored stopped it.
    const serve = spawnSync(process.execPath, [CLI, "serve", "--storage", url, "--bind", "tcp://127.0.0.1:0"], { encoding: "utf8", timeout: 90_000 });
    expect(serve.status, serve.stderr).not.toBe(0);
    expect(serve.status).not.toBeNull(); // exited by itself, not killed by the hang guard
    expect(serve.stderr).toMatch(/encoded LATIN1.*UTF8/);
  });

  it("still reads a LATIN1 database (so that its studies can be exported to a UTF8 one)", async () => {
    const url = await database("LATIN1");
    // A tuneport schema as an older tuneport left it there, with a study named in LATIN1's characters.
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("CREATE TABLE tuneport_schema (version INTEGER NOT NULL); INSERT INTO tuneport_schema VALUES (0)");
      for (const m of PG_MIGRATIONS) await c.query(`BEGIN; ${m}; COMMIT`);
      await c.query(`UPDATE tuneport_schema SET version = ${PG_MIGRATIONS.length}`);
      const config = { direction: "minimize", space: { x: { type: "float", low: 0, high: 1 } }, strategy: { name: "random", options: {} }, seed: 1 };
      await c.query("INSERT INTO studies (id, name, config, created_at) VALUES (1, 'café', $1, 0)", [JSON.stringify(config)]);
    } finally {
      await c.end();
    }
    const reader = await PostgresStorage.open({ url, readonly: true });
    try {
      expect((await reader.listStudies()).map((s) => s.name)).toEqual(["café"]);
    } finally {
      await reader.close();
    }
  });

  it("exports a LATIN1 database an older tuneport left a migration behind: serve migrates it, then refuses it", async () => {
    const url = await database("LATIN1");
    // tuneport's tables as the previous release left them, with a study named in LATIN1's characters.
    const behind = PG_MIGRATIONS.length - 1;
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query("CREATE TABLE tuneport_schema (version INTEGER NOT NULL); INSERT INTO tuneport_schema VALUES (0)");
      for (const m of PG_MIGRATIONS.slice(0, behind)) await c.query(`BEGIN; ${m}; COMMIT`);
      await c.query(`UPDATE tuneport_schema SET version = ${behind}`);
      const config = { direction: "minimize", space: { x: { type: "float", low: 0, high: 1 } }, strategy: { name: "random", options: {} }, seed: 1 };
      await c.query("INSERT INTO studies (id, name, config, created_at) VALUES (1, 'café', $1, 0)", [JSON.stringify(config)]);
    } finally {
      await c.end();
    }
    // Read-only (export, studies) asks for a migration first; serve refuses the encoding, pointing at export.
    const stale = await failure(PostgresStorage.open({ url, readonly: true }));
    expect((stale as Error).message).toMatch(/open it with 'tuneport serve' once to migrate/);
    const err = await failure(PostgresStorage.open({ url }));
    expect([(err as TuneportError).code, (err as TuneportError).data]).toEqual(["FAILED_PRECONDITION", { encoding: "LATIN1" }]);
    expect((err as Error).message).toMatch(/'tuneport export' still reads this one/);
    // ...and it does: serve migrated tuneport's own tables before refusing, so nothing is stranded.
    expect(await sql(url, "SELECT version FROM tuneport_schema")).toEqual([{ version: PG_MIGRATIONS.length }]);
    const reader = await PostgresStorage.open({ url, readonly: true });
    try {
      expect((await reader.listStudies()).map((s) => s.name)).toEqual(["café"]);
    } finally {
      await reader.close();
    }
  });

  it("serves a SQL_ASCII database and keeps every character across a restart", async () => {
    const url = await database("SQL_ASCII");
    const open = async () => {
      const storage = await PostgresStorage.open({ url, poolSize: 3 });
      return { storage, svc: await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 }) };
    };
    const text = "café 😀 日本";
    let { storage, svc } = await open();
    try {
      await svc.createStudy({ name: "café😀", space: { 日本: { type: "categorical", choices: ["é", "😀"] } }, user_attrs: { "😀": text } });
      const a = await svc.ask({ study: "café😀" });
      await svc.tell({ study: "café😀", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1, user_attrs: { note: text } });
      await svc.close();
      await storage.close();
      ({ storage, svc } = await open());
      const study = await svc.getStudy({ study: "café😀" });
      expect([study.space, study.user_attrs]).toEqual([{ 日本: { type: "categorical", choices: ["é", "😀"] } }, { "😀": text }]);
      const [t] = (await svc.listTrials({ study: "café😀" })).trials;
      expect([t?.params, t?.user_attrs]).toEqual([{ 日本: a.trial.params["日本"] }, { note: text }]);
    } finally {
      await svc.close();
      await storage.close();
    }
  });
});
