/**
 * The studies list shows at most 1,000 studies, in Debian's chromium (playwright-core) against a real
 * DashboardServer on loopback (the built page, dist/web) over a real StudyService on SQLite with
 * 1,050 studies: "Show more studies" adds a page of 100 up to the first 1,000, then hides, and the
 * page says that more follow and how to reach them; no read asks for more than 1,000, and a change
 * read again keeps the same 1,000. Before, the button grew the list without end: each change heard
 * (at most every 0.5 s) and each 5 s poll read again and drew every study shown, at 10,000 studies
 * all of them (a 3 MiB reply; docs/BENCHMARKS.md "studies_overview among 10,000 studies").
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../src/logger.js";
import { StudyService } from "../src/service/study-service.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";
import { DashboardServer } from "../src/transports/http/dashboard.js";
import { launchChromium } from "./browser.js";
import { tempDir } from "./mcp-helpers.js";

const HANG = 240_000;
/** A hang guard for each wait on the page (shorter than the test's, so that a wait that never ends says what it waited for). */
const WAIT = 60_000;
const ASSETS = join(fileURLToPath(new URL("..", import.meta.url)), "dist/web");
const STUDIES = 1050;
const SHOWN = 1000;
const SPACE = { x: { type: "float", low: 0, high: 1 } };
const tmp = tempDir();
let browser: Browser;
let storage: SqliteStorage;
let svc: StudyService;
let dash: DashboardServer;
let base = "";

beforeAll(async () => {
  storage = new SqliteStorage({ path: join(tmp.dir, "cap.db") });
  svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  for (let i = 0; i < STUDIES; i += 50)
    await Promise.all(Array.from({ length: 50 }, (_, j) => svc.execute("create_study", { name: `c-${String(i + j).padStart(4, "0")}`, space: SPACE })));
  dash = new DashboardServer({ source: svc, logger: silentLogger(), port: 0, assetsDir: ASSETS });
  base = `http://127.0.0.1:${await dash.start()}`;
  browser = await launchChromium();
}, HANG);
afterAll(async () => {
  await browser?.close();
  await dash?.close();
  await svc?.close();
  await storage?.close();
  tmp.cleanup();
});

describe("the studies list of more studies than it shows", () => {
  it("stops adding pages at 1,000 studies and says that more follow", async () => {
    const order = ((await svc.execute("list_studies", {})).studies as { name: string }[]).map((s) => s.name);
    expect(order).toHaveLength(STUDIES);
    const page = await browser.newPage();
    page.setDefaultTimeout(HANG);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const limits: number[] = [];
    page.on("request", (r) => void (r.url().endsWith("/api/op/studies_overview") && limits.push((r.postDataJSON() as { limit: number }).limit)));
    await page.goto(`${base}/#/`);
    const rows = page.locator("table.studies tbody tr[data-study]");
    const more = page.getByRole("button", { name: "Show more studies" });
    const note = page.locator("#studies-capped");
    const count = () => rows.count();
    await expect.poll(count, { timeout: WAIT }).toBe(100);
    expect(await note.isHidden()).toBe(true);
    for (let shown = 200; shown <= SHOWN; shown += 100) {
      await more.click();
      await expect.poll(count, { timeout: WAIT }).toBe(shown);
    }
    // The cap reached, with studies left: the button goes, the note says so.
    await more.waitFor({ state: "hidden", timeout: WAIT });
    await note.waitFor({ state: "visible", timeout: WAIT });
    expect(await note.textContent()).toContain("first 1,000 studies");
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-study")))).toEqual(order.slice(0, SHOWN));
    // A change read again: still the first 1,000 (the new study, the latest, is not among them).
    const reads = limits.length;
    await svc.execute("create_study", { name: "late", space: SPACE });
    await expect.poll(() => limits.length, { timeout: WAIT }).toBeGreaterThan(reads);
    await expect.poll(count, { timeout: WAIT }).toBe(SHOWN);
    expect(await more.isHidden()).toBe(true);
    expect(limits.filter((l) => l > SHOWN)).toEqual([]);
    expect(limits).toContain(SHOWN);
    expect(errors).toEqual([]);
    await page.close();
  }, HANG);
});
