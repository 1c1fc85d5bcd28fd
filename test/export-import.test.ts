import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, TestClient, startServer, tempDir, stopServers } from "./helpers.js";
import { silentLogger } from "../src/logger.js";
import { DEFAULT_MAX_STUDIES } from "../src/service/study-limits.js";
import { StudyService } from "../src/service/study-service.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";

// A failed assertion or hook must not leave a server running.
afterAll(stopServers);

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("tuneport export / import", () => {
  it("imports into a database that holds a server's most studies: the cap is the server's, not the operator's", async () => {
    const dir = tempDir();
    const db = join(dir, "full.sqlite");
    const storage = new SqliteStorage({ path: db });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    const space = { x: { type: "float", low: 0, high: 1 } };
    try {
      // A thousand creates at a time: the service commits those in flight together (one after
      // another, each waited for, they took 3x as long).
      for (let i = 0; i < DEFAULT_MAX_STUDIES; i += 1000)
        await Promise.all(Array.from({ length: Math.min(1000, DEFAULT_MAX_STUDIES - i) }, (_, k) => service.createStudy({ name: `s${i + k}`, space })));
      const text = [...service.exportStudy("s0")].join("\n") + "\n";
      writeFileSync(join(dir, "s0.jsonl"), text);
      // A server on it would refuse one more.
      expect((await service.createStudy({ name: "one-more", space }).catch((e: { data?: unknown }) => e.data)) as object).toMatchObject({ reason: "max_studies" });
    } finally {
      await service.close();
      storage.close();
    }
    const imp = cli(["import", join(dir, "s0.jsonl"), "--storage", db, "--name", "copy"]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stderr).toMatch(/imported study 'copy'/);
  }, 300_000);

  it("round-trips a study exactly through JSON Lines files", async () => {
    const dir = tempDir();
    const db = join(dir, "a.sqlite");
    const server = await startServer(db);
    const client = new TestClient(server.endpoint);
    try {
      await client.call("create_study", {
        name: "exp",
        space: { x: { type: "float", low: -1, high: 1 }, k: { type: "categorical", choices: ["a", "b"] } },
        user_attrs: { team: "t" },
      });
      for (let i = 0; i < 20; i++) {
        const a = await client.call("ask", { study: "exp" });
        await client.call("report", { study: "exp", trial: a.trial.number, token: a.lease.token, step: 1, value: i });
        if (i === 12) await client.call("tell", { study: "exp", trial: a.trial.number, token: a.lease.token, state: "FAIL", reason: "KeyboardInterrupt: ", interrupted: true });
        else if (i % 5 === 4) await client.call("tell", { study: "exp", trial: a.trial.number, token: a.lease.token, state: "FAIL", reason: "boom" });
        else if (i !== 19) await client.call("tell", { study: "exp", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i / 7 });
      }
    } finally {
      await client.close();
      expect(await server.stop()).toBe(0);
    }
    const first = join(dir, "first.jsonl");
    expect(cli(["export", "exp", "--storage", db, "--out", first]).code).toBe(0);
    const lines = readFileSync(first, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(21);
    // A Ctrl-C'd trial keeps its mark (the strategies leave it out after an import as before).
    expect(JSON.parse(lines[13] as string).system_attrs).toMatchObject({ fail_reason: "KeyboardInterrupt: ", interrupted: true });

    const db2 = join(dir, "b.sqlite");
    const imp = cli(["import", first, "--storage", db2, "--name", "renamed"]);
    expect(imp.code, imp.stderr).toBe(0);
    expect(imp.stderr).toMatch(/imported study 'renamed' with 20 trials/);
    const second = cli(["export", "renamed", "--storage", db2]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe(readFileSync(first, "utf8").replace('"name":"exp"', '"name":"renamed"'));
    // '-' is stdout, as for import and plot (it wrote a file named '-' before)
    const dashed = spawnSync(process.execPath, [CLI, "export", "renamed", "--storage", db2, "--out", "-"], { cwd: dir, encoding: "utf8", timeout: 120_000 });
    expect(dashed.status, dashed.stderr).toBe(0);
    expect(dashed.stdout).toBe(second.stdout);
    expect(existsSync(join(dir, "-"))).toBe(false);

    // the name exists now: refused, nothing changes
    const again = cli(["import", first, "--storage", db2, "--name", "renamed"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists.*ALREADY_EXISTS/);

    // a malformed line is named
    const bad = join(dir, "bad.jsonl");
    writeFileSync(bad, `${lines[0]}\n${lines[1]}\n{"number": 1, "state": "DONE"}\n`);
    const broken = cli(["import", bad, "--storage", db2, "--name", "other"]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/line 3: not a trial/);
    expect(cli(["studies", "list", "--storage", db2, "--json"]).stdout).not.toMatch(/"other"/);
  });

  it("exports a study whose worker named itself with a character beyond U+FFFF where hello's 200 are cut, and imports it back", async () => {
    const dir = tempDir();
    const db = join(dir, "a.sqlite");
    const server = await startServer(db);
    const client = new TestClient(server.endpoint);
    // 199 units, then an emoji (two units): the cut at 200 fell between its halves, and the stored
    // identity kept a lone surrogate that import refused ("not well-formed Unicode").
    const name = `${"w".repeat(199)}😀 and more`;
    let worker: unknown;
    try {
      await client.call("hello", { client: { name, host: name } });
      await client.call("create_study", { name: "clipped", space: { x: { type: "float", low: 0, high: 1 } } });
      const a = await client.call("ask", { study: "clipped" });
      await client.call("tell", { study: "clipped", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
      worker = (await client.call("trial", { study: "clipped", trial: a.trial.number })).trial.system_attrs.worker;
    } finally {
      await client.close();
      expect(await server.stop()).toBe(0);
    }
    const file = join(dir, "clipped.jsonl");
    const exp = cli(["export", "clipped", "--storage", db, "--out", file]);
    expect(exp.code, exp.stderr).toBe(0);
    const imp = cli(["import", file, "--storage", join(dir, "b.sqlite")]);
    expect(imp.code, imp.stderr).toBe(0);
    const journal = cli(["export", "clipped", "--storage", db, "--format", "optuna", "--out", join(dir, "clipped.journal")]);
    expect(journal.code, journal.stderr).toBe(0);
    // The character is dropped whole (replies carried U+FFFD where the stored text had a lone surrogate).
    expect(worker).toMatchObject({ name: "w".repeat(199), host: "w".repeat(199) });
  });

  it("exports to a pipe whose reader is slower than the writer, whole (tuneport export NAME | gzip)", async () => {
    const dir = tempDir();
    const db = join(dir, "big.sqlite");
    const storage = new SqliteStorage({ path: db });
    const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    try {
      await service.createStudy({ name: "big", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random" });
      // About 3 MiB of lines: several of the writer's 1 MiB chunks, each far over a pipe's 64 KiB.
      for (let i = 0; i < 100; i++) {
        const a = await service.ask({ study: "big" });
        await service.setTrialUserAttrs({ study: "big", trial: a.trial.number, attrs: { blob: `${i}`.padEnd(30_000, "x") } });
        await service.tell({ study: "big", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i });
      }
    } finally {
      await service.close();
      storage.close();
    }
    const file = join(dir, "big.jsonl");
    expect(cli(["export", "big", "--storage", db, "--out", file]).code).toBe(0);
    // Through a shell's pipe (Node's own child pipes are socket pairs, which did not show it) to a
    // reader that reads nothing for a second: the pipe fills, and `writeSync(1, …)` failed with EAGAIN.
    const piped = join(dir, "piped.jsonl");
    const status = join(dir, "status");
    const q = (p: string) => `'${p.replaceAll("'", "'\\''")}'`;
    const r = spawnSync("sh", ["-c", `{ ${q(process.execPath)} ${q(CLI)} export big --storage ${q(db)}; echo $? > ${q(status)}; } | { sleep 1; cat > ${q(piped)}; }`], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(readFileSync(status, "utf8").trim(), r.stderr).toBe("0");
    expect(readFileSync(piped).equals(readFileSync(file))).toBe(true);
  }, 120_000);
});
