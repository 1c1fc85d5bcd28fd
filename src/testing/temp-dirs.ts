/**
 * Temporary directories for tests, removed after each test file (test/setup/temp-dirs.setup.ts,
 * a vitest setup file) and, failing that, when the process exits: a suite run left a few hundred
 * SQLite files in the system's temporary directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];

/** A fresh directory under the system's temporary directory, removed by `removeTempDirs`. */
export function exitTempDir(prefix = "tuneport-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0) process.once("exit", removeTempDirs);
  made.push(dir);
  return dir;
}

/** Removes every directory `exitTempDir` made so far. */
export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
