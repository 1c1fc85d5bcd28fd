/**
 * Issue 14 §2–3: an agent steers a study through MCP while a live Python worker (the real client,
 * `study.optimize`) runs it over ZeroMQ. cancel_trial withdraws a queued proposal before any worker
 * gets it; add_trial records a known result; stop_study ends the worker's loop cleanly (exit 0, no
 * traceback) and keeps every trial it completed; resume_study hands out trials again; an agent
 * evaluating a trial itself chooses its lease length and renews it with renew_lease.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { ROOT, call, connectStdio, exited, freePort, sc, tempDir, textOf, waitForOutput } from "./mcp-helpers.js";

const PYTHON = join(ROOT, ".venv", "bin", "python");
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const p of children.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

/** A worker as Optuna users write one: optimize until the study says stop, then report what it did. */
const WORKER = `
import sys, time
import tuneport as tp
endpoint, name = sys.argv[1], sys.argv[2]
done = []
def objective(trial):
    time.sleep(0.02)
    x = float(trial.params["x"])
    done.append(trial.number)
    print(f"trial {trial.number}", flush=True)
    return (x - 0.3) ** 2
with tp.connect(endpoint) as client:
    client.load_study(name).optimize(objective, n_trials=100000)
print("finished " + ",".join(str(n) for n in done), flush=True)
`;

it("steers a study that a live Python worker runs: cancel, add, stop (clean exit, trials kept), resume, an agent's own lease", async () => {
  expect(existsSync(PYTHON), "make venv creates the Python client's virtualenv").toBe(true);
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const ep = `tcp://127.0.0.1:${await freePort()}`;
  const { client } = await connectStdio(["--storage", join(tmp.dir, "steer.db"), "--bind", ep]);
  cleanups.push(() => client.close());

  const created = await call(client, "create_study", { name: "steer", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 3 });
  expect(created.isError, textOf(created)).toBeFalsy();
  const keep = sc(await call(client, "enqueue_trial", { study: "steer", params: { x: 0.3 }, rationale: "the known optimum" })).trial.number;
  const drop = sc(await call(client, "enqueue_trial", { study: "steer", params: { x: 0.9 }, rationale: "on second thought, no" })).trial.number;
  const cancelled = await call(client, "cancel_trial", { study: "steer", trial: drop, reason: "far from the optimum" });
  expect(cancelled.isError, textOf(cancelled)).toBeFalsy();
  // A finished or running trial cannot be cancelled: the error says so and what to do.
  const again = await call(client, "cancel_trial", { study: "steer", trial: drop });
  expect(textOf(again)).toMatch(/^Error FAILED_PRECONDITION: .*only a queued \(WAITING\) trial can be cancelled[\s\S]*Next step:/);

  let out = "";
  const worker = spawn(PYTHON, ["-c", WORKER, ep, "steer"], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(worker);
  worker.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  worker.stderr?.on("data", (d: Buffer) => (out += d.toString()));

  const progress = await call(client, "wait_for_progress", { study: "steer", timeout_s: 40, min_finished: 3 });
  expect(sc(progress).finished, out).toBeGreaterThanOrEqual(3);
  const added = await call(client, "add_trial", { study: "steer", params: { x: 0.3 }, value: 0, rationale: "from last week's run" });
  expect(added.isError, textOf(added)).toBeFalsy();
  const addedNumber = sc(added).trial.number;

  const stopped = await call(client, "stop_study", { study: "steer" });
  expect(sc(stopped).stopped).toBe(true);
  expect(await exited(worker), out).toBe(0);
  expect(out).not.toMatch(/Traceback|Error/);
  const finished = /^finished ([\d,]*)$/m.exec(await waitForOutput(() => out, (s) => s.includes("finished")))?.[1] ?? "";
  const workerTrials = finished.split(",").filter(Boolean).map(Number);
  expect(workerTrials.length, out).toBeGreaterThanOrEqual(3);

  // Every trial the worker completed is kept; the cancelled proposal was never handed out.
  const complete = sc(await call(client, "list_trials", { study: "steer", states: ["COMPLETE"], limit: 200, fields: ["state", "value"], max_chars: 60000 }));
  const numbers = complete.trials.map((t: { number: number }) => t.number);
  for (const n of workerTrials) expect(numbers).toContain(n);
  expect(numbers).toContain(keep);
  expect(numbers).toContain(addedNumber);
  expect(workerTrials).not.toContain(drop);
  const dropped = sc(await call(client, "get_trial", { study: "steer", trial: drop })).trial;
  expect([dropped.state, dropped.started_at, dropped.system_attrs.fail_reason]).toEqual(["FAIL", null, "cancelled: far from the optimum"]);
  const best = sc(await call(client, "best_trials", { study: "steer", k: 2 })).trials;
  expect(best.map((t: { number: number }) => t.number)).toEqual([keep, addedNumber]); // both 0: ties go by trial number

  // Stopped: the agent's own ask is refused with a next step; resumed, it gets a trial.
  const refused = await call(client, "ask_trial", { study: "steer" });
  expect(textOf(refused)).toMatch(/^Error STUDY_STOPPED: [\s\S]*Next step: .*resume_study/);
  expect(sc(await call(client, "resume_study", { study: "steer" })).stopped).toBe(false);
  const mine = sc(await call(client, "ask_trial", { study: "steer", lease_ttl_s: 600, max_retries: 0 }));
  expect(mine.lease_ttl_s).toBe(600);
  const renewed = sc(await call(client, "renew_lease", { study: "steer", trial: mine.trial, token: mine.token }));
  expect(renewed.expires_in_s).toBeGreaterThan(500);
  const told = await call(client, "tell_trial", { study: "steer", trial: mine.trial, token: mine.token, value: 0.5 });
  expect(told.isError, textOf(told)).toBeFalsy();
  const lost = await call(client, "renew_lease", { study: "steer", trial: mine.trial, token: mine.token });
  expect(textOf(lost)).toMatch(/^Error FAILED_PRECONDITION: .*COMPLETE, not RUNNING/);
}, 180_000);
