/**
 * The dashboard's study page, in Debian's chromium, when its server answers the study's read
 * UNAVAILABLE `{reason: "moved", endpoint: ""}`: no live server owns the study now (a takeover in
 * progress: its old owner's commit still holds its row; or a `tuneport import` writing it), and the
 * server serves it once that ends (service/ownership-refusal.ts). The page reads it again by itself,
 * as after any UNAVAILABLE, and shows the study once it is served. Before, every "moved" answer was
 * taken for a study that went to another server: "Not available", never read again, though the
 * message itself says to retry shortly. (A redirect naming an endpoint is still not retried.)
 * A real StudyService (SQLite) behind a DashboardServer whose `get_study` refuses the first reads.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TuneportError } from "../src/domain/errors.js";
import { silentLogger } from "../src/logger.js";
import { StudyService } from "../src/service/study-service.js";
import { sqliteBackend } from "../src/testing/storage-backends.js";
import { DashboardServer } from "../src/transports/http/dashboard.js";
import { launchChromium } from "./browser.js";

const HANG = 120_000;
const ASSETS = join(fileURLToPath(new URL("..", import.meta.url)), "dist/web");
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
}, HANG);
afterAll(async () => {
  await browser?.close();
});

describe("a study page whose study is changing hands", () => {
  it.each([
    ["no live owner (endpoint empty): read again until served", "", true],
    ["moved to another server (an endpoint): not read again", "tcp://b:1", false],
  ])("%s", async (_title, endpoint, retried) => {
    const storage = await sqliteBackend.open(sqliteBackend.location());
    const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await svc.execute("create_study", { name: "m", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
    let refusals = 2;
    let reads = 0;
    const source = {
      execute: async (op: string, args: unknown) => {
        if (op === "get_study" && (reads++, refusals > 0)) {
          refusals--;
          throw new TuneportError("UNAVAILABLE", "study 'm' is changing hands; retry shortly (same id)", {
            reason: "moved", study: "m", endpoint, owner_expires_in_s: 0, ...(endpoint === "" ? { retry_after_s: 0.2 } : {}),
          });
        }
        return svc.execute(op as never, args as never);
      },
      onChange: (l: Parameters<StudyService["onChange"]>[0]) => svc.onChange(l),
    };
    const server = new DashboardServer({ source: source as never, logger: silentLogger(), port: 0, assetsDir: ASSETS });
    const base = `http://127.0.0.1:${await server.start()}`;
    const page = await browser.newPage();
    page.setDefaultTimeout(HANG);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    try {
      await page.goto(`${base}/#/study/m`);
      if (retried) {
        await page.locator(".study-head h1", { hasText: "m" }).waitFor();
        expect(reads).toBeGreaterThanOrEqual(3);
      } else {
        await page.locator("#main", { hasText: "Not available" }).waitFor();
        await new Promise((r) => setTimeout(r, 500)); // the read again when the page's stream opened during the first
        const shown = reads;
        await new Promise((r) => setTimeout(r, 3000)); // a retry would come 1 s later
        expect(reads).toBe(shown);
        expect(await page.locator("#main").innerText()).toContain("Not available");
      }
      expect(errors).toEqual([]);
    } finally {
      await page.close();
      await server.close();
      await svc.close();
      await storage.close();
    }
  }, HANG);
});
