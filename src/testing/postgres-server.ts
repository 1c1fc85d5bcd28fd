/**
 * A throw-away PostgreSQL server for tests and benchmarks: `initdb` and `pg_ctl` from Debian's
 * postgresql package (`/usr/lib/postgresql/<major>/bin`), a data directory and a unix socket in a
 * fresh temporary directory, no TCP listener unless a port is asked for. `durable: true` keeps
 * PostgreSQL's default fsync settings (benchmarks); tests run without fsync. Runs as the `postgres`
 * user when started as root (initdb refuses root). `stop()` shuts it down fast and removes the
 * directory; call it in a `finally` (vitest's globalSetup teardown does).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PostgresServer {
  /** `postgresql://postgres@/postgres?host=<socket dir>&port=<port>` (the port names the socket file). */
  readonly url: string;
  /** The directory holding the socket (and the data directory). */
  readonly dir: string;
  /** A connection URL for another database on this server. */
  urlFor(database: string): string;
  /** Creates a fresh empty database and returns its URL. */
  createDatabase(prefix?: string): string;
  stop(): void;
}

/** The bin directory of the newest PostgreSQL installed under /usr/lib/postgresql, or null. */
export function postgresBinDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? join(root, majors[0], "bin") : null;
}

/**
 * Starts a server. `port` (loopback) is optional: without it the server listens on its unix socket
 * only, so parallel runs never collide. @throws when PostgreSQL is not installed or will not start.
 */
export function startPostgres(opts: { port?: number; maxConnections?: number; durable?: boolean } = {}): PostgresServer {
  const bin = postgresBinDir();
  if (!bin) throw new Error("PostgreSQL is not installed (apt-get install postgresql); 'make test' installs it");
  const dir = mkdtempSync(join(tmpdir(), "tuneport-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  let uid = -1;
  let gid = -1;
  if (asRoot) {
    uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const run = (cmd: string, args: string[]) =>
    execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", ...(asRoot ? { uid, gid } : {}), cwd: dir, env: { ...process.env, LC_ALL: "C" } });
  const port = opts.port ?? 5432;
  try {
    run(join(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"]);
    const settings = [
      `-c listen_addresses=${opts.port ? "127.0.0.1" : "''"}`,
      `-c port=${port}`,
      `-c unix_socket_directories=${dir}`,
      `-c max_connections=${opts.maxConnections ?? 200}`,
      "-c shared_buffers=128MB",
      // Benchmarks keep the defaults (fsync per commit, as a production server has it); tests trade
      // power-loss safety, which they never exercise, for speed.
      `-c fsync=${opts.durable ? "on" : "off"}`,
      `-c synchronous_commit=${opts.durable ? "on" : "off"}`,
      `-c full_page_writes=${opts.durable ? "on" : "off"}`,
    ].join(" ");
    run(join(bin, "pg_ctl"), ["-D", data, "-l", join(dir, "server.log"), "-o", settings, "-w", "-t", "60", "start"]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`PostgreSQL did not start: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
  const urlFor = (db: string) => `postgresql://postgres@/${db}?host=${encodeURIComponent(dir)}&port=${port}`;
  return {
    url: urlFor("postgres"),
    dir,
    urlFor,
    createDatabase(prefix = "tp") {
      const name = `${prefix}_${randomBytes(6).toString("hex")}`;
      run(join(bin, "psql"), ["-h", dir, "-p", String(port), "-U", "postgres", "-d", "postgres", "-q", "-c", `CREATE DATABASE ${name}`]);
      return urlFor(name);
    },
    stop() {
      try {
        run(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"]);
      } catch {
        /* already stopped */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
