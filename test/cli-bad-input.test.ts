/**
 * The command line given bad input, as a user who mistypes things meets it: one line saying what is
 * wrong and how to fix it, a non-zero exit status, never a stack trace, never a hang, and nothing
 * changed by a refused command.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, closeSync, existsSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, tempDir } from "./helpers.js";

const run = (...args: string[]) =>
  spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL" }); // the timeout only catches a hang

/** `run` without blocking this process (its servers keep answering). */
const runAsync = (...args: string[]) => runAsyncWith({}, ...args);

/** `runAsync` with variables added to the environment. */
const runAsyncWith = (env: Record<string, string>, ...args: string[]) =>
  new Promise<ReturnType<typeof run>>((resolve) => {
    const p = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    p.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const hang = setTimeout(() => p.kill("SIGKILL"), 120_000); // only catches a hang
    p.on("close", (status, signal) => {
      clearTimeout(hang);
      resolve({ status, signal, stdout, stderr, pid: p.pid ?? 0, output: [null, stdout, stderr] });
    });
  });

/** Exits with `status`, says `message` on one `tuneport:` line, and prints no stack trace. */
function expectRefusal(r: ReturnType<typeof run>, status: number, message: RegExp): void {
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

describe("tuneport given bad input", () => {
  let dir: string;
  let db: string;
  let studyFile: string;

  beforeAll(() => {
    dir = tempDir();
    db = join(dir, "good.db");
    studyFile = join(dir, "s1.jsonl");
    writeFileSync(studyFile, `${STUDY}\n`);
    const r = run("import", studyFile, "--storage", db);
    expect(r.stderr).toMatch(/imported study 's1' with 2 trials/);
  });

  it("an empty --storage (an unset shell variable) is refused naming the option and what it takes", () => {
    // It said "cannot open the database : ENOENT: no such file or directory, open ''".
    const cases: [string[], RegExp][] = [
      [["serve", "--storage", "", "--bind", "tcp://127.0.0.1:1"], /^tuneport: --storage is empty; it takes PATH\|URL: SQLite database file .*postgresql:\/\//],
      [["studies", "list", "--storage", ""], /^tuneport: --storage is empty; it takes PATH: SQLite database file/],
      [["serve", "--storage", db, "--lease-ttl", " "], /^tuneport: --lease-ttl is empty; it takes SECONDS: default lease time-to-live/],
    ];
    for (const [args, message] of cases) expectRefusal(run(...args), 2, message);
  });

  describe("a --storage path that is not a tuneport database", () => {
    const cases: [string, () => string, RegExp][] = [
      ["a directory", () => { const d = join(dir, "a-dir"); mkdirSync(d, { recursive: true }); return d; }, /is a directory, not a database file/],
      ["a text file", () => { const f = join(dir, "notes.txt"); writeFileSync(f, "hello, not a database\n"); return f; }, /is not a SQLite database file/],
      ["another program's SQLite database", () => foreignDb(join(dir, "foreign.db")), /SQLite database of another program/],
    ];
    it.each(cases)("is refused, unchanged, by every command: %s", (_what, make, message) => {
      const path = make();
      const before = snapshot(path);
      for (const args of [["studies", "list"], ["export", "s1"], ["plot", "s1", "--out", join(dir, "x.png")], ["import", studyFile]]) {
        expectRefusal(run(...args, "--storage", path), 1, message);
        expect(snapshot(path), `${args[0]} changed ${path}`).toEqual(before);
        expect(existsSync(`${path}.lock`), `${args[0]} left a lock file`).toBe(false);
      }
    });

    it("a newer tuneport's database is refused by readers and writers with the fix (upgrade), and left without -wal or -shm", () => {
      const path = newerDb(join(dir, "newer.db"), db);
      const before = snapshot(path);
      for (const args of [["studies", "list"], ["export", "s1"], ["import", studyFile], ["serve", "--bind", "tcp://127.0.0.1:0"]]) {
        // Readers were told to "open it with 'tuneport serve' once to migrate", which refuses it; serve left -wal and -shm.
        expectRefusal(run(...args, "--storage", path), 1, /schema version 99 is newer than this tuneport \(\d+\); upgrade tuneport/);
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
          // Short guard: SQLite's open of a FIFO blocked, and SIGINT/SIGTERM could not end it.
          const r = spawnSync(process.execPath, [CLI, ...args, "--storage", path], { encoding: "utf8", timeout: 30_000, killSignal: "SIGKILL" });
          expectRefusal(r, 1, message);
          if (path === fifo) expect(existsSync(`${path}.lock`), `${args[0]} left a lock file`).toBe(false);
        }
      }
      expect(lstatSync(fifo).isFIFO()).toBe(true);
    });

    it("an empty file is no database to read", () => {
      const f = join(dir, "empty.db");
      writeFileSync(f, "");
      expectRefusal(run("studies", "list", "--storage", f), 1, /is an empty file, not a tuneport database/);
    });

    it("a database in a folder that does not exist names the folder", () => {
      expectRefusal(run("import", studyFile, "--storage", join(dir, "no-such-folder", "x.db")), 1, /there is no folder .*no-such-folder; create it first/);
    });
  });

  it("export and plot --out: a missing folder or a directory is refused and leaves no temporary file", () => {
    for (const args of [["export", "s1"], ["plot", "s1"]]) {
      expectRefusal(run(...args, "--storage", db, "--out", join(dir, "nowhere", "out.png")), 2, /there is no folder .*nowhere/);
      const outDir = join(dir, `out-${args[0]}.png`); // a folder named like the file plot wants
      mkdirSync(outDir);
      expectRefusal(run(...args, "--storage", db, "--out", outDir), 2, /is a directory; name a file/);
    }
    expectRefusal(run("export", "nope", "--storage", db, "--out", join(dir, "nope.jsonl")), 1, /no study named 'nope'/);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("export and plot --out the database itself, its -wal file or a hard link to it are refused, and the database stays whole", () => {
    const victim = join(dir, "victim.db");
    expect(run("import", studyFile, "--storage", victim).status).toBe(0);
    const before = run("export", "s1", "--storage", victim).stdout;
    writeFileSync(`${victim}-wal`, ""); // as a server running on it leaves one
    const link = join(dir, "victim-link.png");
    linkSync(victim, link);
    for (const out of [victim, join(dir, ".", "victim.db"), `${victim}-wal`, link])
      expectRefusal(run("export", "s1", "--storage", victim, "--out", out), 2, /is the --storage database.*: writing there would replace the database/);
    expectRefusal(run("plot", "s1", "--storage", victim, "--out", link), 2, /is the --storage database: writing there would replace/);
    expect(run("export", "s1", "--storage", victim).stdout).toBe(before);
  });

  it("export --out a full device names the file it could not write", () => {
    expectRefusal(run("export", "s1", "--storage", db, "--out", "/dev/full"), 1, /cannot write \/dev\/full: .*\(ENOSPC\)/);
  });

  it("export --out interrupted by Ctrl-C leaves no temporary file and no half-written FILE", async () => {
    // A study whose export takes a while: 10,000 trials with 30 reports each (~9 MB of JSON Lines,
    // a MiB at a time, each followed by a turn of the event loop where the signal is handled). The
    // check below sees the first MiB within a poll (5 ms) of its write; the rest takes over a second
    // of CPU. (30,000 trials gave no more coverage, and their import took a quarter of this file's time.)
    const [head, trial] = STUDY.split("\n").map((l) => JSON.parse(l)) as [Record<string, unknown>, Record<string, unknown>];
    const intermediate = Array.from({ length: 30 }, (_, step) => [step, 1 / (step + 1)]);
    const lines = [JSON.stringify({ ...head, name: "long" })];
    for (let number = 0; number < 10_000; number++) lines.push(JSON.stringify({ ...trial, number, intermediate }));
    const src = join(dir, "long.jsonl");
    writeFileSync(src, `${lines.join("\n")}\n`);
    const longDb = join(dir, "long.db");
    expect(run("import", src, "--storage", longDb).status).toBe(0);
    const outDir = join(dir, "interrupted");
    mkdirSync(outDir);
    const out = join(outDir, "long.jsonl");
    const p = spawn(process.execPath, [CLI, "export", "long", "--storage", longDb, "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => p.on("close", (status) => resolve(status)));
    // Once the temporary file holds something, interrupt.
    for (let i = 0; i < 6000 && !readdirSync(outDir).some((f) => f.startsWith("long.jsonl.tmp-") && statSync(join(outDir, f)).size > 0); i++)
      await new Promise((r) => setTimeout(r, 5));
    p.kill("SIGINT");
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
    const r = await runAsync("export", "s1", "--storage", db, "--out", fifo);
    expect(r.status, r.stderr).toBe(0);
    await readerDone;
    expect(got.split("\n")[0]).toContain('"name":"s1"');
    expect(statSync(fifo).isFIFO()).toBe(true); // a rename had replaced it with a regular file
    const target = join(dir, "real.jsonl");
    writeFileSync(target, "old\n");
    const link = join(dir, "link.jsonl");
    symlinkSync(target, link);
    expect(run("export", "s1", "--storage", db, "--out", link).status).toBe(0);
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
    expect(run("import", src, "--storage", damaged).status).toBe(0);
    const fd = openSync(damaged, "r+");
    writeSync(fd, Buffer.alloc(4096, 0xff), 0, 4096, 3 * 4096); // one page past the header and schema
    closeSync(fd);
    const served = await runAsync("serve", "--storage", damaged, "--bind", "tcp://127.0.0.1:0", "--log-format", "json");
    expect(served.status).toBe(1);
    expect(served.stdout).toMatch(/integrity check failed; refusing to start/);
    expect(served.stdout + served.stderr).not.toMatch(/^\s+at /m);
    expect(existsSync(`${damaged}.lock`)).toBe(false);
    expectRefusal(run("export", "s1", "--storage", damaged, "--out", join(dir, "d.jsonl")), 1, /database disk image is malformed \(SQLITE_CORRUPT\); the database file is damaged/);
  });

  it("serve on a PostgreSQL server nobody answers at: one line on stderr with the URL's password hidden, no stack trace", async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    const served = await runAsync("serve", "--storage", "postgresql://tp:hunter2@127.0.0.1:1/tp", "--bind", "tcp://127.0.0.1:0", "--log-format", "json");
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
        const r = spawnSync(process.execPath, [CLI, ...args], { stdio: ["ignore", full, "pipe"], encoding: "utf8", timeout: 120_000 });
        expectRefusal({ ...r, stdout: "" } as ReturnType<typeof run>, 1, /cannot write to stdout: .*\(ENOSPC\)/);
      }
    } finally {
      closeSync(full);
    }
    // `| head -1`: the reader leaves after the first line, long before the 5,000 rows are written.
    const rows = [JSON.parse(STUDY.split("\n")[0] as string), ...Array.from({ length: 5000 }, (_, number) => ({ ...JSON.parse(STUDY.split("\n")[1] as string), number }))];
    const src = join(dir, "rows.jsonl");
    writeFileSync(src, `${rows.map((l) => JSON.stringify(l)).join("\n")}\n`);
    const big = join(dir, "rows.db");
    expect(run("import", src, "--storage", big).status).toBe(0);
    const p = spawn(process.execPath, [CLI, "studies", "trials", "s1", "--storage", big, "--limit", "5000"], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    p.stdout.once("data", () => p.stdout.destroy());
    const status = await new Promise((r) => p.on("close", (code) => r(code)));
    expect(stderr).toBe("");
    expect(status).toBe(0);
  });

  it("import of a stream that never ends stops at the limit instead of reading it whole", () => {
    const r = run("import", "/dev/zero", "--storage", join(dir, "zero.db"));
    expectRefusal(r, 1, /\/dev\/zero: more than \d+ bytes, more than one import reads/);
    expect(existsSync(join(dir, "zero.db"))).toBe(false);
  });

  it("import of a FILE that is missing or a directory", () => {
    expectRefusal(run("import", join(dir, "absent.jsonl"), "--storage", db), 1, /cannot open .*absent\.jsonl: no such file or folder/);
    expectRefusal(run("import", dir, "--storage", db), 2, /is a directory; name the file 'tuneport export' wrote/);
  });

  describe("a PostgreSQL URL that cannot be reached", () => {
    // Accepts connections and never answers (a wrong port, a stuck proxy): the commands waited forever.
    let silent: Server;
    const sockets = new Set<Socket>();
    const listen = async () => {
      silent = createServer((s) => sockets.add(s));
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    };
    beforeAll(listen);
    afterAll(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });

    it("a refused connection is one line naming the server, not the password", () => {
      const port = (silent.address() as AddressInfo).port;
      silent.close(); // nothing listens there now... until the next test reopens
      const r = run("studies", "list", "--storage", `postgresql://u:secret-pw@127.0.0.1:${port}/db`);
      expectRefusal(r, 1, /cannot open the PostgreSQL server at 127\.0\.0\.1:\d+ \(database db\): .*ECONNREFUSED.*check that it runs/);
      expect(r.stderr).not.toMatch(/secret-pw/);
    });

    it("a connect_timeout that is no whole number of seconds is refused before connecting", async () => {
      await listen();
      const port = (silent.address() as AddressInfo).port;
      for (const v of ["1.5", "abc", "-3"]) {
        const r = run("studies", "list", "--storage", `postgresql://u:secret-pw@127.0.0.1:${port}/db?connect_timeout=${v}`);
        expectRefusal(r, 1, new RegExp(`connect_timeout must be a whole number of seconds from 0 \\(the default wait\\) to 999999, not "${v.replace(".", "\\.")}"`));
        expect(r.stderr).not.toMatch(/secret-pw/);
      }
      const env = spawnSync(process.execPath, [CLI, "studies", "list", "--storage", `postgresql://u:p@127.0.0.1:${port}/db`], {
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, PGCONNECT_TIMEOUT: "soon" },
      });
      expectRefusal(env, 1, /PGCONNECT_TIMEOUT must be a whole number of seconds/);
    });

    // libpq's connect_timeout (seconds) in the URL bounds the wait instead of the 20 s default (pg ignores it).
    it("a server that never answers fails the command instead of hanging it, after the URL's connect_timeout", async () => {
      await listen();
      const port = (silent.address() as AddressInfo).port;
      const r = await runAsync("export", "s1", "--storage", `postgresql://u:p@127.0.0.1:${port}/db?connect_timeout=2`);
      expectRefusal(r, 1, /cannot open the PostgreSQL server at 127\.0\.0\.1:\d+ .*timeout \(no answer within 2 s; the URL's connect_timeout=SECONDS or PGCONNECT_TIMEOUT sets the wait\)/i);
    });

    it("serve on a database that never answers exits with the reason instead of hanging (PGCONNECT_TIMEOUT bounds it too)", async () => {
      await listen();
      const port = (silent.address() as AddressInfo).port;
      const r = await runAsyncWith({ PGCONNECT_TIMEOUT: "2" }, "serve", "--storage", `postgresql://u:p@127.0.0.1:${port}/db`, "--bind", "tcp://127.0.0.1:0");
      expect(r.signal, "killed by the hang guard").toBeNull();
      expect(r.status, r.stderr).not.toBe(0);
      expect(r.stdout + r.stderr).toMatch(/could not open the PostgreSQL storage/);
      expect(r.stdout + r.stderr).toMatch(/cannot open the PostgreSQL server at 127\.0\.0\.1:\d+ .*timeout \(no answer within 2 s;/i);
    });
  });

  it("studies: a word too many is refused (it was ignored and another study shown); TRIAL must be a number", () => {
    expectRefusal(run("studies", "show", "s1", "extra", "--storage", db), 2, /'studies show' takes one NAME; unexpected "extra" \(quote a name with spaces\)/);
    expectRefusal(run("studies", "list", "s1", "--storage", db), 2, /'studies list' takes no NAME/);
    expectRefusal(run("studies", "lineage", "s1", "0", "x", "--storage", db), 2, /unexpected "x"/);
    expectRefusal(run("studies", "lineage", "s1", "abc", "--storage", db), 2, /^tuneport: TRIAL must be a trial number/);
  });

  it("an option given twice with different values is refused (the last one used to win silently); the same value twice is kept", () => {
    const twice = run("studies", "list", "--storage", db, "--storage", join(dir, "other.db"));
    expect(twice.status).toBe(2);
    expect(twice.stderr).toMatch(/^tuneport: --storage was given twice \(".*good\.db" and ".*other\.db"\); give it once\nRun 'tuneport studies --help' for usage\.\n$/);
    expect(existsSync(join(dir, "other.db"))).toBe(false);
    const same = run("studies", "list", "--storage", db, "--storage", db, "--json", "--json");
    expect(same.stderr).toBe("");
    expect(same.status).toBe(0);
    // Options that take several values (--bind, --state) still do.
    expect(run("studies", "trials", "s1", "--storage", db, "--state", "COMPLETE", "--state", "FAIL").status).toBe(0);
  });

  it("plot: an --out that is not .png, a PostgreSQL --storage, a --timeout past a day", () => {
    const txt = join(dir, "chart.txt");
    expectRefusal(run("plot", "s1", "--storage", db, "--out", txt), 2, /FILE must end in \.png/);
    expect(existsSync(txt)).toBe(false);
    expectRefusal(run("plot", "s1", "--storage", "postgresql://u@127.0.0.1:1/db"), 2, /plot reads a SQLite file; with PostgreSQL ask a server .*--connect/);
    // 1e12 s overflowed Node's timer: a warning, and a 1 ms timeout.
    expectRefusal(run("plot", "s1", "--connect", "tcp://127.0.0.1:1", "--timeout", "1e12"), 2, /--timeout must be a number of seconds in \(0, 86400\]/);
  });

  it.each([["plot", "s1"], ["mcp"]])("%s --connect to an endpoint that is no address is refused with the form to use", (...cmd) => {
    expectRefusal(run(...cmd, "--connect", "foo"), 2, /--connect foo: expected the server's address as tcp:\/\/HOST:PORT/);
    expectRefusal(run(...cmd, "--connect", "127.0.0.1:5555"), 2, /add the scheme: --connect tcp:\/\/127\.0\.0\.1:5555/);
  });

  it.each([["studies show"], ["studies trials"], ["export"], ["plot"]])("'%s' of a study that does not exist lists the ones that do", (cmd) => {
    const out = cmd === "plot" ? ["--out", join(dir, "s2.png")] : [];
    expectRefusal(run(...cmd.split(" "), "s2", "--storage", db, ...out), 1, /no study named 's2' \(the studies: "s1"\)/);
  });

  it("import of an Optuna journal says which format import reads, and changes nothing", () => {
    const journal = join(dir, "s1.optuna");
    expect(run("export", "s1", "--storage", db, "--format", "optuna", "--out", journal).status).toBe(0);
    const target = join(dir, "target.db");
    expectRefusal(run("import", journal, "--storage", target, "--name", "j"), 1, /line 1: this is an Optuna journal .*export the study again without --format optuna/);
    // A refused import leaves no new (empty) database behind.
    expect(existsSync(target)).toBe(false);
    // Into an existing database: the database is unchanged (no study 'j').
    expectRefusal(run("import", journal, "--storage", db, "--name", "j"), 1, /this is an Optuna journal/);
    expect(run("studies", "show", "j", "--storage", db).stderr).toMatch(/no study named 'j'/);
    expect(existsSync(db)).toBe(true);
  });

  it.each([
    ["serve", "--bind", "tcp://127.0.0.1:0"],
    ["dashboard", "--port", "0"],
    ["mcp"],
  ])("'%s' refuses a positional word (serve my.db served ./tuneport.db) and an unknown --log-level", (cmd, ...listen) => {
    // Every other option is valid and points into the temporary folder: the word alone is wrong.
    expectRefusal(run(cmd, join(dir, "my.db"), "--storage", db, ...listen), 2, new RegExp(`'tuneport ${cmd}' takes no argument ".*my\\.db": the database is --storage`));
    expect(existsSync(join(dir, "my.db"))).toBe(false);
    expectRefusal(run(cmd, "--storage", db, ...listen, "--log-level", "loud"), 2, /--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"/);
    // The environment's defaults are checked alike (pino threw with a stack trace; a bad format was ignored).
    const withEnv = (env: Record<string, string>) =>
      spawnSync(process.execPath, [CLI, cmd, "--storage", db, ...listen], { encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL", env: { ...process.env, ...env } });
    expectRefusal(withEnv({ TUNEPORT_LOG_LEVEL: "loud" }), 2, /\$TUNEPORT_LOG_LEVEL must be one of fatal, .*got "loud"/);
    expectRefusal(withEnv({ TUNEPORT_LOG_FORMAT: "xml" }), 2, /\$TUNEPORT_LOG_FORMAT must be 'pretty' or 'json', got "xml"/);
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
        const r = await runAsync(...args, ...(args[0] === "mcp" ? [] : ["--log-format", "json"]));
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
      const r = await runAsync("serve", "--storage", fresh, "--bind", bind, "--log-format", "json");
      expect([r.signal, r.status]).toEqual([null, 1]);
      expect(r.stdout).toMatch(/could not bind/);
      expect(readdirSync(dir).filter((f) => f.startsWith("fresh.db"))).toEqual([]);
      // Kept: its mode and what it holds (the server recorded itself as the writer while it ran,
      // and removed the record on the way out, so the bytes are not the same).
      const kept = () => ({ mode: statSync(db).mode, study: run("export", "s1", "--storage", db).stdout });
      const before = kept();
      expect(before.study).toMatch(/"name":"s1"/);
      expect((await runAsync("serve", "--storage", db, "--bind", bind, "--log-format", "json")).status).toBe(1);
      expect(kept()).toEqual(before);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  it("serve and mcp refuse an ipc:// --bind on a file (ZeroMQ would delete it), and mcp checks --bind as serve does", () => {
    const victim = join(dir, "victim.jsonl");
    writeFileSync(victim, "keep me\n");
    for (const cmd of ["serve", "mcp"]) {
      expectRefusal(run(cmd, "--storage", join(dir, `${cmd}-new.db`), "--bind", `ipc://${victim}`), 2, /not a socket: binding would delete it/);
      expectRefusal(run(cmd, "--storage", db, "--bind", `ipc://${db}`), 2, /that is the --storage database/);
      expect(existsSync(join(dir, `${cmd}-new.db`))).toBe(false);
    }
    expect(readFileSync(victim, "utf8")).toBe("keep me\n");
    expect(statSync(db).isFile()).toBe(true);
    expectRefusal(run("mcp", "--storage", join(dir, "m.db"), "--bind", "tcp://127.0.0.1:99999"), 2, /port 99999 is out of range/);
    expectRefusal(run("mcp", "--storage", join(dir, "m.db"), "--bind", "127.0.0.1:49581"), 2, /add the scheme/);
  });

  it("serve --curve-secret / --curve-allow naming a missing file says which option and where the keys come from", () => {
    const keys = join(dir, "keys");
    expect(run("keygen", "--out", keys).status).toBe(0);
    const serve = ["serve", "--storage", db, "--bind", "tcp://127.0.0.1:0"];
    expectRefusal(run(...serve, "--curve-secret", join(keys, "server.key"), "--curve-allow", join(dir, "no-clients")), 2, /^tuneport: --curve-allow .*no-clients: cannot stat .*no such file or folder \(ENOENT\); see 'tuneport keygen'/);
    expectRefusal(run(...serve, "--curve-secret", join(dir, "none.key"), "--curve-allow", keys), 2, /^tuneport: --curve-secret .*none\.key: cannot open/);
    // A file that holds the wrong thing names the option too (it named the file only).
    expectRefusal(run(...serve, "--curve-secret", join(keys, "server.pub"), "--curve-allow", keys), 2, /^tuneport: --curve-secret .*server\.pub: it is not a CURVE secret key file/);
    writeFileSync(join(dir, "short.key"), 'public-key = "abc"\nsecret-key = "abc"\n');
    expectRefusal(run(...serve, "--curve-secret", join(dir, "short.key"), "--curve-allow", keys), 2, /^tuneport: --curve-secret .*short\.key: 'public-key' is not a 40-character Z85 CURVE key/);
  });

  it("serve --advertise: an endpoint clients cannot dial is refused, and with SQLite it has no use", () => {
    expectRefusal(run("serve", "--storage", "postgresql://u@127.0.0.1:1/db", "--advertise", "junk!"), 2, /--advertise junk!: expected the server's address as tcp:\/\/HOST:PORT/);
    expectRefusal(run("serve", "--storage", "postgresql://u@127.0.0.1:1/db", "--advertise", "tcp://10.0.0.1:99999"), 2, /--advertise .*port 99999 is out of range/);
    expectRefusal(run("serve", "--storage", join(dir, "adv.db"), "--advertise", "tcp://127.0.0.1:5555"), 2, /--advertise is for PostgreSQL storage/);
    expect(existsSync(join(dir, "adv.db"))).toBe(false);
  });

  it("serve: an option whose feature is off is refused (it was ignored: no MCP, no dashboard, no ownership, and no word)", () => {
    const cases: [string[], string][] = [
      [["--mcp-host", "0.0.0.0", "--mcp-token", "t".repeat(24)], "--mcp-token has no effect without --mcp-http PORT"],
      [["--mcp-host", "0.0.0.0"], "--mcp-host has no effect without --mcp-http PORT"],
      [["--mcp-allow-host", "proxy.internal"], "--mcp-allow-host has no effect without --mcp-http PORT"],
      [["--dashboard-host", "0.0.0.0", "--dashboard-token", "d".repeat(24)], "--dashboard-token has no effect without --dashboard PORT"],
      [["--dashboard-allow-host", "proxy.internal"], "--dashboard-allow-host has no effect without --dashboard PORT"],
      [["--ownership-ttl", "5"], "--ownership-ttl has no effect without PostgreSQL storage"],
    ];
    for (const [args, message] of cases) {
      expectRefusal(run("serve", "--storage", join(dir, "idle.db"), "--bind", "tcp://127.0.0.1:0", ...args), 2, new RegExp(message));
      expect(existsSync(join(dir, "idle.db")), args.join(" ")).toBe(false);
    }
  });

  it("a bearer token no request could match (spaces, a newline) is refused at start", async () => {
    const env = (e: Record<string, string>, ...args: string[]) =>
      spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 120_000, killSignal: "SIGKILL", env: { ...process.env, ...e } });
    expectRefusal(env({ TUNEPORT_MCP_TOKEN: " ".repeat(20) }, "serve", "--storage", join(dir, "tok.db"), "--mcp-http", "0"), 2, /MCP token must be printable ASCII without spaces/);
    expectRefusal(run("dashboard", "--storage", db, "--dashboard-token", "abcdefghijklmnop\nq"), 2, /dashboard token must be printable ASCII without spaces/);
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

  it("keygen --out a file, or a folder that cannot be made, is refused (not a hang)", () => {
    const f = join(dir, "a-file");
    writeFileSync(f, "x");
    expectRefusal(run("keygen", "--out", f), 2, /is a file, not a folder/);
    // Node's recursive mkdir loops forever where /proc answers ENOENT.
    if (existsSync("/proc/self")) expectRefusal(run("keygen", "--out", "/proc/tuneport-no-such-dir"), 2, /cannot create the folder/);
    // Half a pair already there (either half): refused, and nothing written beside it.
    for (const [have, missing] of [["z.key", "z.pub"], ["y.pub", "y.key"]] as const) {
      const keys = join(dir, `keys-${have}`);
      mkdirSync(keys);
      writeFileSync(join(keys, have), "old\n");
      expectRefusal(run("keygen", have.split(".")[0] as string, "--out", keys), 2, /exists; not overwriting a key/);
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
