/**
 * The dashboard in a real browser: Debian's chromium driven by playwright-core (never a
 * downloaded browser), one browser for the whole file, against real `tuneport serve --dashboard`
 * and `tuneport dashboard --storage` processes on a real SQLite file, with a real Python worker.
 *
 * Waits are generous and only catch hangs ("within 2 s" is the benchmark's business, see
 * `make bench-dashboard`). UPDATE_SCREENSHOTS=1 writes the screenshots into docs/img/.
 */
import { spawn } from "node:child_process";
import { request } from "node:http";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type Page, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../src/logger.js";
import { StudyService } from "../src/service/study-service.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";
import { CLI, Procs, ROOT, exited, freePort, requireBuild, tempDir, waitForOutput } from "./mcp-helpers.js";

const PY = join(ROOT, ".venv", "bin", "python");
const TOKEN = "dashboard-token-0123456789";
const HANG = 30_000;
const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(ROOT, "docs", "img") : null;

const procs = new Procs();
const tmp = tempDir();
const db = join(tmp.dir, "dash.db");
let browser: Browser;
let endpoint = "";
let base = "";
/** Independent record of the big study, to check the table against. */
const big: { number: number; state: string; value: number | null; lr: number }[] = [];

/** A study of 1,000 trials (complete, pruned, failed, running), with learning curves; and an empty one for workers. */
async function populate(): Promise<void> {
  const storage = new SqliteStorage({ path: db });
  const svc = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  try {
    const space = {
      lr: { type: "float", low: 1e-4, high: 1, log: true },
      layers: { type: "int", low: 1, high: 6 },
      act: { type: "categorical", choices: ["relu", "gelu"] },
    };
    await svc.execute("create_study", { name: "big", space, strategy: "random", seed: 11, lease_ttl_s: 86400 });
    for (let i = 0; i < 1000; i++) {
      const a = await svc.execute("ask", { study: "big" });
      const n = a.trial.number;
      const lr = a.trial.params.lr as number;
      const value = (Math.log10(lr) + 2) ** 2 + (a.trial.params.layers as number) * 0.1;
      if (i % 10 === 0) for (let s = 0; s < 5; s++) await svc.execute("report", { study: "big", trial: n, token: a.lease.token, step: s, value: value + 1 / (s + 1) });
      if (i === 999) {
        big.push({ number: n, state: "RUNNING", value: null, lr });
        continue;
      }
      const state = i % 13 === 5 ? "FAIL" : i % 11 === 3 ? "PRUNED" : "COMPLETE";
      await svc.execute("tell", { study: "big", trial: n, token: a.lease.token, state, ...(state === "COMPLETE" ? { value } : {}) });
      big.push({ number: n, state, value: state === "COMPLETE" ? value : null, lr });
    }
    await svc.execute("create_study", { name: "live", space: { x: { type: "float", low: 0, high: 1 }, opt: { type: "categorical", choices: ["sgd", "adam"] } }, strategy: "random", seed: 2 });
  } finally {
    await svc.close();
    await storage.close();
  }
}

/** Runs a Python worker: asks one trial of `study`, tells `value`, prints the trial as JSON. */
async function pythonWorker(study: string, value: number): Promise<{ number: number; params: Record<string, unknown> }> {
  const code = [
    "import json, sys, tuneport",
    "c = tuneport.connect(sys.argv[1])",
    "s = c.load_study(sys.argv[2])",
    "t = s.ask()",
    "print(json.dumps({'number': t.number, 'params': t.params}), flush=True)",
    "s.tell(t, float(sys.argv[3]))",
    "c.close()",
  ].join("\n");
  const p = spawn(PY, ["-c", code, endpoint, study, String(value)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  p.stdout.on("data", (d: Buffer) => (out += d.toString()));
  p.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code_ = await new Promise<number | null>((resolve) => p.once("exit", resolve));
  expect(code_, err).toBe(0);
  return JSON.parse(out.trim().split("\n").at(-1) as string);
}

/** A raw GET with chosen headers (a browser cannot forge Host). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: "GET", headers }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

async function newPage(): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(HANG);
  return page;
}

async function shot(page: Page, name: string): Promise<void> {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `dashboard-${name}.png`), fullPage: name !== "study" });
}

beforeAll(async () => {
  requireBuild();
  await populate();
  const [zport, dport] = [await freePort(), await freePort()];
  endpoint = `tcp://127.0.0.1:${zport}`;
  const p = procs.spawn([CLI, "serve", "--storage", db, "--bind", endpoint, "--dashboard", String(dport), "--log-format", "json"]);
  await waitForOutput(p.out, (s) => s.includes("tuneport ready"));
  base = `http://127.0.0.1:${dport}`;
  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    // playwright-core passes its own fresh --user-data-dir; headless from `headless: true`.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    headless: true,
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await procs.killAll();
  tmp.cleanup();
});

describe("the dashboard in chromium", () => {
  it("lists the studies with their counts, best value and live workers", async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    const row = page.locator('tr[data-study="big"]');
    await row.waitFor();
    const complete = big.filter((t) => t.state === "COMPLETE");
    const text = await row.innerText();
    expect(text).toContain(`complete ${complete.length}`);
    expect(text).toContain(`fail ${big.filter((t) => t.state === "FAIL").length}`);
    expect(text).toContain("random");
    const best = complete.reduce((a, b) => ((a.value as number) <= (b.value as number) ? a : b));
    expect(text).toContain(`(#${best.number})`);
    await expect(page.locator('tr[data-study="live"]').innerText()).resolves.toContain("none");
    await shot(page, "studies");
    await page.close();
  });

  it("draws every chart of a 1,000-trial study with content, not just the element", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/big`);
    const kinds = ["history", "parallel_coordinates", "slice", "contour", "importances", "intermediate_values", "edf"];
    for (const kind of kinds) {
      const box = page.locator(`.chart[data-kind="${kind}"]`);
      await box.scrollIntoViewIfNeeded(); // charts are drawn when on screen
      await box.and(page.locator('[data-state="drawn"]')).waitFor();
      // Marks actually drawn: SVG paths/rects/symbols with geometry inside the chart's mark groups.
      const marks = await box.locator("svg g[class*='mark-'] path, svg g[class*='mark-'] rect, svg g[class*='mark-'] line").evaluateAll(
        (els) => els.filter((e) => (e.getAttribute("d") ?? "").length > 2 || Number(e.getAttribute("width") ?? 0) > 0 || e.tagName === "line").length,
      );
      expect(marks, kind).toBeGreaterThan(kind === "importances" ? 1 : 5);
      await expect(box.locator("xpath=following-sibling::p[1]").innerText(), kind).resolves.not.toBe("");
    }
    await shot(page, "study");
    if (SHOTS) await page.locator("section.charts").screenshot({ path: join(SHOTS, "dashboard-charts.png") });
    await page.close();
  });

  it("filters by state and a parameter range, sorts by value, and pages", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/big`);
    await page.locator("#trials").waitFor();
    await page.getByRole("checkbox", { name: "complete" }).check();
    await page.locator("#range-lr-min").fill("0.001");
    await page.locator("#range-lr-max").fill("0.1");
    await page.locator("#range-lr-max").press("Enter");
    const want = big.filter((t) => t.state === "COMPLETE" && t.lr >= 0.001 && t.lr <= 0.1).sort((a, b) => (a.value as number) - (b.value as number) || a.number - b.number);
    await page.locator("#trials caption", { hasText: `of ${want.length} matching` }).waitFor();
    await page.locator('button[data-sort="value"]').click();
    await page.locator('th[aria-sort="ascending"] button[data-sort="value"]').waitFor();
    const numbers = async () => page.locator("#trials tbody tr").evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-trial"))));
    await expect.poll(numbers, { timeout: HANG }).toEqual(want.slice(0, 50).map((t) => t.number));
    await page.locator("#next").click();
    await expect.poll(numbers, { timeout: HANG }).toEqual(want.slice(50, 100).map((t) => t.number));
    await page.close();
  });

  it("shows a trial a Python worker tells, without a reload", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/live`);
    await page.locator("#trials").waitFor();
    const told = await pythonWorker("live", 0.8125);
    const row = page.locator(`#trials tr[data-trial="${told.number}"]`);
    await row.waitFor({ timeout: HANG });
    await expect.poll(() => row.innerText(), { timeout: HANG }).toContain("0.8125");
    expect(await row.innerText()).toContain("COMPLETE");
    await page.close();
  });

  it("enqueues a trial with a note from the page, which the next worker asks", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/live`);
    await page.getByLabel("x", { exact: true }).fill("0.375");
    await page.getByLabel("opt", { exact: true }).selectOption({ label: "adam" });
    await page.getByLabel("Note (the rationale)").fill("halfway between the two best");
    await page.getByRole("button", { name: "Enqueue" }).click();
    const status = page.locator("p.status", { hasText: "queued" });
    await status.waitFor();
    const queued = Number(/Trial (\d+) queued/.exec(await status.innerText())?.[1]);
    const asked = await pythonWorker("live", 0.5);
    expect(asked).toEqual({ number: queued, params: { x: 0.375, opt: "adam" } });
    await page.goto(`${base}/#/study/live/trial/${queued}`);
    await expect.poll(() => page.locator("main").innerText(), { timeout: HANG }).toContain("halfway between the two best");
    await shot(page, "trial");
    await page.close();
  });

  it("stops and resumes the study and saves its notes, through the ops", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/live`);
    await page.getByRole("button", { name: "Stop study" }).click();
    await page.getByRole("button", { name: "Resume study" }).waitFor();
    const stopped = await (await fetch(`${base}/api/op/get_study`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"study":"live"}' })).json() as any;
    expect(stopped.study.stopped).toBe(true);
    await page.getByRole("button", { name: "Resume study" }).click();
    await page.getByRole("button", { name: "Stop study" }).waitFor();
    await page.getByLabel("Study notes").fill("lr above 0.3 diverges");
    await page.getByRole("button", { name: "Save notes" }).click();
    await page.locator("p.status", { hasText: "Notes saved." }).waitFor();
    await page.reload();
    await expect(page.getByLabel("Study notes").inputValue()).resolves.toBe("lr above 0.3 diverges");
    await page.close();
  });

  it("is navigable by keyboard, labels its controls and passes axe-core", async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    await page.locator('tr[data-study="big"]').waitFor();
    const axe = readFileSync(join(ROOT, "node_modules", "axe-core", "axe.min.js"), "utf8");
    const audit = async () => {
      await page.evaluate(axe); // through DevTools: the page's CSP rightly refuses inline scripts
      return page.evaluate(async () => {
        const r = await (globalThis as any).axe.run((globalThis as any).document, { resultTypes: ["violations"] });
        return r.violations.map((v: any) => `${v.id}: ${v.nodes.length} (${v.help})`);
      });
    };
    expect(await audit()).toEqual([]);
    // Tab to the first study link, Enter opens it.
    let found = false;
    for (let i = 0; i < 10 && !found; i++) {
      await page.keyboard.press("Tab");
      found = await page.evaluate(() => (globalThis as any).document.activeElement?.textContent === "big");
    }
    expect(found).toBe(true);
    await page.keyboard.press("Enter");
    await page.locator("#trials").waitFor();
    await page.locator('.chart[data-kind="history"]').scrollIntoViewIfNeeded();
    await page.locator('.chart[data-kind="history"][data-state="drawn"]').waitFor();
    // Sort headers are buttons: focus one and press Enter.
    await page.locator('button[data-sort="value"]').focus();
    await page.keyboard.press("Enter");
    await page.locator('th[aria-sort="ascending"] button[data-sort="value"]').waitFor();
    expect(await audit()).toEqual([]);
    await page.close();
  });

  it("off loopback: asks for the token, refuses foreign Host/Origin, and stays read-only (tuneport dashboard)", async () => {
    const refused = procs.spawn([CLI, "dashboard", "--storage", db, "--port", "0", "--dashboard-host", "0.0.0.0"], { TUNEPORT_DASHBOARD_TOKEN: "" });
    expect(await exited(refused)).toBe(2);
    expect(refused.out()).toMatch(/needs a token of at least 16 characters/);
    const port = await freePort();
    const p = procs.spawn([CLI, "dashboard", "--storage", db, "--port", String(port), "--dashboard-host", "0.0.0.0", "--log-format", "json"], { TUNEPORT_DASHBOARD_TOKEN: TOKEN });
    await waitForOutput(p.out, (s) => s.includes("tuneport dashboard ready"));
    const url = `http://127.0.0.1:${port}`;
    expect((await rawGet(`${url}/`, {})).status).toBe(401);
    expect((await rawGet(`${url}/api/events`, {})).status).toBe(401);
    expect((await rawGet(`${url}/`, { authorization: "Bearer wrong-token-0123456789" })).status).toBe(401);
    expect((await rawGet(`${url}/`, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    // DNS rebinding: a foreign Host or Origin is refused even with the token.
    expect((await rawGet(`${url}/`, { host: `evil.example:${port}`, authorization: `Bearer ${TOKEN}` })).status).toBe(403);
    expect((await rawGet(`${url}/`, { origin: "http://evil.example", authorization: `Bearer ${TOKEN}` })).status).toBe(403);
    const page = await newPage();
    await page.goto(`${url}/?token=${TOKEN}`);
    expect(page.url()).toBe(`${url}/`); // the token left the address bar for an HttpOnly cookie
    await page.locator('tr[data-study="big"]').waitFor();
    const write = await page.evaluate(async () => {
      const r = await fetch("/api/op/stop_study", { method: "POST", headers: { "content-type": "application/json" }, body: '{"study":"live"}' });
      return r.status;
    });
    expect(write).toBe(403);
    // Live by polling the file: a trial told to the server shows up on the read-only page.
    await page.goto(`${url}/#/study/live`);
    await page.locator("#trials").waitFor();
    expect(await page.getByRole("button", { name: "Stop study" }).count()).toBe(0);
    const told = await pythonWorker("live", 0.4375);
    await expect.poll(() => page.locator(`#trials tr[data-trial="${told.number}"]`).count(), { timeout: HANG }).toBe(1);
    await page.close();
    const other = await browser.newContext();
    const anon = await other.newPage();
    const res = await anon.goto(`${url}/`);
    expect(res?.status()).toBe(401);
    await other.close();
  });
});
