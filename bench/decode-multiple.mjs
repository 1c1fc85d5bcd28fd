// How many bytes of heap a request frame costs once decoded, per byte of frame, by shape; and the
// CPU to refuse it (scanFrame) vs to decode it. Then the same for the JSON doors (MCP over HTTP and
// stdio, the dashboard): heap after JSON.parse per character of text, the answer of the text scan
// they run first (jsonTextShapeProblem: nesting and containers), its time with and without the
// container count, and JSON.parse's. node --expose-gc bench/decode-multiple.mjs [MiB]
import "./help.mjs";
import { Packr } from "msgpackr";
import { decode } from "../dist/transports/zmq/codec.js";
import { scanFrame } from "../dist/transports/zmq/msgpack-scan.js";
import { jsonTextShapeProblem } from "../dist/domain/input-limits.js";
import { MAX_MESSAGE_NESTING } from "../dist/transports/mcp/strict-json.js";

const mib = Number(process.argv[2] ?? 1);
if (!(mib > 0 && mib <= 64)) {
  console.error("usage: node --expose-gc bench/decode-multiple.mjs [MiB, a number in (0, 64], default 1]");
  process.exit(2);
}
const packr = new Packr({ useRecords: false, variableMapSize: true });
const n = (bytesPer) => Math.floor((mib * 1024 * 1024 - 64) / bytesPer);
const shape = {
  "small integers [1,1,…]": () => new Array(n(1)).fill(1),
  "maps of one 3-char key [{abc:1},…]": () => Array.from({ length: n(6) }, () => ({ abc: 1 })),
  "empty maps [{},…]": () => Array.from({ length: n(1) }, () => ({})),
  "empty arrays [[],…]": () => Array.from({ length: n(1) }, () => []),
  "int pairs [[0,0],…]": () => Array.from({ length: n(3) }, () => [0, 0]),
  "three-int arrays [[0,0,0],…] (at the bound)": () => Array.from({ length: n(4) }, () => [0, 0, 0]),
  "intermediate [[step, 0.5],…] (add_trial)": () => Array.from({ length: n(13) }, (_, i) => [i, i + 0.5]),
  "create_study space {pN: {type, low, high}}": () => Object.fromEntries(Array.from({ length: n(40) }, (_, i) => [`p${i}`, { type: "float", low: 0.5, high: 1.5 }])),
  "enqueue params {pN: 0.5}": () => Object.fromEntries(Array.from({ length: n(14) }, (_, i) => [`p${i}`, i + 0.5])),
};
for (let i = 0; i < 20; i++) scanFrame(Buffer.from(packr.pack({ a: [[1, 2], { b: [] }] })), 32); // warm the scan
const results = [];
let keep = null;
for (const [name, make] of Object.entries(shape)) {
  const frame = Buffer.from(packr.pack({ v: 1, id: "x", op: "enqueue", study: "s", params: make() }));
  keep = null;
  globalThis.gc(); globalThis.gc();
  let before = 0;
  // Times: the fastest of 3 (the machine is shared); memory: the last decode, held.
  let problem = null;
  let scanMs = Infinity;
  let decodeMs = Infinity;
  for (let i = 0; i < 3; i++) {
    let t = process.hrtime.bigint();
    problem = scanFrame(frame, 32);
    scanMs = Math.min(scanMs, Number(process.hrtime.bigint() - t) / 1e6);
    keep = null;
    globalThis.gc();
    if (i === 2) { globalThis.gc(); before = process.memoryUsage().heapUsed; }
    t = process.hrtime.bigint();
    keep = decode(frame);
    decodeMs = Math.min(decodeMs, Number(process.hrtime.bigint() - t) / 1e6);
  }
  globalThis.gc(); globalThis.gc();
  const after = process.memoryUsage().heapUsed;
  results.push({ shape: name, bytes: frame.byteLength, scan: problem ?? "passes", heap_multiple: +((after - before) / frame.byteLength).toFixed(1), scan_ms_to_refuse_or_pass: +scanMs.toFixed(1), decode_ms: +decodeMs.toFixed(1) });
}
console.table(results);
// The JSON doors (MCP over HTTP/stdio, dashboard): JSON.parse of text of these shapes, ~`mib` MiB each.
const chars = mib * 1024 * 1024;
const repeat = (unit) => `[${new Array(Math.floor(chars / (unit.length + 1))).fill(unit).join(",")}]`;
const list = (per, item) => Array.from({ length: Math.floor(chars / per) }, (_, i) => item(i)).join(",");
const jsonShapes = {
  "[1,1,…]": repeat("1"),
  "[{},{},…]": repeat("{}"),
  "[[],[],…]": repeat("[]"),
  "[[{}],[{}],…]": repeat("[{}]"),
  "[[0],[0],…]": repeat("[0]"),
  "[[0,0],…]": repeat("[0,0]"),
  "[[0,0,0],…] (one per 8 characters: at the bound)": repeat("[0,0,0]"),
  "[{} ,{} ,…] padded to 8 characters (at the bound)": repeat("{}     "),
  "MCP batch of tools/call": `[${list(110, (i) => `{"jsonrpc":"2.0","id":${i},"method":"tools/call","params":{"name":"best","arguments":{"study":"s"}}}`)}]`,
  "create_study space {pN: {type, low, high}}": `{"name":"s","space":{${list(46, (i) => `"p${i}":{"type":"float","low":0.5,"high":1.5}`)}}}`,
  "user_attrs of float pairs [[0.5,0.25],…]": `{"study":"s","attrs":{"pairs":[${list(12, (i) => `[${i + 0.5},0.25]`)}]}}`,
  "add_trial intermediate [[step, 0.5],…] (ZeroMQ's densest real shape)": `{"intermediate":[${list(11, (i) => `[${i},${i + 0.5}]`)}]}`,
  "enqueue params {pN: 0.5}": `{"study":"s","params":{${list(13, (i) => `"p${i}":${i + 0.5}`)}}}`,
};
const fastest = (f) => {
  let ms = Infinity;
  let out;
  for (let i = 0; i < 3; i++) {
    const t = process.hrtime.bigint();
    out = f();
    ms = Math.min(ms, Number(process.hrtime.bigint() - t) / 1e6);
  }
  return [out, ms];
};
const json = [];
for (const [name, text] of Object.entries(jsonShapes)) {
  const [answer, scanMs] = fastest(() => jsonTextShapeProblem(text, MAX_MESSAGE_NESTING));
  const [, nestingMs] = fastest(() => jsonTextShapeProblem(text, MAX_MESSAGE_NESTING, Infinity));
  const containers = (text.match(/[[{]/g) ?? []).length; // no strings hold brackets here
  keep = null;
  globalThis.gc(); globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  let parseMs = Infinity;
  for (let i = 0; i < 3; i++) {
    keep = null;
    if (i === 2) { globalThis.gc(); globalThis.gc(); }
    const t = process.hrtime.bigint();
    keep = JSON.parse(text);
    parseMs = Math.min(parseMs, Number(process.hrtime.bigint() - t) / 1e6);
  }
  globalThis.gc(); globalThis.gc();
  json.push({
    shape: name,
    chars: text.length,
    chars_per_container: +(text.length / containers).toFixed(1),
    scan: answer ?? "passes",
    heap_multiple_parsed: +((process.memoryUsage().heapUsed - before) / text.length).toFixed(1),
    scan_ms: +scanMs.toFixed(1),
    nesting_only_scan_ms: +nestingMs.toFixed(1),
    parse_ms: +parseMs.toFixed(1),
  });
}
keep = null;
console.table(json);
