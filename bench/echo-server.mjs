// The floor for protocol benchmarks: a zeromq.js ROUTER that echoes every message
// unchanged (no decoding), on the same socket type and library as tuneport's server.
// Usage: node bench/echo-server.mjs tcp://127.0.0.1:PORT
import "./help.mjs";
import { Router } from "zeromq";

const sock = new Router({ linger: 0, sendHighWaterMark: 100000, receiveHighWaterMark: 100000 });
await sock.bind(process.argv[2] ?? "tcp://127.0.0.1:5599");
process.stdout.write("ready\n");
process.on("SIGTERM", () => process.exit(0));
for await (const frames of sock) await sock.send(frames);
