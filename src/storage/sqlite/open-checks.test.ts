import { describe, expect, it } from "vitest";
import { TuneportError } from "../../domain/errors.js";
import { openError } from "./open-checks.js";

describe("openError", () => {
  it("says why a reader cannot open a WAL database in a folder it may not write, and the fix", () => {
    // What better-sqlite3 throws for a read-only open by another user (needs the -shm file).
    const err = Object.assign(new Error("attempt to write a readonly database"), { code: "SQLITE_READONLY_DIRECTORY" });
    const e = openError(err, "/srv/t.db");
    expect(e).toBeInstanceOf(TuneportError);
    expect(e.message).toMatch(/cannot read the database \/srv\/t\.db: SQLite needs its shared-memory file \/srv\/t\.db-shm .*run as the database's owner, or make the folder writable/);
  });

  it("words permission and busy errors, and passes TuneportErrors through", () => {
    expect(openError(Object.assign(new Error("x"), { code: "EACCES" }), "/a.db").message).toMatch(/permission denied .*check the file's and its folder's permissions/);
    expect(openError(Object.assign(new Error("x"), { code: "SQLITE_BUSY" }), "/a.db").code).toBe("UNAVAILABLE");
    const own = new TuneportError("NOT_FOUND", "no tuneport database at /a.db");
    expect(openError(own, "/a.db")).toBe(own);
  });
});
