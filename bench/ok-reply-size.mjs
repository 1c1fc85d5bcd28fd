// The ZeroMQ door's sizing of a change's reply (transports/zmq/codec.ts `okReplySize`, run once per
// ask, tell and report) in two builds, in process: ns per call, interleaved builds, median of
// --reps repetitions of 1,000 random 32-hex request ids x --n (issue 19 item 3).
// Usage: node bench/ok-reply-size.mjs --before OLD/dist [--after dist] [--reps 9] [--n 200]   (needs `make build`)
import "./help.mjs";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const REPS = Number(arg("reps", 9));
const N = Number(arg("n", 200));
const builds = [
  ["before", arg("before", "dist")],
  ["after", arg("after", "dist")],
];
const sizers = await Promise.all(builds.map(async ([, dist]) => (await import(join(resolve(dist), "transports/zmq/codec.js"))).okReplySize));
const ids = Array.from({ length: 1000 }, () => randomBytes(16).toString("hex"));
const result = new Uint8Array(600); // an ask's stored result is ~600 bytes

function time(size) {
  let sum = 0;
  const c0 = process.cpuUsage();
  for (let r = 0; r < N; r++) for (const id of ids) sum += size(1, id, result);
  const c = process.cpuUsage(c0);
  if (sum === 0) throw new Error("unreachable");
  return ((c.user + c.system) * 1000) / (N * ids.length);
}
const runs = builds.map(() => []);
for (let r = 0; r < REPS; r++) sizers.forEach((size, i) => runs[i].push(time(size)));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const out = Object.fromEntries(builds.map(([label, dist], i) => [label, { dist, ns_per_call: Math.round(median(runs[i])) }]));
console.log(JSON.stringify({ ...out, after_over_before: Math.round((median(runs[1]) / median(runs[0])) * 1000) / 1000 }));
