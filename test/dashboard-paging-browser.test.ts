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
import { describe, expect, it } from "vitest";
import { studiesDashboard } from "./browser.js";

const HANG = 180_000;
/** A hang guard for each wait on the page (shorter than the test's, so that a wait that never ends says what it waited for). */
const WAIT = 60_000;
const STUDIES = 250;
// Creation order is not name order: the list's order is the op's (creation, then name).
const dash = studiesDashboard(async (svc) => {
  for (let i = 0; i < STUDIES; i++) await svc.execute("create_study", { name: `p-${String((i * 37) % STUDIES).padStart(3, "0")}`, space: { x: { type: "float", low: 0, high: 1 } } });
}, HANG);

describe("the studies list longer than one page", () => {
  it("shows a page, adds one per 'Show more studies', and reads pages only", async () => {
    const { browser, svc, base } = dash;
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
