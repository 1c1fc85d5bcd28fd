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
 * V8's full garbage collection, or null where it cannot be had, followed by a minor one. `--expose-gc`
 * set at run time exposes `gc` in contexts created afterwards (not in this one), so one new context
 * fetches it. A full collection frees the ArrayBuffers it found dead on a background thread
 * (V8's concurrent array buffer sweeping), and `bufferBytes` counts them until that thread has run:
 * on a busy machine the count read right after the collection was often unchanged (117 MB of
 * garbage, from packing a refused 23 MB reply, still counted in 7 of 8 tries with a CPU hog on the
 * server's core), and the reply was refused for memory (test/serve-reply-limit.test.ts). The next
 * collection finishes that sweeping first, on the calling thread: a minor one (the young generation
 * only) makes the count exact at little cost.
 */
export function fullGc(): (() => void) | null {
  if (gcFn === undefined) {
    try {
      setFlagsFromString("--expose-gc");
      const gc = runInNewContext("gc") as (options?: { type: "major" | "minor" }) => void;
      gcFn = () => {
        gc();
        gc({ type: "minor" });
      };
    } catch {
      gcFn = null;
    }
  }
  return gcFn;
}
