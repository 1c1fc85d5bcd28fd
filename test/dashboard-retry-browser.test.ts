/**
 * The dashboard page's own retries and re-reads, in Debian's chromium (playwright-core) against a
 * real DashboardServer on loopback (the built page, dist/web) whose ops are a stand-in the test
 * steers: it answers UNAVAILABLE (the server's hold on its studies unsure), lines of another
 * server's studies (`from_storage`), or none.
 *
 * - A page retrying by itself keeps the keyboard user's place: a read refused again updates the
 *   "retrying" line in place (the "Back to the studies" link keeps its focus), and the list is not
 *   drawn empty between two refusals. Before, each retry rebuilt the page and moved the focus to
 *   the page's main region (every 10 s, for as long as the server refused).
 * - A retry due after the user left the page never fires: it would build the page now at the
 *   address again (test/dashboard-unavailable-browser's count of list reads cannot see that).
 * - A read the server was too busy to take (503 with Retry-After, already sent again 6 times by
 *   the page, its waits grown to 16 s) is retried no sooner than that: before, the page came back
 *   1 s later and began again at 1 s.
 * - The list's 5 s re-reads of other servers' lines do not pile up when the list is left and
 *   opened again many times, stop on another page, and never run on a server with no such line.
 *
 * The page's waits pass on its own clock, held and moved by the test (test/page-clock.ts): the
 * seconds of its backoff and re-reads are not waited out (149 s of wall time before, mostly the
 * Retry-After test's 100 s of the page's waits), and its reads are counted and timed by the page.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TuneportError } from "../src/domain/errors.js";
import { silentLogger } from "../src/logger.js";
import type { StudyChange } from "../src/service/change-feed.js";
import { DashboardServer } from "../src/transports/http/dashboard.js";
import { LIGHT_LANE } from "../src/transports/http/op-gate.js";
import { launchChromium } from "./browser.js";
import { advance, advanceUntil, installPageClock, pageReads } from "./page-clock.js";

const HANG = 120_000;
const ASSETS = join(fileURLToPath(new URL("..", import.meta.url)), "dist/web");
let browser: Browser;
let server: DashboardServer | undefined;

beforeAll(async () => {
  browser = await launchChromium();
}, HANG);
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const line = (name: string, fromStorage: boolean) => ({
  name, direction: "minimize", strategy: "random", counts: { COMPLETE: 1 }, best: null, last_activity_at: null, live_workers: 0, workers: [], stopped: false,
  ...(fromStorage ? { from_storage: true } : {}),
});

/** A DashboardServer whose `execute` is `answer`; resolves with its base URL. */
async function serve(answer: (op: string, args: any) => Promise<unknown>): Promise<string> {
  const source = { execute: answer, onChange: (_l: (c: StudyChange) => void) => () => undefined };
  server = new DashboardServer({ source, logger: silentLogger(), port: 0, assetsDir: ASSETS });
  return `http://127.0.0.1:${await server.start()}`;
}

/** A page at `url` on a clock held from its start, which the test moves (`advance`); `errors`: its uncaught errors. */
async function open(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  page.setDefaultTimeout(HANG);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await installPageClock(page);
  await page.goto(url);
  return { page, errors };
}

const LIST = "/api/op/studies_overview";
const listReads = async (page: Page) => (await pageReads(page, LIST)).length;

describe("a page the server answers UNAVAILABLE", () => {
  it("keeps the keyboard's place while it retries", async () => {
    let refusing = true;
    const base = await serve(async () => {
      if (refusing) throw new TuneportError("UNAVAILABLE", "this server's hold on its studies is unsure");
      return { studies: [line("s", false)] };
    });
    const { page, errors } = await open(`${base}/#/`);
    await page.locator("#main", { hasText: "retrying in 1 s" }).waitFor();
    // Drawn empty between two refusals: "Studies" with no line.
    let empty = 0;
    await page.exposeFunction("sawEmpty", () => void empty++);
    await page.evaluate(() => {
      const d = globalThis as any;
      new d.MutationObserver(() => d.document.querySelector("#main table.studies") && d.sawEmpty()).observe(d.document.getElementById("main"), { childList: true, subtree: true });
    });
    // A keyboard user moves to the page's link.
    await page.getByRole("link", { name: "Back to the studies" }).focus();
    const retrying = page.locator("#main", { hasText: "retrying in 4 s" });
    await advanceUntil(page, () => retrying.isVisible()); // two more refusals, 1 s and 2 s apart
    expect(await page.evaluate(() => (globalThis as any).document.activeElement?.textContent)).toBe("Back to the studies");
    expect(empty).toBe(0);
    refusing = false;
    const row = page.locator('tr[data-study="s"]');
    await advanceUntil(page, () => row.isVisible());
    expect(errors).toEqual([]);
    await page.close();
  }, HANG);

  it("stops retrying once left: its retry never rebuilds the page the user went to", async () => {
    const base = await serve(async (op) => {
      if (op === "studies_overview") throw new TuneportError("UNAVAILABLE", "this server's hold on its studies is unsure");
      throw new TuneportError("NOT_FOUND", "no study named 'x'");
    });
    const { page, errors } = await open(`${base}/#/`);
    await page.locator("#main", { hasText: "retrying in 1 s" }).waitFor();
    // Left for a page answered at once (NOT_FOUND: not retried, no retry of its own).
    await page.evaluate(() => void ((globalThis as any).location.hash = "#/study/x"));
    await page.locator("#main", { hasText: "no study named" }).waitFor();
    // The list's retry was due 1 s later: it must not fire, nor build this page again (the
    // address it would read now). caf9ee1's count of list reads cannot see that: it reads this page.
    await advance(page, 4000);
    expect(await pageReads(page, "/api/op/get_study")).toHaveLength(1);
    expect(errors).toEqual([]);
    await page.close();
  }, HANG);

  it("that was too busy to take it (Retry-After) comes back no sooner than its longest wait", async () => {
    // Every place taken, for good: each of the page's reads is answered 503 with Retry-After.
    const held: (() => void)[] = [];
    let holding = true;
    const base = await serve(async (_op, args) => {
      if (holding && args?.crowd === true) await new Promise<void>((r) => held.push(r));
      return { studies: [] };
    });
    const port = Number(new URL(base).port);
    const crowd: Promise<unknown>[] = [];
    for (let i = 0; i < LIGHT_LANE.running + LIGHT_LANE.queued; i++)
      crowd.push(fetch(`http://127.0.0.1:${port}/api/op/studies_overview`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ crowd: true }) }).then((r) => r.text(), () => undefined));
    await expect.poll(() => server?.ops.light, { timeout: HANG }).toEqual({ running: LIGHT_LANE.running, queued: LIGHT_LANE.queued });
    const { page } = await open(`${base}/#/`);
    // The page's own 6 tries (waits of 1, 2, 4, 8, 16 s, each up to half again), then its error;
    // 6 more (the page read again: its stream opened during the first read, or its own retry),
    // then the page's retry: the 13th read.
    await advanceUntil(page, async () => (await listReads(page)) >= 13, 1000);
    await page.locator("#main", { hasText: "retrying" }).waitFor();
    const reads = (await pageReads(page, LIST)).map((r) => r.at);
    expect((reads[12] as number) - (reads[11] as number)).toBeGreaterThanOrEqual(15_000);
    await page.close();
    holding = false;
    for (const r of held.splice(0)) r();
    await Promise.allSettled(crowd);
  }, 3 * HANG);
});

describe("the studies list's re-reads", () => {
  it("do not pile up across navigations, stop on another page, and run only with another server's line", async () => {
    let others = true;
    const base = await serve(async (op) => {
      if (op === "studies_overview") return { studies: [line("mine", false), ...(others ? [line("theirs", true)] : [])] };
      throw new TuneportError("NOT_FOUND", "no study named 'x'");
    });
    const { page, errors } = await open(`${base}/#/`);
    await page.locator('tr[data-study="theirs"]').waitFor();
    for (let i = 0; i < 10; i++) {
      await page.evaluate(() => void ((globalThis as any).location.hash = "#/study/x"));
      await page.locator("#main", { hasText: "no study named" }).waitFor();
      await page.evaluate(() => void ((globalThis as any).location.hash = "#/"));
      await page.locator('tr[data-study="theirs"]').waitFor();
    }
    const from = await listReads(page);
    await advance(page, 12_000);
    // One list, one 5 s timer: 2 re-reads in 12 s (3 at most, a timer spanning the start).
    expect((await listReads(page)) - from).toBeGreaterThanOrEqual(2);
    expect((await listReads(page)) - from).toBeLessThanOrEqual(3);
    await page.evaluate(() => void ((globalThis as any).location.hash = "#/study/x"));
    await page.locator("#main", { hasText: "no study named" }).waitFor();
    const left = await listReads(page);
    await advance(page, 11_000);
    expect(await listReads(page)).toBe(left);
    // No line of another server (one SQLite server): read once, and not again.
    others = false;
    await page.evaluate(() => void ((globalThis as any).location.hash = "#/"));
    await page.locator('tr[data-study="mine"]').waitFor();
    const single = await listReads(page);
    await advance(page, 11_000);
    expect(await listReads(page)).toBe(single);
    expect(errors).toEqual([]);
    await page.close();
  }, 2 * HANG);
});
