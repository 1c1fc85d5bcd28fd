/**
 * The command line given bad input, as a user who mistypes things meets it: one line saying what is
 * wrong and how to fix it, a non-zero exit status, never a stack trace, never a hang, and nothing
 * changed by a refused command.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, tempDir } from "./helpers.js";

/** How a CLI process ended and what it wrote. */
interface Ran {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The cases are independent (each its own files beside the shared, read-only `db`), so they run
 * concurrently (describe.concurrent below); at most this many CLI processes at once. Each is mostly
 * Node's start-up on one core; a few wait (a connect timeout, a Ctrl-C), and those waits overlap.
 */
const MAX_PROCESSES = 4;
let running = 0;
const queued: (() => void)[] = [];

/**
 * The CLI run with `args` to its end, without blocking this process (its servers keep answering,
 * the other cases keep going). `env`: variables added; `stdout`: a file descriptor to write to
 * instead of a pipe; `timeoutMs`: the SIGKILL that only catches a hang.
 */
async function runWith(opts: { env?: Record<string, string>; stdout?: number; timeoutMs?: number }, ...args: string[]): Promise<Ran> {
  if (running >= MAX_PROCESSES) await new Promise<void>((resolve) => queued.push(resolve));
  running++;
  try {
    return await new Promise<Ran>((resolve) => {
      const p = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", opts.stdout ?? "pipe", "pipe"], env: { ...process.env, ...opts.env } });
      let stdout = "";
      let stderr = "";
      p.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
      p.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
      const hang = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 120_000);
      p.on("close", (status, signal) => {
        clearTimeout(hang);
        resolve({ status, signal, stdout, stderr });
      });
    });
  } finally {
    running--;
    queued.shift()?.();
  }
}

const run = (...args: string[]) => runWith({}, ...args);

/** Exits with `status`, says `message` on one `tuneport:` line, and prints no stack trace. */
function expectRefusal(r: Ran, status: number, message: RegExp): void {
  expect(r.signal, "the command hung").toBeNull();
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).toMatch(message);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  expect(r.status).toBe(status);
}

const DIST = { lr: { type: "float", low: 0.0001, high: 1, log: true } };
const STUDY = [
  { format: "tuneport-study", version: 1, name: "s1", config: { direction: "minimize", space: DIST, strategy: { name: "random", options: {} }, scheduler: null, seed: 1, retry: { max_retries: 0, retry_on_fail: false, keep_intermediate: false }, lease_ttl_s: 30 }, user_attrs: {}, created_at_ms: 1 },
  ...[0.5, 0.25].map((value, number) => ({
    number, state: "COMPLETE", params: { lr: 0.01 * (number + 1) }, distributions: DIST, value, intermediate: [], user_attrs: {}, system_attrs: {},
    created_at_ms: 2, started_at_ms: 2, finished_at_ms: 3, lease: null,
  })),
].map((l) => JSON.stringify(l)).join("\n");

describe.concurrent("tuneport given bad input", () => {
  let dir: string;
  let db: string;
  let studyFile: string;

  beforeAll(async () => {
    dir = tempDir();
    db = join(dir, "good.db");
    studyFile = join(dir, "s1.jsonl");
    writeFileSync(studyFile, `${STUDY}\n`);
    const r = await run("import", studyFile, "--storage", db);
    expect(r.stderr).toMatch(/imported study 's1' with 2 trials/);
  });

  it("an empty --storage (an unset shell variable) is refused naming the option and what it takes", async () => {
    // It said "cannot open the database : ENOENT: no such file or directory, open ''".
    const cases: [string[], RegExp][] = [
      [["serve", "--storage", "", "--bind", "tcp://127.0.0.1:1"], /^tuneport: --storage is empty; it takes PATH\|URL: SQLite database file .*postgresql:\/\//],
      [["studies", "list", "--storage", ""], /^tuneport: --storage is empty; it takes PATH: SQLite database file/],
      [["serve", "--storage", db, "--lease-ttl", " "], /^tuneport: --lease-ttl is empty; it takes SECONDS: default lease time-to-live/],
    ];
    for (const [args, message] of cases) expectRefusal(await run(...args), 2, message);
  });

  describe("a --storage path that is not a tuneport database", () => {
    const cases: [string, () => string, RegExp][] = [
      ["a directory", () => { const d = join(dir, "a-dir"); mkdirSync(d, { recursive: true }); return d; }, /is a directory, not a database file/],
      ["a text file", () => { const f = join(dir, "notes.txt"); writeFileSync(f, "hello, not a database\n"); return f; }, /is not a SQLite database file/],
      ["another program's SQLite database", () => foreignDb(join(dir, "foreign.db")), /SQLite database of another program .*An Optuna database\? .*MIGRATING-FROM-OPTUNA/],
    ];
    it.each(cases)("is refused, unchanged, by every command: %s", async (_what, make, message) => {
      const path = make();
      const before = snapshot(path);
      for (const args of [["studies", "list"], ["export", "s1"], ["plot", "s1", "--out", join(dir, "x.png")], ["import", studyFile]]) {
        expectRefusal(await run(...args, "--storage", path), 1, message);
        expect(snapshot(path), `${args[0]} changed ${path}`).toEqual(before);
        expect(existsSync(`${path}.lock`), `${args[0]} left a lock file`).toBe(false);
      }
    });

    it("a newer tuneport's database is refused by readers and writers with the fix (upgrade), and left without -wal or -shm", async () => {
      const path = newerDb(join(dir, "newer.db"), db);
      const before = snapshot(path);
      for (const args of [["studies", "list"], ["export", "s1"], ["import", studyFile], ["serve", "--bind", "tcp://127.0.0.1:0"]]) {
        // Readers were told to "open it with 'tuneport serve' once to migrate", which refuses it; serve left -wal and -shm.
        expectRefusal(await run(...args, "--storage", path), 1, /schema version 99 is newer than this tuneport \(\d+\); upgrade tuneport/);
        expect(snapshot(path), `${args[0]} changed ${path}`).toEqual(before);
        for (const f of [`${path}-wal`, `${path}-shm`, `${path}.lock`]) expect(existsSync(f), `${args[0]} left ${f}`).toBe(false);
      }
    });

    it("a named pipe (FIFO) or a device is refused by serve and import, instead of a hang no signal could stop", async () => {
      const fifo = join(dir, "a.fifo");
      expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
      for (const path of [fifo, "/dev/null"]) {
        const message = path === fifo ? /is a named pipe \(FIFO\), not a database file/ : /is a device, not a database file/;
        for (const args of [["serve", "--bind", "tcp://127.0.0.1:0"], ["import", studyFile]]) {
          // SQLite's open of a FIFO blocked, and SIGINT/SIGTERM could not end it: the hang guard catches that
          // (a 30 s one here also caught a serve still starting at load 22).
          const r = await run(...args, "--storage", path);
          expectRefusal(r, 1, message);
          if (path === fifo) expect(existsSync(`${path}.lock`), `${args[0]} left a lock file`).toBe(false);
        }
      }
      expect(lstatSync(fifo).isFIFO()).toBe(true);
    });

    it("an empty file is no database to read", async () => {
      const f = join(dir, "empty.db");
      writeFileSync(f, "");
      expectRefusal(await run("studies", "list", "--storage", f), 1, /is an empty file, not a tuneport database/);
    });

    it("a database in a folder that does not exist names the folder", async () => {
      expectRefusal(await run("import", studyFile, "--storage", join(dir, "no-such-folder", "x.db")), 1, /there is no folder .*no-such-folder; create it first/);
    });
  });

  it("export and plot --out: a missing folder or a directory is refused and leaves no temporary file", async () => {
    const own = join(dir, "refused-out"); // this case's folder: the others write theirs concurrently
    mkdirSync(own);
    for (const args of [["export", "s1"], ["plot", "s1"]]) {
      expectRefusal(await run(...args, "--storage", db, "--out", join(own, "nowhere", "out.png")), 2, /there is no folder .*nowhere/);
      const outDir = join(own, `out-${args[0]}.png`); // a folder named like the file plot wants
      mkdirSync(outDir);
      expectRefusal(await run(...args, "--storage", db, "--out", outDir), 2, /is a directory; name a file/);
    }
    expectRefusal(await run("export", "nope", "--storage", db, "--out", join(own, "nope.jsonl")), 1, /no study named 'nope'/);
    expect(readdirSync(own).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("export and plot --out the database itself, its -wal file or a hard link to it are refused, and the database stays whole", async () => {
    const victim = join(dir, "victim.db");
    expect((await run("import", studyFile, "--storage", victim)).status).toBe(0);
    const before = (await run("export", "s1", "--storage", victim)).stdout;
    writeFileSync(`${victim}-wal`, ""); // as a server running on it leaves one
    const link = join(dir, "victim-link.png");
    linkSync(victim, link);
    for (const out of [victim, join(dir, ".", "victim.db"), `${victim}-wal`, link])
      expectRefusal(await run("export", "s1", "--storage", victim, "--out", out), 2, /is the --storage database.*: writing there would replace the database/);
    expectRefusal(await run("plot", "s1", "--storage", victim, "--out", link), 2, /is the --storage database: writing there would replace/);
    expect((await run("export", "s1", "--storage", victim)).stdout).toBe(before);
  });

  it("export --out a full device names the file it could not write", async () => {
    expectRefusal(await run("export", "s1", "--storage", db, "--out", "/dev/full"), 1, /cannot write \/dev\/full: .*\(ENOSPC\)/);
  });

  it("export --out interrupted by Ctrl-C leaves no temporary file and no half-written FILE", async () => {
    // A study whose export writes several chunks: 4,000 trials with 30 reports each (~3.6 MB of JSON
    // Lines, a MiB at a time, each followed by a turn of the event loop where the signal is handled).
    const [head, trial] = STUDY.split("\n").map((l) => JSON.parse(l)) as [Record<string, unknown>, Record<string, unknown>];
    const intermediate = Array.from({ length: 30 }, (_, step) => [step, 1 / (step + 1)]);
    const lines = [JSON.stringify({ ...head, name: "long" })];
    for (let number = 0; number < 4_000; number++) lines.push(JSON.stringify({ ...trial, number, intermediate }));
    const src = join(dir, "long.jsonl");
    writeFileSync(src, `${lines.join("\n")}\n`);
    const longDb = join(dir, "long.db");
    expect((await run("import", src, "--storage", longDb)).status).toBe(0);
    const outDir = join(dir, "interrupted");
    mkdirSync(outDir);
    const out = join(outDir, "long.jsonl");
    // The export stops itself (SIGSTOP, fixtures/stop-when-writing.mjs) on the first turn of its loop
    // that finds its temporary file holding something, and is interrupted there, whatever the load.
    // (Polled from here, it ran at nice 19 so as not to finish first; at load 20-30 it outlasted 180 s.)
    const preload = new URL("./fixtures/stop-when-writing.mjs", import.meta.url).href;
    const env = { ...process.env, STOP_WHEN_WRITING_OUT: out };
    const p = spawn(process.execPath, ["--import", preload, CLI, "export", "long", "--storage", longDb, "--out", out], { stdio: ["ignore", "pipe", "pipe"], env });
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    let done = false;
    const exited = new Promise<number | null>((resolve) => p.on("close", (status) => ((done = true), resolve(status))));
    const stopped = () => / T /.test((() => { try { return readFileSync(`/proc/${p.pid}/stat`, "utf8").replace(/^.*\)/s, ""); } catch { return ""; } })());
    while (!done && !stopped()) await new Promise((r) => setTimeout(r, 5));
    expect(done, "the export finished before its temporary file was seen").toBe(false);
    expect(readdirSync(outDir).filter((f) => f.startsWith("long.jsonl.tmp-"))).toHaveLength(1);
    p.kill("SIGINT"); // delivered when it goes on
    p.kill("SIGCONT");
    expect(await exited).toBe(130);
    expect(stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(outDir)).toEqual([]);
  });

  it("export --out a FIFO writes into it, and --out a symbolic link replaces the file it names, not the link", async () => {
    const fifo = join(dir, "pipe.jsonl");
    expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
    // A reader on the FIFO (cat), as `tuneport export s1 --out pipe | ...` would have.
    const reader = spawn("cat", [fifo], { stdio: ["ignore", "pipe", "ignore"] });
    let got = "";
    reader.stdout.on("data", (d: Buffer) => (got += d.toString()));
    const readerDone = new Promise((r) => reader.on("close", r));
    const r = await run("export", "s1", "--storage", db, "--out", fifo);
    expect(r.status, r.stderr).toBe(0);
    await readerDone;
    expect(got.split("\n")[0]).toContain('"name":"s1"');
    expect(statSync(fifo).isFIFO()).toBe(true); // a rename had replaced it with a regular file
    const target = join(dir, "real.jsonl");
    writeFileSync(target, "old\n");
    const link = join(dir, "link.jsonl");
    symlinkSync(target, link);
    expect((await run("export", "s1", "--storage", db, "--out", link)).status).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, "utf8")).toContain('"name":"s1"');
  });

  it("a database with a damaged page: serve refuses without a stack trace or a stale lock, export says it in one line", async () => {
    const many = [
      JSON.parse(STUDY.split("\n")[0] as string),
      ...Array.from({ length: 300 }, (_, number) => ({ ...JSON.parse(STUDY.split("\n")[1] as string), number })),
    ].map((l) => JSON.stringify(l)).join("\n");
    const src = join(dir, "many.jsonl");
    writeFileSync(src, `${many}\n`);
    const damaged = join(dir, "damaged.db");
    expect((await run("import", src, "--storage", damaged)).status).toBe(0);
    const fd = openSync(damaged, "r+");
    writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, 3 * 4096); // one page past the header and schema
    closeSync(fd);
    const served = await run("serve", "--storage", damaged, "--bind", "tcp://127.0.0.1:0", "--log-format", "json");
    expect(served.status).toBe(1);
    expect(served.stdout).toMatch(/integrity check failed; refusing to start/);
    expect(served.stdout + served.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(`${damaged}.lock`)).toBe(false);
    expectRefusal(await run("export", "s1", "--storage", damaged, "--out", join(dir, "d.jsonl")), 1, /database disk image is malformed \(SQLITE_CORRUPT\); the database file is damaged/);
  });

  it("serve on a PostgreSQL server nobody answers at: one line on stderr with the URL's password hidden, no stack trace", async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const served = await run("serve", "--storage", "postgresql://tp:hunter2@127.0.0.1:1/tp", "--bind", "tcp://127.0.0.1:0", "--log-format", "json");
    expect(served.status).toBe(1);
    expect(served.stderr).toMatch(/^tuneport: cannot open the PostgreSQL server at 127\.0\.0\.1:1 \(database tp\): connect ECONNREFUSED.*check that it runs/);
    expect(served.stderr.trim().split("\n")).toHaveLength(1);
    expect(served.stdout).toMatch(/could not open the PostgreSQL storage/);
    expect(served.stdout + served.stderr).not.toMatch(/^\s+at |hunter2/m);
  });

  it("a one-shot command whose stdout fails says so in one line (a full disk), or ends quietly (a closed pipe)", async () => {
    const full = openSync("/dev/full", "w");
    try {
      for (const args of [["studies", "trials", "s1", "--storage", db], ["serve", "--help"], ["--help"]]) {
        expectRefusal(await runWith({ stdout: full }, ...args), 1, /cannot write to stdout: .*\(ENOSPC\)/);
      }
    } finally {
      closeSync(full);
    }
    // `| head -1`: the reader leaves after the first line, long before the 5,000 rows are written.
    const rows = [JSON.parse(STUDY.split("\n")[0] as string), ...Array.from({ length: 5000 }, (_, number) => ({ ...JSON.parse(STUDY.split("\n")[1] as string), number }))];
    const src = join(dir, "rows.jsonl");
    writeFileSync(src, `${rows.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const big = join(dir, "rows.db");
    expect((await run("import", src, "--storage", big)).status).toBe(0);
    const p = spawn(process.execPath, [CLI, "studies", "trials", "s1", "--storage", big, "--limit", "5000"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.stdout.once("data", () => p.stdout.destroy());
    const status = await new Promise((r) => p.on("close", (code) => r(code)));
    expect(stderr).toBe("");
    expect(status).toBe(0);
  });

  it("import of a stream that never ends stops at the limit instead of reading it whole", async () => {
    const r = await run("import", "/dev/zero", "--storage", join(dir, "zero.db"));
    expectRefusal(r, 1, /\/dev\/zero: more than \d+ bytes, more than one import reads/);
    expect(existsSync(join(dir, "zero.db"))).toBe(false);
  });

  it("import of a FILE that is missing or a directory", async () => {
    expectRefusal(await run("import", join(dir, "absent.jsonl"), "--storage", db), 1, /cannot open .*absent\.jsonl: no such file or folder/);
    expectRefusal(await run("import", dir, "--storage", db), 2, /is a directory; name the file 'tuneport export' wrote/);
  });

  describe("a PostgreSQL URL that cannot be reached", () => {
    // Accepts connections and never answers (a wrong port, a stuck proxy): the commands waited forever.
    // One per case (they run concurrently), closed by afterAll.
    const silents: Server[] = [];
    const sockets = new Set<Socket>();
    const listen = async (): Promise<number> => {
      const silent = createServer((s) => sockets.add(s));
      silents.push(silent);
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      return (silent.address() as AddressInfo).port;
    };
    afterAll(() => {
      for (const s of sockets) s.destroy();
      for (const silent of silents) silent.close();
    });

    it("a refused connection is one line naming the server, not the password", async () => {
      const silent = createServer();
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      const port = (silent.address() as AddressInfo).port;
      await new Promise((resolve) => silent.close(resolve)); // nothing listens there now
      const r = await run("studies", "list", "--storage", `postgresql://u:secret-pw@127.0.0.1:${port}/db`);
      expectRefusal(r, 1, /cannot open the PostgreSQL server at 127\.0\.0\.1:\d+ \(database db\): .*ECONNREFUSED.*check that it runs/);
      expect(r.stderr).not.toMatch(/secret-pw/);
    });

    it("a connect_timeout that is no whole number of seconds is refused before connecting", async () => {
      const port = await listen();
      for (const v of ["1.5", "abc", "-3"]) {
        const r = await run("studies", "list", "--storage", `postgresql://u:secret-pw@127.0.0.1:${port}/db?connect_timeout=${v}`);
        expectRefusal(r, 1, new RegExp(`connect_timeout must be a whole number of seconds from 0 \\(the default wait\\) to 999999, not "${v.replace(".", "\\.")}"`));
        expect(r.stderr).not.toMatch(/secret-pw/);
      }
      const env = await runWith({ env: { PGCONNECT_TIMEOUT: "soon" } }, "studies", "list", "--storage", `postgresql://u:p@127.0.0.1:${port}/db`);
      expectRefusal(env, 1, /PGCONNECT_TIMEOUT must be a whole number of seconds/);
    });

    // libpq's connect_timeout (seconds) in the URL bounds the wait instead of the 20 s default (pg ignores it).
    it("a server that never answers fails the command instead of hanging it, after the URL's connect_timeout", async () => {
      const port = await listen();
      const r = await run("export", "s1", "--storage", `postgresql://u:p@127.0.0.1:${port}/db?connect_timeout=2`);
      expectRefusal(r, 1, /cannot open the PostgreSQL server at 127\.0\.0\.1:\d+ .*timeout \(no answer within 2 s; the URL's connect_timeout=SECONDS or PGCONNECT_TIMEOUT sets the wait\)/i);
    });

    it("serve on a database that never answers exits with the reason instead of hanging (PGCONNECT_TIMEOUT bounds it too)", async () => {
      const port = await listen();
      const r = await runWith({ env: { PGCONNECT_TIMEOUT: "2" } }, "serve", "--storage", `postgresql://u:p@127.0.0.1:${port}/db`, "--bind", "tcp://127.0.0.1:0");
      expect(r.signal, "killed by the hang guard").toBeNull();
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/could not open the PostgreSQL storage/);
      expect(r.stdout + r.stderr).toMatch(/cannot open the PostgreSQL server at 127\.0\.0\.1:\d+ .*timeout \(no answer within 2 s;/i);
    });
  });

  it("studies: a word too many is refused (it was ignored and another study shown); TRIAL must be a number", async () => {
    expectRefusal(await run("studies", "show", "s1", "extra", "--storage", db), 2, /'studies show' takes one NAME; unexpected "extra" \(quote a name with spaces\)/);
    expectRefusal(await run("studies", "list", "s1", "--storage", db), 2, /'studies list' takes no NAME/);
    expectRefusal(await run("studies", "lineage", "s1", "0", "x", "--storage", db), 2, /unexpected "x"/);
    expectRefusal(await run("studies", "lineage", "s1", "abc", "--storage", db), 2, /^tuneport: TRIAL must be a trial number/);
  });

  it("an option given twice with different values is refused (the last one used to win silently); the same value twice is kept", async () => {
    const twice = await run("studies", "list", "--storage", db, "--storage", join(dir, "other.db"));
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/^tuneport: --storage was given twice \(".*good\.db" and ".*other\.db"\); give it once\nRun 'tuneport studies --help' for usage\.\n$/);
    expect(existsSync(join(dir, "other.db"))).toBe(false);
    const same = await run("studies", "list", "--storage", db, "--storage", db, "--json", "--json");
    expect(same.stderr).toBe("");
    expect(same.status).toBe(0);
    // Options that take several values (--bind, --state) still do.
    expect((await run("studies", "trials", "s1", "--storage", db, "--state", "COMPLETE", "--state", "FAIL")).status).toBe(0);
  });

  it("plot: an --out that is not .png, a PostgreSQL --storage, a --timeout past a day", async () => {
    const txt = join(dir, "chart.txt");
    expectRefusal(await run("plot", "s1", "--storage", db, "--out", txt), 2, /FILE must end in \.png/);
    expect(existsSync(txt)).toBe(false);
    expectRefusal(await run("plot", "s1", "--storage", "postgresql://u@127.0.0.1:1/db"), 2, /plot reads a SQLite file; with PostgreSQL ask a server .*--connect/);
    // 1e12 s overflowed Node's timer: a warning, and a 1 ms timeout.
    expectRefusal(await run("plot", "s1", "--connect", "tcp://127.0.0.1:1", "--timeout", "1e12"), 2, /--timeout must be a number of seconds in \(0, 86400\]/);
  });

  it.each([["plot", "s1"], ["mcp"]])("%s --connect to an endpoint that is no address is refused with the form to use", async (...cmd) => {
    expectRefusal(await run(...cmd, "--connect", "foo"), 2, /--connect foo: expected the server's address as tcp:\/\/HOST:PORT/);
    expectRefusal(await run(...cmd, "--connect", "127.0.0.1:5555"), 2, /add the scheme: --connect tcp:\/\/127\.0\.0\.1:5555/);
  });

  it.each([["studies show"], ["studies trials"], ["export"], ["plot"]])("'%s' of a study that does not exist lists the ones that do", async (cmd) => {
    const out = cmd === "plot" ? ["--out", join(dir, "s2.png")] : [];
    expectRefusal(await run(...cmd.split(" "), "s2", "--storage", db, ...out), 1, /no study named 's2' \(the studies: "s1"\)/);
  });

  it("import of an Optuna journal says which format import reads, and changes nothing", async () => {
    const journal = join(dir, "s1.optuna");
    expect((await run("export", "s1", "--storage", db, "--format", "optuna", "--out", journal)).status).toBe(0);
    const target = join(dir, "target.db");
    expectRefusal(await run("import", journal, "--storage", target, "--name", "j"), 1, /line 1: this is an Optuna journal .*export the study again without --format optuna/);
    // A refused import leaves no new (empty) database behind.
    expect(existsSync(target)).toBe(false);
    // Into an existing database (a copy of db: an import takes the writer lock, and the cases run
    // concurrently): the database is unchanged (no study 'j').
    const existing = join(dir, "journal-into.db");
    copyFileSync(db, existing);
    expectRefusal(await run("import", journal, "--storage", existing, "--name", "j"), 1, /this is an Optuna journal/);
    expect((await run("studies", "show", "j", "--storage", existing)).stderr).toMatch(/no study named 'j'/);
    expect(existsSync(existing)).toBe(true);
  });

  it.each([
    ["serve", "--bind", "tcp://127.0.0.1:0"],
    ["dashboard", "--port", "0"],
    ["mcp"],
  ])("'%s' refuses a positional word (serve my.db served ./tuneport.db) and an unknown --log-level", async (cmd, ...listen) => {
    // Every other option is valid and points into the temporary folder: the word alone is wrong.
    expectRefusal(await run(cmd, join(dir, "my.db"), "--storage", db, ...listen), 2, new RegExp(`'tuneport ${cmd}' takes no argument ".*my\\.db": the database is --storage`));
    expect(existsSync(join(dir, "my.db"))).toBe(false);
    expectRefusal(await run(cmd, "--storage", db, ...listen, "--log-level", "loud"), 2, /--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/);
    // The environment's defaults are checked alike (pino threw with a stack trace; a bad format was ignored).
    const withEnv = (env: Record<string, string>) => runWith({ env }, cmd, "--storage", db, ...listen);
    expectRefusal(await withEnv({ TUNEPORT_LOG_LEVEL: "loud" }), 2, /\$TUNEPORT_LOG_LEVEL must be one of fatal, .*got "loud"/);
    expectRefusal(await withEnv({ TUNEPORT_LOG_FORMAT: "xml" }), 2, /\$TUNEPORT_LOG_FORMAT must be 'pretty' or 'json', got "xml"/);
  });

  it("a port in use, for workers, MCP over HTTP or the dashboard, is one line on stderr naming it and the option, with no stack trace", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const port = String((holder.address() as AddressInfo).port);
    try {
      const token = ["--mcp-token", "t".repeat(24)];
      const cases: [string[], RegExp][] = [
        [["serve", "--storage", join(dir, "p1.db"), "--bind", `tcp://127.0.0.1:${port}`], new RegExp(`could not listen for workers: tcp://127.0.0.1:${port} is already in use .*--bind`)],
        [["serve", "--storage", join(dir, "p2.db"), "--bind", "tcp://127.0.0.1:0", "--mcp-http", port, ...token], new RegExp(`could not listen for MCP over HTTP: 127.0.0.1:${port} is already in use .*--mcp-http`)],
        [["serve", "--storage", join(dir, "p3.db"), "--bind", "tcp://127.0.0.1:0", "--dashboard", port], new RegExp(`could not listen for the dashboard: 127.0.0.1:${port} is already in use .*--dashboard`)],
        [["dashboard", "--storage", db, "--port", port], new RegExp(`could not listen for the dashboard: 127.0.0.1:${port} is already in use .*--port/--dashboard-host\\n?$`)],
        [["mcp", "--storage", join(dir, "p4.db"), "--bind", `tcp://127.0.0.1:${port}`], new RegExp(`could not listen for workers: tcp://127.0.0.1:${port} is already in use .*--bind`)],
      ];
      for (const [args, message] of cases) {
        // JSON logs: the reason used to reach stdout only (and with a stack trace).
        const r = await run(...args, ...(args[0] === "mcp" ? [] : ["--log-format", "json"]));
        expect(r.signal, args.join(" ")).toBeNull();
        expect(r.status, args.join(" ")).toBe(1);
        expect(r.stderr, args.join(" ")).toMatch(message);
        // (mcp logs to stderr, its stdout being the protocol: its JSON log lines are left aside.)
        expect(r.stderr.trim().split("\n").filter((l) => !l.startsWith("{")), args.join(" ")).toHaveLength(1);
        expect(`${r.stdout}${r.stderr}`, args.join(" ")).not.toMatch(/^\s+at /m);
      }
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("serve refused for a port in use leaves no database it created, and keeps one that was there", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    try {
      const bind = `tcp://127.0.0.1:${(holder.address() as AddressInfo).port}`;
      const fresh = join(dir, "fresh.db");
      const r = await run("serve", "--storage", fresh, "--bind", bind, "--log-format", "json");
      expect([r.signal, r.status]).toEqual([null, 1]);
      expect(r.stdout).toMatch(/could not bind/);
      expect(readdirSync(dir).filter((f) => f.startsWith("fresh.db"))).toEqual([]);
      // Kept: its mode and what it holds (the server recorded itself as the writer while it ran,
      // and removed the record on the way out, so the bytes are not the same). A copy of db: the
      // server writes to it, and the other cases read db concurrently.
      const existing = join(dir, "existing.db");
      copyFileSync(db, existing);
      const kept = async () => ({ mode: statSync(existing).mode, study: (await run("export", "s1", "--storage", existing)).stdout });
      const before = await kept();
      expect(before.study).toMatch(/"name":"s1"/);
      expect((await run("serve", "--storage", existing, "--bind", bind, "--log-format", "json")).status).toBe(1);
      expect(await kept()).toEqual(before);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("serve and mcp refuse an ipc:// --bind on a file (ZeroMQ would delete it), and mcp checks --bind as serve does", async () => {
    const victim = join(dir, "victim.jsonl");
    writeFileSync(victim, "keep me\n");
    for (const cmd of ["serve", "mcp"]) {
      expectRefusal(await run(cmd, "--storage", join(dir, `${cmd}-new.db`), "--bind", `ipc://${victim}`), 2, /not a socket: binding would delete it/);
      expectRefusal(await run(cmd, "--storage", db, "--bind", `ipc://${db}`), 2, /that is the --storage database/);
      expect(existsSync(join(dir, `${cmd}-new.db`))).toBe(false);
    }
    expect(readFileSync(victim, "utf8")).toBe("keep me\n");
    expect(statSync(db).isFile()).toBe(true);
    expectRefusal(await run("mcp", "--storage", join(dir, "m.db"), "--bind", "tcp://127.0.0.1:99999"), 2, /port 99999 is out of range/);
    expectRefusal(await run("mcp", "--storage", join(dir, "m.db"), "--bind", "127.0.0.1:49581"), 2, /add the scheme/);
  });

  it("serve --curve-secret / --curve-allow naming a missing file says which option and where the keys come from", async () => {
    const keys = join(dir, "keys");
    expect((await run("keygen", "--out", keys)).status).toBe(0);
    const serve = ["serve", "--storage", db, "--bind", "tcp://127.0.0.1:0"];
    expectRefusal(await run(...serve, "--curve-secret", join(keys, "server.key"), "--curve-allow", join(dir, "no-clients")), 2, /^tuneport: --curve-allow .*no-clients: cannot stat .*no such file or folder \(ENOENT\); see 'tuneport keygen'/);
    expectRefusal(await run(...serve, "--curve-secret", join(dir, "none.key"), "--curve-allow", keys), 2, /^tuneport: --curve-secret .*none\.key: cannot open/);
    // A file that holds the wrong thing names the option too (it named the file only).
    expectRefusal(await run(...serve, "--curve-secret", join(keys, "server.pub"), "--curve-allow", keys), 2, /^tuneport: --curve-secret .*server\.pub: it is not a CURVE secret key file/);
    writeFileSync(join(dir, "short.key"), 'public-key = "abc"\nsecret-key = "abc"\n');
    expectRefusal(await run(...serve, "--curve-secret", join(dir, "short.key"), "--curve-allow", keys), 2, /^tuneport: --curve-secret .*short\.key: 'public-key' is not a 40-character Z85 CURVE key/);
  });

  it("serve --advertise: an endpoint clients cannot dial is refused, and with SQLite it has no use", async () => {
    expectRefusal(await run("serve", "--storage", "postgresql://u@127.0.0.1:1/db", "--advertise", "junk!"), 2, /--advertise junk!: expected the server's address as tcp:\/\/HOST:PORT/);
    expectRefusal(await run("serve", "--storage", "postgresql://u@127.0.0.1:1/db", "--advertise", "tcp://10.0.0.1:99999"), 2, /--advertise .*port 99999 is out of range/);
    expectRefusal(await run("serve", "--storage", join(dir, "adv.db"), "--advertise", "tcp://127.0.0.1:5555"), 2, /--advertise is for PostgreSQL storage/);
    expect(existsSync(join(dir, "adv.db"))).toBe(false);
  });

  it("serve: an option whose feature is off is refused (it was ignored: no MCP, no dashboard, no ownership, and no word)", async () => {
    const cases: [string[], string][] = [
      [["--mcp-host", "0.0.0.0", "--mcp-token", "t".repeat(24)], "--mcp-token has no effect without --mcp-http PORT"],
      [["--mcp-host", "0.0.0.0"], "--mcp-host has no effect without --mcp-http PORT"],
      [["--mcp-allow-host", "proxy.internal"], "--mcp-allow-host has no effect without --mcp-http PORT"],
      [["--mcp-max-client-calls", "16"], "--mcp-max-client-calls has no effect without --mcp-http PORT"],
      [["--dashboard-host", "0.0.0.0", "--dashboard-token", "d".repeat(24)], "--dashboard-token has no effect without --dashboard PORT"],
      [["--dashboard-allow-host", "proxy.internal"], "--dashboard-allow-host has no effect without --dashboard PORT"],
      [["--ownership-ttl", "5"], "--ownership-ttl has no effect without PostgreSQL storage"],
    ];
    for (const [args, message] of cases) {
      expectRefusal(await run("serve", "--storage", join(dir, "idle.db"), "--bind", "tcp://127.0.0.1:0", ...args), 2, new RegExp(message));
      expect(existsSync(join(dir, "idle.db")), args.join(" ")).toBe(false);
    }
  });

  it("a bearer token no request could match (spaces, a newline) is refused at start", async () => {
    expectRefusal(await runWith({ env: { TUNEPORT_MCP_TOKEN: " ".repeat(20) } }, "serve", "--storage", join(dir, "tok.db"), "--mcp-http", "0"), 2, /MCP token must be printable ASCII without spaces/);
    expectRefusal(await run("dashboard", "--storage", db, "--dashboard-token", "abcdefghijklmnop\nq"), 2, /dashboard token must be printable ASCII without spaces/);
    expect(existsSync(join(dir, "tok.db"))).toBe(false);
    // An empty variable is no token: a serve without --mcp-http starts (and stops on SIGINT).
    const p = spawn(process.execPath, [CLI, "serve", "--storage", join(dir, "tok2.db"), "--bind", "tcp://127.0.0.1:0", "--log-format", "json"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, TUNEPORT_MCP_TOKEN: "" },
    });
    let out = "";
    p.stdout.on("data", (d: Buffer) => {
      const ready = /zmq listening/.test(out);
      out += d.toString();
      if (!ready && /zmq listening/.test(out)) p.kill("SIGINT"); // once: a second one forces the exit
    });
    const hang = setTimeout(() => p.kill("SIGKILL"), 120_000); // only catches a hang
    expect(await new Promise((r) => p.on("close", (code) => r(code)))).toBe(0);
    clearTimeout(hang);
    expect(out).toMatch(/zmq listening/);
  });

  it("keygen --out a file, or a folder that cannot be made, is refused (not a hang)", async () => {
    const f = join(dir, "a-file");
    writeFileSync(f, "x");
    expectRefusal(await run("keygen", "--out", f), 2, /is a file, not a folder/);
    // Node's recursive mkdir loops forever where /proc answers ENOENT.
    if (existsSync("/proc/self")) expectRefusal(await run("keygen", "--out", "/proc/tuneport-no-such-dir"), 2, /cannot create the folder/);
    // Half a pair already there (either half): refused, and nothing written beside it.
    for (const [have, missing] of [["z.key", "z.pub"], ["y.pub", "y.key"]] as const) {
      const keys = join(dir, `keys-${have}`);
      mkdirSync(keys);
      writeFileSync(join(keys, have), "old\n");
      expectRefusal(await run("keygen", have.split(".")[0] as string, "--out", keys), 2, /exists; not overwriting a key/);
      expect(readdirSync(keys)).toEqual([have]);
      expect(existsSync(join(keys, missing))).toBe(false);
    }
  });
});

/** A SQLite database with a table of its own and no tuneport schema (made with the CLI's own driver). */
function foreignDb(path: string): string {
  if (!existsSync(path)) {
    const r = spawnSync(process.execPath, ["-e", `const D = require("better-sqlite3"); const d = new D(${JSON.stringify(path)}); d.exec("CREATE TABLE notes (x)"); d.close();`], {
      cwd: join(import.meta.dirname, ".."),
      encoding: "utf8",
    });
    expect(r.status, r.stderr).toBe(0);
    chmodSync(path, 0o644);
  }
  return path;
}

/** A copy of the tuneport database `from` at `path` whose schema version is 99, as a newer tuneport's would be. */
function newerDb(path: string, from: string): string {
  writeFileSync(path, readFileSync(from));
  const r = spawnSync(process.execPath, ["-e", `const D = require("better-sqlite3"); const d = new D(${JSON.stringify(path)}); d.pragma("journal_mode = DELETE"); d.pragma("user_version = 99"); d.close();`], {
    cwd: join(import.meta.dirname, ".."),
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  chmodSync(path, 0o600);
  return path;
}

/** A file's bytes and mode, or a directory's entries. */
function snapshot(path: string): unknown {
  const st = statSync(path);
  return st.isDirectory() ? readdirSync(path) : { bytes: readFileSync(path).toString("base64"), mode: st.mode };
}
