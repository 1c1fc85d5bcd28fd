// The first charts after a server starts (issue 19 item 5): serves a copy of DB (a file made by
// bench/reads-fill.mjs, study "big"), waits WAIT seconds after it listens, tells one trial (so that
// the plot cache cannot answer; --no-tell to leave the study unchanged), then times its first
// history and parallel-coordinates charts over ZeroMQ. Alternate builds to compare them:
//   node bench/first-chart.mjs --db /tmp/rb.db --cli dist/cli/main.js [--wait 9] [--no-tell]
//   (a 100,000-trial DB: node -e 'import("./bench/reads-fill.mjs").then((m) => m.fill("/tmp/rb.db", 100000))')
import { spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Packr, Unpackr } from "msgpackr";
import { Dealer } from "zeromq";

const { values: args } = parseArgs({ options: { db: { type: "string" }, cli: { type: "string", default: "dist/cli/main.js" }, wait: { type: "string", default: "9" }, "no-tell": { type: "boolean", default: false } } });
if (!args.db) throw new Error("--db FILE is required (see the header)");
const dir = mkdtempSync(join(tmpdir(), "tuneport-first-chart-"));
const db = join(dir, "copy.db");
copyFileSync(args.db, db);
const proc = spawn(process.execPath, [args.cli, "serve", "--storage", db, "--bind", "tcp://127.0.0.1:0", "--log-format", "json"], { stdio: ["ignore", "pipe", "inherit"] });
const endpoint = await new Promise((resolve, reject) => {
  let buf = "";
  const onData = (d) => {
    buf += d;
    const line = buf.split("\n").slice(0, -1).find((l) => l.includes('"zmq listening"'));
    if (line) {
      proc.stdout.off("data", onData);
      proc.stdout.resume();
      resolve(JSON.parse(line).endpoints[0]);
    }
  };
  proc.stdout.on("data", onData);
  proc.once("exit", (code) => reject(new Error(`serve exited with ${code}`)));
});
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number", moreTypes: false });
const sock = new Dealer({ linger: 0 });
sock.connect(endpoint);
let seq = 0;
async function call(op, a) {
  const t0 = performance.now();
  await sock.send(packr.pack({ v: 1, id: `c${seq++}`, op, ...a }));
  const r = unpackr.unpack((await sock.receive()).at(-1));
  if (!r.ok) throw new Error(`${op}: ${JSON.stringify(r.error)}`);
  return { ms: performance.now() - t0, result: r.result };
}
try {
  await call("hello", { versions: [1] });
  await new Promise((r) => setTimeout(r, Number(args.wait) * 1000));
  if (!args["no-tell"]) {
    const { result } = await call("ask", { study: "big" });
    await call("tell", { study: "big", trial: result.trial.number, token: result.lease.token, state: "COMPLETE", value: Math.random() });
  }
  const history = await call("plot", { study: "big", kind: "history" });
  const parallel = await call("plot", { study: "big", kind: "parallel_coordinates" });
  console.log(`${args.cli}\tfirst history ${history.ms.toFixed(0)} ms\tfirst parallel coordinates ${parallel.ms.toFixed(0)} ms`);
} finally {
  sock.close();
  proc.kill("SIGTERM");
  await new Promise((r) => proc.once("exit", r));
  rmSync(dir, { recursive: true, force: true });
}
