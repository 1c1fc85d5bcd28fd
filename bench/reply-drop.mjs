// The stall of trimming the stored replies (src/storage/sqlite/reply-index.ts): commits TOTAL
// replies (110-character ids, 150-byte replies), BATCH a commit, to a SqliteStorage on a new file
// under /tmp with `maxStoredReplies` MAX, and prints one JSON line: the median and 99th percentile
// commit, each commit that dropped rows (ms), and every drop (rows dropped, rows kept).
//   node bench/reply-drop.mjs [MAX 1000000] [TOTAL 1130000] [BATCH 500]     (after `npm run build`)
import "./help.mjs";
import { SqliteStorage } from "../dist/storage/sqlite/sqlite-storage.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [max, total, batch] = [1_000_000, 1_130_000, 500].map((d, i) => Number(process.argv[2 + i] ?? d));
const path = join(mkdtempSync(join(tmpdir(), "reply-drop-")), "d.sqlite");
const drops = [];
const s = new SqliteStorage({ path, maxStoredReplies: max, onRepliesDropped: (d, k) => drops.push([d, k]) });
const reply = new Uint8Array(150).fill(7);
const times = [];
let k = 0;
for (let done = 0; done < total; done += batch) {
  const cs = [];
  for (let i = 0; i < batch; i++) cs.push({ kind: "put-reply", requestId: `p${k++}-${"x".repeat(100)}`, op: "report", reply, at: Date.now() });
  const t = performance.now();
  await s.commit(cs);
  times.push([performance.now() - t, drops.length]);
}
const plain = times.map((x) => x[0]).sort((a, b) => a - b);
const withDrop = []; for (let i = 1; i < times.length; i++) if (times[i][1] > times[i - 1][1]) withDrop.push(times[i][0].toFixed(1));
console.log(JSON.stringify({ max, total, batch, median_commit_ms: plain[plain.length >> 1].toFixed(2), p99: plain[Math.floor(plain.length * 0.99)].toFixed(2), drop_commits_ms: withDrop, drops, rss_mib: Math.round(process.memoryUsage().rss / 2**20) }));
await s.close();
