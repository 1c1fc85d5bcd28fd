/**
 * End to end: an MCP agent and two ZeroMQ workers on the same study. The agent creates the
 * study and enqueues two proposals; two worker processes run trials over ZeroMQ; the
 * agent's proposals are evaluated by the workers, and the agent reads the best and a plot.
 */
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { Procs, ROOT, call, connectStdio, exited, freePort, sc, tempDir, textOf } from "./mcp-helpers.js";

const procs = new Procs();
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await procs.killAll();
});

it("an agent steers a study that two ZeroMQ workers evaluate", async () => {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const ep = `tcp://127.0.0.1:${await freePort()}`;
  const { client } = await connectStdio(["--storage", join(tmp.dir, "e2e.db"), "--bind", ep]);
  cleanups.push(() => client.close());

  await call(client, "create_study", {
    name: "quad",
    direction: "minimize",
    space: { x: { type: "float", low: -5, high: 5 }, y: { type: "float", low: -5, high: 5 } },
    seed: 11,
  });
  // The optimum of the workers' objective (x-1)^2 + (y+2)^2 is at (1, -2).
  const p1 = sc(await call(client, "enqueue_trial", { study: "quad", params: { x: 1, y: -2 }, rationale: "analytic optimum of the quadratic" }));
  const p2 = sc(await call(client, "enqueue_trial", { study: "quad", params: { x: 0, y: 0 }, rationale: "origin as a baseline" }));

  const worker = join(ROOT, "test/fixtures/zmq-worker.mjs");
  const workers = ["w1", "w2"].map((w) => procs.spawn([worker, ep, "quad", "12", w]));

  // The agent waits for progress rather than polling.
  let complete = 0;
  for (let i = 0; i < 20 && complete < 12; i++) {
    const r = sc(await call(client, "wait_for_progress", { study: "quad", timeout_s: 5, min_finished: 4 }));
    complete = r.counts.COMPLETE;
  }
  expect(complete).toBeGreaterThanOrEqual(12);
  for (const w of workers) expect(await exited(w), w.out()).toBe(0);

  const proposals = sc(await call(client, "list_trials", { study: "quad", limit: 2 })).trials;
  expect(proposals.map((t: { number: number }) => t.number)).toEqual([p1.trial.number, p2.trial.number]);
  for (const t of proposals) {
    expect(t.state).toBe("COMPLETE");
    expect(["w1", "w2"]).toContain(t.user_attrs.worker);
    expect(t.rationale).toBeTruthy();
  }
  expect(proposals[1].value).toBeCloseTo(5, 10);
  // Both workers took part.
  const all = sc(await call(client, "list_trials", { study: "quad", states: ["COMPLETE"], limit: 200 })).trials;
  expect(new Set(all.map((t: { user_attrs: { worker: string } }) => t.user_attrs.worker))).toEqual(new Set(["w1", "w2"]));

  const best = await call(client, "best_trials", { study: "quad" });
  expect(sc(best).trials[0].number).toBe(p1.trial.number);
  expect(sc(best).trials[0].value).toBe(0);
  expect(textOf(best)).toContain('rationale: "analytic optimum');

  for (const kind of ["history", "intermediate_values"]) {
    const plot = await call(client, "plot", { study: "quad", kind });
    const img = plot.content[0];
    expect(img?.type).toBe("image");
    if (img?.type === "image") expect(Buffer.from(img.data, "base64").length).toBeGreaterThan(5000);
  }
});
