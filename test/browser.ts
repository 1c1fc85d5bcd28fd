/** The browser of the browser tests: Debian's chromium driven by playwright-core, never a downloaded one. */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll } from "vitest";
import { silentLogger } from "../src/logger.js";
import { StudyService } from "../src/service/study-service.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";
import { DashboardServer } from "../src/transports/http/dashboard.js";
import { tempDir } from "./mcp-helpers.js";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: "/usr/bin/chromium",
    // playwright-core passes its own fresh --user-data-dir; headless from `headless: true`.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    headless: true,
  });
}

/**
 * A studies dashboard for a browser test file: before its tests, a real StudyService on a SQLite file
 * (`fill` creates its studies), a real DashboardServer on loopback serving the built page (dist/web)
 * and Debian's chromium; after them, all closed. The fields are set once `beforeAll` has run.
 */
export function studiesDashboard(fill: (svc: StudyService) => Promise<void>, hangMs: number): { browser: Browser; svc: StudyService; base: string } {
  const tmp = tempDir();
  const out = {} as { browser: Browser; svc: StudyService; base: string };
  let storage: SqliteStorage | undefined;
  let dash: DashboardServer | undefined;
  beforeAll(async () => {
    storage = new SqliteStorage({ path: join(tmp.dir, "studies.db") });
    out.svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await fill(out.svc);
    dash = new DashboardServer({ source: out.svc, logger: silentLogger(), port: 0, assetsDir: join(fileURLToPath(new URL("..", import.meta.url)), "dist/web") });
    out.base = `http://127.0.0.1:${await dash.start()}`;
    out.browser = await launchChromium();
  }, hangMs);
  afterAll(async () => {
    await out.browser?.close();
    await dash?.close();
    await out.svc?.close();
    await storage?.close();
    tmp.cleanup();
  });
  return out;
}
