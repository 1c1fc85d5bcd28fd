/** What the ZeroMQ server reads of its own memory, and how it frees it (zmq-server.ts `heldNow`). */
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * The bytes ArrayBuffers hold, as V8 counts its external memory (ArrayBuffers and a little more, so
 * never less than `process.memoryUsage().arrayBuffers`). `process.memoryUsage()` reads the RSS too,
 * opening /proc/self/statm each time: ~10 µs a call against ~0.5 here, 1.5 % of a lone client's
 * requests' JS-thread CPU (perf, `bench/server-cpu.mjs`), and with every file descriptor taken
 * (a flood of idle connections past `ulimit -n`) it threw EMFILE (test/connection-flood.test.ts).
 */
export function bufferBytes(): number {
  return getHeapStatistics().external_memory;
}

let gcFn: (() => void) | null | undefined;

/**
 * V8's full garbage collection, or null where it cannot be had. `--expose-gc` set at run time
 * exposes `gc` in contexts created afterwards (not in this one), so one new context fetches it.
 */
export function fullGc(): (() => void) | null {
  if (gcFn === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      gcFn = runInNewContext("gc") as () => void;
    } catch {
      gcFn = null;
    }
  }
  return gcFn;
}
