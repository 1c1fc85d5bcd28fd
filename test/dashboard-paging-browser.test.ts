/**
 * The studies list reads `studies_overview` a page at a time, in Debian's chromium (playwright-core)
 * against a real DashboardServer on loopback (the built page, dist/web) over a real StudyService on
 * SQLite with more studies than one page (100): it shows the first page, in creation order, with a
 * "Show more studies" button that adds the next page (the keyboard's focus stays on it), hides the
 * button once every study is shown (the focus then on the first study the last page added), and
 * keeps the pages shown, and the keyboard's focus on its study, when a change makes it read again.
 * Every read names a limit: before, each read (on every change, and every 5 s while another
 * server's line was shown) asked for the whole overview, which summed up every study (1.1 s and a
 * 3 MiB reply at 10,000 studies on PostgreSQL, docs/BENCHMARKS.md "studies_overview among 10,000 studies").
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

const HANG = 180_000;
/** A hang guard for each wait on the page (shorter than the test's, so that a wait that never ends says what it waited for). */
const WAIT = 60_000;
const ASSETS = join(fileURLToPath(new URL("..", import.meta.url)), "dist/web");
const STUDIES = 250;
const tmp = tempDir();
let browser: Browser;
let storage: SqliteStorage;
let svc: StudyService;
let dash: DashboardServer;
let base = "";

beforeAll(async () => {
  storage = new SqliteStorage({ path: join(tmp.dir, "paging.db") });
  svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  // Creation order is not name order: the list's order is the op's (creation, then name).
  for (let i = 0; i < STUDIES; i++) await svc.execute("create_study", { name: `p-${String((i * 37) % STUDIES).padStart(3, "0")}`, space: { x: { type: "float", low: 0, high: 1 } } });
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

describe("the studies list longer than one page", () => {
  it("shows a page, adds one per 'Show more studies', and reads pages only", async () => {
    const order = ((await svc.execute("list_studies", {})).studies as { name: string }[]).map((s) => s.name);
    const page = await browser.newPage();
    page.setDefaultTimeout(HANG);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    const limits: unknown[] = [];
    page.on("request", (r) => void (r.url().endsWith("/api/op/studies_overview") && limits.push((r.postDataJSON() as { limit?: unknown }).limit)));
    await page.goto(`${base}/#/`);
    const rows = page.locator("table.studies tbody tr[data-study]");
    const more = page.getByRole("button", { name: "Show more studies" });
    const shown = () => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-study")));
    await expect.poll(shown, { timeout: WAIT }).toEqual(order.slice(0, 100));
    await more.waitFor({ state: "visible" });
    // From the keyboard: the button keeps the focus while the next page is added.
    await more.focus();
    await page.keyboard.press("Enter");
    await expect.poll(shown, { timeout: WAIT }).toEqual(order.slice(0, 200));
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.id)).toBe("more-studies");
    await page.keyboard.press("Enter");
    await expect.poll(shown, { timeout: WAIT }).toEqual(order);
    await more.waitFor({ state: "hidden" });
    // The last page read, the button hides: the focus goes to the first study it added (it fell to
    // the page's top, and the next Tab went to "Skip to content"), and Tab goes on to the next one.
    const focusedStudy = () => page.evaluate(() => (globalThis as any).document.activeElement?.closest("tr")?.getAttribute("data-study") ?? null);
    expect(await focusedStudy()).toBe(order[200]);
    await page.keyboard.press("Tab");
    expect(await focusedStudy()).toBe(order[201]);
    // A change read again: the pages shown stay shown, the new study at its place (the end).
    await svc.execute("create_study", { name: "late", space: { x: { type: "float", low: 0, high: 1 } } });
    await expect.poll(shown, { timeout: WAIT }).toEqual([...order, "late"]);
    expect(await more.isHidden()).toBe(true);
    // The rows drawn again, the focused study keeps the focus (it fell to the page's top).
    expect(await focusedStudy()).toBe(order[201]);
    expect(limits.length).toBeGreaterThanOrEqual(4);
    for (const l of limits) expect(typeof l).toBe("number");
    expect(errors).toEqual([]);
    await page.close();
  }, HANG);
});
