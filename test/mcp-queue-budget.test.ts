/**
 * An agent's proposals beside a live Python worker under a max_trials budget (helper 47's audit of
 * agents and workers sharing one study). The queue is served in order, so a proposal queued past
 * the budget's room is never handed out: enqueue_trial said "It will be evaluated before the
 * strategy's own suggestions" and nothing else, and the agent waited for a trial no worker would
 * get. And queued trials that no worker asks for (none connected yet, or their loops ended on a
 * stop or a spent budget) left wait_for_progress's timeout without a word on why nothing ran.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { ROOT, call, connectStdio, exited, freePort, sc, tempDir, textOf } from "./mcp-helpers.js";

const PYTHON = join(ROOT, ".venv", "bin", "python");
const children: ChildProcess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  for (const p of children.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
});

/** A worker as Optuna users write one: optimize until the study has no more trials to give. */
const WORKER = `
import sys
import tuneport as tp
endpoint, name = sys.argv[1], sys.argv[2]
done = []
def objective(trial):
    done.append(trial.number)
    return (float(trial.params["x"]) - 0.3) ** 2
with tp.connect(endpoint) as client:
    client.load_study(name).optimize(objective, n_trials=100)
print("ran " + ",".join(str(n) for n in done), flush=True)
`;

it("enqueue_trial says when a proposal queues past the max_trials budget, and an idle wait says no worker asked for the queued ones", async () => {
  expect(existsSync(PYTHON), "make venv creates the Python client's virtualenv").toBe(true);
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const ep = `tcp://127.0.0.1:${await freePort()}`;
  const { client } = await connectStdio(["--storage", join(tmp.dir, "queue.db"), "--bind", ep]);
  cleanups.push(() => client.close());

  const created = await call(client, "create_study", { name: "q", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1, max_trials: 3 });
  expect(created.isError, textOf(created)).toBeFalsy();
  for (const x of [0.1, 0.2, 0.3]) {
    const r = await call(client, "enqueue_trial", { study: "q", params: { x }, rationale: `x = ${x}` });
    expect(r.isError, textOf(r)).toBeFalsy();
    expect(textOf(r)).not.toContain("budget");
  }
  const past = textOf(await call(client, "enqueue_trial", { study: "q", params: { x: 0.4 }, rationale: "x = 0.4" }));
  expect(past).toMatch(/^Queued trial 3 of 'q'/);
  expect(past).toContain("the study's max_trials budget has room for 3 more trials (0 of 3 asked) and 3 queued trials go before this one: no worker gets it unless update_study raises max_trials");

  expect(textOf(await call(client, "study_summary", { study: "q" }))).toContain(
    "Budget: 0 of max_trials 3 trials asked; room for 3 more, so 1 of the 4 queued trials is not handed out unless update_study raises max_trials.",
  );

  // No worker yet: the wait times out and says why nothing ran.
  const idle = await call(client, "wait_for_progress", { study: "q", timeout_s: 1 });
  expect(sc(idle)).toMatchObject({ timed_out: true, finished: 0 });
  expect(textOf(idle)).toContain("Nothing is running, and no worker asked for the 4 queued trials: are workers connected?");

  // The worker takes the first three proposals in order and its loop ends on the spent budget.
  let out = "";
  const worker = spawn(PYTHON, ["-c", WORKER, ep, "q"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PYTHONPATH: join(ROOT, "python-client", "src") } });
  children.push(worker);
  worker.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  worker.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  expect(await exited(worker), out).toBe(0);
  expect(out).toMatch(/^ran 0,1,2$/m);
  const waiting = sc(await call(client, "list_trials", { study: "q", states: ["WAITING"] })).trials.map((t: { number: number }) => t.number);
  expect(waiting).toEqual([3]);

  // Raised by one, the last proposal is handed out no more than before: the loop has ended.
  await call(client, "update_study", { study: "q", max_trials: 4 });
  const ended = await call(client, "wait_for_progress", { study: "q", timeout_s: 1 });
  expect(textOf(ended)).toContain("no worker asked for the 1 queued trial: are workers connected? A worker's loop ends when the study is stopped or its budget is spent");
}, 120_000);

it("a cancelled proposal queued again: the refusal says skip_if_exists: false, which queues it for the worker", async () => {
  expect(existsSync(PYTHON), "make venv creates the Python client's virtualenv").toBe(true);
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const ep = `tcp://127.0.0.1:${await freePort()}`;
  const { client } = await connectStdio(["--storage", join(tmp.dir, "again.db"), "--bind", ep]);
  cleanups.push(() => client.close());

  await call(client, "create_study", { name: "a", space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", seed: 1 });
  const first = sc(await call(client, "enqueue_trial", { study: "a", params: { x: 0.5 }, rationale: "a guess" })).trial.number;
  expect((await call(client, "cancel_trial", { study: "a", trial: first })).isError).toBeFalsy();
  // skip_if_exists (default true) matches the cancelled proposal: the answer says how to queue it anyway.
  const skipped = await call(client, "enqueue_trial", { study: "a", params: { x: 0.5 }, rationale: "on second thought, yes" });
  expect(sc(skipped).created).toBe(false);
  expect(textOf(skipped)).toBe(`Not queued: trial ${first} already has these values (FAIL). enqueue_trial skips a configuration that any trial has, a cancelled or failed one too: pass skip_if_exists: false to queue it again.`);
  const queued = await call(client, "enqueue_trial", { study: "a", params: { x: 0.5 }, rationale: "on second thought, yes", skip_if_exists: false });
  expect(sc(queued).created).toBe(true);
  const again = sc(queued).trial.number;
  expect(textOf(await call(client, "enqueue_trial", { study: "a", params: { x: 0.5 }, rationale: "twice" }))).toContain(
    `Not queued: trial ${again} already has these values (WAITING). It is queued already`,
  );

  let out = "";
  const worker = spawn(PYTHON, ["-c", WORKER.replace("n_trials=100", "n_trials=1"), ep, "a"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PYTHONPATH: join(ROOT, "python-client", "src") } });
  children.push(worker);
  worker.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  worker.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  expect(await exited(worker), out).toBe(0);
  expect(out).toContain(`ran ${again}\n`);
  const done = sc(await call(client, "get_trial", { study: "a", trial: again })).trial;
  expect(done).toMatchObject({ state: "COMPLETE", params: { x: 0.5 } });
  const sameAgain = await call(client, "enqueue_trial", { study: "a", params: { x: 0.5 }, rationale: "noisy?" });
  expect(textOf(sameAgain)).toMatch(/\(COMPLETE, value 0\.04\)\. enqueue_trial skips a configuration that any trial has: pass skip_if_exists: false to queue it again \(a second evaluation/);
}, 120_000);
