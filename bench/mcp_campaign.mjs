#!/usr/bin/env node
// A whole MCP campaign, as docs/MCP.md shows it (issue 14): an agent — the real MCP SDK client over
// stdio — steers a study that two Python workers (the real client, `study.optimize`) run over
// ZeroMQ, training scikit-learn's MLPClassifier on the digits data set (bundled with scikit-learn,
// no download) one epoch per report. The agent proposes and cancels trials, waits for progress,
// relaxes a median pruner that prunes too eagerly, records a known result, stops the study (the
// workers end cleanly) and resumes it, evaluates a trial itself (the same model, trained in a
// Python subprocess) with a define-by-run batch size,
// and exports the study. Every call is printed with the size of its result (text plus
// structuredContent, the characters that land in a model's context).
//
// Usage: npm run build && make venv && nice -n 19 node bench/mcp_campaign.mjs [OUT.txt]
import "./help.mjs";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { freePort } from "./serve-process.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist/cli/main.js");
const PYTHON = join(ROOT, ".venv/bin/python");
const STUDY = "digits-mlp";
const out = [];
const say = (line = "") => {
  out.push(line);
  console.log(line);
};

const WORKER = `
import sys, warnings
import numpy as np
import tuneport as tp
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
warnings.filterwarnings("ignore", category=ConvergenceWarning)
endpoint, name, who = sys.argv[1], sys.argv[2], sys.argv[3]
X, y = load_digits(return_X_y=True)
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_tr)
X_tr, X_va = scaler.transform(X_tr), scaler.transform(X_va)
classes = np.unique(y)
def objective(trial):
    p = trial.params
    model = MLPClassifier(hidden_layer_sizes=(int(p["hidden"]),), activation=p["activation"], alpha=float(p["alpha"]),
                          learning_rate_init=float(p["lr"]), batch_size=64, random_state=trial.number)
    err = 1.0
    for epoch in range(12):
        model.partial_fit(X_tr, y_tr, classes=classes)
        err = 1.0 - model.score(X_va, y_va)
        trial.report(err, epoch)          # raises TrialPruned when the median pruner says stop
    return err
with tp.connect(endpoint) as client:
    study = client.load_study(name)
    study.optimize(objective, n_trials=1000)
print(f"worker {who}: loop ended", flush=True)
`;

/** The agent's own evaluation of a trial it asked for: the same model, \`epochs\` epochs, its validation error. */
const EVALUATE = `
import json, sys, warnings
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
warnings.filterwarnings("ignore", category=ConvergenceWarning)
p, epochs = json.loads(sys.argv[1]), int(sys.argv[2])
X, y = load_digits(return_X_y=True)
X_tr, X_va, y_tr, y_va = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
scaler = StandardScaler().fit(X_tr)
X_tr, X_va = scaler.transform(X_tr), scaler.transform(X_va)
model = MLPClassifier(hidden_layer_sizes=(int(p["hidden"]),), activation=p["activation"], alpha=float(p["alpha"]),
                      learning_rate_init=float(p["lr"]), batch_size=int(p["batch_size"]), random_state=0)
for _ in range(epochs):
    model.partial_fit(X_tr, y_tr, classes=np.unique(y))
print(1.0 - model.score(X_va, y_va))
`;

function evaluate(params, epochs) {
  return new Promise((resolve, reject) => {
    const p = spawn(PYTHON, ["-c", EVALUATE, JSON.stringify(params), String(epochs)], { stdio: ["ignore", "pipe", "inherit"] });
    let text = "";
    p.stdout.on("data", (d) => (text += d));
    p.once("exit", (code) => (code === 0 ? resolve(Number(text.trim())) : reject(new Error(`evaluation exited ${code}`))));
  });
}

const chars = (r) =>
  r.content.reduce((n, c) => n + (c.type === "text" ? c.text.length : 0), 0) + (r.structuredContent ? JSON.stringify(r.structuredContent).length : 0);

/** Short JSON of the arguments (long strings cut, a lease token left out) for the transcript. */
const brief = (args) =>
  JSON.stringify(args, (k, v) => (k === "token" ? "…" : typeof v === "string" && v.length > 60 ? `${v.slice(0, 57)}…` : v)).replace(/"([a-z_]+)":/g, "$1: ");

const dir = mkdtempSync(join(tmpdir(), "tuneport-campaign-"));
const endpoint = `tcp://127.0.0.1:${await freePort()}`;
const client = new Client({ name: "campaign-agent", version: "1.0.0" });
await client.connect(
  new StdioClientTransport({ command: process.execPath, args: [CLI, "mcp", "--storage", join(dir, "campaign.db"), "--bind", endpoint], stderr: "ignore" }),
);
const workers = [];
const t0 = Date.now();
const clock = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;

/** Calls a tool, prints the call, the first `lines` lines of its text and its size; returns the result. */
async function tool(name, args, lines = 3) {
  const r = await client.callTool({ name, arguments: args });
  const token = r.structuredContent?.token;
  const text = r.content.filter((c) => c.type === "text").map((c) => (typeof token === "string" ? c.text.replaceAll(token, "…") : c.text)).join("\n");
  const shown = text.split("\n");
  say(`${clock()} agent → ${name} ${brief(args)}`);
  for (const [i, l] of shown.slice(0, lines).entries()) say(`        ${i === 0 ? "←" : " "} ${l.length > 150 ? `${l.slice(0, 147)}…` : l}`);
  if (shown.length > lines) say(`          … (${shown.length - lines} more lines)`);
  say(`          [${chars(r)} characters${r.isError ? ", isError" : ""}]`);
  return r;
}

function startWorker(who) {
  const p = spawn(PYTHON, ["-c", WORKER, endpoint, STUDY, who], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  p.stdout.on("data", (d) => (log += d));
  p.stderr.on("data", (d) => (log += d));
  const done = new Promise((resolve) => p.once("exit", (code) => resolve(code)));
  workers.push({ who, p, done, log: () => log });
  say(`${clock()} worker ${who} starts: study.optimize(objective, n_trials=1000), 12 epochs per trial, report after each`);
  return { done, log: () => log };
}

try {
  say("tuneport MCP campaign: digits MLP, one agent (MCP SDK client over stdio), two Python workers (ZeroMQ)");
  say("server: tuneport mcp --storage campaign.db --bind tcp://127.0.0.1:PORT");
  say();
  await tool("create_study", {
    name: STUDY,
    space: {
      lr: { type: "float", low: 1e-4, high: 1e-1, log: true },
      alpha: { type: "float", low: 1e-6, high: 1e-2, log: true },
      hidden: { type: "int", low: 16, high: 128 },
      activation: { type: "categorical", choices: ["relu", "tanh"] },
    },
    strategy: { name: "tpe", options: { n_startup_trials: 8 } },
    // Deliberately eager: judge every trial from epoch 0 on, after only 2 complete ones.
    scheduler: { name: "median", options: { n_startup_trials: 2, n_warmup_steps: 0 } },
    seed: 7,
    max_trials: 80,
  });
  await tool("enqueue_trial", { study: STUDY, params: { lr: 1e-3, alpha: 1e-4, hidden: 64, activation: "relu" }, rationale: "scikit-learn's defaults with 64 units: a baseline to beat." });
  const second = await tool("enqueue_trial", { study: STUDY, params: { lr: 0.1, alpha: 1e-6, hidden: 16, activation: "tanh" }, rationale: "An aggressive corner." });
  await tool("cancel_trial", { study: STUDY, trial: second.structuredContent.trial.number, reason: "lr 0.1 diverges for Adam on this data; not worth a slot" });
  startWorker("A");
  startWorker("B");
  await tool("wait_for_progress", { study: STUDY, timeout_s: 50, min_finished: 10 }, 4);
  await tool("study_summary", { study: STUDY }, 8);
  const pruned = (await tool("list_trials", { study: STUDY, states: ["PRUNED"], fields: ["intermediate"], limit: 200 }, 3)).structuredContent;
  const complete = (await tool("list_trials", { study: STUDY, states: ["COMPLETE"], fields: ["value"], limit: 1 }, 1)).structuredContent.total;
  const atZero = pruned.trials.filter((t) => t.last_intermediate?.[0] === 0).length;
  say(`          (the agent reads: ${pruned.total} of ${pruned.total + complete} finished trials pruned, ${atZero} of them at epoch 0, before the curves separate)`);
  await tool("update_study", { study: STUDY, scheduler: { name: "median", options: { n_warmup_steps: 4 } }, notes: "Pruned at epoch 0 too often: the curves only separate after a few epochs. Relaxed to n_warmup_steps 4." }, 4);
  // Trials asked from here on are judged by the relaxed pruner (one running now may still be pruned early).
  const relaxedAt = (await client.callTool({ name: "describe_study", arguments: { study: STUDY } })).structuredContent.study.n_trials - 1;
  await tool("add_trial", {
    study: STUDY,
    params: { lr: 3e-3, alpha: 1e-3, hidden: 128, activation: "relu" },
    value: 0.0296,
    rationale: "A colleague's run with these settings: validation error 0.0296.",
  });
  await tool("wait_for_progress", { study: STUDY, timeout_s: 50, min_finished: 12 }, 4);
  await tool("param_importances", { study: STUDY }, 6);
  await tool("best_trials", { study: STUDY, k: 3, fields: ["value", "params"] }, 5);
  await tool("stop_study", { study: STUDY });
  for (const w of workers) {
    const code = await w.done;
    const last = w.log().trim().split("\n").filter(Boolean).slice(-1)[0] ?? "";
    say(`${clock()} worker ${w.who} exits ${code}; last line: ${last}${/Traceback/.test(w.log()) ? " (TRACEBACK)" : ""}`);
  }
  const after = (await tool("list_trials", { study: STUDY, states: ["PRUNED"], fields: ["intermediate"], limit: 200 }, 1)).structuredContent;
  const early = after.trials.filter((t) => t.number > relaxedAt && t.last_intermediate !== null && t.last_intermediate[0] < 4).length;
  say(`          (pruned since the relaxation: ${after.trials.filter((t) => t.number > relaxedAt).length}, ${early} of them before epoch 4)`);
  await tool("resume_study", { study: STUDY });
  const mine = (await tool("ask_trial", { study: STUDY, lease_ttl_s: 600 })).structuredContent;
  const batch = (await tool("suggest", { study: STUDY, trial: mine.trial.number, token: mine.token, name: "batch_size", distribution: { type: "categorical", choices: [32, 64, 128] } }))
    .structuredContent.value;
  await tool("renew_lease", { study: STUDY, trial: mine.trial.number, token: mine.token });
  const err = await evaluate({ ...mine.trial.params, batch_size: batch }, 12);
  say(`${clock()} agent   evaluates trial ${mine.trial.number} itself: 12 epochs with batch_size ${batch} → validation error ${err.toFixed(4)}`);
  await tool("tell_trial", { study: STUDY, trial: mine.trial.number, token: mine.token, value: err });
  await tool("set_user_attrs", { study: STUDY, trial: mine.trial.number, notes: "evaluated by the agent, with batch_size drawn define-by-run" });
  await tool("enqueue_trial", { study: STUDY, params: { lr: 1e-3, alpha: 1e-4, hidden: 64, activation: "relu", batch_size: 5 }, rationale: "typo" }, 2);
  await tool("describe_study", { study: STUDY }, 12);
  await tool("update_study", { study: STUDY, space: { hidden: { type: "int", low: 16, high: 64 } } }, 2);
  await tool("get_lineage", { study: STUDY }, 2);
  await tool("export_study", { study: STUDY }, 2);
  await tool("stop_study", { study: STUDY }, 1);
} finally {
  for (const w of workers) if (w.p.exitCode === null) w.p.kill("SIGKILL");
  await client.close();
  rmSync(dir, { recursive: true, force: true });
}
if (process.argv[2]) writeFileSync(process.argv[2], `${out.join("\n")}\n`);
