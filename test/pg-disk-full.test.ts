/**
 * A disk that fills under `tuneport serve --storage postgresql://...`. Before, PostgreSQL's refusal of a
 * commit for want of space (SQLSTATE 53100, "could not extend file ...: No space left on device") stopped
 * the server (a failed commit is fatal: exit 70). Now, as on SQLite (test/disk-full.test.ts), a commit
 * certain to have written nothing is held and tried again every second (storage/postgres/commit-chunks.ts
 * `diskFull`), every change and read answered UNAVAILABLE storage_full, and once space is freed the same
 * server goes on; nothing acknowledged is lost (a restart reloads every acknowledged tell).
 *
 * A real PostgreSQL server whose tuneport tables live in a tablespace on a 16 MiB tmpfs (its catalogs and
 * WAL on the ordinary disk: a full WAL disk makes PostgreSQL PANIC, docs/DURABILITY.md). The tmpfs is
 * mounted in a private mount namespace (`unshare -m --pid --fork --kill-child`, as root: the postmaster
 * runs there as the `postgres` user), so nothing outside sees it and it goes with the namespace's last
 * process, the postmaster, killed with unshare in `afterEach` (setpriv --pdeathsig; `stop` checks it is gone). The test fills the tmpfs through the namespace's root
 * (`/proc/PID/root`); real `tuneport serve` processes outside it, real DEALER clients.
 *
 * A file PostgreSQL cannot grow for a reason SQLSTATE does not name: a disk quota (EDQUOT) or a file
 * size limit (EFBIG) fails in md.c's `mdextend` as XX000 internal_error, its message in the server's
 * `lc_messages`; a server speaking German stopped tuneport (it matched the English message). This
 * kernel has no quotas (CONFIG_QUOTA off, no tmpfs quotas), so a file size limit stands in: the
 * postmaster runs under `prlimit --fsize` (PostgreSQL ignores SIGXFSZ, so a write past it fails with
 * EFBIG, down the same path as EDQUOT), with `LANGUAGE=de` and `lc_messages=C.UTF-8`.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, closeSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { PostgresStorage } from "../src/storage/postgres/postgres-storage.js";
import { committed, storageFull } from "../src/storage/storage.js";
import { postgresBinDir } from "../src/testing/postgres-server.js";
import { storedStudy, storedTrial } from "../src/testing/stored-records.js";
import { CLI, type Reply, type ServerProcess, TestClient, startServer, stdoutRead, stopServers, tempDir } from "./helpers.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FULL = { code: "UNAVAILABLE", reason: "storage_full", retry_after_ms: 1000 };
const brief = (r: Reply | null) => (r === null ? "no reply" : r.ok ? "ok" : { code: r.error?.code, reason: r.error?.data?.reason ?? null, retry_after_ms: r.error?.data?.retry_after_ms ?? null });

/**
 * A PostgreSQL server started as the `postgres` user in a mount namespace of its own, where `disk` is a
 * 16 MiB tmpfs holding the tablespace of tuneport's tables, and with `wal` its WAL too (1 MiB segments).
 */
async function postgresWithSmallDisk(dir: string, wal = false): Promise<{ proc: ChildProcess; url: string; filler: string; log(): string; stop(): Promise<void> }> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  if (process.getuid?.() !== 0) throw new Error("this test runs as root (as CI does): it mounts a tmpfs and starts PostgreSQL as the postgres user");
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  const data = join(dir, "data");
  const disk = join(dir, "disk");
  mkdirSync(disk);
  chownSync(dir, uid, gid);
  execFileSync(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C", ...(wal ? ["--wal-segsize=1"] : [])], { stdio: "pipe", uid, gid, cwd: dir, env: { ...process.env, LC_ALL: "C" } });
  const moveWal = wal ? `mv "${data}/pg_wal" "$1/wal"; ln -s "$1/wal" "${data}/pg_wal"; ` : "";
  const setup = `set -e; mount -t tmpfs -o size=16m tmpfs "$1"; mkdir "$1/pg"; chown postgres:postgres "$1" "$1/pg"; ${moveWal}shift; exec setpriv --reuid=postgres --regid=postgres --init-groups --pdeathsig SIGKILL "$@"`;
  // With `wal`, the WAL writer waits long, so that the commits' sessions write the WAL (and meet the full disk) themselves.
  const settings = [...(wal ? ["-c", "wal_writer_delay=10000"] : []), "-c", "listen_addresses=", "-c", "port=5432", "-c", `unix_socket_directories=${dir}`, "-c", "max_connections=40", "-c", "shared_buffers=16MB", "-c", "fsync=off"];
  const proc = spawn("unshare", ["-m", "--pid", "--fork", "--kill-child", "sh", "-c", setup, "sh", disk, join(bin, "postgres"), "-D", data, ...settings], { stdio: ["ignore", "ignore", "pipe"], cwd: dir, env: { ...process.env, LC_ALL: "C" } });
  let log = "";
  proc.stderr?.on("data", (d: Buffer) => void (log += d.toString()));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  /** The postmaster (unshare's child: PID 1 of the new PID namespace, whose processes and tmpfs go with it). */
  let postmaster: number | null = null;
  const stop = async () => {
    // unshare's --kill-child (a parent-death signal) is cleared when setpriv changes the user: the
    // postmaster outlived a killed unshare, with its tmpfs, until its data directory was removed at
    // the process's exit (a minute later). setpriv --pdeathsig sets it again after the change.
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await exited;
    if (postmaster === null) return;
    for (let i = 0; i < 100 && alive(postmaster); i++) await sleep(100); // a hang guard
    if (alive(postmaster)) {
      process.kill(postmaster, "SIGKILL");
      throw new Error(`the postmaster (pid ${postmaster}) outlived unshare`);
    }
  };
  const url = `postgresql://postgres@/postgres?host=${encodeURIComponent(dir)}&port=5432`;
  await untilConnected(dir, proc, stop, () => log, "PostgreSQL on a small disk (needs unshare -m --pid and tmpfs mounts)", async (c) => {
    // tuneport's tables and indexes go to the small disk; the catalogs stay on the ordinary one.
    await c.query(`CREATE TABLESPACE small LOCATION '${disk}/pg'`);
    await c.query("CREATE DATABASE tp");
    if (!wal) await c.query("ALTER DATABASE tp SET default_tablespace = small");
  });
  let children = "";
  try {
    children = readFileSync(`/proc/${proc.pid}/task/${proc.pid}/children`, "utf8").trim();
  } catch {
    // a kernel without CONFIG_PROC_CHILDREN: `stop` cannot check
  }
  postmaster = /^\d+$/.test(children) ? Number(children) : null;
  // unshare itself entered the new mount namespace (only its child, the postmaster, a new PID namespace).
  return { proc, url: url.replace("/postgres?", "/tp?"), filler: `/proc/${proc.pid}/root${disk}/filler`, log: () => log, stop };
}

/**
 * Waits until the PostgreSQL `proc` answers on its socket in `dir`, then runs `setup` on that connection;
 * stops it (`stop`) and throws, naming `what` with its log, when it exits or does not answer in a minute.
 */
async function untilConnected(dir: string, proc: ChildProcess, stop: () => Promise<void>, log: () => string, what: string, setup: (c: pg.Client) => Promise<void> = async () => undefined): Promise<void> {
  for (let i = 0; ; i++) {
    const c = new pg.Client({ host: dir, port: 5432, user: "postgres", database: "postgres" });
    try {
      await c.connect();
      await setup(c);
      await c.end();
      return;
    } catch (err) {
      await c.end().catch(() => undefined);
      if (proc.exitCode !== null || i >= 600) {
        await stop();
        throw new Error(`${what} did not start: ${String(err)}\n${log()}`);
      }
      await sleep(100);
    }
  }
}

/** Whether process `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Fills the tmpfs with the filler file, then gives `leave` bytes of it back. */
function fill(filler: string, leave: number): void {
  const fd = openSync(filler, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (err) {
    if ((err as { code?: string }).code !== "ENOSPC") throw err;
  }
  ftruncateSync(fd, Math.max(0, written - leave));
  closeSync(fd);
}

/** No file of the database may grow past this (its WAL segments are 1 MiB). */
const FILE_LIMIT = 3 * 1024 * 1024;

/** PostgreSQL as the `postgres` user, speaking German, no file of it larger than `FILE_LIMIT`. */
async function germanPostgresWithFileLimit(dir: string): Promise<{ url: string; log(): string; raiseLimit(): void; stop(): Promise<void> }> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql)");
  if (process.getuid?.() !== 0) throw new Error("this test runs as root (as CI does): it starts PostgreSQL as the postgres user");
  const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
  chownSync(dir, uid, gid);
  const data = join(dir, "data");
  execFileSync(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C", "--wal-segsize=1"], { stdio: "pipe", uid, gid, cwd: dir, env: { ...process.env, LC_ALL: "C" } });
  const env: NodeJS.ProcessEnv = { ...process.env, LANGUAGE: "de" };
  for (const k of ["LC_ALL", "LC_MESSAGES", "LANG"]) delete env[k];
  const settings = ["-c", "listen_addresses=", "-c", "port=5432", "-c", `unix_socket_directories=${dir}`, "-c", "fsync=off", "-c", "lc_messages=C.UTF-8"];
  const proc: ChildProcess = spawn("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig", "SIGKILL", "prlimit", `--fsize=${FILE_LIMIT}:unlimited`, "--", join(bin, "postgres"), "-D", data, ...settings], {
    stdio: ["ignore", "ignore", "pipe"],
    cwd: dir,
    env,
  });
  let log = "";
  proc.stderr?.on("data", (d: Buffer) => void (log += d.toString()));
  const exited = new Promise<void>((r) => proc.once("exit", () => r()));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGINT"); // fast shutdown
    await Promise.race([exited, sleep(20_000)]); // a hang guard
    if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGKILL");
    await exited;
  };
  await untilConnected(dir, proc, stop, () => log, "PostgreSQL");
  /**
   * Lifts the (soft) limit from the postmaster (setpriv and prlimit exec'd into it) and every backend
   * it forked, as their own user: root may lack CAP_SYS_RESOURCE in a container.
   */
  const raiseLimit = () => {
    const pid = proc.pid as number;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    for (const p of [String(pid), ...children]) execFileSync("prlimit", ["--pid", p, "--fsize=unlimited:unlimited"], { stdio: "pipe", uid, gid });
  };
  return { url: `postgresql://postgres@/postgres?host=${encodeURIComponent(dir)}&port=5432`, log: () => log, raiseLimit, stop };
}

let pgServer: { stop(): Promise<void> } | null = null;
afterEach(async () => {
  await stopServers();
  await pgServer?.stop();
  pgServer = null;
});

/** Whether study `name` answers get_study again within a minute (after space was freed). */
async function readableAgain(c: TestClient, name: string): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    if ((await c.request("get_study", { study: name })).ok) return true;
    await sleep(100);
  }
  return false;
}

/** A trigger that writes 640 kB beside each INSERT (a claim) or UPDATE (a renewal) of a study_owners row. */
async function padStudyOwners(dir: string, event: "INSERT" | "UPDATE"): Promise<void> {
  const q = new pg.Client({ host: dir, port: 5432, user: "postgres", database: "tp" });
  await q.connect();
  await q.query(
    `CREATE TABLE pad (b TEXT);
     CREATE FUNCTION pad_rows() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO pad SELECT string_agg(md5(random()::TEXT), '') FROM generate_series(1, 20000); RETURN NULL; END $$;
     CREATE TRIGGER pad_rows AFTER ${event} ON study_owners FOR EACH ROW EXECUTE FUNCTION pad_rows()`,
  );
  await q.end();
}

describe("a disk that fills under serve --storage postgresql:// (PostgreSQL)", () => {
  it("holds the commit PostgreSQL refused (53100), answers UNAVAILABLE storage_full, goes on once space is freed, loses nothing acknowledged", async () => {
    const dir = tempDir();
    const db = await postgresWithSmallDisk(dir);
    pgServer = db;
    const bind = `ipc://${join(dir, "serve.sock")}`;
    let s: ServerProcess = await startServer(db.url, ["--log-format", "json", "--plot-warmup", "0"], bind);
    let c = new TestClient(s.endpoint);
    const acked = new Set<number>();
    /** ask, a 20 kB incompressible attribute, tell: "ok", or the step that failed (with the tell to resend). */
    const oneTrial = async () => {
      const a = await c.request("ask", { study: "s" });
      if (!a.ok) return { step: "ask", reply: a };
      const { trial, lease } = a.result;
      const u = await c.request("set_user_attrs", { study: "s", trial: trial.number, attrs: { blob: randomBytes(15_000).toString("base64") } });
      if (!u.ok) return { step: "set_user_attrs", reply: u };
      const args = { study: "s", trial: trial.number, token: lease.token, state: "COMPLETE", value: trial.number };
      const id = `tell-${trial.number}`;
      const t = await c.request("tell", args, id);
      if (!t.ok) return { step: "tell", reply: t, resend: { args, id, trial: trial.number as number } };
      acked.add(trial.number);
      return "ok" as const;
    };
    try {
      await c.call("create_study", { name: "s", strategy: "random", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
      for (let i = 0; i < 3; i++) expect(await oneTrial()).toBe("ok");
      fill(db.filler, 256 * 1024);
      let failure: Exclude<Awaited<ReturnType<typeof oneTrial>>, "ok"> | null = null;
      for (let i = 0; i < 200 && failure === null; i++) {
        const r = await oneTrial();
        if (r !== "ok") failure = r;
      }
      // The write whose commit found no room, a write and a read while full: typed, retryable.
      expect(failure && brief(failure.reply)).toEqual(FULL);
      expect(brief(await c.request("set_user_attrs", { study: "s", attrs: { more: "x" } }))).toEqual(FULL);
      expect(brief(await c.request("get_study", { study: "s" }))).toEqual(FULL);
      await sleep(3000); // a few of the held commit's retries, each refused again
      expect(brief(await c.request("ask", { study: "s" }))).toEqual(FULL);
      expect(s.proc.exitCode).toBe(null);
      // Space freed: the same server reads and writes again; the failed tell, resent with its id, is answered from its commit.
      rmSync(db.filler);
      expect(await readableAgain(c, "s")).toBe(true);
      if (failure?.resend) {
        expect(brief(await c.request("tell", failure.resend.args, failure.resend.id))).toBe("ok");
        acked.add(failure.resend.trial);
      }
      expect(await oneTrial()).toBe("ok");
      await c.close();
      expect(await s.stop()).toBe(0);
      const log = s.lines.map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string }).filter((l) => l.level >= 50);
      expect(log.map((l) => [l.msg.slice(0, 13), l.reason ?? null])).toEqual([["storage full:", "storage_full"]]);
      expect(s.lines.some((l) => l.includes('"storage has room again: commits resumed"'))).toBe(true);
      // A restart loads what PostgreSQL holds: every acknowledged tell.
      s = await startServer(db.url, ["--log-format", "json", "--plot-warmup", "0"], bind);
      c = new TestClient(s.endpoint);
      const stored = await c.call("trials", { study: "s", states: ["COMPLETE"], limit: 1000 });
      const complete = new Set((stored.trials as { number: number }[]).map((t) => t.number));
      expect(acked.size).toBeGreaterThan(3);
      expect([...acked].filter((n) => !complete.has(n))).toEqual([]);
      // `tuneport import` into the full disk (its own service, its own ownership of the name): nothing imported, and it says why.
      const exp = join(dir, "s.jsonl");
      execFileSync(process.execPath, [CLI, "export", "s", "--storage", db.url, "--out", exp], { stdio: "pipe" });
      fill(db.filler, 64 * 1024);
      const im = spawnSync(process.execPath, [CLI, "import", exp, "--storage", db.url, "--name", "s2"], { encoding: "utf8", timeout: 120_000 });
      expect({ status: im.status, stderr: im.stderr.trim() }).toEqual({ status: 1, stderr: "tuneport: the import's commit failed: nothing was imported (no space left on the device) (UNAVAILABLE)" });
      rmSync(db.filler);
      const q = new pg.Client({ host: dir, port: 5432, user: "postgres", database: "tp" });
      await q.connect();
      expect((await q.query<{ name: string }>("SELECT name FROM studies ORDER BY name")).rows.map((r) => r.name)).toEqual(["s"]);
      await q.end();
    } finally {
      await c.close().catch(() => undefined);
    }
  }, 240_000);

  it("a new study whose ownership row finds no room is answered UNAVAILABLE storage_full (retried), not INTERNAL, and created once space is freed", async () => {
    const dir = tempDir();
    const db = await postgresWithSmallDisk(dir);
    pgServer = db;
    const s = await startServer(db.url, ["--log-format", "json", "--plot-warmup", "0"], `ipc://${join(dir, "serve.sock")}`);
    const c = new TestClient(s.endpoint);
    const space = { x: { type: "float", low: 0, high: 1 } };
    try {
      await c.call("create_study", { name: "s", strategy: "random", space, seed: 1 });
      // A new name's claim (the INSERT of its study_owners row) needs room: here a trigger writes 640 kB
      // beside it, as a row that starts a new page of a packed study_owners does (a probe of 2026-12-07
      // packed it with 37 rows: create_study of a new name was answered INTERNAL).
      await padStudyOwners(dir, "INSERT");
      fill(db.filler, 64 * 1024);
      const refused = [await c.request("create_study", { name: "t", strategy: "random", space }, "create-t")];
      refused.push(await c.request("create_study", { name: "t", strategy: "random", space }, "create-t"));
      expect(refused.map(brief)).toEqual([FULL, FULL]);
      // One outage, one full_since (protocol/PROTOCOL.md), as the pipeline's refusals have it.
      const since = refused.map((r) => r.error?.data?.full_since);
      expect(typeof since[0]).toBe("number");
      expect(since[1]).toBe(since[0]);
      // Nothing was held (no commit failed): the server serves on.
      expect((await c.request("get_study", { study: "s" })).ok).toBe(true);
      rmSync(db.filler);
      expect(brief(await c.request("create_study", { name: "t", strategy: "random", space }, "create-t"))).toBe("ok");
      expect(s.proc.exitCode).toBe(null);
    } finally {
      await c.close().catch(() => undefined);
    }
  }, 120_000);

  it("a renewal of the ownership rows that finds no room makes reads answer UNAVAILABLE storage_full (it said the database was slow or unreachable)", async () => {
    const dir = tempDir();
    const db = await postgresWithSmallDisk(dir);
    pgServer = db;
    const s = await startServer(db.url, ["--log-format", "json", "--plot-warmup", "0", "--ownership-ttl", "3"], `ipc://${join(dir, "serve.sock")}`);
    const c = new TestClient(s.endpoint);
    try {
      await c.call("create_study", { name: "s", strategy: "random", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
      // A renewal (an UPDATE of each of this server's study_owners rows) needs room when a row's new
      // version starts a new page: here a trigger writes 640 kB beside each, as the claim test above does.
      await padStudyOwners(dir, "UPDATE");
      fill(db.filler, 64 * 1024);
      // Reads are answered from memory while the last renewal is recent; past the TTL they wait for one.
      let refused: Reply | null = null;
      for (let i = 0; i < 600 && refused === null; i++) {
        const r = await c.request("get_study", { study: "s" });
        if (!r.ok) refused = r;
        else await sleep(100);
      }
      expect(refused && brief(refused)).toEqual(FULL);
      expect(refused?.error?.message).toMatch(/^the server's storage is full: this server could not renew the ownership of its studies/);
      expect(typeof refused?.error?.data?.full_since).toBe("number");
      rmSync(db.filler);
      expect(await readableAgain(c, "s")).toBe(true);
      expect(s.proc.exitCode).toBe(null);
    } finally {
      await c.close().catch(() => undefined);
    }
  }, 120_000);

  it("a storage commit is held only when certain to have written nothing: one cut in chunks, and one refused at its COMMIT", async () => {
    const dir = tempDir();
    const db = await postgresWithSmallDisk(dir);
    pgServer = db;
    // Tiny chunks: every batch of several rows is several statements in one transaction, then a COMMIT.
    const storage = await PostgresStorage.open({ url: db.url, poolSize: 2, commitChunkChars: 64 });
    const outcome = (p: Promise<unknown>) => p.then(() => "committed", (err: unknown) => ({ storageFull: storageFull(err), committed: committed(err), code: (err as { code?: string }).code }));
    const big = (id: number) => ({ ...storedTrial(id, id - 1), userAttrs: { blob: randomBytes(150_000).toString("base64") } });
    try {
      await storage.commit([{ kind: "insert-study", study: storedStudy(1, "s") }]);
      fill(db.filler, 128 * 1024);
      // A statement of the transaction found no room: nothing was written.
      expect(await outcome(storage.commit([1, 2, 3, 4].map((i) => ({ kind: "insert-trial" as const, trial: big(i) }))))).toEqual({ storageFull: true, committed: false, code: "53100" });
      expect(await storage.loadTrials(1)).toEqual([]);
      rmSync(db.filler);
      // The same room found short at COMMIT: a deferred trigger writes there (an ERROR at COMMIT aborts
      // the transaction; the session answers the ROLLBACK after it, so it was no PANIC).
      await storage.pool.query(
        `CREATE TABLE at_commit (b TEXT);
         CREATE FUNCTION write_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO at_commit SELECT string_agg(md5(random()::TEXT), '') FROM generate_series(1, 20000); RETURN NULL; END $$;
         CREATE CONSTRAINT TRIGGER write_at_commit AFTER INSERT ON trials DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION write_at_commit()`,
      );
      fill(db.filler, 128 * 1024);
      expect(await outcome(storage.commit([1, 2].map((i) => ({ kind: "insert-trial" as const, trial: storedTrial(i, i - 1) }))))).toEqual({ storageFull: true, committed: false, code: "53100" });
      expect(await storage.loadTrials(1)).toEqual([]);
      rmSync(db.filler);
      await storage.commit([1, 2].map((i) => ({ kind: "insert-trial" as const, trial: storedTrial(i, i - 1) })));
      expect((await storage.loadTrials(1)).map((t) => t.id)).toEqual([1, 2]);
    } finally {
      await storage.close();
    }
  }, 120_000);

  it("WAL: a batch cut in chunks whose COMMIT met the full WAL disk (PANIC) is not held: its outcome is unknown", async () => {
    const dir = tempDir();
    const db = await postgresWithSmallDisk(dir, true);
    pgServer = db;
    // Tiny chunks: each batch is several statements, then a COMMIT, which flushes the batch's WAL (far
    // less than wal_buffers, so its statements wrote none) and PANICs on the full disk; the check after
    // an error at COMMIT (runChunks: the session must answer the ROLLBACK) is the one this meets.
    const storage = await PostgresStorage.open({ url: db.url, poolSize: 2, commitChunkChars: 64 });
    const big = (id: number) => ({ ...storedTrial(id, id - 1), userAttrs: { blob: randomBytes(15_000).toString("base64") } });
    try {
      await storage.commit([{ kind: "insert-study", study: storedStudy(1, "s") }]);
      fill(db.filler, 256 * 1024);
      let failure: unknown = null;
      for (let i = 1; failure === null && i < 400; i += 2)
        await storage.commit([i, i + 1].map((id) => ({ kind: "insert-trial" as const, trial: big(id) }))).catch((err: unknown) => (failure = err ?? new Error("undefined")));
      expect(db.log()).toMatch(/PANIC: {2}could not write to file "pg_wal\//);
      // Held, it would have been committed again: a second copy of a batch PostgreSQL may have committed.
      expect({ failed: failure !== null, storageFull: storageFull(failure) }).toEqual({ failed: true, storageFull: false });
    } finally {
      await storage.close().catch(() => undefined);
    }
  }, 120_000);

  it("WAL: the WAL's disk full makes PostgreSQL PANIC; that commit's outcome is unknown, so serve stops (exit 70) rather than hold it", async () => {
    const dir = tempDir();
    const db = await postgresWithSmallDisk(dir, true);
    pgServer = db;
    const s = await startServer(db.url, ["--log-format", "json", "--plot-warmup", "0"], `ipc://${join(dir, "serve.sock")}`);
    const c = new TestClient(s.endpoint);
    const exited = new Promise<number | null>((r) => (s.proc.exitCode !== null ? r(s.proc.exitCode) : s.proc.once("exit", (code) => r(code))));
    try {
      await c.call("create_study", { name: "s", strategy: "random", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
      fill(db.filler, 256 * 1024);
      for (let i = 0; i < 200 && s.proc.exitCode === null; i++) {
        const a = await Promise.race([c.request("ask", { study: "s" }), exited.then(() => null)]);
        if (a === null || !a.ok) break;
        const u = await Promise.race([c.request("set_user_attrs", { study: "s", trial: a.result.trial.number, attrs: { blob: randomBytes(15_000).toString("base64") } }), exited.then(() => null)]);
        if (u === null || !u.ok) break;
      }
      // PostgreSQL PANICked writing WAL (the session that sent the error is gone, and it may have
      // written the commit record): the commit is not held, the server stops as for any unknown outcome.
      expect(await exited).toBe(70);
      await stdoutRead(s.proc);
      // Most often the commit's own session PANICked, with SQLSTATE 53100 (disk_full) as a refusal has it;
      // else another process did, and the commit's session was ended (57P02). Either way, never held.
      const log = s.lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { code?: string } }).filter((l) => l.level >= 50);
      expect(log.filter((l) => l.msg.startsWith("storage full:"))).toEqual([]);
      expect(log.at(-1)).toMatchObject({ level: 60, msg: expect.stringMatching(/^storage commit failed/) });
      expect(db.log()).toMatch(/PANIC: {2}could not write to file "pg_wal\//);
    } finally {
      await c.close().catch(() => undefined);
    }
  }, 120_000);
});

describe("a PostgreSQL file that cannot grow (XX000 from mdextend), the server speaking German", () => {
  it("is storage full to a storage commit: nothing written, the error's code and routine say it, not its words", async () => {
    const db = await germanPostgresWithFileLimit(tempDir());
    pgServer = db;
    const storage = await PostgresStorage.open({ url: db.url, poolSize: 2 });
    const big = (id: number) => ({ kind: "insert-trial" as const, trial: { ...storedTrial(id, id - 1), userAttrs: { blob: randomBytes(150_000).toString("base64") } } });
    try {
      await storage.commit([{ kind: "insert-study", study: storedStudy(1, "s") }]);
      let failure: unknown = null;
      let id = 1;
      for (; failure === null && id < 200; id += 2) await storage.commit([big(id), big(id + 1)]).catch((err: unknown) => (failure = err ?? new Error("undefined")));
      expect(failure).toMatchObject({ code: "XX000", routine: "mdextend", message: expect.stringMatching(/^konnte Datei .* nicht erweitern/) });
      expect({ storageFull: storageFull(failure), committed: committed(failure) }).toEqual({ storageFull: true, committed: false });
      // Nothing of the refused batch was written; with the limit lifted, the same batch commits.
      expect((await storage.loadTrials(1)).length).toBe(id - 3);
      db.raiseLimit();
      await storage.commit([big(id - 2), big(id - 1)]);
      expect((await storage.loadTrials(1)).length).toBe(id - 1);
    } finally {
      await storage.close();
    }
  }, 180_000);

  it("is held by serve, answered UNAVAILABLE storage_full, and served on once the limit is lifted (it stopped, exit 70)", async () => {
    const dir = tempDir();
    const db = await germanPostgresWithFileLimit(dir);
    pgServer = db;
    const s: ServerProcess = await startServer(db.url, ["--log-format", "json", "--plot-warmup", "0"], `ipc://${join(dir, "serve.sock")}`);
    const c = new TestClient(s.endpoint);
    try {
      await c.call("create_study", { name: "s", strategy: "random", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
      /** ask, then a 40 kB incompressible attribute on its trial: null, or the refusal (with the request to resend). */
      const oneTrial = async (i: number) => {
        const a = await c.request("ask", { study: "s" });
        if (!a.ok) return { reply: a, resend: null };
        const args = { study: "s", trial: a.result.trial.number as number, attrs: { blob: randomBytes(30_000).toString("base64") } };
        const u = await c.request("set_user_attrs", args, `attrs-${i}`);
        return u.ok ? null : { reply: u, resend: { args, id: `attrs-${i}` } };
      };
      let failure: Awaited<ReturnType<typeof oneTrial>> = null;
      for (let i = 0; i < 400 && failure === null; i++) failure = await oneTrial(i);
      expect(failure && brief(failure.reply)).toEqual(FULL);
      expect(brief(await c.request("get_study", { study: "s" }))).toEqual(FULL);
      expect(s.proc.exitCode).toBe(null);
      db.raiseLimit();
      expect(await readableAgain(c, "s")).toBe(true);
      if (failure?.resend) expect(brief(await c.request("set_user_attrs", failure.resend.args, failure.resend.id))).toBe("ok");
      expect(await oneTrial(1000)).toBeNull();
      await c.close();
      expect(await s.stop()).toBe(0);
      const errors = s.lines.map((l) => JSON.parse(l) as { level: number; msg: string; reason?: string }).filter((l) => l.level >= 50);
      expect(errors.map((l) => [l.msg.slice(0, 13), l.reason ?? null])).toEqual([["storage full:", "storage_full"]]);
    } finally {
      await c.close().catch(() => undefined);
    }
  }, 180_000);
});
