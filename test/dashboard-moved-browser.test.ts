/**
 * The dashboard's study page, in a real browser (Debian's chromium), on one of two `tuneport serve`
 * processes sharing the test PostgreSQL server: when its server gives the study up (SIGSTOPped past
 * its ownership TTL, the other server took the study over), the page says where the study is now,
 * without a reload or a click; once the study is served by that server again (the other one stopped
 * and it took the study back), the page drops that line. Before, it showed the study as it last was,
 * and said nothing; then (until 2026-12-06) kept saying the study had moved after it came back.
 */
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { postgresBackend } from "../src/testing/storage-backends.js";
import { launchChromium } from "./browser.js";
import { type ServerProcess, TestClient, freePort, startServer, stopServers } from "./helpers.js";

const HANG = 90_000;
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await stopServers();
});

async function dashboardOf(server: ServerProcess): Promise<string> {
  for (let i = 0; i < 900; i++) {
    const line = server.lines.find((l) => l.includes("tuneport ready"));
    if (line) return (JSON.parse(line) as { dashboard: string }).dashboard.replace(/\/$/, "");
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no ready line: ${server.lines.join("\n")}`);
}

describe("the study page of a server that gave its study up", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("says which server has the study now, and drops that once the study is served here again", async () => {
    const url = backend.location();
    // Free ports (a fixed one fails the run wherever something else holds it).
    const a = await startServer(url, ["--ownership-ttl", "1", "--dashboard", String(await freePort()), "--log-format", "json"]);
    const b = await startServer(url, ["--ownership-ttl", "1", "--log-format", "json"]);
    const base = await dashboardOf(a);
    const client = new TestClient(a.endpoint);
    await client.call("create_study", { name: "m", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
    const t = await client.call("ask", { study: "m" });
    await client.call("tell", { study: "m", trial: t.trial.number, token: t.lease.token, state: "COMPLETE", value: 1 });

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(HANG);
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(`${base}/#/study/m`);
    await page.locator("#trials tbody tr").first().waitFor();

    // 'a' stalls past its TTL; 'b' takes the study over (its scan), then 'a' wakes and finds it lost.
    a.proc.kill("SIGSTOP");
    const cb = new TestClient(b.endpoint);
    try {
      await expect.poll(async () => (await cb.request("get_study", { study: "m" }, `poll-${Date.now()}`)).ok, { timeout: HANG, interval: 200 }).toBe(true);
    } finally {
      a.proc.kill("SIGCONT");
    }
    // No reload, no click: the page hears of it on its live stream and says where the study went.
    await page.locator(".status", { hasText: b.endpoint }).waitFor();
    expect(await page.locator(".status").innerText()).toContain("moved");
    // The list page of 'a' shows it as another server's, its workers not known here ("—", not "0").
    const list = await browser.newPage();
    list.setDefaultTimeout(HANG);
    await list.goto(`${base}/#/`);
    const row = list.locator('tr[data-study="m"]');
    await row.locator(".badge", { hasText: "other server" }).waitFor();
    expect(await row.locator("td.workers").innerText()).toBe("—");
    await list.close();

    // 'b' stops (a clean stop hands its studies back): 'a' takes the study over again (its scan),
    // announces it, and the page, still open, drops the line. Before, it kept saying the study was on 'b'.
    await b.stop();
    await expect.poll(async () => (await client.request("get_study", { study: "m" }, `back-${Date.now()}`)).ok, { timeout: HANG, interval: 200 }).toBe(true);
    await expect.poll(async () => page.locator(".status").innerText(), { timeout: HANG, interval: 200 }).toBe("");
    expect(await page.locator(".study-head h1").innerText()).toContain("m");
    expect(errors).toEqual([]);
    await page.close();
    await client.close();
    await cb.close();
  }, 4 * HANG);
});
