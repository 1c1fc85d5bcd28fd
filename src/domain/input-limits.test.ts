import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { workerIdentity } from "./worker.js";
import { clipText } from "./input-limits.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

/** Heap bytes still in use after a full collection. */
function liveHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe("clipText", () => {
  it("cuts to the length asked, and leaves short strings as they are", () => {
    expect(clipText("abcdef", 3)).toBe("abc");
    expect(clipText("ab", 3)).toBe("ab");
    expect(clipText("é😀x", 3)).toBe("é😀");
  });

  it("keeps none of the long string it was cut from alive (a 1 MB hello host cost 1 MB per identity)", () => {
    const before = liveHeap();
    const kept: unknown[] = [];
    // 100 distinct 1 MB strings, as 100 hellos would bring; only the clipped identities are kept.
    for (let i = 0; i < 100; i++) kept.push(workerIdentity("zmq", { host: `${i}:${"h".repeat(1 << 20)}` }));
    const grown = liveHeap() - before;
    expect(kept).toHaveLength(100);
    // Retained parents would be 100 MB; the identities themselves are a few kB.
    expect(grown).toBeLessThan(10 << 20);
  });
});
