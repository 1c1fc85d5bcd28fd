/** A tiny sub-command framework on node:util parseArgs: every command has help text. */
import { closeSync, existsSync, lstatSync, openSync, realpathSync, renameSync, rmSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { dirname, resolve } from "node:path";
import { type ParseArgsConfig, parseArgs } from "node:util";
import type { LogFormat, LogLevel } from "../logger.js";

export interface Command {
  readonly name: string;
  /** Full help: usage line, description, options. */
  readonly help: string;
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  /**
   * False for a command that takes no positional argument (a server): an unknown option there is
   * never a value that belongs after '--', so the error does not suggest putting it there.
   */
  readonly positionals?: boolean;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

/** Thrown for bad command-line input: printed without a stack, exit code 2. */
export class UsageError extends Error {}

export async function runCommand(cmd: Command, argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${cmd.help.trim()}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: cmd.options, allowPositionals: true, strict: true, tokens: true });
  } catch (err) {
    throw new UsageError(`${parseProblem(cmd, argv, err as Error & { code?: unknown })}\nRun 'tuneport ${cmd.name} --help' for usage.`);
  }
  refuseConflictingRepeats(cmd, parsed.tokens);
  refuseEmptyValues(cmd, parsed.tokens);
  return cmd.run(parsed.values as Record<string, unknown>, parsed.positionals);
}

/**
 * parseArgs' error in one line. An unknown option is named as typed, with the command's closest
 * option when one is near (Node's text, "To specify a positional argument … as in '-- \"-w\"", ended
 * in an unbalanced quote and, for `-weird-name`, named `-w`); other errors are Node's.
 */
function parseProblem(cmd: Command, argv: readonly string[], err: Error & { code?: unknown }): string {
  // A value missing, or one that starts with '-' (Node's three lines: "is ambiguous. Did you forget …").
  const valueless = err.code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" ? /^Option '--([\w-]+)(?: <value>)?' argument (missing|is ambiguous)/.exec(err.message) : null;
  if (valueless) {
    const wanted = optionHelp(cmd.help, valueless[1] as string);
    const dash = valueless[2] === "missing" ? "" : ` (a value starting with '-' goes as --${valueless[1]}=-VALUE)`;
    return `--${valueless[1]} needs a value${wanted ? `; it takes ${wanted}` : ""}${dash}`;
  }
  const m = err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /^Unknown option '([^']+)'/.exec(err.message) : null;
  if (!m) return err.message;
  const given = m[1] as string;
  const end = argv.indexOf("--");
  const token = argv.slice(0, end < 0 ? argv.length : end).find((a) => a === given || a.startsWith(given)) ?? given;
  const word = given.startsWith("--") ? given : token;
  const bare = word.replace(/^-+/, "");
  const near = closestName(Object.keys(cmd.options), bare);
  if (near !== null) return `unknown option '${word}'; did you mean --${near}?`;
  const related = relatedOptions(cmd, bare);
  // On a command that takes arguments the word may be one (`import -path`, a file; `export -file`, a
  // study): options it merely names are no typo of it, so the way to pass it stays in the answer.
  const dashHint = cmd.positionals === false ? "" : `; an argument starting with '-' goes after '--' (-- ${token})`;
  if (related.length > 0) return `unknown option '${word}'; the options for a ${bare.toUpperCase()}: ${related.join(", ")}${dashHint}`;
  return `unknown option '${word}'${dashHint}`;
}

/**
 * The name nearest `typed` by edit distance, when it is a likely typo: at most 2 edits and fewer
 * than half of `typed`'s letters (`--host` is not a typo of `--port`, two edits of four letters:
 * `dashboard --host` was answered "did you mean --port?"); null when none is.
 */
export function closestName(names: readonly string[], typed: string): string | null {
  let best: string | null = null;
  let bestDistance = Math.min(3, Math.ceil(typed.length / 2));
  for (const name of names) {
    const d = editDistance(name, typed);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best;
}

/**
 * A command's options that a word names without being a typo of one: `--host` for
 * `--dashboard-host HOST`, `--port` for `--bind ENDPOINT (tcp://HOST:PORT)` and `--mcp-http PORT`:
 * what the option takes is the word in capitals, or its help puts the word in an address
 * (`scheme://…WORD…`, then quoted). In the order of the command's options; empty for a word
 * shorter than three letters.
 */
function relatedOptions(cmd: Command, word: string): string[] {
  if (!/^[a-z]{3,}$/i.test(word)) return [];
  const capital = word.toUpperCase();
  const inAddress = new RegExp(`\\w+://[^\\s,;)]*\\b${capital}\\b[^\\s,;)]*`);
  return Object.keys(cmd.options).flatMap((name) => {
    const takes = optionHelp(cmd.help, name);
    if (takes === null) return [];
    const value = takes.slice(0, takes.indexOf(":"));
    if (value === capital) return [`--${name} ${value}`];
    const address = inAddress.exec(takes);
    return address ? [`--${name} ${value} (${address[0]})`] : [];
  });
}

/** Edit distance (optimal string alignment: a swap of two neighbouring letters is one edit, `shwo`/`show`). */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] as number) + 1);
      row.push(d);
    }
    [before, prev] = [prev, row];
  }
  return prev[b.length] as number;
}

/**
 * parseArgs keeps the last of a repeated option without a word: `serve --storage a.db ... --storage
 * b.db` served b.db, and a script that appended its own `--bind` silently replaced the user's. An
 * option that takes one value and is given two different ones is refused; the same value twice
 * is harmless and kept. @throws UsageError
 */
function refuseConflictingRepeats(cmd: Command, tokens: ReturnType<typeof parseArgs>["tokens"]): void {
  const seen = new Map<string, string | undefined>();
  for (const t of tokens ?? []) {
    if (t.kind !== "option" || cmd.options[t.name]?.multiple === true) continue;
    if (seen.has(t.name) && seen.get(t.name) !== t.value)
      throw new UsageError(`--${t.name} was given twice (${JSON.stringify(seen.get(t.name))} and ${JSON.stringify(t.value)}); give it once\nRun 'tuneport ${cmd.name} --help' for usage.`);
    seen.set(t.name, t.value);
  }
}

/**
 * An option given an empty (or blank) value, most often an unset shell variable (`--storage
 * "$DB"`), is refused naming the option and what it takes, as its help says: `serve --storage ''`
 * got as far as "cannot open the database : ENOENT", `--lease-ttl ''` "must be an integer …, got "
 * and `--bind ''` "--bind : expected …". No option of any command means anything by an empty
 * value. @throws UsageError
 */
function refuseEmptyValues(cmd: Command, tokens: ReturnType<typeof parseArgs>["tokens"]): void {
  for (const t of tokens ?? []) {
    if (t.kind !== "option" || t.value === undefined || t.value.trim() !== "") continue;
    const wanted = optionHelp(cmd.help, t.name);
    throw new UsageError(`--${t.name} is empty${wanted ? `; it takes ${wanted}` : ""}`);
  }
}

/**
 * What option `--name` takes, from its line in `help` (`  --storage PATH   SQLite database …`, the
 * description's continuation lines included, up to its first sentence): `PATH: SQLite database …`;
 * null when the help has no such line.
 */
export function optionHelp(help: string, name: string): string | null {
  const lines = help.split("\n");
  const at = lines.findIndex((l) => l.startsWith(`  --${name} `) || l.startsWith(`  --${name}=`));
  if (at < 0) return null;
  // The description starts on the option's line, or on the next when the option is too long for its column.
  const first = /^ {2}--[\w-]+[ =](\S+)(?:\s+(.*))?$/.exec(lines[at] as string);
  if (!first) return null;
  let text = first[2] ?? "";
  // Continuation lines are indented past the option column (the next option starts at two spaces).
  for (let i = at + 1; i < lines.length && /^ {4,}\S/.test(lines[i] as string); i++) text += `${text ? " " : ""}${(lines[i] as string).trim()}`;
  if (!text) return null;
  const sentence = /^(.*?[.;])\s+[A-Z]/.exec(text);
  return `${first[1]}: ${(sentence ? (sentence[1] as string) : text).replace(/[.;]$/, "")}`;
}

/** Parses an integer option. @throws UsageError */
export function intOption(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  // Number("") and Number(" ") are 0: `--port ""` (an unset shell variable) picked a random port.
  // Decimal digits only: Number() also read "0x10" as 16 and "1e3" as 1000.
  const n = typeof v === "string" && !/^\s*[+-]?\d+\s*$/.test(v) ? Number.NaN : Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  return n;
}

/**
 * Writes to stdout and resolves once the bytes are handed to the system (a write after it waits for
 * a slow reader). `writeSync(1, …)` failed on a pipe whose reader was slower than the writer: Node
 * makes a pipe on stdout non-blocking, so a full pipe (64 KiB) answered EAGAIN, and `tuneport export
 * NAME | gzip > backup.gz` stopped with "cannot write : EAGAIN" after its first few MiB.
 */
export function writeStdout(data: string | Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(data, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * For a server command that has closed everything it opened: exits on the next turn of the
 * event loop (with `process.exitCode`) even if a timer is still pending, e.g. the timeout of a
 * wait that shutdown answered early. Logs are written synchronously, so nothing is lost.
 */
export function exitWhenIdle(): void {
  setImmediate(() => process.exit()).unref();
}

/** What a file-system error code means, in words (for `fileProblem`). */
const FS_REASONS: Record<string, string> = {
  ENOENT: "no such file or folder",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EISDIR: "it is a directory",
  ENOTDIR: "a part of the path is not a folder",
  EEXIST: "it already exists",
  ENOSPC: "no space left on the device",
  EROFS: "the file system is read-only",
  EMFILE: "too many open files",
};

/**
 * A Node file-system error (`ENOENT` and the like, from `open`, `rename`, `mkdir`...) as one line naming
 * the path and the reason, or null for any other error: a command that meets one prints this instead
 * of a stack trace.
 */
export function fileProblem(err: unknown): string | null {
  const e = err as (NodeJS.ErrnoException & { dest?: string }) | null;
  if (!e || typeof e.code !== "string" || typeof e.syscall !== "string" || !/^E[A-Z]+$/.test(e.code)) return null;
  const reason = FS_REASONS[e.code] ?? e.code;
  const path = e.path ?? "";
  return `cannot ${e.syscall} ${path}${e.dest ? ` -> ${e.dest}` : ""}: ${reason} (${e.code})`.replace(/ {2,}/g, " ");
}

/**
 * Which file of the SQLite database `storage` (the database, or its -wal, -shm or -journal file)
 * `out` is, by path or, for an existing file, by device and inode (a hard link, another spelling of
 * the path); null when none, or when `storage` is a PostgreSQL URL.
 */
export function storageFileAt(out: string, storage: string): string | null {
  if (/^postgres(ql)?:\/\//.test(storage)) return null;
  const target = existsSync(out) ? statSync(out) : null;
  for (const suffix of ["", "-wal", "-shm", "-journal"]) {
    const f = `${storage}${suffix}`;
    const what = suffix === "" ? "the --storage database" : `the --storage database's ${suffix.slice(1)} file`;
    if (resolve(f) === resolve(out)) return what;
    if (target && existsSync(f)) {
      const st = statSync(f);
      if (st.dev === target.dev && st.ino === target.ino) return what;
    }
  }
  return null;
}

/**
 * Writes `out` atomically (a temporary file beside it, renamed at the end) with `write`, which gets the
 * open descriptor; a device or FIFO is written to in place. A FILE that is a directory or in a folder that does not exist is refused before
 * anything is written (UsageError), and so is a FILE that is the `storage` database or one of its
 * files (an export over the database replaced it); the temporary file is removed whatever fails.
 */
export async function writeFileAtomically(out: string, mode: number, write: (fd: number) => void | Promise<void>, storage?: string): Promise<void> {
  if (existsSync(out) && statSync(out).isDirectory()) throw new UsageError(`--out ${out} is a directory; name a file in it`);
  const db = storage !== undefined ? storageFileAt(out, storage) : null;
  if (db !== null) throw new UsageError(`--out ${out} is ${db}: writing there would replace the database; pick another file`);
  if (existsSync(out) && !statSync(out).isFile()) {
    // A device (/dev/null), a FIFO or a socket: written to in place, as a shell's `>` does. A
    // rename over it replaced it with a regular file (as root, /dev/null itself).
    const fd = openSync(out, "w");
    try {
      await Promise.resolve().then(() => write(fd)).catch(naming(out));
    } finally {
      closeSync(fd);
    }
    return;
  }
  // A symbolic link keeps pointing where it did: the file it names is the one replaced.
  if (existsSync(out) && lstatSync(out).isSymbolicLink()) out = realpathSync(out);
  const dir = dirname(out);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`--out ${out}: there is no folder ${dir}; create it first or write elsewhere`);
  const tmp = `${out}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", mode);
  // Ctrl-C (or a kill) while writing left the half-written temporary file behind. `write` must
  // yield now and then (exportCommand's does, once per MiB) for the handler to run.
  const release = cleanUpOnStop(() => rmSync(tmp, { force: true }));
  try {
    try {
      await Promise.resolve().then(() => write(fd)).catch(naming(out));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, out);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  } finally {
    release();
  }
}

/**
 * Rethrows a write's file-system error with the file it was writing: `writeSync` errors name no
 * path, so a full disk read "cannot write : no space left on device".
 */
function naming(path: string): (err: unknown) => never {
  return (err) => {
    const e = err as NodeJS.ErrnoException | null;
    if (e && typeof e === "object" && typeof e.code === "string" && e.path === undefined) e.path = path;
    throw err;
  };
}

/** The signals that stop a one-shot command. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Until the returned function is called, a stop signal (SIGINT, SIGTERM, SIGHUP) runs `cleanUp`
 * (synchronous) and exits as the signal would have (128 + its number), instead of killing the
 * process with its half-done work on disk. The handler runs between turns of the event loop, so
 * long synchronous work must yield for it.
 */
function cleanUpOnStop(cleanUp: () => void): () => void {
  const onSignal = (signal: NodeJS.Signals) => {
    try {
      cleanUp();
    } finally {
      process.exit(128 + (osConstants.signals[signal] ?? 0));
    }
  };
  for (const s of STOP_SIGNALS) process.once(s, onSignal);
  return () => {
    for (const s of STOP_SIGNALS) process.off(s, onSignal);
  };
}

/**
 * Refuses a `--connect` endpoint a client cannot dial (ZeroMQ itself says only "Invalid argument",
 * with a stack trace): tcp://HOST:PORT with a port in 1-65535, ipc://PATH or inproc://NAME. @throws UsageError
 */
export function checkConnectEndpoint(endpoint: string, option = "--connect"): void {
  if (/^(ipc|inproc):\/\/.+/.test(endpoint)) return;
  const m = /^tcp:\/\/(\[[0-9A-Fa-f:.%\w]+\]|[^\s:/[\]*]+):(\d+)$/.exec(endpoint);
  if (m && Number(m[2]) >= 1 && Number(m[2]) <= 65535) return;
  if (m) throw new UsageError(`${option} ${endpoint}: port ${m[2]} is out of range (1-65535)`);
  if (/^(\[[^\]]+\]|[\w.-]+):\d+$/.test(endpoint)) throw new UsageError(`${option} ${endpoint}: add the scheme: ${option} tcp://${endpoint}`);
  throw new UsageError(`${option} ${endpoint}: expected the server's address as tcp://HOST:PORT (e.g. tcp://127.0.0.1:5555) or ipc://PATH`);
}

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/** `--log-level` and `--log-format`, checked (pino threw a stack trace for an unknown level). @throws UsageError */
export function logOptions(v: Record<string, unknown>): { level: LogLevel | undefined; format: LogFormat | undefined } {
  // The options, else the environment's defaults (logger.ts), checked alike: pino threw on a bad
  // $TUNEPORT_LOG_LEVEL with a stack trace, and a bad $TUNEPORT_LOG_FORMAT was ignored.
  const env = (name: string) => (process.env[name] === "" ? undefined : process.env[name]);
  const level = (v["log-level"] as string | undefined) ?? env("TUNEPORT_LOG_LEVEL");
  const levelFrom = v["log-level"] !== undefined ? "--log-level" : "$TUNEPORT_LOG_LEVEL";
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) throw new UsageError(`${levelFrom} must be one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(level)}`);
  const format = (v["log-format"] as string | undefined) ?? env("TUNEPORT_LOG_FORMAT");
  const formatFrom = v["log-format"] !== undefined ? "--log-format" : "$TUNEPORT_LOG_FORMAT";
  if (format !== undefined && format !== "pretty" && format !== "json") throw new UsageError(`${formatFrom} must be 'pretty' or 'json', got ${JSON.stringify(format)}`);
  return { level: level as LogLevel | undefined, format: format as LogFormat | undefined };
}

/**
 * Refuses positional words for a command that takes none: `tuneport serve my.db` served ./tuneport.db,
 * the default, and said nothing. @throws UsageError naming the option meant
 */
export function noPositionals(command: string, pos: readonly string[], hint: string): void {
  if (pos.length > 0) throw new UsageError(`'tuneport ${command}' takes no argument ${JSON.stringify(pos[0])}: ${hint}`);
}

/**
 * One line on why a server could not listen (a port in use, an address this machine does not
 * have, a host that does not resolve), naming the option to change; null for other errors.
 * Node's `listen` and ZeroMQ's `bind` errors both carry an errno `code` (ZeroMQ's say only "Address
 * already in use" or "No such device", without the address, which was a stack trace or a bare
 * message on stderr, and nothing at all with JSON logs).
 */
export function listenProblem(err: unknown, what: string, where: string, option: string): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return null;
  const why: Record<string, string> = {
    EADDRINUSE: `${where} is already in use (another server?); pick another port with ${option}`,
    EADDRNOTAVAIL: `${where} is not an address of this machine; check the host of ${option}`,
    ENODEV: `the host of ${where} is not an address or interface of this machine; check ${option}`,
    ENOTFOUND: `the host of ${where} does not resolve; check ${option}`,
    EAI_AGAIN: `the host of ${where} does not resolve (name service unreachable); check ${option}`,
    EACCES: `${where} needs privileges (ports below 1024 need root); pick a port of 1024 or above with ${option}`,
    EPERM: `${where} is not allowed here; check ${option}`,
  };
  const reason = why[code];
  return reason === undefined ? null : `could not listen for ${what}: ${reason}`;
}

/** The help lines of `curveOptions`' flags, for commands that connect to a server. */
/** The help lines of `curveOptions`, descriptions starting at `column` (the command's own options'). */
export function curveClientHelp(column = 23): string {
  const pad = (s: string) => s.padEnd(column);
  return [
    `${pad("  --curve-server FILE")}with --connect to a server started with --curve-secret: its`,
    `${pad("")}public key file (server.pub from 'tuneport keygen')`,
    `${pad("  --curve-secret FILE")}and this client's own key file (NAME.key, whose public key is`,
    `${pad("")}in the server's --curve-allow)`,
  ].join("\n");
}
export const CURVE_CLIENT_HELP = curveClientHelp();

/**
 * The CURVE keys of a client command's `--curve-server` and `--curve-secret` (both or neither),
 * read from `tuneport keygen`'s files; undefined without them. @throws UsageError naming the file.
 */
export async function curveOptions(v: Record<string, unknown>): Promise<{ serverPublicKey: string; publicKey: string; secretKey: string } | undefined> {
  const server = v["curve-server"] as string | undefined;
  const secret = v["curve-secret"] as string | undefined;
  if (server === undefined && secret === undefined) return undefined;
  if (server === undefined || secret === undefined) throw new UsageError("--curve-server and --curve-secret go together: the server's public key file and this client's key file");
  const { readKeys } = await import("../transports/zmq/curve.js");
  const read = (file: string, flag: string) => {
    try {
      return readKeys(file);
    } catch (err) {
      throw new UsageError(`${flag} ${file}: ${fileProblem(err) ?? (err as Error).message}`);
    }
  };
  const serverKeys = read(server, "--curve-server");
  const own = read(secret, "--curve-secret");
  const serverPublicKey = serverKeys.publicKeys[0];
  if (serverPublicKey === undefined) throw new UsageError(`--curve-server ${server} holds no public key (pass the server's .pub file)`);
  if (own.secretKey === null || own.publicKeys[0] === undefined)
    throw new UsageError(`--curve-secret ${secret} holds no secret key (pass this client's .key file, not its .pub)`);
  return { serverPublicKey, publicKey: own.publicKeys[0], secretKey: own.secretKey };
}

