/**
 * The dashboard's study page when its study goes away under it, in Debian's chromium
 * (playwright-core) against real `tuneport serve --dashboard` processes:
 *
 * - deleted while the page is open: the page says so ("Not available") rather than keep showing
 *   the gone study's trials; created again under the same name with another space and two
 *   objectives: the page is built anew (objective columns, the new parameters in the filters and
 *   the enqueue form, the multi-objective charts), not the old page with the new rows;
 * - the same, deleted and created again while the dashboard was down (the changes of the gap are
 *   never sent): when the stream comes back, the page is built for the new study;
 * - a button's header read and an older live read that answers after it: the newer one stays drawn;
 * - the longest names the server takes (a 200-character study name, a 256-character parameter, a
 *   500-character choice, none with a space) wrap or scroll in their own box: no page grows sideways.
 */
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./browser.js";
import { type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

const HANG = 90_000;
let browser: Browser;
const dir = tempDir();

async function dashboardOf(server: ServerProcess): Promise<string> {
  for (let i = 0; i < 900; i++) {
    const line = server.lines.find((l) => l.includes("tuneport ready"));
    if (line) return (JSON.parse(line) as { dashboard: string }).dashboard.replace(/\/$/, "");
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ready line: ${server.lines.join("\n")}`);
}

async function tellOne(client: TestClient, study: string, result: Record<string, unknown>): Promise<void> {
  const a = await client.call("ask", { study });
  await client.call("tell", { study, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", ...result });
}

const oneObjective = (name: string) => ({ name, space: { x: { type: "float", low: 0, high: 1 }, y: { type: "int", low: 1, high: 5 } }, strategy: "random", seed: 1 });
const twoObjectives = (name: string) => ({ name, directions: ["minimize", "maximize"], space: { a: { type: "categorical", choices: ["p", "q"] }, b: { type: "float", low: -1, high: 1 } }, strategy: "random", seed: 2 });

async function openStudy(base: string, name: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(HANG);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${base}/#/study/${name}`);
  await page.locator("#trials tbody tr").first().waitFor();
  return { page, errors };
}

/** A server with a dashboard, a client, a one-objective study `name` with one trial told, and a fresh page (not opened yet). */
async function studyWithOneTrial(name: string): Promise<{ server: ServerProcess; base: string; client: TestClient; page: Page; errors: string[] }> {
  const server = await startServer(join(dir, `${name}.db`), ["--dashboard", "0", "--log-format", "json"]);
  const base = await dashboardOf(server);
  const client = new TestClient(server.endpoint);
  await client.call("create_study", oneObjective(name));
  await tellOne(client, name, { value: 1 });
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(HANG);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { server, base, client, page, errors };
}

/** The end of a test of `studyWithOneTrial`: no page error, then everything closed. */
async function finish(t: { server: ServerProcess; client: TestClient; page: Page; errors: string[] }): Promise<void> {
  expect(t.errors).toEqual([]);
  await t.page.close();
  await t.client.close();
  await t.server.stop();
}

/** The page built for the two-objective study: its columns, filters, form and charts. */
async function expectTwoObjectivePage(page: Page): Promise<void> {
  const headers = () => page.locator("#trials thead th").allInnerTexts();
  await expect.poll(headers, { timeout: HANG }).toEqual(expect.arrayContaining(["Objective 0 (minimize)", "Objective 1 (maximize)", "a", "b"]));
  expect((await headers()).map((t) => t.replace(/ [▲▼]$/, ""))).not.toContain("Value");
  expect(await page.locator("#enqueue-form select, #enqueue-form input").evaluateAll((els) => els.map((e) => e.getAttribute("name")))).toEqual(["a", "b"]);
  expect(await page.locator(".range-row label").allInnerTexts()).toEqual(["b from", "to"]);
  expect(await page.locator(".chart").evaluateAll((els) => els.map((e) => e.getAttribute("data-kind")))).toEqual(["pareto_front", "hypervolume_history", "intermediate_values"]);
}

beforeAll(async () => {
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stopServers();
});

describe("a study page whose study is deleted or created again", () => {
  it("says the study is gone, then builds the page of the new study of that name", async () => {
    const server = await startServer(join(dir, "live.db"), ["--dashboard", "0", "--log-format", "json"]);
    const base = await dashboardOf(server);
    const client = new TestClient(server.endpoint);
    await client.call("create_study", oneObjective("live"));
    await tellOne(client, "live", { value: 1 });
    const { page, errors } = await openStudy(base, "live");
    await tellOne(client, "live", { value: 2 });
    await expect.poll(() => page.locator("#trials tbody tr").count(), { timeout: HANG }).toBe(2);

    await client.call("delete_study", { study: "live" });
    await page.locator("h1", { hasText: "Not available" }).waitFor();
    expect(await page.locator("main").innerText()).toContain("no study named 'live'");

    // The race the page must survive: its first read of the table answers before the trial is
    // told, and the tell's change arrives while the page is still being built (its get_study is
    // held here until the change has been sent). The change must not be lost.
    let arrived = () => undefined as void;
    const heldArrived = new Promise<void>((r) => (arrived = r));
    let release = () => undefined as void;
    const released = new Promise<void>((r) => (release = r));
    await page.route("**/api/op/get_study", async (route) => {
      arrived();
      await released;
      await route.continue();
    });
    // A 200 only: the deleted study's page read its table beside get_study, and that read's 404 can
    // arrive after "Not available" is on screen (it was taken for the new page's read once).
    const firstTable = page.waitForResponse((r) => r.url().endsWith("/api/op/query_trials") && r.status() === 200);
    await client.call("create_study", twoObjectives("live"));
    await heldArrived;
    expect((await (await firstTable).json()).total).toBe(0);
    // A stream of the test's own, open before the tell, says when the tell's change has been sent.
    await page.evaluate(`new Promise((opened) => {
      const es = new EventSource("/api/events");
      window.told = new Promise((resolve) => {
        es.addEventListener("change", (e) => {
          const c = JSON.parse(e.data);
          if (c.study === "live" && c.kind === "updated") {
            es.close();
            resolve();
          }
        });
      });
      es.addEventListener("open", () => opened());
    })`);
    const updated = page.evaluate("window.told");
    await tellOne(client, "live", { values: [0.5, 0.25] });
    await updated;
    await new Promise((r) => setTimeout(r, 300)); // the page's own stream had it too
    release(); // from here on every get_study passes at once
    await expectTwoObjectivePage(page);
    await expect.poll(() => page.locator("#trials tbody tr").count(), { timeout: HANG }).toBe(1);
    await finish({ server, client, page, errors });
  }, 4 * HANG);

  it("builds the page anew when the study was created again while the dashboard was down", async () => {
    const db = join(dir, "gap.db");
    const first = await startServer(db, ["--dashboard", "0", "--log-format", "json"]);
    const base = await dashboardOf(first);
    const port = new URL(base).port;
    let client = new TestClient(first.endpoint);
    await client.call("create_study", oneObjective("gap"));
    await tellOne(client, "gap", { value: 1 });
    const { page } = await openStudy(base, "gap");
    await client.close();
    await first.stop();
    await expect.poll(() => page.locator("#conn").getAttribute("data-live"), { timeout: HANG }).toBe("false");

    // Another server, without a dashboard, deletes the study and creates another of that name.
    const other = await startServer(db, ["--log-format", "json"]);
    client = new TestClient(other.endpoint);
    await client.call("delete_study", { study: "gap" });
    await client.call("create_study", twoObjectives("gap"));
    await tellOne(client, "gap", { values: [0.5, 0.25] });
    await client.close();
    await other.stop();

    const back = await startServer(db, ["--dashboard", port, "--log-format", "json"]);
    await dashboardOf(back);
    await expect.poll(() => page.locator("#conn").getAttribute("data-live"), { timeout: HANG }).toBe("true");
    await expectTwoObjectivePage(page);
    await page.close();
    await back.stop();
  }, 4 * HANG);
});

describe("a page whose live stream opens after its first read", () => {
  it("shows a trial told between the read and the stream's open", async () => {
    const t = await studyWithOneTrial("late");
    const { base, client, page } = t;
    // The race: the page reads the table, a trial is told, and only then does the page's stream
    // open (held here until the tell is committed): the tell's change is never sent to it.
    let release = () => undefined as void;
    const released = new Promise<void>((r) => (release = r));
    await page.route("**/api/events", async (route) => {
      await released;
      await route.continue();
    });
    await page.goto(`${base}/#/study/late`);
    await page.locator("#trials tbody tr").first().waitFor();
    expect(await page.locator("#trials tbody tr").count()).toBe(1);
    await tellOne(client, "late", { value: 2 });
    release();
    await expect.poll(() => page.locator("#conn").getAttribute("data-live"), { timeout: HANG }).toBe("true");
    await expect.poll(() => page.locator("#trials tbody tr").count(), { timeout: HANG }).toBe(2);
    await finish(t);
  }, 4 * HANG);
});

describe("a study page whose header reads cross", () => {
  it("draws the read a button made over an older live read that answers after it", async () => {
    const t = await studyWithOneTrial("head");
    const { base, client, page } = t;
    await page.goto(`${base}/#/study/head`);
    await page.getByRole("button", { name: "Stop study" }).waitFor();
    await expect.poll(() => page.locator("#conn").getAttribute("data-live"), { timeout: HANG }).toBe("true");
    // From here: the first get_study (a live refresh) is answered with the state it read, but only
    // once released; the second (the button's, after stop_study) at once; later ones (the live
    // refresh that the stop's own change asks for) are held to the end, so that what the page
    // draws in between stays on screen to be seen.
    let calls = 0;
    let release = () => undefined as void;
    const released = new Promise<void>((r) => (release = r));
    let thirdArrived = () => undefined as void;
    const third = new Promise<void>((r) => (thirdArrived = r));
    let firstRead = () => undefined as void;
    const firstWasRead = new Promise<void>((r) => (firstRead = r));
    await page.route("**/api/op/get_study", async (route) => {
      const n = ++calls;
      if (n === 1) {
        const answer = await route.fetch(); // the study as it is now: running
        firstRead();
        await released;
        return route.fulfill({ response: answer });
      }
      if (n === 2) return route.continue();
      thirdArrived();
      await new Promise(() => undefined); // held: the page is closed at the end
    });
    await tellOne(client, "head", { value: 2 });
    await firstWasRead;
    await page.getByRole("button", { name: "Stop study" }).click();
    await page.getByRole("button", { name: "Resume study" }).waitFor();
    release();
    // The live refresh runs again only once its header and table are drawn: the older answer has
    // been handled by the time the next read arrives.
    await third;
    expect(await page.locator("#stop-resume").innerText()).toBe("Resume study");
    await t.page.unrouteAll({ behavior: "ignoreErrors" });
    await finish(t);
  }, 4 * HANG);
});

describe("a page whose live stream is refused", () => {
  it("opens it again later (browsers never retry a stream answered with an HTTP error)", async () => {
    const t = await studyWithOneTrial("refused");
    const { base, client, page } = t;
    // The first stream is answered as a server holding its most streams answers (503).
    let refused = 0;
    await page.route("**/api/events", async (route) => {
      if (refused++ === 0) return route.fulfill({ status: 503, contentType: "application/json", body: '{"error":{"code":"UNAVAILABLE","message":"too many live streams"}}' });
      await route.continue();
    });
    await page.goto(`${base}/#/study/refused`);
    await page.locator("#trials tbody tr").first().waitFor();
    await expect.poll(() => page.locator("#conn").getAttribute("data-live"), { timeout: HANG }).toBe("true");
    expect(refused).toBeGreaterThanOrEqual(2);
    await tellOne(client, "refused", { value: 2 });
    await expect.poll(() => page.locator("#trials tbody tr").count(), { timeout: HANG }).toBe(2);
    await finish(t);
  }, 4 * HANG);
});

describe("a live page whose refreshes cross", () => {
  it("never shows an older read over a newer one (the studies list)", async () => {
    const t = await studyWithOneTrial("cross");
    const { base, client, page } = t;
    const overview = (r: { url(): string }) => r.url().endsWith("/api/op/studies_overview");
    let inFlight = 0;
    page.on("request", (r) => void (overview(r) && inFlight++));
    page.on("requestfinished", (r) => void (overview(r) && inFlight--));
    page.on("requestfailed", (r) => void (overview(r) && inFlight--));
    /** Until no read of the list is in flight over two round trips of the page. */
    const quiet = async () => {
      for (let n = 0; n < 2; ) {
        await page.evaluate(() => new Promise((r) => setTimeout(r, 100)));
        n = inFlight === 0 ? n + 1 : 0;
      }
    };
    // The race: a refresh reads the list (after the first tell), its answer is slow to come back,
    // and the second tell's refresh reads and answers meanwhile. Here the first answer is held.
    let hold = false;
    let held = () => undefined as void;
    const heldRead = new Promise<void>((r) => (held = r));
    let release = () => undefined as void;
    const released = new Promise<void>((r) => (release = r));
    await page.route("**/api/op/studies_overview", async (route) => {
      if (!hold) return route.continue();
      hold = false;
      const answer = await route.fetch();
      held();
      await released;
      await route.fulfill({ response: answer });
    });
    await page.goto(`${base}/#/`);
    const counts = page.locator('tr[data-study="cross"] td.counts');
    await expect.poll(() => counts.innerText(), { timeout: HANG }).toBe("complete 1");
    await expect.poll(() => page.locator("#conn").getAttribute("data-live"), { timeout: HANG }).toBe("true");
    await quiet();

    hold = true;
    await tellOne(client, "cross", { value: 2 });
    await heldRead;
    const firstAnswered = page.waitForEvent("requestfinished", overview);
    await tellOne(client, "cross", { value: 3 });
    // A page that reads again at once has its newer answer by now (one that waits reads later).
    await Promise.race([page.waitForResponse(overview), new Promise((r) => setTimeout(r, 3000))]);
    release();
    await firstAnswered;
    await quiet();
    expect(await counts.innerText()).toBe("complete 3");
    await finish(t);
  }, 4 * HANG);
});

describe("long names", () => {
  it("wrap, and wide tables scroll in their own box: no page is wider than the window", async () => {
    const server = await startServer(join(dir, "long.db"), ["--dashboard", "0", "--log-format", "json"]);
    const base = await dashboardOf(server);
    const client = new TestClient(server.endpoint);
    const name = "L".repeat(200);
    const param = "q".repeat(256);
    await client.call("create_study", { name, strategy: "random", seed: 3, space: { x: { type: "float", low: 0, high: 1 }, [param]: { type: "categorical", choices: ["y".repeat(500), "z"] } } });
    await client.call("set_user_attrs", { study: name, notes: "n".repeat(2000) });
    for (let i = 0; i < 3; i++) await tellOne(client, name, { value: i });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(HANG);
    const sideways = () => page.evaluate<number>("document.documentElement.scrollWidth - document.documentElement.clientWidth");
    await page.goto(`${base}/`);
    await page.locator("tr[data-study]").waitFor();
    expect(await sideways()).toBeLessThanOrEqual(0);
    await page.goto(`${base}/#/study/${name}`);
    await page.locator("#trials tbody tr").first().waitFor();
    for (const box of await page.locator(".chart").all()) {
      await box.scrollIntoViewIfNeeded();
      await box.and(page.locator("[data-state]")).waitFor();
    }
    expect(await sideways()).toBeLessThanOrEqual(0);
    await page.goto(`${base}/#/study/${name}/trial/0`);
    await page.locator("h1", { hasText: "Trial 0 " }).waitFor();
    expect(await sideways()).toBeLessThanOrEqual(0);
    await page.close();
    await client.close();
    await server.stop();
  }, 4 * HANG);
});
