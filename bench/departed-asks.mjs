// Asks of a client that left (docs/SECURITY.md): starts `CLI serve` on 127.0.0.1:PORT, makes a gp study of
// 20 told trials, has one DEALER pipeline N asks and close 0.3 s later, then another client asks. Prints how
// long that ask took and how many trials the study has then.
//   node bench/departed-asks.mjs CLI PORT N      (CLI: a dist/cli/main.js)
import "./help.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const [cli, port, n] = process.argv.slice(2);
import { Dealer } from "zeromq";
import { Packr, Unpackr } from "msgpackr";
const packr = new Packr({ useRecords: false }); const unpackr = new Unpackr({ useRecords: false });
const encode = (x) => packr.pack(x); const decode = (b) => unpackr.unpack(b);
const dir = mkdtempSync(join(tmpdir(), "departed-"));
const ep = `tcp://127.0.0.1:${port}`;
const srv = spawn(process.execPath, [cli, "serve", "--storage", join(dir, "p.db"), "--bind", ep], { stdio: ["ignore", "pipe", "inherit"] });
await new Promise((r) => srv.stdout.on("data", (d) => d.toString().includes("zmq listening") && r()));
const c = new Dealer({ linger: 0 }); c.connect(ep);
let k = 0;
const call = async (op, args) => { const id = `c${k++}`; await c.send(encode({ v: 1, id, op, ...args })); for (;;) { const [f] = await c.receive(); const r = decode(f); if (r.id === id) { if (!r.ok) throw new Error(JSON.stringify(r.error)); return r.result; } } };
await call("create_study", { name: "g", space: { x: { type: "float", low: 0, high: 1 }, y: { type: "float", low: 0, high: 1 } }, strategy: "gp", seed: 1 });
for (let i = 0; i < 20; i++) { const a = await call("ask", { study: "g" }); await call("tell", { study: "g", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: a.trial.params.x ** 2 + a.trial.params.y }); }
const d = new Dealer({ linger: 0 }); d.connect(ep);
for (let i = 0; i < Number(n); i++) await d.send(encode({ v: 1, id: `d${i}`, op: "ask", study: "g" }));
await new Promise((r) => setTimeout(r, 300));
d.close();
const t0 = performance.now();
const mine = await call("ask", { study: "g" });
const ms = performance.now() - t0;
const st = await call("get_study", { study: "g" });
console.log(JSON.stringify({ cli, pipelined: Number(n), other_ask_ms: Math.round(ms), other_trial: mine.trial.number, n_trials: st.study.n_trials }));
srv.kill("SIGKILL"); c.close(); process.exit(0);
