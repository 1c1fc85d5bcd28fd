// What the benchmarks that start `tuneport serve` processes share: a free loopback port, and the
// wait for the server's "zmq listening" log line.
import { createServer } from "node:net";

/** `BENCH_PORTS=LO-HI`: the ports this run may use (several benchmarks side by side); next to try. */
const range = /^(\d+)-(\d+)$/.exec(process.env.BENCH_PORTS ?? "");
let nextInRange = range ? Number(range[1]) : 0;

/** A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick, or one of BENCH_PORTS). */
export async function freePort() {
  if (!range) return listenOn(0);
  for (let tries = Number(range[2]) - Number(range[1]) + 1; tries > 0; tries--) {
    const port = nextInRange;
    nextInRange = port >= Number(range[2]) ? Number(range[1]) : port + 1;
    try {
      return await listenOn(port);
    } catch {
      // taken: the next one
    }
  }
  throw new Error(`no free port in BENCH_PORTS=${process.env.BENCH_PORTS}`);
}

function listenOn(want) {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(want, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Resolves once the server process `proc` (stdout piped) logs "zmq listening"; rejects if it exits
 * first. From then on its log (a line per tell) is only drained: keeping and searching all of it
 * made bench/load.mjs's CPU grow with the run (1.7 s of 20 s at 32 workers), taken from the cores
 * under test.
 */
export function listening(proc) {
  return new Promise((resolve, reject) => {
    let buf = "";
    const watch = (d) => {
      buf += d;
      if (!buf.includes('"zmq listening"')) return;
      proc.stdout.off("data", watch);
      proc.stdout.resume();
      buf = "";
      resolve();
    };
    proc.stdout.on("data", watch);
    proc.once("exit", (c) => reject(new Error(`server exited ${c}`)));
  });
}
