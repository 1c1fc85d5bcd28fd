/**
 * What `SqliteStorage` checks before it opens a database file, and how it words a failure to open
 * one: a path that is not a tuneport database (a directory, a missing folder, another kind of file,
 * another program's SQLite database) is refused with a one-line error before anything is changed —
 * no lock file left behind, no file mode tightened, no tables added, no journal mode switched.
 */
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { TuneportError, notFound } from "../../domain/errors.js";

/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_HEADER = Buffer.from("SQLite format 3\0", "latin1");

/**
 * Refuses `path` unless it is (or, for a writer, may become) a SQLite database file.
 * @throws NOT_FOUND (no file for a reader, no folder for a writer), FAILED_PRECONDITION (a directory, an
 * empty file for a reader, a file that is not SQLite)
 */
export function checkDatabaseFile(path: string, readonly: boolean): void {
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
    throw new TuneportError("FAILED_PRECONDITION", `${path} is a SQLite database of another program (it has tables but no tuneport schema); nothing was changed`);
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
