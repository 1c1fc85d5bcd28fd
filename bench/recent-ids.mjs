// The cost of remembering request ids (src/service/idempotency.ts `claim`, run once per request)
// as the server ages: the first 100,000 ids fill the window, every later one evicts the oldest.
// Before 2026-12-04 the oldest was found with `map.keys().next()`, which skips every deleted slot
// V8's ordered map keeps until it rehashes: ~40 µs per request once the window was full. The same
// pattern on a bare Map is timed beside it for contrast.
//
//   npm run build && node bench/recent-ids.mjs [--ids 400000]
import "./help.mjs";
import { randomBytes } from "node:crypto";
import { SqliteStorage } from "../dist/storage/sqlite/sqlite-storage.js";
import { Idempotency } from "../dist/service/idempotency.js";

const n = Number(process.argv[process.argv.indexOf("--ids") + 1] || 0) || 400_000;
const ids = Array.from({ length: n }, () => randomBytes(16).toString("hex"));
const WINDOW = 100_000;

function timed(claim) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < WINDOW; i++) claim(ids[i]);
  const t1 = process.hrtime.bigint();
  for (let i = WINDOW; i < n; i++) claim(ids[i]);
  const t2 = process.hrtime.bigint();
  return { filling_ns_per_id: Math.round(Number(t1 - t0) / WINDOW), full_ns_per_id: Math.round(Number(t2 - t1) / (n - WINDOW)) };
}

const storage = new SqliteStorage({ path: ":memory:" });
const idem = new Idempotency(storage, () => 0);
const rows = [{ what: "Idempotency.claim (this build)", ...timed((id) => idem.claim(id, "ask")) }];
const m = new Map();
rows.push({
  what: "Map with keys().next() eviction (the earlier code)",
  ...timed((id) => {
    m.set(id, "ask");
    if (m.size > WINDOW) m.delete(m.keys().next().value);
  }),
});
await storage.close();
console.log(JSON.stringify({ ids: n, window: WINDOW, node: process.version, at: new Date().toISOString(), rows }, null, 1));
