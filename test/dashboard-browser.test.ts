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
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./browser.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../src/logger.js";
import { StudyService } from "../src/service/study-service.js";
import { runPopulation } from "../src/testing/pbt-population.js";
import { scheduleProblem } from "../src/testing/pbt-problems.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";
import { CLI, Procs, ROOT, exited, freePort, requireBuild, tempDir, waitForOutput } from "./mcp-helpers.js";

const PY = join(ROOT, ".venv", "bin", "python");
const TOKEN = "dashboard-token-0123456789";
// A hang guard only: a full `make test` on 2 busy cores has taken more than 30 s to draw a 1,000-trial chart.
const HANG = 90_000;
const SHOTS = process.env.UPDATE_SCREENSHOTS ? join(ROOT, "docs", "img") : null;

const procs = new Procs();
/** The server the pages talk to, and how it was started (a test restarts it). */
let server: ReturnType<Procs["spawn"]>;
let serverArgs: string[];
const tmp = tempDir();
const db = join(tmp.dir, "dash.db");
let browser: Browser;
let endpoint = "";
let base = "";
/** Independent record of the big study, to check the table against. */
const big: { number: number; state: string; value: number | null; lr: number; act: string }[] = [];
/** Checkpoint loads (exploits and refills) recorded in the PBT study's trials: the lineage tree's edges. */
let pbtLoads = 0;
/** The multi-objective study's told values, by trial number. */
const moValues = new Map<number, number[]>();

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
      const act = a.trial.params.act as string;
      const value = (Math.log10(lr) + 2) ** 2 + (a.trial.params.layers as number) * 0.1;
      if (i % 10 === 0) for (let s = 0; s < 5; s++) await svc.execute("report", { study: "big", trial: n, token: a.lease.token, step: s, value: value + 1 / (s + 1) });
      if (i === 999) {
        big.push({ number: n, state: "RUNNING", value: null, lr, act });
        continue;
      }
      const state = i % 13 === 5 ? "FAIL" : i % 11 === 3 ? "PRUNED" : "COMPLETE";
      await svc.execute("tell", { study: "big", trial: n, token: a.lease.token, state, ...(state === "COMPLETE" ? { value } : {}) });
      big.push({ number: n, state, value: state === "COMPLETE" ? value : null, lr, act });
    }
    await svc.execute("create_study", { name: "live", space: { x: { type: "float", low: 0, high: 1 }, opt: { type: "categorical", choices: ["sgd", "adam"] } }, strategy: "random", seed: 2 });
    // Two objectives (minimize x, maximize x·(2 - x) + y).
    await svc.execute("create_study", { name: "mo", space: { x: { type: "float", low: 0, high: 2 }, y: { type: "float", low: 0, high: 1 } }, directions: ["minimize", "maximize"], strategy: "random", seed: 4 });
    for (let i = 0; i < 40; i++) {
      const a = await svc.execute("ask", { study: "mo" });
      const x = a.trial.params.x as number;
      const values = [x, x * (2 - x) + (a.trial.params.y as number)];
      await svc.execute("tell", { study: "mo", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values });
      moValues.set(a.trial.number, values);
    }
    // Two objectives with names and a constraint (c <= 0 holds): trials 0-5 COMPLETE (odd ones infeasible), one RUNNING.
    await svc.execute("create_study", { name: "moc", space: { x: { type: "float", low: 0, high: 1 } }, directions: ["minimize", "maximize"], strategy: "random", seed: 5, user_attrs: { "tuneport:metric_names": ["loss", "accuracy"] } });
    for (let i = 0; i < 6; i++) await svc.execute("add_trial", { study: "moc", params: { x: i / 10 }, values: [i + 0.25, 10 - i], constraints: [i % 2 === 1 ? 0.5 : -1] });
    await svc.execute("ask", { study: "moc" });
    // A categorical parameter whose choices mix 1, "1", null and a word; `extra` used by one trial only.
    await svc.execute("create_study", { name: "cat", space: { c: { type: "categorical", choices: [1, "1", null, "relu"] } }, strategy: "random", seed: 6 });
    for (const c of [1, "1", null]) await svc.execute("add_trial", { study: "cat", params: { c }, value: 1 });
    await svc.execute("add_trial", { study: "cat", params: { c: "relu", extra: 0.5 }, distributions: { extra: { type: "float", low: 0, high: 1 } }, value: 2 });
    // Hypergradient: three trials whose lr and wd move at every report.
    const hgSpace = { lr: { type: "float", low: 1e-4, high: 1, log: true }, wd: { type: "float", low: 1e-6, high: 0.1, log: true } };
    await svc.execute("create_study", { name: "hg", space: hgSpace, seed: 3, strategy: { name: "hypergradient", options: { base: "random", lr: 0.1 } } });
    for (let i = 0; i < 3; i++) {
      const a = await svc.execute("ask", { study: "hg" });
      for (let step = 1; step <= 6; step++)
        await svc.execute("report", { study: "hg", trial: a.trial.number, token: a.lease.token, step, value: 1 / step, data: { hypergradients: { lr: 0.5 - i, wd: -1 } } });
      await svc.execute("tell", { study: "hg", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 / 6 });
    }
  } finally {
    await svc.close();
    await storage.close();
  }
  await populatePbt();
}

/** A PBT population run on a simulated clock (exploits, and a refill after a killed worker). */
async function populatePbt(): Promise<void> {
  let now = Date.now();
  const storage = new SqliteStorage({ path: db });
  const svc = await StudyService.open({ storage, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
  try {
    await svc.execute("create_study", { name: "pbt", space: scheduleProblem.space, direction: scheduleProblem.direction, strategy: { name: "pbt", options: { population_size: 4, perturbation_interval: 4 } }, seed: 9, lease_ttl_s: 5 });
    const run = await runPopulation(svc, scheduleProblem, { study: "pbt", workers: 5, stepsPerMember: 40, seed: 9, advance: (s) => (now += s * 1000), kill: [{ worker: 0, atTick: 15 }] });
    expect(run.violations).toEqual([]);
    expect(run.refills).toBeGreaterThanOrEqual(1);
    // Counted from the trials' own bookkeeping, not from the read model under test.
    for (const t of (await svc.listTrials({ study: "pbt" })).trials)
      pbtLoads += ((t.system_attrs.pbt_lineage ?? []) as { donor: number | null }[]).filter((e) => e.donor !== null).length;
    expect(pbtLoads).toBe(run.exploits + run.refills);
  } finally {
    await svc.close();
    await storage.close();
  }
}

/** Runs a Python worker: asks one trial of `study`, tells `value`, prints the trial as JSON. */
async function pythonWorker(study: string, value: number, at = endpoint): Promise<{ number: number; params: Record<string, unknown>; host: string; pid: number }> {
  const code = [
    "import json, os, socket, sys, tuneport",
    "c = tuneport.connect(sys.argv[1])",
    "s = c.load_study(sys.argv[2])",
    "t = s.ask()",
    "print(json.dumps({'number': t.number, 'params': t.params, 'host': socket.gethostname(), 'pid': os.getpid()}), flush=True)",
    "s.tell(t, float(sys.argv[3]))",
    "c.close()",
  ].join("\n");
  const p = spawn(PY, ["-c", code, at, study, String(value)], { stdio: ["ignore", "pipe", "pipe"] });
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

/** An op through the dashboard's own API (what the page calls). */
async function apiOp(name: string, args: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${base}/api/op/${name}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(args) });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
}

/** Page errors (uncaught exceptions) and answers of 400 and more, from now on. */
function problemsOf(page: Page): string[] {
  const seen: string[] = [];
  page.on("pageerror", (e) => seen.push(`pageerror: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() >= 400) seen.push(`${r.status()} ${r.url()}`);
  });
  return seen;
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
  serverArgs = [CLI, "serve", "--storage", db, "--bind", endpoint, "--dashboard", String(dport), "--log-format", "json"];
  server = procs.spawn(serverArgs);
  await waitForOutput(server.out, (s) => s.includes("tuneport ready"));
  base = `http://127.0.0.1:${dport}`;
  browser = await launchChromium();
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
    const renderers: string[] = [];
    for (const kind of kinds) {
      const box = page.locator(`.chart[data-kind="${kind}"]`);
      await box.scrollIntoViewIfNeeded(); // charts are drawn when on screen
      await box.and(page.locator('[data-state="drawn"]')).waitFor();
      renderers.push(`${kind}:${await box.getAttribute("data-renderer")}`);
      if ((await box.getAttribute("data-renderer")) === "canvas") {
        // A chart of thousands of rows is drawn on a canvas: count the pixels that are not background.
        const inked = await box.locator("canvas").evaluate((c: any) => {
          const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data as Uint8ClampedArray;
          let n = 0;
          for (let i = 0; i < d.length; i += 4) if (d[i + 3]! > 0 && (d[i]! < 230 || d[i + 1]! < 230 || d[i + 2]! < 230)) n++;
          return n / (c.width * c.height);
        });
        expect(inked, kind).toBeGreaterThan(0.01);
      } else {
        // Marks actually drawn: SVG paths/rects/symbols with geometry inside the chart's mark groups.
        const marks = await box.locator("svg g[class*='mark-'] path, svg g[class*='mark-'] rect, svg g[class*='mark-'] line").evaluateAll(
          (els) => els.filter((e) => (e.getAttribute("d") ?? "").length > 2 || Number(e.getAttribute("width") ?? 0) > 0 || e.tagName === "line").length,
        );
        expect(marks, kind).toBeGreaterThan(kind === "importances" ? 1 : 5);
      }
      await expect(box.locator("xpath=following-sibling::p[1]").innerText(), kind).resolves.not.toBe("");
    }
    // Both ways are exercised: the slice's 3,000 rows (1,000 trials x 3 parameters) go to a canvas.
    expect(renderers).toContain("slice:canvas");
    expect(renderers).toContain("history:svg");
    await shot(page, "study");
    if (SHOTS) await page.locator("section.charts").screenshot({ path: join(SHOTS, "dashboard-charts.png") });
    await page.close();
  }, 7 * HANG); // seven charts, each with its own hang guard

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
    // Who ran it: the Python client's hello identity, in the table and on the trial page.
    expect(await row.locator("td.worker").innerText()).toBe(`${told.host}:${told.pid} (tuneport-python)`);
    await page.goto(`${base}/#/study/live/trial/${told.number}`);
    await expect.poll(() => page.locator("main").innerText(), { timeout: HANG }).toContain(`host ${told.host}, pid ${told.pid}, tuneport-python`);
    await page.close();
  });

  it("reads again when its live stream comes back, so a change made while it was lost is shown", async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    const conn = page.locator("#conn");
    await expect.poll(() => conn.getAttribute("data-live"), { timeout: HANG }).toBe("true");
    const row = page.locator('tr[data-study="live"]');
    const complete = async () => Number(/complete (\d+)/.exec(await row.innerText())?.[1] ?? 0);
    const before = await complete();
    // The page's server stops; a trial finishes meanwhile through another server on the same file,
    // so no change event for it ever reaches this page; then its server comes back.
    server.kill("SIGTERM");
    await exited(server);
    await expect.poll(() => conn.getAttribute("data-live"), { timeout: HANG }).toBe("false");
    const elsewhere = `tcp://127.0.0.1:${await freePort()}`;
    const other = procs.spawn([CLI, "serve", "--storage", db, "--bind", elsewhere, "--log-format", "json"]);
    await waitForOutput(other.out, (s) => s.includes("tuneport ready"));
    await pythonWorker("live", 0.625, elsewhere);
    other.kill("SIGTERM");
    await exited(other);
    server = procs.spawn(serverArgs);
    await waitForOutput(server.out, (s) => s.includes("tuneport ready"));
    await expect.poll(() => conn.getAttribute("data-live"), { timeout: HANG }).toBe("true");
    await expect.poll(complete, { timeout: HANG }).toBe(before + 1);
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
    expect({ number: asked.number, params: asked.params }).toEqual({ number: queued, params: { x: 0.375, opt: "adam" } });
    await page.goto(`${base}/#/study/live/trial/${queued}`);
    await expect.poll(() => page.locator("main").innerText(), { timeout: HANG }).toContain("halfway between the two best");
    await shot(page, "trial");
    await page.close();
  });

  it("stops and resumes the study through the ops", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/live`);
    await page.getByRole("button", { name: "Stop study" }).click();
    await page.getByRole("button", { name: "Resume study" }).waitFor();
    const stopped = await (await fetch(`${base}/api/op/get_study`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"study":"live"}' })).json() as any;
    expect(stopped.study.stopped).toBe(true);
    await page.getByRole("button", { name: "Resume study" }).click();
    await page.getByRole("button", { name: "Stop study" }).waitFor();
    await page.close();
  });

  it("shows and saves the study's own notes (those of Python's set_notes and MCP), not a user attribute", async () => {
    // Set as an agent does (set_user_attrs with notes: the study's notes field, as update_study and set_notes).
    await apiOp("set_user_attrs", { study: "live", notes: "set by an agent" });
    const page = await newPage();
    await page.goto(`${base}/#/study/live`);
    await expect.poll(() => page.getByLabel("Study notes").inputValue(), { timeout: HANG }).toBe("set by an agent");
    await page.getByLabel("Study notes").fill("lr above 0.3 diverges");
    await page.getByRole("button", { name: "Save notes" }).click();
    await page.locator("p.status", { hasText: "Notes saved." }).waitFor();
    const saved = (await apiOp("get_study", { study: "live" })).study;
    expect(saved.notes).toBe("lr above 0.3 diverges");
    expect(saved.user_attrs.notes).toBeUndefined();
    await page.reload();
    await expect.poll(() => page.getByLabel("Study notes").inputValue(), { timeout: HANG }).toBe("lr above 0.3 diverges");
    await page.close();
  });

  it("filters the table by a categorical parameter's choices", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/big`);
    await page.locator("#trials").waitFor();
    const choices = page.locator('fieldset.choices[data-param="act"]');
    await choices.getByRole("checkbox", { name: "gelu" }).check();
    const gelu = big.filter((t) => t.act === "gelu");
    expect(gelu.length).toBeGreaterThan(100);
    expect(gelu.length).toBeLessThan(big.length);
    await page.locator("#trials caption", { hasText: `of ${gelu.length} matching` }).waitFor();
    const numbers = async () => page.locator("#trials tbody tr").evaluateAll((rows) => rows.map((r) => Number(r.getAttribute("data-trial"))));
    await expect.poll(numbers, { timeout: HANG }).toEqual(gelu.map((t) => t.number).sort((a, b) => b - a).slice(0, 50));
    // With the state filter too; both choices checked is the same as none.
    await page.getByRole("checkbox", { name: "complete" }).check();
    await choices.getByRole("checkbox", { name: "relu" }).check();
    await page.locator("#trials caption", { hasText: `of ${big.filter((t) => t.state === "COMPLETE").length} matching` }).waitFor();
    await choices.getByRole("checkbox", { name: "gelu" }).uncheck();
    await page.locator("#trials caption", { hasText: `of ${big.filter((t) => t.state === "COMPLETE" && t.act === "relu").length} matching` }).waitFor();
    await page.close();
  });

  it("shows one column per objective and draws the Pareto front and hypervolume of a multi-objective study", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/mo`);
    await page.locator("#trials").waitFor();
    const heads = await page.locator("#trials thead th").allInnerTexts();
    expect(heads.slice(0, 4)).toEqual(["# ▼", "State", "Objective 0 (minimize)", "Objective 1 (maximize)"]);
    // Sort by objective 1, descending: the table's order is the told values' order.
    // One click at a time: a second click that lands while the first one's re-render replaces the
    // header is lost (seen once in a full run on 2 busy cores).
    await page.locator('button[data-sort="values.1"]').click();
    await page.locator('th[aria-sort="ascending"] button[data-sort="values.1"]').waitFor();
    await page.locator('button[data-sort="values.1"]').click();
    await page.locator('th[aria-sort="descending"] button[data-sort="values.1"]').waitFor();
    const want = [...moValues.entries()].sort((a, b) => (b[1][1] as number) - (a[1][1] as number) || a[0] - b[0]).slice(0, 5);
    const first = page.locator("#trials tbody tr").first();
    await expect.poll(() => first.getAttribute("data-trial"), { timeout: HANG }).toBe(String(want[0]?.[0]));
    const cells = await first.locator("td").allInnerTexts();
    expect(Number(cells[2])).toBeCloseTo(want[0]?.[1][0] as number, 4);
    expect(Number(cells[3])).toBeCloseTo(want[0]?.[1][1] as number, 4);
    for (const kind of ["pareto_front", "hypervolume_history"]) {
      const box = page.locator(`.chart[data-kind="${kind}"]`);
      await box.scrollIntoViewIfNeeded();
      await box.and(page.locator('[data-state="drawn"]')).waitFor();
      expect(await box.locator("svg g[class*='mark-symbol'] path").count(), kind).toBeGreaterThan(kind === "pareto_front" ? 30 : 1);
    }
    expect(await page.locator('.chart[data-kind="history"]').count()).toBe(0);
    await page.close();
  });

  it("draws a PBT study's lineage as a tree with one edge per checkpoint load", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/pbt`);
    const box = page.locator('.chart[data-kind="lineage"]');
    await box.scrollIntoViewIfNeeded();
    await box.and(page.locator('[data-state="drawn"]')).waitFor();
    expect(pbtLoads).toBeGreaterThan(2);
    // Edges are the chart's rule marks (axis grid lines are role-axis-grid, not role-mark).
    expect(await box.locator("svg g.mark-rule.role-mark line").count()).toBe(pbtLoads);
    expect(await box.locator("svg g.mark-symbol.role-mark path").count()).toBeGreaterThan(4);
    await expect(box.locator("xpath=following-sibling::p[1]").innerText()).resolves.toContain(`${pbtLoads} checkpoint loads`);
    if (SHOTS) await box.screenshot({ path: join(SHOTS, "dashboard-lineage.png") });
    await page.close();
  });

  it("draws hypergradient trajectories on the study page and on a trial's page", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/hg`);
    const box = page.locator('.chart[data-kind="trajectories"]');
    await box.scrollIntoViewIfNeeded();
    await box.and(page.locator('[data-state="drawn"]')).waitFor();
    // One line per trial in each of the two rows (lr, wd).
    expect(await box.locator("svg g[class*='mark-line'] path").count()).toBe(6);
    if (SHOTS) await box.screenshot({ path: join(SHOTS, "dashboard-trajectories.png") });
    await page.goto(`${base}/#/study/hg/trial/1`);
    // The trial page's own section (a hash change: the study page's chart may linger for a moment).
    const one = page.locator('section[aria-labelledby="t-traj"] .chart[data-kind="trajectories"][data-state="drawn"]');
    await one.waitFor();
    expect(await one.locator("svg g[class*='mark-line'] path").count()).toBe(2);
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
    // The notes are shown there too, as text (saved by the notes test above).
    await expect.poll(() => page.locator("#study-notes").innerText(), { timeout: HANG }).toBe("lr above 0.3 diverges");
    const told = await pythonWorker("live", 0.4375);
    await expect.poll(() => page.locator(`#trials tr[data-trial="${told.number}"]`).count(), { timeout: HANG }).toBe(1);
    await page.close();
    const other = await browser.newContext();
    const anon = await other.newPage();
    const res = await anon.goto(`${url}/`);
    expect(res?.status()).toBe(401);
    await other.close();
  });

  it("drops a page that answers after the user moved on to another (a slow study or trial, then another study)", async () => {
    const page = await newPage();
    const problems = problemsOf(page);
    await page.goto(`${base}/#/`);
    await page.locator('tr[data-study="big"]').waitFor();
    // The slow study's reads wait at a gate until the other study is on screen.
    let gate: Promise<void> = Promise.resolve();
    let open = () => undefined as void;
    let inFlight = 0;
    const slow = (body: string | null) => (body ?? "").includes('"study":"big"');
    page.on("request", (r) => void (slow(r.postData()) && inFlight++));
    page.on("requestfinished", (r) => void (slow(r.postData()) && inFlight--));
    page.on("requestfailed", (r) => void (slow(r.postData()) && inFlight--));
    await page.route("**/api/op/*", async (route) => {
      if (slow(route.request().postData())) await gate;
      await route.continue();
    });
    for (const from of ["#/study/big", "#/study/big/trial/3"]) {
      gate = new Promise<void>((r) => (open = r));
      const asked = page.waitForRequest((r) => slow(r.postData()));
      await page.evaluate((hash) => void ((globalThis as any).location.hash = hash), from);
      await asked;
      await page.evaluate(() => void ((globalThis as any).location.hash = "#/study/live"));
      await page.locator("#trials caption", { hasText: "in all" }).waitFor();
      await expect(page.locator("h1").first().innerText()).resolves.toBe("live");
      open();
      // Until the slow page's reads are all answered, and the page has had a round trip to act on them
      // (an answer can lead to the next read: the trial page reads one after another).
      for (let quiet = 0; quiet < 2; ) {
        await page.evaluate(() => fetch("/api/op/studies_overview", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }).then((r) => r.json()));
        quiet = inFlight === 0 ? quiet + 1 : 0;
      }
      expect(await page.evaluate(() => (globalThis as any).location.hash as string)).toBe("#/study/live");
      await expect(page.locator("h1").first().innerText(), from).resolves.toBe("live");
      await expect(page.title(), from).resolves.toBe("live — tuneport");
      expect(await page.locator("main").innerText(), from).not.toMatch(/Trial 3|Not available/);
      expect(await page.locator("#trials caption").innerText(), from).not.toContain("(1000 in all)");
    }
    expect(problems).toEqual([]);
    await page.close();
  });

  it("says an address is not available instead of throwing on a malformed %-escape, also when the live stream comes back", async () => {
    const page = await newPage();
    const problems = problemsOf(page);
    // The first live stream fails: when the next one opens, the page reads again (from the address).
    let failures = 0;
    await page.route("**/api/events", async (route) => (failures++ === 0 ? route.abort() : route.continue()));
    await page.goto(`${base}/#/study/%E0%A4%A`);
    await page.locator("h1", { hasText: "Not available" }).waitFor();
    await expect(page.locator('main [role="alert"]').innerText()).resolves.toMatch(/not a valid address/);
    await expect.poll(() => page.locator("#conn").getAttribute("data-live"), { timeout: HANG }).toBe("true");
    expect(failures).toBeGreaterThan(1);
    await page.evaluate(() => fetch("/api/op/studies_overview", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }));
    expect(problems.filter((p) => !p.includes("/api/events"))).toEqual([]);
    await page.close();
  });

  it("says which trial a study does not have for a trial address that is not a trial number", async () => {
    const page = await newPage();
    for (const bad of ["abc", "-1", "1.5", "1e3"]) {
      await page.goto(`${base}/#/study/live/trial/${bad}`);
      // Only the hash changes: the alert of the address before may still be on screen for a moment.
      const alert = page.locator('main [role="alert"]');
      await expect.poll(() => alert.innerText(), { timeout: HANG }).toBe(`no trial '${bad}' in study live`);
      await expect(page.locator("h1").innerText()).resolves.toBe("Not available");
    }
    await page.goto(`${base}/#/study/live/trial/99999`);
    await expect.poll(() => page.locator('main [role="alert"]').innerText(), { timeout: HANG }).toContain("no trial 99999");
    await page.close();
  });

  it("asks for no favicon (no 404 on every page load)", async () => {
    const page = await newPage();
    const problems = problemsOf(page);
    const asked: string[] = [];
    page.on("request", (r) => void asked.push(new URL(r.url()).pathname));
    await page.goto(`${base}/`);
    await page.locator('tr[data-study="big"]').waitFor();
    await page.goto(`${base}/#/study/live`);
    await page.locator("#trials").waitFor();
    expect(await page.locator('head link[rel="icon"]').getAttribute("href")).toBe("data:,");
    // A round trip after the load: a favicon request would have gone out with the page.
    await page.evaluate(() => fetch("/api/op/studies_overview", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" }));
    expect(asked.filter((p) => p.includes("favicon"))).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows every direction, a multi-objective trial's named values, its constraints and feasibility", async () => {
    const page = await newPage();
    await page.goto(`${base}/`);
    const row = page.locator('tr[data-study="moc"]');
    await row.waitFor();
    await expect(row.locator("td").first().innerText()).resolves.toBe("minimize, maximize");
    await page.goto(`${base}/#/study/moc`);
    await page.locator("#trials").waitFor();
    const heads = await page.locator("#trials thead th").allInnerTexts();
    expect(heads.slice(0, 5)).toEqual(["# ▼", "State", "loss (minimize)", "accuracy (maximize)", "Feasible"]);
    const feasible = async (n: number) => page.locator(`#trials tr[data-trial="${n}"] td.feasible`).innerText();
    await expect(feasible(0)).resolves.toBe("yes");
    await expect(feasible(1)).resolves.toBe("no");
    await expect(feasible(6)).resolves.toBe("—"); // RUNNING
    const summary = async () => page.locator('section[aria-labelledby="t-sum"] dl').innerText();
    await page.goto(`${base}/#/study/moc/trial/1`);
    await page.locator("h1", { hasText: "Trial 1" }).waitFor();
    const one = await summary();
    expect(one).toMatch(/loss \(minimize\)\s+1\.25/);
    expect(one).toMatch(/accuracy \(maximize\)\s+9/);
    expect(one).toMatch(/Constraints\s+0\.5 \(violated\)/);
    expect(one).toMatch(/Feasible\s+no/);
    expect(one).not.toMatch(/Value\s+—/);
    await page.goto(`${base}/#/study/moc/trial/2`);
    await page.locator("h1", { hasText: "Trial 2" }).waitFor();
    await expect(summary()).resolves.toMatch(/Constraints\s+-1 \(holds\)[\s\S]*Feasible\s+yes/);
    // A study without names or constraints: Objective i, no constraint rows.
    await page.goto(`${base}/#/study/mo/trial/0`);
    await page.locator("h1", { hasText: "Trial 0" }).waitFor();
    const plain = await summary();
    expect(plain).toMatch(/Objective 0 \(minimize\)\s+[0-9.]+/);
    expect(plain).not.toContain("Constraints");
    await page.close();
  });

  it("tells 1 from \"1\" and None from an unused parameter, in filters, the enqueue form, the table and the trial page", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/cat`);
    await page.locator("#trials").waitFor();
    const labels = await page.locator('fieldset.choices[data-param="c"] label').allInnerTexts();
    expect(labels.map((l) => l.trim())).toEqual(["1", '"1"', "null", '"relu"']);
    expect(await page.locator("#enq-c option").allInnerTexts()).toEqual(["1", '"1"', "null", '"relu"']);
    const heads = await page.locator("#trials thead th").allInnerTexts();
    const col = (name: string) => heads.findIndex((h) => h.startsWith(name));
    const cell = async (n: number, name: string) => (await page.locator(`#trials tr[data-trial="${n}"] td`).allInnerTexts())[col(name)];
    await expect(cell(0, "c")).resolves.toBe("1");
    await expect(cell(1, "c")).resolves.toBe('"1"');
    await expect(cell(2, "c")).resolves.toBe("null");
    await expect(cell(2, "extra")).resolves.toBe("—");
    await expect(cell(3, "extra")).resolves.toBe("0.5");
    // Filtering by the string "1" keeps trial 1 only.
    await page.locator('fieldset.choices[data-param="c"]').getByRole("checkbox", { name: '"1"', exact: true }).check();
    await page.locator("#trials caption", { hasText: "of 1 matching" }).waitFor();
    await expect(page.locator("#trials tbody tr").getAttribute("data-trial")).resolves.toBe("1");
    for (const [n, shown] of [[1, '"1"'], [2, "null"]] as const) {
      await page.goto(`${base}/#/study/cat/trial/${n}`);
      await page.locator("h1", { hasText: `Trial ${n}` }).waitFor();
      await expect(page.locator('section[aria-labelledby="t-params"] dd').first().innerText()).resolves.toBe(shown);
    }
    await page.close();
  });

  it("says why a contour of one parameter twice and a range whose from is above its to draw or match nothing", async () => {
    const page = await newPage();
    await page.goto(`${base}/#/study/big`);
    await page.locator("#trials").waitFor();
    const contour = page.locator('.chart[data-kind="contour"]');
    await contour.scrollIntoViewIfNeeded();
    await contour.and(page.locator('[data-state="drawn"]')).waitFor();
    await page.selectOption("#pair-a", "lr");
    await page.selectOption("#pair-b", "lr");
    await contour.and(page.locator('[data-state="empty"]')).waitFor();
    await expect(contour.innerText()).resolves.toContain("choose two different parameters");
    await page.selectOption("#pair-b", "layers");
    await contour.and(page.locator('[data-state="drawn"]')).waitFor();
    await page.locator("#range-lr-min").fill("0.5");
    await page.locator("#range-lr-max").fill("0.1");
    await page.locator("#trials caption", { hasText: "of 0 matching" }).waitFor();
    await expect(page.locator("#filter-note").innerText()).resolves.toBe("No trial can match: lr from 0.5 is above its to 0.1.");
    await page.locator("#range-lr-max").fill("");
    await expect.poll(() => page.locator("#filter-note").innerText(), { timeout: HANG }).toBe("");
    await page.close();
  });
});
