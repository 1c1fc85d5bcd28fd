/**
 * The dashboard against hostile data and hostile pages, in Debian's chromium (playwright-core,
 * never a downloaded browser) and a real `tuneport serve --dashboard` process:
 *
 * - stored XSS: study names, parameter names, categorical choices, user attributes, notes, fail
 *   reasons, enqueue rationales and a worker's hello identity holding HTML, `</script>`,
 *   `javascript:` URLs and Vega-expression breakouts, all sent over ZeroMQ; every page and every
 *   chart is opened and nothing may run (the payloads set `window.__pwned`, call `alert`, or
 *   load `x`), while the text shows literally;
 * - cross-site requests: a page served from another loopback port (same site, other origin)
 *   tries to stop a study with a form POST, `no-cors` fetches and `sendBeacon`; the study stays
 *   running (writes must be `application/json`, which needs a CORS preflight never granted).
 *
 * docs/DASHBOARD.md "Security" says which layer stops what.
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "./browser.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

const HANG = 90_000;
const pwn = (tag: string) => `<img src=x onerror="window.__pwned='${tag}'">`;
const vegaBreak = (tag: string) => `"+(window.__pwned='${tag}')+"\\"]'];alert('${tag}');//`;
const STUDIES = [pwn("study"), `"><svg onload=alert(1)>`, "javascript:alert('study')", "{{constructor.constructor('alert(1)')()}}"];
const PARAMS = [pwn("param"), vegaBreak("param"), "</script><script>window.__pwned='script'</script>", "datum['x'] + alert(1)"];
const CHOICES = [pwn("choice"), vegaBreak("choice"), "javascript:alert('choice')"];

let server: ServerProcess;
let client: TestClient;
let base = "";
let browser: Browser;

/** Every hostile string the pages must show as text. */
async function populate(): Promise<void> {
  await client.call("hello", { versions: [1], client: { name: pwn("worker"), version: "</script>", host: "javascript:alert(1)", pid: 1 } });
  for (const [i, name] of STUDIES.entries()) {
    const space: Record<string, unknown> = {};
    for (const [j, p] of PARAMS.entries()) space[p] = j % 2 === 0 ? { type: "float", low: 0, high: 1 } : { type: "categorical", choices: CHOICES };
    const multi = i === 3;
    // The multi-objective study's objectives are named (Python's set_metric_names keeps them in this attribute).
    const names = multi ? { "tuneport:metric_names": [pwn("metric-0"), vegaBreak("metric-1")] } : {};
    await client.call("create_study", { name, space, strategy: "random", seed: 1, ...(multi ? { directions: ["minimize", "maximize"] } : {}), user_attrs: { notes: pwn("notes-attr"), [pwn("attr-key")]: pwn("attr"), ...names } });
    await client.call("set_user_attrs", { study: name, notes: pwn("notes") }); // the study's own notes
    for (let t = 0; t < 8; t++) {
      const a = await client.call("ask", { study: name });
      for (let step = 0; step < 3; step++) await client.call("report", { study: name, trial: a.trial.number, token: a.lease.token, step, value: t + step });
      await client.call("set_user_attrs", { study: name, trial: a.trial.number, attrs: { [pwn("trial-attr-key")]: pwn("trial-attr") } });
      const done = multi ? { values: [t, (t * 7) % 5] } : { value: t / 10 };
      await client.call("tell", { study: name, trial: a.trial.number, token: a.lease.token, ...(t === 5 ? { state: "FAIL", reason: pwn("reason") } : { state: "COMPLETE", ...done }) });
    }
    const params = Object.fromEntries(PARAMS.map((p, j) => [p, j % 2 === 0 ? 0.5 : CHOICES[0]]));
    await client.call("enqueue", { study: name, params, rationale: pwn("rationale") });
  }
}

beforeAll(async () => {
  const dir = tempDir();
  server = await startServer(join(dir, "hostile.db"), ["--dashboard", "0", "--log-format", "json"]);
  const ready = await (async () => {
    for (let i = 0; i < 900; i++) {
      const line = server.lines.find((l) => l.includes("tuneport ready"));
      if (line) return JSON.parse(line) as { dashboard: string };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no ready line: ${server.lines.join("\n")}`);
  })();
  base = ready.dashboard.replace(/\/$/, "");
  client = new TestClient(server.endpoint);
  await populate();
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await client?.close();
  await stopServers();
});

/** A page that records anything a payload could do: dialogs, requests for `x`, page errors. */
async function watchedPage(): Promise<{ page: Page; ran: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.setDefaultTimeout(HANG);
  const ran: string[] = [];
  page.on("dialog", (d) => {
    ran.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on("request", (r) => {
    const u = new URL(r.url());
    if (u.origin !== base || u.pathname === "/x") ran.push(`request: ${r.url()}`);
  });
  page.on("pageerror", (e) => ran.push(`page error: ${e.message}`));
  return { page, ran };
}

const pwned = (page: Page) => page.evaluate(() => (globalThis as { __pwned?: unknown }).__pwned ?? null);

describe("the dashboard with hostile names and text", () => {
  it("runs none of it on the studies list, the study pages with every chart, and the trial pages", async () => {
    const { page, ran } = await watchedPage();
    await page.goto(`${base}/`);
    await page.locator("tr[data-study]").nth(STUDIES.length - 1).waitFor();
    expect((await page.locator("tr[data-study] th a").allInnerTexts()).sort()).toEqual([...STUDIES].sort());
    for (const name of STUDIES) {
      await page.goto(`${base}/#/study/${encodeURIComponent(name)}`);
      await page.locator("#trials").waitFor();
      await expect(page.locator("h1").innerText()).resolves.toBe(name);
      await expect(page.locator("#notes").inputValue()).resolves.toBe(pwn("notes"));
      const headers = await page.locator("#trials thead th").allInnerTexts();
      for (const p of PARAMS) expect(headers.map((h) => h.trim())).toContain(p);
      if (name === STUDIES[3]) expect(headers.slice(2, 4)).toEqual([`${pwn("metric-0")} (minimize)`, `${vegaBreak("metric-1")} (maximize)`]);
      for (const box of await page.locator(".chart").all()) {
        await box.scrollIntoViewIfNeeded();
        await box.and(page.locator('[data-state="drawn"]')).waitFor();
      }
      // Hover the marks: tooltips show parameter names and choices.
      for (const mark of (await page.locator(".chart svg g[class*='mark-'] path").all()).slice(0, 40)) await mark.hover({ force: true, timeout: 2000 }).catch(() => undefined);
      const trials = await page.locator("#trials tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-trial")));
      for (const t of trials) {
        await page.goto(`${base}/#/study/${encodeURIComponent(name)}/trial/${t}`);
        await page.locator("h1", { hasText: `Trial ${t} ` }).waitFor();
        const text = await page.locator("main").innerText();
        // Attributes are shown as JSON (quotes escaped), the rationale and the worker as text.
        if (t === "8") expect(text).toContain(`Rationale\n${pwn("rationale")}`);
        else {
          expect(text).toContain(JSON.stringify(pwn("trial-attr")));
          expect(text).toContain(pwn("worker"));
        }
        if (t === "5") expect(text).toContain(JSON.stringify(pwn("reason")));
        if (name === STUDIES[3] && t !== "8") expect(text).toContain(`${pwn("metric-0")} (minimize)\n`);
      }
      expect(await pwned(page), name).toBeNull();
    }
    expect(ran).toEqual([]);
    await page.close();
  }, 10 * HANG);
});

describe("a page of another origin", () => {
  let attacker: Server;
  afterAll(() => new Promise<void>((r) => (attacker ? attacker.close(() => r()) : r())));

  it("cannot stop a study with a form POST, no-cors fetches or sendBeacon", async () => {
    const study = STUDIES[2] as string;
    const target = `${base}/api/op/stop_study`;
    const body = JSON.stringify({ study });
    const html = `<!doctype html><body>
<form id="f" method="POST" enctype="text/plain" action="${target}" target="sink"><input name='${body.slice(0, -1).replace(/'/g, "&#39;")},"x":"' value='"}'></form>
<iframe name="sink"></iframe>
<script>
  const target = ${JSON.stringify(target)}, body = ${JSON.stringify(body)};
  window.tried = (async () => {
    const out = [];
    const attempt = async (what, f) => { try { await f(); out.push(what + ": sent"); } catch (e) { out.push(what + ": " + e.name); } };
    await attempt("no-cors text", () => fetch(target, { method: "POST", mode: "no-cors", credentials: "include", body }));
    await attempt("no-cors json header", () => fetch(target, { method: "POST", mode: "no-cors", credentials: "include", headers: { "content-type": "application/json" }, body }));
    await attempt("no-cors json blob", () => fetch(target, { method: "POST", mode: "no-cors", credentials: "include", body: new Blob([body], { type: "application/json" }) }));
    await attempt("cors json", () => fetch(target, { method: "POST", credentials: "include", headers: { "content-type": "application/json" }, body }));
    out.push("beacon text: " + navigator.sendBeacon(target, body));
    try { out.push("beacon json: " + navigator.sendBeacon(target, new Blob([body], { type: "application/json" }))); } catch (e) { out.push("beacon json: " + e.name); }
    document.getElementById("f").submit();
    return out;
  })();
</script></body>`;
    attacker = createServer((_req, res) => void res.writeHead(200, { "content-type": "text/html" }).end(html));
    await new Promise<void>((r) => attacker.listen(0, "127.0.0.1", () => r()));
    const origin = `http://127.0.0.1:${(attacker.address() as AddressInfo).port}`;
    const { page } = await watchedPage();
    const answered: number[] = [];
    page.on("response", (r) => {
      if (r.url() === target) answered.push(r.status());
    });
    await page.goto(`${origin}/`);
    const tried = await page.evaluate(() => (globalThis as unknown as { tried: Promise<string[]> }).tried);
    expect(tried).toContain("cors json: TypeError"); // the preflight is never granted
    // Everything that reached the server was refused; then the study is still running.
    await expect.poll(() => answered.length, { timeout: HANG }).toBeGreaterThanOrEqual(3);
    await page.waitForLoadState("networkidle");
    expect(answered.every((s) => s === 415 || s === 403 || s === 405), String(answered)).toBe(true);
    const { study: s } = await client.call("get_study", { study });
    expect(s.stopped).toBe(false);
    await page.close();
  }, 2 * HANG);
});
