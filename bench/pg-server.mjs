#!/usr/bin/env node
/**
 * Runs a throw-away PostgreSQL server (dist-bench/src/testing/postgres-server.js) for a Python test or a
 * benchmark: prints one JSON line `{"url": ...}` once it accepts connections, and stops it (removing
 * its directory) when its standard input closes or on SIGTERM/SIGINT — so a parent that dies takes
 * the server with it.
 *
 *   node bench/pg-server.mjs [--durable] [--port N]
 */
import "./help.mjs";
import { startPostgres } from "../dist-bench/src/testing/postgres-server.js";

const args = process.argv.slice(2);
const portAt = args.indexOf("--port");
const server = startPostgres({ durable: args.includes("--durable"), port: portAt >= 0 ? Number(args[portAt + 1]) : undefined, maxConnections: 400 });
let stopped = false;
const stop = () => {
  if (stopped) return;
  stopped = true;
  server.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.stdout.write(`${JSON.stringify({ url: server.url, dir: server.dir })}\n`);
