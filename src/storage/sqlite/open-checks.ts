/**
 * What `SqliteStorage` checks before it opens a database file, and how it words a failure to open
 * one: a path that is not a tuneport database (a directory, a missing folder, another kind of file,
 * another program's SQLite database) is refused with a one-line error before anything is changed —
 * no lock file left behind, no file mode tightened, no tables added, no journal mode switched.
 */
import { type Stats, closeSync, openSync, readSync, statSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import { TuneportError, notFound } from "../../domain/errors.js";

/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

/**
 * Refuses `path` unless it is (or, for a writer, may become) a SQLite database file.
 * `schemaVersion` (this tuneport's) refuses a newer tuneport's database by its header.
 * @throws NOT_FOUND (no file for a reader, no folder for a writer), FAILED_PRECONDITION (a directory, a
 * FIFO or device, an empty file for a reader, a file that is not SQLite, a newer schema)
 */
export function checkDatabaseFile(path: string, readonly: boolean, schemaVersion?: number): void {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw openError(err, path);
    if (readonly) throw notFound(`no tuneport database at ${path}`);
    const dir = dirname(path);
    let parent;
    try {
      parent = statSync(dir);
    } catch {
      throw notFound(`cannot create the database ${path}: there is no folder ${dir}; create it first or choose another path`);
    }
    if (!parent.isDirectory()) throw new TuneportError("FAILED_PRECONDITION", `cannot create the database ${path}: ${dir} is not a folder`);
    return;
  }
  if (st.isDirectory()) throw new TuneportError("FAILED_PRECONDITION", `${path} is a directory, not a database file; name a file in it, e.g. ${path}/tuneport.db`);
  // A FIFO blocked SQLite's open for ever (a signal could not stop it: only SIGKILL did) and a device
  // failed with "disk I/O error"; each has size 0, so it passed for an empty file.
  if (!st.isFile()) throw new TuneportError("FAILED_PRECONDITION", `${path} is ${kindOf(st)}, not a database file; name a regular file; nothing was changed`);
  // A new server's database may be all in its -wal still: then the main file's header says nothing yet.
  const walPending = (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0) > 0;
  if (st.size === 0) {
    if (readonly && !walPending) throw new TuneportError("FAILED_PRECONDITION", `${path} is an empty file, not a tuneport database`);
    return; // SQLite makes a database of an empty file
  }
  const head = Buffer.alloc(100);
  let fd;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw openError(err, path);
  }
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!head.subarray(0, SQLITE_HEADER.length).equals(SQLITE_HEADER))
    throw new TuneportError("FAILED_PRECONDITION", `${path} is not a SQLite database file, so not a tuneport database; nothing was changed`);
  // Another program's database: its schema was changed (the schema cookie, offset 40) but it has no tuneport
  // schema version (user_version, offset 60). A writer would otherwise migrate it, adding tuneport's tables.
  if (!walPending && head.readUInt32BE(60) === 0 && head.readUInt32BE(40) !== 0)
    throw new TuneportError(
      "FAILED_PRECONDITION",
      // Optuna's is the one a user moving over points --storage at: say what to do with it.
      `${path} is a SQLite database of another program (it has tables but no tuneport schema); nothing was changed. ` +
        "An Optuna database? tuneport keeps its studies in its own: copy the trials with Optuna (docs/MIGRATING-FROM-OPTUNA.md)",
    );
  // A newer tuneport's database: refused before a writer switches it to WAL (which left -wal and -shm
  // files beside it) and with the fix for a reader (which was told to migrate it with 'serve').
  const version = head.readUInt32BE(60);
  if (!walPending && schemaVersion !== undefined && version > schemaVersion)
    throw newerSchema(version, schemaVersion);
}

/** FAILED_PRECONDITION for a database whose schema `version` is newer than this tuneport's `schemaVersion`. */
export function newerSchema(version: number, schemaVersion: number): TuneportError {
  return new TuneportError("FAILED_PRECONDITION", `database schema version ${version} is newer than this tuneport (${schemaVersion}); upgrade tuneport`);
}

/** What a path that is not a regular file or a directory is, in words. */
function kindOf(st: Stats): string {
  if (st.isFIFO()) return "a named pipe (FIFO)";
  if (st.isSocket()) return "a socket";
  if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
  return "not a regular file";
}

/** A failure to open `path` as one line naming the path (TuneportErrors pass through). */
export function openError(err: unknown, path: string): TuneportError {
  if (err instanceof TuneportError) return err;
  const e = err as { code?: string; message?: string };
  const code = e.code ?? "";
  if (code === "SQLITE_READONLY_DIRECTORY" || code === "SQLITE_READONLY_CANTINIT")
    return new TuneportError(
      "FAILED_PRECONDITION",
      `cannot read the database ${path}: SQLite needs its shared-memory file ${path}-shm (WAL mode), which this user may not create in that folder; run as the database's owner, or make the folder writable (${code})`,
    );
  if (code === "EACCES" || code === "EPERM" || code.startsWith("SQLITE_READONLY") || code === "EROFS" || code === "SQLITE_PERM")
    return new TuneportError("FAILED_PRECONDITION", `cannot open the database ${path}: permission denied (${code}); check the file's and its folder's permissions`);
  if (code === "SQLITE_BUSY" || code.startsWith("SQLITE_BUSY_"))
    return new TuneportError("UNAVAILABLE", `the database ${path} is locked by another process; try again`);
  if (code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT")
    return new TuneportError("FAILED_PRECONDITION", `${path} is not a readable SQLite database (${e.message ?? code})`);
  return new TuneportError("FAILED_PRECONDITION", `cannot open the database ${path}: ${e.message ?? String(err)}`);
}

/**
 * Marks a commit's SQLITE_FULL (no room on the disk) as storage.ts `storageFull`, once its transaction
 * is rolled back (better-sqlite3 rolls it back; else here): nothing of the batch is written, so the
 * batch may be committed again when space is freed.
 */
export function markFull(db: Database.Database, err: unknown): unknown {
  if (!(typeof err === "object" && err !== null && (err as { code?: unknown }).code === "SQLITE_FULL")) return err;
  try {
    if (db.inTransaction) db.exec("ROLLBACK");
  } catch {
    return err; // the outcome is unknown: fail-stop
  }
  if (db.inTransaction) return err;
  Object.assign(err, { storageFull: true, notCommitted: true });
  return err;
}
