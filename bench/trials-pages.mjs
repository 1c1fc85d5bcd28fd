// Reading every trial of a big study through the trials op (limit 100,000, following next_cursor),
// with a second client polling get_study meanwhile: pages, per-page latency, and how long the other
// client waited at worst (the server thread answers nobody while it builds a page). Issue 19 item 5.
//   node bench/trials-pages.mjs BUILD/cli/main.js DB   (DB: a file of bench/reads-fill.mjs, study "big"; see bench/first-chart.mjs)
import "./help.mjs";
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Packr, Unpackr } from "msgpackr";
import { Dealer } from "zeromq";
const [cli, db] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), "tuneport-pages-"));
const copy = join(dir, "copy.db");
copyFileSync(db, copy);
const proc = spawn("node", [cli, "serve", "--storage", copy, "--bind", "tcp://127.0.0.1:0", "--log-format", "json", "--plot-warmup", "0"], { stdio: ["ignore", "pipe", "inherit"] });
const ep = await new Promise((res) => { let b = ""; const w = (d) => { b += d; const l = b.split("\n").slice(0, -1).find((x) => x.includes('"zmq listening"')); if (l) { proc.stdout.off("data", w); proc.stdout.resume(); res(JSON.parse(l).endpoints[0]); } }; proc.stdout.on("data", w); });
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });
const mk = () => { const s = new Dealer({ linger: 0 }); s.connect(ep); return s; };
const a = mk(), b = mk();
let n = 0;
const call = async (s, op, args) => { const t = performance.now(); await s.send(packr.pack({ v: 1, id: `r${n++}`, op, ...args })); const [f] = await s.receive(); const r = unpackr.unpack(f); if (!r.ok) throw new Error(JSON.stringify(r.error)); return { ms: performance.now() - t, r: r.result }; };
await call(a, "hello", {}); await call(b, "hello", {});
for (let rep = 0; rep < 3; rep++) {
  let stop = false, worst = 0;
  const probe = (async () => { while (!stop) { const { ms } = await call(b, "get_study", { study: "big" }); worst = Math.max(worst, ms); await new Promise((r) => setTimeout(r, 5)); } })();
  const pages = []; let cursor; let total = 0; const t0 = performance.now();
  do { const { ms, r } = await call(a, "trials", { study: "big", limit: 100000, ...(cursor ? { cursor } : {}) }); pages.push(ms); total += r.trials.length; cursor = r.next_cursor; } while (cursor);
  const all = performance.now() - t0; stop = true; await probe;
  pages.sort((x, y) => x - y);
  console.log(`${cli}: ${total} trials in ${pages.length} pages, ${all.toFixed(0)} ms; page p50 ${pages[Math.floor(pages.length / 2)].toFixed(0)} max ${pages.at(-1).toFixed(0)} ms; worst get_study meanwhile ${worst.toFixed(0)} ms`);
}
a.close();
b.close();
proc.kill("SIGTERM");
await new Promise((r) => proc.once("exit", r));
rmSync(dir, { recursive: true, force: true });
