/**
 * Operations on PostgreSQL through the real CLI (docs/SCALING.md, "Operations"): `serve` on a
 * postgresql:// URL with two servers and a redirect between them; a study moved from SQLite to
 * PostgreSQL with export/import; a pg_dump backup restored into another database; strings that
 * PostgreSQL's text cannot hold (NUL) refused before they reach it; `tuneport mcp` on the same
 * database as one of the servers, whose studies the others redirect their workers to.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { postgresBinDir } from "../src/testing/postgres-server.js";
import { postgresBackend } from "../src/testing/storage-backends.js";
import { encode } from "../src/transports/zmq/codec.js";
import { CLI, TestClient, freePort, startServer, tempDir } from "./helpers.js";
import { call, connectStdio, sc } from "./mcp-helpers.js";

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SPACE = { x: { type: "float", low: -1, high: 1 }, k: { type: "categorical", choices: ["a", "b"] } };

describe("tuneport on PostgreSQL, from the command line", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("runs two servers on one database; the one that does not own a study redirects to the one that does", async () => {
    const url = backend.location();
    const a = await startServer(url, ["--ownership-ttl", "2"]);
    const b = await startServer(url, ["--ownership-ttl", "2"]);
    const ca = new TestClient(a.endpoint);
    const cb = new TestClient(b.endpoint);
    try {
      await ca.call("create_study", { name: "p", space: SPACE, seed: 3 });
      const q = await ca.call("ask", { study: "p" });
      const moved = await cb.request("tell", { study: "p", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 1 }, "tell-1");
      expect(moved.ok).toBe(false);
      expect(moved.error?.code).toBe("UNAVAILABLE");
      expect(moved.error?.data).toMatchObject({ reason: "moved", study: "p", endpoint: a.endpoint });
      // The same request, same id, at the owner: applied once.
      await ca.call("tell", { study: "p", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 1 }, "tell-1");
      const again = await ca.call("tell", { study: "p", trial: q.trial.number, token: q.lease.token, state: "COMPLETE", value: 1 }, "tell-1");
      expect(again.trial.state).toBe("COMPLETE");
      // Both servers list the study.
      expect((await cb.call("list_studies")).studies.map((s: { name: string }) => s.name)).toEqual(["p"]);
      // A clean stop hands the study over at once: B serves it on the next request.
      await ca.close();
      expect(await a.stop()).toBe(0);
      expect((await cb.call("get_study", { study: "p" })).study.counts.COMPLETE).toBe(1);
    } finally {
      await cb.close();
      await a.stop();
      expect(await b.stop()).toBe(0);
    }
  });

  it("runs 'tuneport mcp' as one of the servers: the others redirect workers to its --bind, which it needs", async () => {
    const url = backend.location();
    // Without --bind the studies it loads could not be reached: the redirect named no endpoint.
    const lone = spawnSync(process.execPath, [CLI, "mcp", "--storage", url], { encoding: "utf8", input: "" });
    expect(lone.status).toBe(2);
    expect(lone.stderr).toMatch(/on PostgreSQL this process serves the studies it loads.*add --bind ENDPOINT/);
    const port = await freePort();
    const { client } = await connectStdio(["--storage", url, "--bind", `tcp://127.0.0.1:${port}`, "--ownership-ttl", "2"]);
    const b = await startServer(url, ["--ownership-ttl", "2"]);
    const cb = new TestClient(b.endpoint);
    const worker = new TestClient(`tcp://127.0.0.1:${port}`);
    try {
      expect(sc(await call(client, "create_study", { name: "agent", space: SPACE })).created).toBe(true);
      const moved = await cb.request("ask", { study: "agent" });
      expect(moved.error?.data).toMatchObject({ reason: "moved", study: "agent", endpoint: `tcp://127.0.0.1:${port}` });
      // Where the redirect points, a worker gets its trial.
      expect((await worker.call("ask", { study: "agent" })).trial.number).toBe(0);
    } finally {
      await worker.close();
      await cb.close();
      await client.close();
      expect(await b.stop()).toBe(0);
    }
  }, 120_000);

  it("moves a study from SQLite to PostgreSQL with export/import, and back up with pg_dump", async () => {
    const dir = tempDir();
    const db = join(dir, "a.sqlite");
    const server = await startServer(db);
    const client = new TestClient(server.endpoint);
    try {
      await client.call("create_study", { name: "mv", space: SPACE, user_attrs: { team: "t" } });
      for (let i = 0; i < 12; i++) {
        const a = await client.call("ask", { study: "mv" });
        await client.call("report", { study: "mv", trial: a.trial.number, token: a.lease.token, step: 1, value: i });
        if (i !== 11) await client.call("tell", { study: "mv", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i / 7 });
      }
    } finally {
      await client.close();
      expect(await server.stop()).toBe(0);
    }
    const file = join(dir, "mv.jsonl");
    expect(cli(["export", "mv", "--storage", db, "--out", file]).code).toBe(0);
    const url = backend.location();
    const imp = cli(["import", file, "--storage", url]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stderr).toMatch(/imported study 'mv' with 12 trials/);
    const back = cli(["export", "mv", "--storage", url]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toBe(cli(["export", "mv", "--storage", db]).stdout);

    // A server on PostgreSQL serves the imported study (the running trial's worker may finish it).
    const pgServer = await startServer(url);
    const pc = new TestClient(pgServer.endpoint);
    try {
      expect((await pc.call("get_study", { study: "mv" })).study.counts).toMatchObject({ COMPLETE: 11, RUNNING: 1 });
      // Imported again while that server owns it: refused as a name that exists, not as a redirect.
      const again = cli(["import", file, "--storage", url]);
      expect(again.code).toBe(1);
      expect(again.stderr).toMatch(/a study named 'mv' already exists; import it under another --name/);
    } finally {
      await pc.close();
      expect(await pgServer.stop()).toBe(0);
    }

    // Backup: pg_dump of the schema, restored into a fresh database, reads the same.
    const bin = postgresBinDir() as string;
    const q = new URLSearchParams(url.slice(url.indexOf("?") + 1));
    const host = q.get("host") as string;
    const port = q.get("port") as string;
    const schema = q.get("schema") as string;
    const conn = ["-h", host, "-p", port, "-U", "postgres"];
    const dump = join(dir, "backup.sql");
    execFileSync(join(bin, "pg_dump"), [...conn, "-d", "postgres", "-n", schema, "-f", dump]);
    const restored = `restored_${schema}`;
    execFileSync(join(bin, "psql"), [...conn, "-d", "postgres", "-q", "-c", `CREATE DATABASE ${restored}`]);
    execFileSync(join(bin, "psql"), [...conn, "-d", restored, "-q", "-v", "ON_ERROR_STOP=1", "-f", dump]);
    const restoredUrl = `postgresql://postgres@/${restored}?host=${encodeURIComponent(host)}&port=${port}&schema=${schema}`;
    const fromBackup = cli(["export", "mv", "--storage", restoredUrl]);
    expect(fromBackup.code, fromBackup.stderr).toBe(0);
    expect(fromBackup.stdout).toBe(back.stdout);
  });

  it("refuses NUL where PostgreSQL would have to hold it as text, and keeps serving", async () => {
    // Each of these was accepted and failed the commit (or the lookup) on PostgreSQL, and a failed
    // commit stops the server: PostgreSQL's text cannot hold U+0000, and it reads parameter names
    // and choices out of each trial's distributions as text.
    const server = await startServer(backend.location());
    const c = new TestClient(server.endpoint);
    try {
      // Without --durability, PostgreSQL's own synchronous_commit decides, and the ready line says so.
      expect(JSON.parse(server.lines.find((l) => l.includes("tuneport ready")) as string)).toMatchObject({ durability: "database" });
      await c.call("create_study", { name: "nul", space: SPACE });
      const a = await c.call("ask", { study: "nul" });
      const refused = async (op: string, args: Record<string, unknown>, pattern: RegExp, id?: string) => {
        const r = await c.request(op, args, id);
        expect(r.ok, `${op} ${JSON.stringify(args)}`).toBe(false);
        expect(r.error?.message).toMatch(pattern);
        return r.error?.code;
      };
      const lease = { study: "nul", trial: a.trial.number, token: a.lease.token };
      expect(await refused("suggest", { ...lease, name: "q\u0000", distribution: { type: "float", low: 0, high: 1 } }, /parameter name may not contain U\+0000/)).toBe("INVALID_ARGUMENT");
      expect(await refused("suggest", { ...lease, name: "q", distribution: { type: "categorical", choices: ["a\u0000"] } }, /categorical choice may not contain U\+0000/)).toBe("INVALID_ARGUMENT");
      await refused("create_study", { name: "nul2", space: { "x\u0000": { type: "float", low: 0, high: 1 } } }, /U\+0000/);
      await refused("add_trial", { study: "nul", params: { "x\u0000": 0.5 }, value: 1 }, /U\+0000/);
      await refused("enqueue", { study: "nul", params: { "x\u0000": 0.5 } }, /U\+0000/);
      for (const op of ["get_study", "ask", "delete_study"]) await refused(op, { study: "n\u0000" }, /study name never contains U\+0000/);
      await refused("heartbeat", { leases: [{ study: "n\u0000", trial: 0, token: "t" }] }, /U\+0000/);
      const badId = await c.raw(encode({ v: 1, id: "id\u0000", op: "ask", study: "nul" }), "null");
      expect(badId.error).toMatchObject({ code: "MALFORMED_MESSAGE", message: expect.stringMatching(/without U\+0000/) });
      // NUL inside JSON the storage keeps as text (user attributes) stays accepted and reads back.
      await c.call("tell", { ...lease, state: "COMPLETE", value: 1, user_attrs: { "k\u0000": "v\u0000" } });
      expect((await c.call("trial", { study: "nul", trial: a.trial.number })).trial.user_attrs).toEqual({ "k\u0000": "v\u0000" });
      expect((await c.call("get_study", { study: "nul" })).study.counts.COMPLETE).toBe(1);
    } finally {
      await c.close();
      expect(await server.stop()).toBe(0);
    }
  });

  it("says an import whose commit failed imported nothing, and why, not that 'the server is stopping'", async () => {
    const url = backend.location();
    const dir = tempDir();
    const db = join(dir, "a.sqlite");
    const server = await startServer(db);
    const client = new TestClient(server.endpoint);
    try {
      await client.call("create_study", { name: "f", space: SPACE, seed: 1 });
      await client.call("add_trial", { study: "f", params: { x: 0.5, k: "a" }, value: 1 });
    } finally {
      await client.close();
      expect(await server.stop()).toBe(0);
    }
    const file = join(dir, "f.jsonl");
    expect(cli(["export", "f", "--storage", db, "--out", file]).code).toBe(0);
    expect(cli(["import", file, "--storage", url, "--name", "first"]).code).toBe(0);
    // The database refuses the trial rows (a full disk, a trigger of the operator's: here a trigger).
    const q = new URLSearchParams(url.slice(url.indexOf("?") + 1));
    const psql = (sql: string) =>
      execFileSync(join(postgresBinDir() as string, "psql"), ["-h", q.get("host") as string, "-p", q.get("port") as string, "-U", "postgres", "-d", "postgres", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]);
    const schema = q.get("schema") as string;
    psql(`CREATE FUNCTION ${schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no space left (test)'; END $$;
          CREATE TRIGGER refuse BEFORE INSERT ON ${schema}.trials FOR EACH ROW EXECUTE FUNCTION ${schema}.refuse()`);
    const failed = cli(["import", file, "--storage", url]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/the import's commit failed: nothing was imported \(.*no space left \(test\)/);
    expect(failed.stderr).not.toMatch(/server is stopping/);
    const listed = cli(["studies", "list", "--storage", url, "--json"]);
    expect(listed.stdout).not.toMatch(/"name": *"f"/);
  });
});
