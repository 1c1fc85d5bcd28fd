/** `tuneport export` / `tuneport import`: a study as JSON Lines (format in service/study-io.ts). */
import { isUtf8 } from "node:buffer";
import { closeSync, existsSync, openSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { randomUUID } from "node:crypto";
import { plural } from "../domain/format.js";
import { TuneportError, invalidArgument } from "../domain/errors.js";
import type { StudyService } from "../service/study-service.js";
import type { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { isPostgresUrl } from "../storage/postgres/url.js";
import { MAX_INTERMEDIATE_CAP } from "../service/study-limits.js";
import { type Command, UsageError, intOption, writeFileAtomically, writeStdout } from "./command.js";
import { terminalSafe } from "./terminal.js";
import { loadPluginModule, pluginsHelp } from "./plugin-module.js";

/** The service's modules, imported when a command runs: `--help` and usage errors answer without them. */
const serviceModules = () =>
  Promise.all([import("../logger.js"), import("../service/study-service.js"), import("./embedded.js")]);

export const exportCommand: Command = {
  name: "export",
  help: `
Usage: tuneport export NAME [--storage PATH] [--out FILE] [--format tuneport|optuna]

Writes study NAME as JSON Lines: a header line (name, configuration, the settings as
created that update_study changed, attributes), then
one line per trial with every stored field (params, distributions, value, intermediate
values, attributes, timestamps in epoch ms, lease). 'tuneport import' recreates it
exactly. Reads the database read-only: safe beside a running server.

With --format optuna it writes an Optuna JournalStorage log instead, which Optuna (5.0)
and optuna-dashboard open with the same trials, params, values, states, intermediate
values and user attributes:

  storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(FILE))
  study = optuna.load_study(study_name=NAME, storage=storage)

tuneport's system attributes appear as 'tuneport:<key>', the study's configuration as the
study system attribute 'tuneport:config'. Optuna's steps are integers: values reported at
other steps are kept only in the trial's system attribute 'tuneport:intermediate' (the
command says how many). Waiting trials become Optuna's enqueued trials; running ones stay
RUNNING. --out replaces FILE: the journal holds this one study.

Options:
  --storage PATH   SQLite database file [./tuneport.db], or a postgresql:// URL
  --out FILE       write here (atomically: a temporary file renamed at the end); '-' is stdout [stdout]
  --format FORMAT  tuneport (JSON Lines for 'tuneport import') or optuna [tuneport]
  -h, --help       show this help
`,
  options: {
    storage: { type: "string", default: "./tuneport.db" },
    out: { type: "string" },
    format: { type: "string", default: "tuneport" },
  },
  async run(v, pos) {
    const [name, ...extra] = pos;
    if (!name || extra.length > 0) throw new UsageError("expected exactly one study NAME; see --help");
    const format = v.format as string;
    if (format !== "tuneport" && format !== "optuna") throw new UsageError("--format must be tuneport or optuna");
    const [{ silentLogger }, { StudyService }, { openStorage }] = await serviceModules();
    const storage = await openStorage(v.storage as string, { readonly: true });
    const service = await StudyService.open({ storage, logger: silentLogger(), readOnly: true });
    const out = v.out as string | undefined;
    try {
      // A file is written in place (synchronously); stdout, often a pipe, waits for its reader.
      const write = async (fd: number | "stdout") => {
        let chunk = "";
        for (const line of format === "optuna" ? await optunaLines(service, name) : service.exportStudy(name)) {
          chunk += `${line}\n`;
          if (chunk.length > 1 << 20) {
            if (fd === "stdout") await writeStdout(chunk);
            else writeSync(fd, chunk);
            chunk = "";
            // A turn of the event loop per MiB: a stop signal is handled (writeFileAtomically).
            await new Promise((resolve) => setImmediate(resolve));
          }
        }
        if (fd === "stdout") await writeStdout(chunk);
        else writeSync(fd, chunk);
      };
      if (out && out !== "-") await writeFileAtomically(out, 0o600, write, v.storage as string);
      else await write("stdout");
    } finally {
      await service.close();
      await storage.close();
    }
    return 0;
  },
};

/** The study's Optuna journal lines; reports on stderr what Optuna cannot hold exactly. */
async function optunaLines(service: StudyService, name: string): Promise<string[]> {
  const [{ optunaJournal }, { parseStudyLines }] = await Promise.all([import("../service/optuna-journal.js"), import("../service/study-io.js")]);
  // The conversion needs no plug-in: a study made with a --plugins module's strategy exports too.
  const { lines, notes } = optunaJournal(parseStudyLines([...service.exportStudy(name)].join("\n"), undefined, null));
  if (notes.nonIntegerSteps > 0)
    process.stderr.write(`tuneport: ${notes.nonIntegerSteps} intermediate values at non-integer steps are kept only in system_attrs['tuneport:intermediate'] (Optuna's steps are integers)\n`);
  if (notes.droppedParams > 0) process.stderr.write(`tuneport: ${notes.droppedParams} params without a matching distribution were left out\n`);
  return lines;
}

export const importCommand: Command = {
  name: "import",
  help: `
Usage: tuneport import FILE [--storage PATH] [--name NEW] [--plugins FILE]

Recreates the study in FILE (JSON Lines from 'tuneport export'; '-' reads stdin) with
the same trial numbers, states, values and timestamps, in one transaction. Refuses a
study name that exists (pick another with --name) and a malformed file (the error names
the line). SQLite: takes the database's writer lock, so stop the server on that file first.
PostgreSQL: servers may keep running; the import takes the new study's name like a server
does and hands it back at the end, so the first request for it loads it on some server.

Options:
  --storage PATH   SQLite database file (created if missing) [./tuneport.db], or a
                   postgresql:// URL
  --name NEW       import under this name instead of the one in the file
  --max-intermediate N  intermediate values one trial may hold: a file with a
                   trial holding more is refused, nothing imported; use the
                   --max-intermediate the server is started with [100000]
${pluginsHelp(19)}
                   (a study made with a --plugins module's strategy needs it)
  -h, --help       show this help
`,
  options: {
    storage: { type: "string", default: "./tuneport.db" },
    name: { type: "string" },
    "max-intermediate": { type: "string" },
    plugins: { type: "string" },
  },
  async run(v, pos) {
    const [file, ...extra] = pos;
    if (!file || extra.length > 0) throw new UsageError("expected exactly one FILE; see --help");
    if (file !== "-" && existsSync(file) && statSync(file).isDirectory()) throw new UsageError(`${file} is a directory; name the file 'tuneport export' wrote`);
    const maxIntermediate = intOption("max-intermediate", v["max-intermediate"], 1, MAX_INTERMEDIATE_CAP);
    const plugins = v.plugins === undefined ? undefined : await loadPluginModule(v.plugins as string);
    const text = utf8Text(readBounded(file), file);
    const [[{ silentLogger }, { StudyService }, { openStorage }], { SharedOwnership }, { PgOwnershipStore }] = await Promise.all([
      serviceModules(),
      import("../service/ownership.js"),
      import("../storage/postgres/pg-ownership.js"),
    ]);
    const path = v.storage as string;
    // A refused import must not leave behind a database it created (an empty one, for the next typo).
    const creates = !isPostgresUrl(path) && !existsSync(path);
    const storage = await openStorage(path);
    let imported = false;
    try {
      const logger = silentLogger();
      const ownership =
        isPostgresUrl(v.storage as string)
          ? new SharedOwnership({ store: new PgOwnershipStore(storage as PostgresStorage), logger, serverId: `import-${randomUUID()}` })
          : undefined;
      // The operator's own command on their own database: a server's cap on studies (against clients
      // that create them in a loop) does not apply to it.
      // A failed commit answers "the server is stopping after a storage failure; retry against the next
      // one", words for a server's clients: this command says what failed, and that nothing was written.
      let failure: unknown = null;
      const onFatal = (err: unknown) => void (failure ??= err);
      const service = await StudyService.open({ storage, logger, reapIntervalMs: 0, maxStudies: Number.POSITIVE_INFINITY, onFatal, ...(maxIntermediate !== undefined ? { maxIntermediate } : {}), ...(ownership ? { ownership } : {}), ...(plugins ? { plugins: plugins.catalogue } : {}) });
      try {
        const s = await service.importStudy(text, v.name as string | undefined).catch((err: unknown) => {
          // A full disk holds the commit (commit-pipeline.ts) rather than failing it; `close` gives it up.
          const full = err instanceof TuneportError && err.data?.reason === "storage_full";
          if (failure === null && !full) throw err;
          const why = full ? "no space left on the device" : failure instanceof Error ? failure.message : String(failure);
          throw new TuneportError("UNAVAILABLE", `the import's commit failed: nothing was imported (${why})`);
        });
        process.stderr.write(`imported study '${terminalSafe(s.name)}' with ${plural(s.n_trials, "trial")}\n`);
        imported = true;
      } finally {
        await service.close();
      }
    } finally {
      await storage.close();
      if (creates && !imported) for (const f of [path, `${path}-wal`, `${path}-shm`]) rmSync(f, { force: true });
    }
    return 0;
  },
};

/** The most one import reads: about V8's longest string (a larger file could not be parsed anyway). */
const MAX_IMPORT_BYTES = 512 * 1024 * 1024;

/**
 * FILE's bytes ('-': stdin), read a MiB at a time and refused once past MAX_IMPORT_BYTES: a stream
 * that never ends (`/dev/zero`, `yes | tuneport import -`) was read whole first, 9.5 GB in 25 s.
 * @throws INVALID_ARGUMENT past the limit, a file-system error for a file that cannot be read.
 */
function readBounded(file: string): Buffer {
  const fd = file === "-" ? 0 : openSync(file, "r");
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const buf = Buffer.allocUnsafe(1 << 20);
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EAGAIN") {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5); // stdin not ready yet
          continue;
        }
        if (code === "EOF") break;
        throw err;
      }
      if (n === 0) break;
      total += n;
      if (total > MAX_IMPORT_BYTES)
        throw invalidArgument(`${file === "-" ? "stdin" : file}: more than ${MAX_IMPORT_BYTES} bytes, more than one import reads (about 512 MiB of text); nothing was imported`);
      chunks.push(n === buf.length ? buf : buf.subarray(0, n));
    }
  } finally {
    if (fd !== 0) closeSync(fd);
  }
  return Buffer.concat(chunks, total);
}

/** The first bytes of every SQLite database file. */
const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

/** The file's text; @throws INVALID_ARGUMENT naming the first line that is not UTF-8 (decoding would silently rewrite it). */
function utf8Text(bytes: Buffer, file: string): string {
  // A database (tuneport's, or Optuna's from a user moving over) was refused as "line 1 is not valid UTF-8".
  if (bytes.subarray(0, SQLITE_HEADER.length).equals(SQLITE_HEADER))
    throw invalidArgument(
      `${file === "-" ? "stdin" : file} is a SQLite database, not a 'tuneport export' file; nothing was imported. A tuneport database is ` +
        `read with --storage (tuneport export NAME --storage FILE writes what import reads); an Optuna database's trials are copied into ` +
        `a tuneport study with Optuna: study.add_trials(optuna.load_study(study_name=..., storage="sqlite:///FILE").trials) (docs/MIGRATING-FROM-OPTUNA.md)`,
    );
  if (isUtf8(bytes)) {
    try {
      return bytes.toString("utf8");
    } catch {
      // V8's longest string is about 512 MiB (a RangeError with a stack trace before).
      throw invalidArgument(`${file === "-" ? "stdin" : file}: ${bytes.length} bytes is more than one import reads (about 512 MiB of text); nothing was imported`);
    }
  }
  let line = 1;
  for (let start = 0; start <= bytes.length; line++) {
    const nl = bytes.indexOf(0x0a, start);
    const end = nl < 0 ? bytes.length : nl;
    if (!isUtf8(bytes.subarray(start, end))) break;
    start = end + 1;
  }
  throw invalidArgument(`${file === "-" ? "stdin" : file}: line ${line} is not valid UTF-8; nothing was imported`, { line });
}
