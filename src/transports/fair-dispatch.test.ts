import { describe, expect, it } from "vitest";
import { burnCpu } from "../testing/cpu.js";
import { FairDispatch, MAX_PER_SLOT, QUANTUM_MS } from "./fair-dispatch.js";

/** One turn of the event loop: resolves after the slots already scheduled for this turn. */
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Holds the thread for `ms`, as a slow request does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe("FairDispatch", () => {
  it("starts each client's requests in the order it sent them, one client's first slot after another's", async () => {
    const started: string[] = [];
    const fair = new FairDispatch<string>((x) => started.push(x));
    for (let i = 0; i < 40; i++) fair.submit("a", `a${i}`);
    fair.submit("b", "b0");
    fair.submit("b", "b1");
    fair.submit("c", "c0");
    expect(started).toEqual([]); // never inside submit
    expect(fair.queued).toBe(43);
    await turn();
    expect(started).toEqual(["a0", "b0", "c0"]); // the first slots start one each
    await fair.drained();
    expect(fair.queued).toBe(0);
    for (const c of ["a", "b", "c"]) {
      const mine = started.filter((x) => x.startsWith(c));
      expect(mine).toEqual([...mine].sort((x, y) => Number(x.slice(1)) - Number(y.slice(1))));
    }
    expect(started).toHaveLength(43);
  });

  it("starts cheap pipelined requests many to a turn, up to MAX_PER_SLOT", async () => {
    const started: string[] = [];
    const fair = new FairDispatch<string>((x) => started.push(x));
    for (let i = 0; i < 200; i++) fair.submit("a", `a${i}`);
    let turns = 0;
    let most = 0;
    while (fair.queued > 0) {
      const before = started.length;
      await turn();
      turns++;
      most = Math.max(most, started.length - before);
    }
    expect(most).toBe(MAX_PER_SLOT);
    expect(turns).toBeLessThan(100); // one a turn took 200
  });

  // A cheap request whose change commits after its slot (the pipeline's group commit, queued
  // behind the turn's starts) is still cheap: a slot's cost was the time until the next slot, which
  // counted that commit, so a client pipelining asks started a few a turn and each turn committed
  // apart (400 asks took 32-46 SQLite transactions; test/zmq-group-commit.test.ts end to end).
  it("does not count the work its requests queue after their slot (a group commit) as the slot's cost", async () => {
    let slots = 0;
    let committing = false;
    const fair = new FairDispatch<number>(() => {
      // One commit per slot, run after it as the pipeline's is, holding the thread 3 ms.
      if (!committing) {
        committing = true;
        setImmediate(() => {
          busy(3);
          committing = false;
        });
      }
    });
    const counted = fair as unknown as { serve: (id: string, c: unknown) => void };
    const serve = counted.serve.bind(fair);
    counted.serve = (id, c) => {
      slots++;
      serve(id, c);
    };
    for (let i = 0; i < 400; i++) fair.submit("a", i);
    await fair.drained();
    // 1 + 2 + 4 + ... + 64, then 64 a slot: 11 slots; counting the commits, one a slot: about 400/1.
    expect(slots).toBeLessThanOrEqual(20);
  });

  it("a client whose requests are slow starts one per turn, and one that comes meanwhile waits behind one of them", async () => {
    const started: string[] = [];
    const fair = new FairDispatch<string>((x) => {
      if (x.startsWith("h")) busy(QUANTUM_MS + 1);
      started.push(x);
    });
    for (let i = 0; i < 30; i++) fair.submit("heavy", `h${i}`);
    for (let t = 0; t < 5; t++) {
      const before = started.length;
      await turn();
      expect(started.length - before).toBe(1);
    }
    const before = started.length;
    fair.submit("light", "l0");
    await fair.drained();
    expect(started.indexOf("l0") - before).toBeLessThanOrEqual(1);
    expect(started.filter((x) => x.startsWith("h"))).toEqual(Array.from({ length: 30 }, (_, i) => `h${i}`));
  });

  it("a slot stops starting once it has held the thread QUANTUM_MS, also right after its requests turned slow", async () => {
    const started: string[] = [];
    const fair = new FairDispatch<string>((x) => {
      if (x.startsWith("s")) busy(1);
      started.push(x);
    });
    for (let i = 0; i < 300; i++) fair.submit("a", `c${i}`);
    for (let i = 0; i < 40; i++) fair.submit("a", `s${i}`);
    let most = 0;
    while (fair.queued > 0) {
      const before = started.length;
      await turn();
      most = Math.max(most, started.slice(before).filter((x) => x.startsWith("s")).length);
    }
    expect(started.filter((x) => x.startsWith("c")).length).toBe(300);
    // The cheap ones brought the slot to MAX_PER_SLOT; the slow ones after them start QUANTUM_MS's worth a turn.
    expect(most).toBeLessThanOrEqual(QUANTUM_MS + 1);
  });

  it("drains when nothing is queued, and a start that throws does not stop the others", async () => {
    const started: string[] = [];
    const fair = new FairDispatch<string>((x) => {
      if (x === "bad") throw new Error("boom");
      started.push(x);
    });
    await fair.drained();
    fair.submit("a", "bad");
    fair.submit("a", "a1");
    fair.submit("b", "b0");
    await fair.drained();
    expect(started).toEqual(["b0", "a1"]);
  });

  // A refusal costs next to nothing: 63 cancelled MCP calls doubled a slow client's allowance slot
  // after slot (1, 2 ... 32: 64), and its next 64 costly ops started in one slot.
  it("does not raise a client's allowance for requests `start` refused unrun (returned false)", async () => {
    const slots: string[][] = [];
    let slot: string[] | null = null;
    const fair = new FairDispatch<string>((x) => {
      if (slot === null) {
        slot = [];
        slots.push(slot);
        queueMicrotask(() => void (slot = null));
      }
      if (x.startsWith("refused")) return false;
      slot.push(x);
      // Each op costs 3 ms after a microtask (an op that awaits first): the slot's loop does not see it.
      queueMicrotask(() => burnCpu(3));
      return true;
    });
    fair.submit("a", "slow");
    for (let i = 0; i < 63; i++) fair.submit("a", `refused${i}`);
    for (let i = 0; i < 64; i++) fair.submit("a", `costly${i}`);
    await fair.drained();
    expect(slots.flat()).toHaveLength(65);
    // Every slot that ran ops ran one: each cost 3 ms; a slot of refusals alone left the allowance at 1.
    expect(Math.max(...slots.map((s) => s.length))).toBe(1);
  });

  // The 2 ms guard times only the slot's loop; a refusal's cost mostly follows it (its rejection's
  // handlers: the SDK's error reply). Uncounted, some 350 refusals fit one slot's 2 ms, 20 ms of replies.
  it("starts at most MAX_PER_SLOT requests in a slot, refused ones included", async () => {
    const slots: number[] = [];
    let slot: number | null = null;
    const fair = new FairDispatch<number>(() => {
      if (slot === null) {
        slot = slots.push(0) - 1;
        queueMicrotask(() => void (slot = null));
      }
      slots[slot] = (slots[slot] ?? 0) + 1;
      return false;
    });
    for (let i = 0; i < 1000; i++) fair.submit("a", i);
    await fair.drained();
    expect(slots.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(Math.max(...slots), `started per slot: ${slots.join(", ")}`).toBeLessThanOrEqual(MAX_PER_SLOT);
  });
});
