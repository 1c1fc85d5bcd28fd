// The cost of refusing duplicate keys in JSON request bodies (domain/input-limits.ts
// `jsonTextDuplicateKey`) next to the JSON.parse every body already gets: MCP tool calls of
// several sizes and a 4 MiB body (the MCP HTTP limit). Median µs per body over many runs.
//   node bench/json-duplicate-keys.mjs [BUILD]   (BUILD: a dist directory, default ./dist)
import "./help.mjs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
const build = resolve(process.argv[2] ?? "dist");
const { jsonTextDuplicateKey } = await import(pathToFileURL(`${build}/domain/input-limits.js`).href);
const call = (name, args) => JSON.stringify({ jsonrpc: "2.0", id: 7, method: "tools/call", params: { name, arguments: args } });
const params = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`p${i}`, { type: "float", low: 0, high: 1 }]));
const bodies = {
  "tell_trial (typical, ~140 B)": call("tell_trial", { study: "demo", trial: 12, token: "3f9c2a7e-5b1d-4c8e-9a0f-2d6b8e1c4a7f", value: 0.125 }),
  "create_study, 20 params (~1.2 KB)": call("create_study", { name: "demo", direction: "minimize", space: params(20) }),
  "create_study, 2,000 params (~100 KB)": call("create_study", { name: "demo", space: params(2000) }),
  "categorical of 40,000 choices (~4 MiB)": call("create_study", { name: "demo", space: { c: { type: "categorical", choices: Array.from({ length: 40_000 }, (_, j) => `choice-${j}-${"z".repeat(90)}`) } } }),
  "200,000 numbers (~4 MiB)": call("add_trial", { study: "demo", params: {}, intermediate: Array.from({ length: 200_000 }, (_, j) => [j, j / 3]) }),
};
const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function time(fn, text) {
  const runs = Math.max(20, Math.min(20_000, Math.floor(2e8 / text.length)));
  for (let i = 0; i < Math.min(runs, 200); i++) fn(text);
  const xs = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn(text);
    xs.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  return median(xs);
}
console.log("| body | bytes | JSON.parse µs | duplicate-key scan µs | scan / parse |");
console.log("| --- | --- | --- | --- | --- |");
for (const [name, text] of Object.entries(bodies)) {
  if (jsonTextDuplicateKey(text) !== null) throw new Error(`${name}: a duplicate found where there is none`);
  const parse = time(JSON.parse, text);
  const scan = time(jsonTextDuplicateKey, text);
  console.log(`| ${name} | ${text.length.toLocaleString("en-US")} | ${parse.toFixed(1)} | ${scan.toFixed(1)} | ${(scan / parse).toFixed(2)} |`);
}
