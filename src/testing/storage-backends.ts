/**
 * The storage backends a suite runs against, so one test body covers SQLite and PostgreSQL:
 * `describe.each(storageBackends(pgUrl))("... on %s", ...)`. Each `location()` is fresh and empty
 * (a new SQLite file, or a new schema in the PostgreSQL database), and `open(location)` may be
 * called again on it to reopen what was written (restart tests).
 */
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { PostgresStorage } from "../storage/postgres/postgres-storage.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";
import type { Storage } from "../storage/storage.js";
import { exitTempDir } from "./temp-dirs.js";

export interface StorageBackend {
  readonly name: "sqlite" | "postgres";
  /** A fresh, empty storage location. */
  location(): string;
  open(location: string): Promise<Storage>;
  /** `name`, for describe.each's `%s`. */
  toString(): string;
}

export const sqliteBackend: StorageBackend = {
  name: "sqlite",
  location: () => join(exitTempDir(), "db.sqlite"),
  open: async (location) => new SqliteStorage({ path: location }),
  toString: () => "sqlite",
};

/** PostgreSQL at `url` (a database URL); each location is a schema of its own. */
export function postgresBackend(url: string): StorageBackend {
  return {
    name: "postgres",
    location: () => `${url}${url.includes("?") ? "&" : "?"}schema=tp_${randomBytes(6).toString("hex")}`,
    open: (location) => PostgresStorage.open({ url: location, poolSize: 3 }),
    toString: () => "postgres",
  };
}

/** Both backends (PostgreSQL at `pgUrl`). */
export function storageBackends(pgUrl: string): StorageBackend[] {
  return [sqliteBackend, postgresBackend(pgUrl)];
}
