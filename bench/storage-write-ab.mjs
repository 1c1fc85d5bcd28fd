// What one ask and one tell cost the SQLite storage itself (the commit of an insert-trial, then of
// an update-trial to COMPLETE with its put-reply), two builds in one process, alternating rounds:
// CPU µs per ask+tell pair (median over rounds), each build on its own fresh file. With
// `--objectives 2` (or more) the study is multi-objective, its values random points near a
// trade-off (one in ~10 on the front as it grows, as random search finds them).
//
//   node bench/storage-write-ab.mjs --before DIST --after DIST [--rounds 12] [--per-round 500] [--objectives 1]
import "./help.mjs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { abArgs, median } from "./ab-args.mjs";

const args = abArgs("node bench/storage-write-ab.mjs --before DIST --after DIST [--rounds 12] [--per-round 500] [--objectives 1]", ["before", "after"]);
const m = Number(args.objectives ?? 1);
const directions = Array.from({ length: m }, () => "minimize");
const rounds = Number(args.rounds ?? 12);
const perRound = Number(args["per-round"] ?? 500);
const dir = mkdtempSync(join(tmpdir(), "tp-storage-ab-"));
const space = { lr: { type: "float", low: 1e-5, high: 1e-1, log: true }, dropout: { type: "float", low: 0, high: 0.5 }, layers: { type: "int", low: 1, high: 8 } };
const open = async (label, dist) => {
  const { SqliteStorage } = await import(join(resolve(dist), "storage", "sqlite", "sqlite-storage.js"));
  const storage = new SqliteStorage({ path: join(dir, `${label}.db`) });
  const config = { space, strategy: { name: "random", options: {} }, scheduler: null, direction: "minimize", directions, seed: 1 };
  await storage.commit([{ kind: "insert-study", study: { id: 1, name: "s", config, userAttrs: {}, createdAt: 0 } }]);
  return { label, storage, next: 0 };
};
const builds = [await open("before", args.before), await open("after", args.after)];
const trial = (n, state, value) => ({
  id: n + 1, studyId: 1, number: n, state, params: { lr: 0.001 * (1 + (n % 7)), dropout: 0.1, layers: 1 + (n % 8) },
  distributions: space, value: m > 1 ? null : value, values: value === null ? null : valuesOf(n, value), constraints: null, intermediate: [],
  userAttrs: {}, systemAttrs: {}, createdAt: 1_700_000_000_000 + n, startedAt: 1_700_000_000_000 + n,
  finishedAt: state === "RUNNING" ? null : 1_700_000_000_001 + n, lease: state === "RUNNING" ? { token: "t".repeat(32), expiresAt: 1_800_000_000_000 } : null,
});
const reply = new Uint8Array(300).fill(7);
/** One objective: the value; several: a point with coordinates in [0, 1) whose sum is about 1 + noise. */
function valuesOf(n, value) {
  if (m === 1) return [value];
  const u = Array.from({ length: m }, (_, k) => Math.abs(Math.sin(n * (k + 1.618))));
  const s = u.reduce((a, b) => a + b, 0);
  return u.map((x) => x / s + Math.abs(value) / 10);
}
const cpu = { before: [], after: [] };
for (let r = 0; r < rounds; r++) {
  for (const b of builds) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < perRound; i++) {
      const n = b.next++;
      await b.storage.commit([{ kind: "insert-trial", trial: trial(n, "RUNNING", null) }, { kind: "put-reply", requestId: `a${n}`, op: "ask", reply, at: n }]);
      await b.storage.commit([{ kind: "update-trial", trial: trial(n, "COMPLETE", Math.sin(n)) }, { kind: "put-reply", requestId: `t${n}`, op: "tell", reply, at: n }]);
    }
    const c = process.cpuUsage(c0);
    if (r > 0) cpu[b.label].push((c.user + c.system) / perRound);
  }
}
for (const b of builds) await b.storage.close();
for (const [k, v] of Object.entries(cpu)) console.log(`${k}\tstorage CPU per ask+tell: ${median(v).toFixed(1)} µs (median of ${v.length} rounds of ${perRound})`);
