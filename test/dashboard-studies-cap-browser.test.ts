/**
 * The studies list shows at most 1,000 studies, in Debian's chromium (playwright-core) against a real
 * DashboardServer on loopback (the built page, dist/web) over a real StudyService on SQLite with
 * 1,050 studies: "Show more studies" adds a page of 100 up to the first 1,000, then hides, and the
 * page says that more follow and how to reach them; no read asks for more than 1,000, and a change
 * read again keeps the same 1,000. Before, the button grew the list without end: each change heard
 * (at most every 0.5 s) and each 5 s poll read again and drew every study shown, at 10,000 studies
 * all of them (a 3 MiB reply; docs/BENCHMARKS.md "studies_overview among 10,000 studies").
 */
import { describe, expect, it } from "vitest";
import { studiesDashboard } from "./browser.js";

const HANG = 240_000;
/** A hang guard for each wait on the page (shorter than the test's, so that a wait that never ends says what it waited for). */
const WAIT = 60_000;
const STUDIES = 1050;
const SHOWN = 1000;
const SPACE = { x: { type: "float", low: 0, high: 1 } };
const dash = studiesDashboard(async (svc) => {
  for (let i = 0; i < STUDIES; i += 50)
    await Promise.all(Array.from({ length: 50 }, (_, j) => svc.execute("create_study", { name: `c-${String(i + j).padStart(4, "0")}`, space: SPACE })));
}, HANG);

describe("the studies list of more studies than it shows", () => {
  it("stops adding pages at 1,000 studies and says that more follow", async () => {
    const { browser, svc, base } = dash;
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
