// What an ordinary client costs a running HTTP door (the dashboard of `tuneport serve --dashboard
// PORT`): one keep-alive client sends G sequential `GET /`, then P sequential
// `POST /api/op/studies_overview` with a 200 KB JSON body; prints the server's CPU time for each
// (utime + stime from /proc/PID/stat, so Linux only) and the client's mean µs per request.
// Usage: node bench/http-door-cost.mjs --port P --pid SERVER_PID [--gets 20500] [--posts 1000]
import "./help.mjs";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { performance } from "node:perf_hooks";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const PORT = Number(arg("--port", "0"));
const PID = arg("--pid", "");
const GETS = Number(arg("--gets", "20500"));
const POSTS = Number(arg("--posts", "1000"));
if (!PORT || !PID) {
  console.error("--port and --pid are required (see --help)");
  process.exit(2);
}
const TICK_MS = 10; // USER_HZ 100
const cpuMs = () => {
  const fields = readFileSync(`/proc/${PID}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
};
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const one = (method, path, body) =>
  new Promise((resolve, reject) => {
    const r = request({ host: "127.0.0.1", port: PORT, path, method, agent, headers: body ? { "content-type": "application/json" } : {} }, (res) => {
      res.resume();
      res.on("end", resolve);
    });
    r.on("error", reject);
    r.end(body);
  });
async function phase(n, method, path, body) {
  const c0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await one(method, path, body);
  return { requests: n, server_cpu_ms: cpuMs() - c0, client_us_each: n ? Math.round(((performance.now() - t0) / n) * 1000) : null };
}
const big = JSON.stringify({ x: "y".repeat(200 * 1024) });
console.log(JSON.stringify({ get: await phase(GETS, "GET", "/"), post_200kb: await phase(POSTS, "POST", "/api/op/studies_overview", big) }));
agent.destroy();
