/**
 * PostgreSQL going away under a running service, and a server that asks for a password nobody
 * gave: each on a private PostgreSQL server (stopped, or its pg_hba.conf changed), never the shared
 * one the other suites use.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { SharedOwnership } from "../../service/ownership.js";
import { StudyService } from "../../service/study-service.js";
import { startPostgres } from "../../testing/postgres-server.js";
import { PgOwnershipStore } from "./pg-ownership.js";
import { PostgresStorage } from "./postgres-storage.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

describe("PostgreSQL unreachable", () => {
  it("a request while the database is down is answered UNAVAILABLE (clients retry it), not INTERNAL", async () => {
    const server = startPostgres();
    let stopped = false;
    const storage = await PostgresStorage.open({ url: server.createDatabase("outage") });
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    try {
      await svc.execute("create_study", { name: "s", space: SPACE, strategy: "random", seed: 1 });
      const a = await svc.execute("ask", { study: "s" }, { requestId: "ask-1" });
      server.stop(); // as `pg_ctl restart` does for a moment: every connection is cut, new ones refused
      stopped = true;
      const told = svc.execute("tell", { study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 }, { requestId: "tell-1" });
      await expect(told).rejects.toMatchObject({ code: "UNAVAILABLE" });
    } finally {
      await svc.close().catch(() => undefined);
      await storage.close().catch(() => undefined);
      if (!stopped) server.stop();
    }
  });

  it("a server sharing the database answers UNAVAILABLE, not INTERNAL, when it cannot claim a study while the database is down", async () => {
    const server = startPostgres();
    let stopped = false;
    const storage = await PostgresStorage.open({ url: server.createDatabase("outage") });
    const logger = silentLogger();
    const ownership = new SharedOwnership({ store: new PgOwnershipStore(storage), logger, serverId: "a", ttlMs: 60_000 });
    const svc = await StudyService.open({ storage, logger, reapIntervalMs: 0, ownership });
    try {
      server.stop();
      stopped = true;
      const created = svc.execute("create_study", { name: "s", space: SPACE, strategy: "random", seed: 1 }, { requestId: "c-1" });
      await expect(created).rejects.toMatchObject({ code: "UNAVAILABLE" });
    } finally {
      await svc.close().catch(() => undefined);
      await storage.close().catch(() => undefined);
      if (!stopped) server.stop();
    }
  });
});

/** Stops (SIGSTOP) or resumes (SIGCONT) every process of a test server: a database host that hangs, connections open. */
function freeze(server: { dir: string }, signal: "SIGSTOP" | "SIGCONT"): void {
  const postmaster = Number(readFileSync(join(server.dir, "data", "postmaster.pid"), "utf8").split("\n")[0]);
  const children = execFileSync("pgrep", ["-P", String(postmaster)], { encoding: "utf8" }).split(/\s+/).filter(Boolean).map(Number);
  for (const pid of [postmaster, ...children]) process.kill(pid, signal);
}

describe("PostgreSQL that stops answering", () => {
  // Runs after a failed (timed-out) test too: no frozen server is left behind.
  let thaw: (() => void) | null = null;
  afterEach(() => {
    thaw?.();
    thaw = null;
  });

  it("a server's clean stop hands its studies back if it can, and does not wait for the database to answer", async () => {
    const server = startPostgres();
    const storage = await PostgresStorage.open({ url: server.createDatabase("hung") });
    const logger = silentLogger();
    const ownership = new SharedOwnership({ store: new PgOwnershipStore(storage), logger, serverId: "a", ttlMs: 1000 });
    const svc = await StudyService.open({ storage, logger, reapIntervalMs: 0, ownership });
    thaw = () => server.stop();
    try {
      await svc.execute("create_study", { name: "s", space: SPACE, strategy: "random", seed: 1 }, { requestId: "c-1" });
      freeze(server, "SIGSTOP");
      thaw = () => {
        freeze(server, "SIGCONT");
        server.stop();
      };
      // Before the fix both waited for as long as the database was silent (forever here): `serve`
      // logged "shutting down" and hung on a SIGTERM with no request in flight. The test's timeout
      // is the hang guard (generous: it also covers initdb and the server's start, which took it past
      // 20 s at load 20 on 2 cores); the rows expire on their own one TTL later.
      await svc.close();
      await storage.close();
    } finally {
      thaw?.();
      thaw = null;
    }
  }, 180_000);
});

describe("PostgreSQL asks for a password that was not given", () => {
  it("open fails with a message naming ~/.pgpass and PGPASSWORD, and leaves no connection open behind it", async () => {
    const server = startPostgres();
    const saved = { PGPASSWORD: process.env.PGPASSWORD, PGPASSFILE: process.env.PGPASSFILE };
    try {
      const admin = new pg.Client({ connectionString: server.url });
      await admin.connect();
      await admin.query("CREATE ROLE tp_pw LOGIN PASSWORD 'secret'");
      const hba = join(server.dir, "data", "pg_hba.conf");
      writeFileSync(hba, `local all tp_pw scram-sha-256\n${readFileSync(hba, "utf8")}`);
      await admin.query("SELECT pg_reload_conf()");
      await admin.end();
      delete process.env.PGPASSWORD;
      process.env.PGPASSFILE = join(server.dir, "no-such-pgpass");
      const sockets = () => process.getActiveResourcesInfo().filter((r) => r === "PipeWrap" || r === "TCPSocketWrap").length;
      const before = sockets();
      const url = server.url.replace("postgres@", "tp_pw@");
      await expect(PostgresStorage.open({ url })).rejects.toThrow(/asks for a password and none was given \(put it in ~\/\.pgpass or PGPASSWORD\)/);
      // pg used to leave the socket open until the server's authentication_timeout (60 s): the CLI hung.
      for (let i = 0; sockets() > before; i++) {
        if (i > 200) throw new Error(`a connection is still open after the failed open (${sockets()} sockets, ${before} before)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
      server.stop();
    }
  });
});
