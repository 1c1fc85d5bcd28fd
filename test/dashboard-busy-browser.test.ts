/**
 * The dashboard page when the server is crowded, in Debian's chromium (playwright-core) against a
 * real DashboardServer on loopback (the built page, dist/web) whose ops are a stand-in the test
 * can hold:
 *
 * - every op place taken by other local clients: the page's read is answered 503 with
 *   Retry-After, and the page sends it again until it is answered, rather than show the error;
 * - every live stream taken by another local client: the page's stream is the oldest and is
 *   ended for a newer one; the page reconnects (ending the next oldest) and is `live` again.
 */
import { type IncomingMessage, request } from "node:http";
import { type Socket, connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { silentLogger } from "../src/logger.js";
import type { StudyChange } from "../src/service/change-feed.js";
import { DashboardServer, MAX_LIVE_STREAMS } from "../src/transports/http/dashboard.js";
import { LIGHT_LANE } from "../src/transports/http/op-gate.js";
import { launchChromium } from "./browser.js";

const HANG = 90_000;
const ASSETS = join(fileURLToPath(new URL("..", import.meta.url)), "dist/web");
let browser: Browser;
let server: DashboardServer;
let base: string;
let held: (() => void)[] = [];
let holding = true;
const sockets: Socket[] = [];
const crowd: Promise<number>[] = [];

beforeAll(async () => {
  browser = await launchChromium();
}, HANG);

afterAll(async () => {
  await browser?.close();
});

beforeEach(async () => {
  held = [];
  holding = true;
  const source = {
    execute: async (_op: string, args: unknown) => {
      // The crowd's reads wait while the test holds them; the page's are answered at once.
      if (holding && (args as { crowd?: boolean }).crowd === true) await new Promise<void>((r) => held.push(r));
      return { studies: [] };
    },
    onChange: (_l: (c: StudyChange) => void) => () => undefined,
  };
  server = new DashboardServer({ source, logger: silentLogger(), port: 0, assetsDir: ASSETS });
  base = `http://127.0.0.1:${await server.start()}`;
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  holding = false;
  for (const r of held.splice(0)) r();
  await Promise.allSettled(crowd.splice(0));
  await server.close();
});

/** One crowd read on a connection of its own; resolves with its status. */
function crowdRead(): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, agent: false, path: "/api/op/studies_overview", method: "POST", headers: { "content-type": "application/json" } }, (res: IncomingMessage) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end(JSON.stringify({ crowd: true }));
  });
}

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  page.setDefaultTimeout(HANG);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  return { page, errors };
}

describe("the dashboard page on a crowded server", () => {
  it("sends a read the server was too busy to take again, and draws its answer", async () => {
    for (let i = 0; i < LIGHT_LANE.running + LIGHT_LANE.queued; i++) crowd.push(crowdRead());
    await expect.poll(() => server.ops.light, { timeout: HANG }).toEqual({ running: LIGHT_LANE.running, queued: LIGHT_LANE.queued });
    const { page, errors } = await newPage();
    const statuses: number[] = [];
    page.on("response", (r) => {
      if (r.url().endsWith("/api/op/studies_overview")) statuses.push(r.status());
    });
    await page.goto(`${base}/`);
    await expect.poll(() => statuses, { timeout: HANG }).toContain(503);
    // The crowd's reads are answered: the page's next try gets in.
    holding = false;
    for (const r of held.splice(0)) r();
    await page.getByText("No studies yet.").waitFor();
    expect(statuses[0]).toBe(503);
    expect(statuses.at(-1)).toBe(200);
    expect(await page.locator("main").innerText()).not.toContain("UNAVAILABLE");
    expect(errors).toEqual([]);
    await page.close();
  });

  it("is live again after its stream was ended for a newer one", async () => {
    const { page, errors } = await newPage();
    await page.goto(`${base}/`);
    await expect.poll(() => page.locator("#conn").getAttribute("data-live"), { timeout: HANG }).toBe("true");
    // Another local client takes every other stream, then one more: the page's, the oldest, ends.
    const opened: Socket[] = [];
    for (let i = server.liveStreams; i <= MAX_LIVE_STREAMS; i++) {
      const s = connect(server.port, "127.0.0.1");
      sockets.push(s);
      opened.push(s);
      s.on("error", () => undefined);
      await new Promise((r) => {
        s.once("data", r);
        s.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`);
      });
    }
    expect(server.evictedStreams).toBe(1);
    // The page opens another (ending the other client's oldest) and says so.
    await expect.poll(() => server.evictedStreams, { timeout: HANG }).toBe(2);
    await expect.poll(() => page.locator("#conn").getAttribute("data-live"), { timeout: HANG }).toBe("true");
    expect(await page.locator("#conn").innerText()).toBe("live");
    expect(server.liveStreams).toBe(MAX_LIVE_STREAMS);
    expect(errors).toEqual([]);
    await page.close();
  });
});
