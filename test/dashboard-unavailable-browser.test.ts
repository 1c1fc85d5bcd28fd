/**
 * The dashboard's studies list, in a real browser (Debian's chromium), on a `tuneport serve` whose
 * link to the test PostgreSQL server stalls (a TCP proxy between them stops passing bytes): the
 * server's ownership renewals go unanswered, and past its TTL it answers `studies_overview`
 * UNAVAILABLE (503, no Retry-After: its hold on its studies is unsure). A list page opened then says
 * it is retrying (as a study's page does; the list's retries stop once it is left), and shows the
 * studies once the link is back, without a reload. Before, it said
 * "Not available" until its live stream reconnected (which a stalled database never makes it do)
 * or the user reloaded.
 *
 * And on two servers sharing the database: the list of one re-reads the lines of studies the other
 * serves (it hears no change of those) every 5 s while it shows any. Before, they stayed as of the
 * list's last read, until a change of its own server's studies or a reload.
 *
 * The pages run on a clock the test holds (test/page-clock.ts): their retry and re-read timers fire
 * when the test moves it, not after seconds of wall time; the servers and PostgreSQL keep real time.
 */
import { type Server, type Socket, connect, createServer } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { postgresBackend } from "../src/testing/storage-backends.js";
import { launchChromium } from "./browser.js";
import { TestClient, freePort, startServer, stopServers } from "./helpers.js";
import { advance, advanceUntil, installPageClock } from "./page-clock.js";

const HANG = 90_000;
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await stopServers();
});

/**
 * A loopback TCP port forwarding to the test server's unix socket (`url`'s host and port). While
 * `stall()`ed, it passes nothing either way (new connections too): a partition, or a database that
 * stopped answering; `flow()` passes what was held and goes on.
 */
async function stallingProxy(url: string, port: number): Promise<{ server: Server; url: string; stall: () => void; flow: () => void }> {
  const dir = decodeURIComponent(/host=([^&]*)/.exec(url)?.[1] ?? "");
  const path = `${dir}/.s.PGSQL.${/port=([0-9]+)/.exec(url)?.[1] ?? "5432"}`;
  let stalled = false;
  const held: [Socket, Buffer][] = [];
  const pass = (to: Socket, d: Buffer) => (stalled ? held.push([to, d]) : to.write(d));
  const server = createServer((c) => {
    const s = connect(path);
    c.on("data", (d: Buffer) => pass(s, d));
    s.on("data", (d: Buffer) => pass(c, d));
    c.on("close", () => s.destroy());
    s.on("close", () => c.destroy());
    c.on("error", () => undefined);
    s.on("error", () => undefined);
  });
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
  const proxied = url.replace(/host=[^&]*/, "host=127.0.0.1").replace(/port=[0-9]+/, `port=${port}`);
  return {
    server,
    url: proxied,
    stall: () => (stalled = true),
    flow: () => {
      stalled = false;
      for (const [to, d] of held.splice(0)) if (!to.destroyed) to.write(d);
    },
  };
}

describe("the studies list of a server whose database stalls", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("says it is retrying while the server answers UNAVAILABLE, and shows the studies once it answers again", async () => {
    const proxy = await stallingProxy(backend.location(), await freePort());
    const a = await startServer(proxy.url, ["--ownership-ttl", "1", "--dashboard", String(await freePort()), "--log-format", "json"]);
    let base = "";
    for (let i = 0; i < 900 && !base; i++) {
      const line = a.lines.find((l) => l.includes("tuneport ready"));
      if (line) base = (JSON.parse(line) as { dashboard: string }).dashboard.replace(/\/$/, "");
      else await new Promise((r) => setTimeout(r, 100));
    }
    const client = new TestClient(a.endpoint);
    await client.call("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });

    const page = await browser.newPage();
    page.setDefaultTimeout(HANG);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    try {
      proxy.stall();
      // Past its TTL with no renewal answered, the server's hold is unsure: the list is refused.
      await expect
        .poll(async () => (await client.request("studies_overview", {}, `probe-${Date.now()}`)).error?.code, { timeout: HANG, interval: 200 })
        .toBe("UNAVAILABLE");
      await installPageClock(page);
      await page.goto(`${base}/#/`);
      await page.locator("#main", { hasText: "retrying" }).waitFor();
      // The page retries on its own time (1 s, then longer): still refused, it still says so.
      await advanceUntil(page, () => page.locator("#main", { hasText: "retrying in 2 s" }).isVisible());
      // Left for the study's page (refused too, and retried on its own): the list's retries stop.
      let listReads = 0;
      page.on("request", (r) => void (r.url().endsWith("/api/op/studies_overview") && listReads++));
      await page.evaluate(() => void ((globalThis as any).location.hash = "#/study/s")); // in the page: no reload
      await advanceUntil(page, () => page.locator("#main", { hasText: "retrying in 4 s" }).isVisible());
      expect(listReads).toBe(0);
      await page.evaluate(() => void ((globalThis as any).location.hash = "#/"));
      await page.locator("#main", { hasText: "retrying" }).waitFor();
    } finally {
      proxy.flow();
    }
    // No reload, no click, no change heard: the next retry reads the list. The page's clock moves
    // about ten times as fast as the server's while the server takes its hold back.
    const listed = page.locator('tr[data-study="s"]');
    while (!(await listed.isVisible())) await advance(page, 1000).then(() => new Promise((r) => setTimeout(r, 100)));
    expect(await page.locator("#main").innerText()).not.toContain("retrying");
    expect(errors).toEqual([]);
    await page.close();
    await client.close();
    await a.stop();
    proxy.server.close();
  }, 4 * HANG);
});

describe("the studies list of a server beside another on one database", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("re-reads the lines of the other server's studies by itself", async () => {
    const url = backend.location();
    const a = await startServer(url, ["--dashboard", String(await freePort()), "--log-format", "json"]);
    const b = await startServer(url, ["--log-format", "json"]);
    let base = "";
    for (let i = 0; i < 900 && !base; i++) {
      const line = a.lines.find((l) => l.includes("tuneport ready"));
      if (line) base = (JSON.parse(line) as { dashboard: string }).dashboard.replace(/\/$/, "");
      else await new Promise((r) => setTimeout(r, 100));
    }
    const cb = new TestClient(b.endpoint);
    await cb.call("create_study", { name: "theirs", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
    const page = await browser.newPage();
    page.setDefaultTimeout(HANG);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await installPageClock(page);
    await page.goto(`${base}/#/`);
    const row = page.locator('tr[data-study="theirs"]');
    await row.locator(".badge", { hasText: "other server" }).waitFor();
    expect(await row.locator("td.counts").innerText()).toBe("none");
    // A trial told on 'b': 'a' hears no change of it, and its page (no reload) shows it all the same.
    const t = await cb.call("ask", { study: "theirs" });
    await cb.call("tell", { study: "theirs", trial: t.trial.number, token: t.lease.token, state: "COMPLETE", value: 2 });
    await advance(page, 6_000); // past one re-read (every 5 s)
    await expect.poll(() => row.locator("td.counts").innerText(), { timeout: HANG, interval: 200 }).toBe("complete 1");
    expect(errors).toEqual([]);
    await page.close();
    await cb.close();
  }, 4 * HANG);
});
