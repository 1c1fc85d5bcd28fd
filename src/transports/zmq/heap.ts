/** What the ZeroMQ server reads of its own memory, and how it frees it (zmq-server.ts `heldNow`). */
import { getHeapStatistics, setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * The bytes ArrayBuffers hold (`process.memoryUsage().arrayBuffers`). That call also reads the RSS,
 * which opens /proc/self/statm, so with every file descriptor taken (a flood of idle connections
 * past `ulimit -n`) it threw EMFILE, and every request of every client already connected went
 * unanswered until the flood ended (test/connection-flood.test.ts). V8's
 * external memory (ArrayBuffers and a little more, so never less) needs no descriptor.
 */
export function bufferBytes(): number {
  try {
    return process.memoryUsage().arrayBuffers;
  } catch {
    return getHeapStatistics().external_memory;
  }
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
