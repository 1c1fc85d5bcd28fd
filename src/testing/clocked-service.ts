/**
 * A service for tests that run a study through the service on a clock they set: over in-memory
 * SQLite, opened before each test of the `describe` that calls `clockedService` and closed (with
 * its storage) after it.
 */
import { afterEach, beforeEach } from "vitest";
import { silentLogger } from "../logger.js";
import { StudyService } from "../service/study-service.js";
import { SqliteStorage } from "../storage/sqlite/sqlite-storage.js";

/** The clock's time (epoch ms) at each test's start. */
export const CLOCK_START_MS = 1_000_000;

/** The current test's clock. */
export interface ClockedService {
  /** The service's clock, epoch ms: CLOCK_START_MS at each test's start; a test moves it on. */
  now: number;
  /** Moves the clock on by `s` seconds; returns the new time. */
  advance(s: number): number;
}

/**
 * Registers the hooks that open a service before each test of the calling `describe` (handed to
 * `opened`, which keeps it for the tests) and close it after; returns the tests' clock.
 */
export function clockedService(opened: (svc: StudyService) => void): ClockedService {
  let storage: SqliteStorage | undefined;
  let svc: StudyService | undefined;
  const env: ClockedService = {
    now: CLOCK_START_MS,
    advance: (s: number) => (env.now += s * 1000),
  };
  beforeEach(async () => {
    env.now = CLOCK_START_MS;
    storage = new SqliteStorage({ path: ":memory:" });
    svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => env.now, reapIntervalMs: 0 });
    opened(svc);
  });
  afterEach(async () => {
    await svc?.close();
    await storage?.close();
    svc = storage = undefined;
  });
  return env;
}
