// ZeroMQ peers that send part of a big frame and idle (docs/SECURITY.md "Partial frames"): K raw ZMTP 3.0
// peers (NULL mechanism, DEALER) each declare a frame of DECLARED bytes and send SENT of it; prints the
// server's RSS before, with them and after they close, how many the server closed, and how long a
// real DEALER's hello took meanwhile.
//   node bench/zmq-partial-frames.mjs PORT SERVER_PID K DECLARED SENT   (a tuneport serve on 127.0.0.1:PORT)
import "./help.mjs";
import net from "node:net";
import { readFileSync } from "node:fs";
import { Dealer } from "zeromq";
import { Packr, Unpackr } from "msgpackr";
const [port, pid, K, declared, sent] = process.argv.slice(2).map(Number);
const rss = () => Math.round(Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1]) / 1024);
const greeting = Buffer.alloc(64); greeting[0] = 0xff; greeting[9] = 0x7f; greeting[10] = 3; greeting[11] = 0; greeting.write("NULL", 12);
const prop = (n, v) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n), Buffer.from([0, 0, 0, v.length]), Buffer.from(v)]);
const readyBody = Buffer.concat([Buffer.from([5]), Buffer.from("READY"), prop("Socket-Type", "DEALER")]);
const ready = Buffer.concat([Buffer.from([0x04, readyBody.length]), readyBody]);
const head = Buffer.alloc(9); head[0] = 0x02; head.writeBigUInt64BE(BigInt(declared), 1);
const chunk = Buffer.alloc(Math.min(sent, 1 << 20), 0x61);
const socks = []; let closedByServer = 0; let leaving = false;
const before = rss();
await Promise.all(Array.from({ length: K }, () => new Promise((res) => {
  const s = net.connect(port, "127.0.0.1", async () => {
    s.write(greeting); s.write(ready); s.write(head);
    let left = sent;
    while (left > 0) { const n = Math.min(left, chunk.length); if (!s.write(chunk.subarray(0, n))) await new Promise((r) => s.once("drain", r)); left -= n; }
    res();
  });
  s.on("error", () => res()); s.on("close", () => { if (!leaving) closedByServer++; res(); }); s.on("data", () => {});
  socks.push(s);
})));
await new Promise((r) => setTimeout(r, 1500));
const held = rss();
const packr = new Packr({ useRecords: false }), unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
const d = new Dealer({ linger: 0 }); d.connect(`tcp://127.0.0.1:${port}`);
const t = performance.now(); await d.send(packr.pack({ v: 1, id: "h", op: "hello", versions: [1] })); const [f] = await d.receive(); const ms = performance.now() - t;
const ok = unpackr.unpack(f).ok;
leaving = true;
for (const s of socks) s.destroy();
d.close();
await new Promise((r) => setTimeout(r, 2000));
console.log(JSON.stringify({ peers: K, declared, sent, rss_before_mib: before, rss_with_peers_mib: held, rss_after_close_mib: rss(), closed_by_server: closedByServer, other_client_hello_ms: Math.round(ms), other_ok: ok }));
