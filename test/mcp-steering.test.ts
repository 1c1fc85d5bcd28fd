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
  const renewed = sc(await call(client, "renew_lease", { study: "steer", trial: mine.trial.number, token: mine.token }));
  expect(renewed.expires_in_s).toBeGreaterThan(500);
  const told = await call(client, "tell_trial", { study: "steer", trial: mine.trial.number, token: mine.token, value: 0.5 });
  expect(told.isError, textOf(told)).toBeFalsy();
  const lost = await call(client, "renew_lease", { study: "steer", trial: mine.trial.number, token: mine.token });
  expect(textOf(lost)).toMatch(/^Error FAILED_PRECONDITION: .*COMPLETE, not RUNNING/);
}, 180_000);

/** A worker whose trials report five steps; the median pruner judges each report. */
const REPORTING_WORKER = `
import sys, time
import tuneport as tp
endpoint, name = sys.argv[1], sys.argv[2]
def objective(trial):
    x = float(trial.params["x"])
    for step in range(5):
        time.sleep(0.005)
        trial.report(x + (5 - step) * 0.1, step)
    print(f"trial {trial.number}", flush=True)
    return x
with tp.connect(endpoint) as client:
    client.load_study(name).optimize(objective, n_trials=100000)
print("finished", flush=True)
`;

it("update_study beside a live Python worker: relaxes the pruner, switches strategy, keeps the history; suggest and describe_study agree", async () => {
  expect(existsSync(PYTHON), "make venv creates the Python client's virtualenv").toBe(true);
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const ep = `tcp://127.0.0.1:${await freePort()}`;
  const db = join(tmp.dir, "update.db");
  const { client } = await connectStdio(["--storage", db, "--bind", ep]);
  cleanups.push(() => client.close());
  const created = await call(client, "create_study", {
    name: "upd", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 11,
    scheduler: { name: "median", options: { n_startup_trials: 2, n_warmup_steps: 0 } },
  });
  expect(created.isError, textOf(created)).toBeFalsy();

  let out = "";
  const worker = spawn(PYTHON, ["-c", REPORTING_WORKER, ep, "upd"], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(worker);
  worker.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  worker.stderr?.on("data", (d: Buffer) => (out += d.toString()));

  // The strict pruner prunes at step 0: wait until it has pruned a few.
  await expect.poll(async () => sc(await call(client, "describe_study", { study: "upd" })).study.counts.PRUNED, { timeout: 60_000, interval: 200 }).toBeGreaterThanOrEqual(3);
  const relaxed = await call(client, "update_study", { study: "upd", scheduler: { name: "median", options: { n_warmup_steps: 10 } }, notes: "pruning at step 0 was too eager" });
  expect(relaxed.isError, textOf(relaxed)).toBeFalsy();
  expect(sc(relaxed).changed).toEqual(["scheduler", "notes"]);
  expect(sc(relaxed).study.scheduler.options).toMatchObject({ n_startup_trials: 2, n_warmup_steps: 10 });
  const since = sc(await call(client, "describe_study", { study: "upd" })).study.n_trials as number;
  await call(client, "wait_for_progress", { study: "upd", timeout_s: 40, min_finished: 6 });
  // Switch strategy under the running worker: its loop goes on, asking the new strategy.
  const switched = await call(client, "update_study", { study: "upd", strategy: { name: "tpe", options: { n_startup_trials: 5 } } });
  expect(switched.isError, textOf(switched)).toBeFalsy();
  expect(textOf(switched)).toMatch(/strategy: tpe .*learns from all \d+ trials/);
  await call(client, "wait_for_progress", { study: "upd", timeout_s: 40, min_finished: 4 });
  expect(sc(await call(client, "stop_study", { study: "upd" })).stopped).toBe(true);
  expect(await exited(worker), out).toBe(0);
  expect(out).not.toMatch(/Traceback|Error/);

  const all = sc(await call(client, "list_trials", { study: "upd", limit: 200, fields: ["state"], max_chars: 60000 })).trials as { number: number; state: string }[];
  const pruned = all.filter((t) => t.state === "PRUNED").map((t) => t.number);
  expect(pruned.filter((n) => n < since).length).toBeGreaterThanOrEqual(3);
  // No trial asked after the relaxation reached step 10, so none was pruned.
  expect(pruned.filter((n) => n >= since), `pruned ${pruned} since ${since}`).toEqual([]);
  expect(all.filter((t) => t.number >= since && t.state === "COMPLETE").length).toBeGreaterThanOrEqual(6);

  // The agent evaluates a trial itself with a define-by-run parameter; describe_study then lists it,
  // so the enqueue refused for an out-of-range momentum points at something that shows momentum.
  await call(client, "resume_study", { study: "upd" });
  const mine = sc(await call(client, "ask_trial", { study: "upd" }));
  const m = await call(client, "suggest", { study: "upd", trial: mine.trial.number, token: mine.token, name: "momentum", distribution: { type: "float", low: 0.5, high: 0.99 } });
  expect(sc(m).value).toBeGreaterThanOrEqual(0.5);
  const again = await call(client, "suggest", { study: "upd", trial: mine.trial.number, token: mine.token, name: "momentum", distribution: { type: "float", low: 0.5, high: 0.99 } });
  expect(sc(again).value).toBe(sc(m).value);
  await call(client, "tell_trial", { study: "upd", trial: mine.trial.number, token: mine.token, value: 0.3 });
  const bad = await call(client, "enqueue_trial", { study: "upd", params: { x: 0.5, momentum: 5 }, rationale: "a typo" });
  expect(textOf(bad)).toMatch(/^Error INVALID_ARGUMENT: [\s\S]*momentum[\s\S]*describe_study/);
  const described = await call(client, "describe_study", { study: "upd" });
  expect(textOf(described)).toMatch(/momentum: float in \[0\.5, 0\.99\] \(define-by-run\)/);
  expect(textOf(described)).toMatch(/notes: pruning at step 0 was too eager/);
  const exported = await call(client, "export_study", { study: "upd" });
  expect(textOf(exported).split("\n")[0]).toMatch(/"format":"tuneport-study".*"n_warmup_steps":10.*"name":"tpe"|"format":"tuneport-study".*"name":"tpe".*"n_warmup_steps":10/);
}, 180_000);
