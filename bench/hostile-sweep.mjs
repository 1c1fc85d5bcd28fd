// Adversarial sweep of well-formed but extreme requests through a real `tuneport serve`: every
// built-in strategy and scheduler, over degenerate and extreme search spaces (low == high, ints near
// 2^53 and across 2^31, log floats from 1e-300 to 1e300, subnormal spans, steps that do not divide
// the range, 1 and 5,000 choices, mixed-type choices, 0 and 120 parameters, define-by-run with a
// conditional parameter), extreme results (±1e308, subnormals, -0, all equal, FAIL/PRUNED only, one
// COMPLETE among FAILs, constraints at 1e308), reports at huge steps, repeated and out of order, 1
// and 5 objectives, and options at their declared extremes; several trials pending at once. With
// them (hostile-sweep-extras.mjs; --no-extras replays the cases of runs before them): trials
// enqueued and added (add_trial) at the space's edges with results at the double's ends, and in
// about one case in 16 leases of 1 s that expire mid-run while other trials report on.
//
// Checks every reply: never INTERNAL, never a hang (60 s per request), never a server exit, no
// error in the server's log (a strategy's invalid proposal that the service replaced, say);
// proposals (ask, suggest, update decisions) and every stored value (the trials read after the case,
// against each trial's own distributions) inside the declared space (ints integral, on the step,
// a categorical value one of the choices); and after each case every read (get_study, trials, best,
// best_trials, param_importances, study_summary, query_trials, a plot) still answers.
//
// Usage: node bench/hostile-sweep.mjs [--seed N] [--cases N] [--trials N] [--only STRATEGY]
//        [--focus pbt,pb2,bohb,asha] [--plots] [--keep] [--verbose] [--server-log FILE] [--no-extras]
// (--focus sweeps only the named population and multi-fidelity plug-ins, each with options it
// accepts, so most cases pass create_study and run many asks and reports on the plug-in's own marks
// with hostile intermediate values, FAIL/PRUNED mid-run and up to 16 pending: hostile-sweep-focus.mjs)
// (--verbose prints every refusal, which the counts only tally; --server-log writes the server's log
// lines to FILE; --keep leaves the studies in place;
// SIGINT ends the sweep after the case under way and prints what it ran.)
// Needs `npm run build` (runs dist/cli/main.js). BENCH_PORTS=LO-HI picks its port. Exits 1 when a
// check failed, printing each failure with the case that made it (seed and case number reproduce it).
import "./help.mjs";
import { spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CASE_SPACES, SCHEDULERS, STRATEGIES, VALUE_MODES, inSpace, rawReplyClient, seeded } from "./hostile-sweep-cases.mjs";
import { LEASE_PAUSE_MS, caseExtras, extraTrials } from "./hostile-sweep-extras.mjs";
import { FOCUS_NAMES, focusCase } from "./hostile-sweep-focus.mjs";
import { hostileImport, plotStudy } from "./hostile-sweep-plots.mjs";
import { freePort, listening } from "./serve-process.mjs";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const seed = Number(arg("seed", "1"));
const nCases = Number(arg("cases", "200"));
const nTrials = Number(arg("trials", "24"));
const only = arg("only", "");
const focus = arg("focus", "") ? arg("focus", "").split(",") : [];
for (const f of focus) if (!FOCUS_NAMES.includes(f)) throw new Error(`--focus takes ${FOCUS_NAMES.join(",")}, not ${f}`);
const plots = process.argv.includes("--plots");
const keep = process.argv.includes("--keep");
const verbose = process.argv.includes("--verbose");
const extras = !process.argv.includes("--no-extras");

const dir = mkdtempSync(join(tmpdir(), "hostile-sweep-"));
const db = join(dir, "sweep.db");
const port = await freePort();
const endpoint = `tcp://127.0.0.1:${port}`;
const proc = spawn(process.execPath, ["dist/cli/main.js", "serve", "--storage", db, "--bind", endpoint, "--log-format", "json"], {
  stdio: ["ignore", "pipe", "pipe"],
});
let stderr = "";
proc.stderr.on("data", (d) => (stderr += d));
await listening(proc);
let log = ""; // the server's latest log lines (its errors' stack traces), for a failure's message
let currentCase = "start"; // the case under way, for errors the server logs without failing a request
let partial = "";
const serverLog = arg("server-log", "") ? createWriteStream(arg("server-log", "")) : null;
proc.stdout.on("data", (d) => {
  serverLog?.write(d);
  log = (log + d).slice(-3000);
  const lines = (partial + d).split("\n");
  partial = lines.pop() ?? "";
  // An error the service logs and works around (a strategy's invalid proposal sampled uniformly
  // instead) answers no request with INTERNAL; it is still a defect. "internal error" lines are
  // counted by the INTERNAL reply they come with.
  for (const line of lines) {
    let rec;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    if (rec.level >= 50 && rec.msg !== "internal error") {
      const { msg, study, err, time: _t, level: _l, app: _a, ...rest } = rec;
      fail(currentCase, `the server logged an error: "${msg}" (study ${study}): ${err?.message ?? ""} ${JSON.stringify(rest).slice(0, 300)}${err?.stack ? `\n${err.stack}` : ""}`);
    }
  }
});
const client = rawReplyClient(endpoint, 60_000);
await client.request("hello", { versions: [1] });

const failures = [];
const counts = new Map(); // "strategy|scheduler" -> {cases, created, asks, reports (accepted), update, prune (decisions), errors: {op:code: n}}
const rnd = seeded(seed);
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];

function fail(ctx, what) {
  failures.push(`${ctx}: ${what}`);
  process.stderr.write(`FAIL ${ctx}: ${what}\n`);
}

/** Sends one request; records INTERNAL, a hang and a dead server as failures; returns the reply or null. */
async function req(ctx, tally, op, args) {
  let r;
  try {
    r = await client.request(op, args);
  } catch (e) {
    fail(ctx, `${op} hung or the socket failed: ${e.message}`);
    return null;
  }
  if (proc.exitCode !== null || proc.signalCode !== null) {
    fail(ctx, `server exited (${proc.exitCode ?? proc.signalCode}) after ${op}: ${stderr.slice(-2000)}`);
    throw new Error("server gone");
  }
  if (!r.ok) {
    tally.errors[`${op}:${r.error.code}`] = (tally.errors[`${op}:${r.error.code}`] ?? 0) + 1;
    if (verbose) process.stderr.write(`${ctx}: ${op} -> ${r.error.code} ${r.error.message.slice(0, 300)}\n`);
    if (r.error.code === "INTERNAL" || r.error.code === "MALFORMED_MESSAGE")
      fail(ctx, `${op} ${JSON.stringify(args).slice(0, 300)} -> ${r.error.code} ${r.error.message}; the server's log ends: ${log}${stderr.slice(-1500)}`);
  }
  return r;
}

function checkParams(ctx, space, params, where) {
  for (const [name, d] of Object.entries(space)) {
    if (!(name in params)) continue;
    const why = inSpace(d, params[name]);
    if (why) fail(ctx, `${where}: ${name}=${params[name]} outside ${JSON.stringify(d)}: ${why}`);
  }
}

async function runCase(k) {
  const fc = focus.length ? focusCase(rnd, pick(focus)) : null;
  const strategy = fc ? (fc.strategy.name ?? fc.strategy) : only || pick(STRATEGIES);
  const sc = fc ? { name: fc.scheduler?.name ?? fc.scheduler ?? "none" } : pick(SCHEDULERS);
  // PBT, PB2 and BOHB need a declared space: a focused case draws one.
  const sp = pick(fc ? CASE_SPACES.filter((s) => Object.keys(s.make(rnd)).length > 0) : CASE_SPACES);
  const vm = fc ? fc.vm : pick(VALUE_MODES);
  const nObj = fc ? 1 : strategy === "nsga2" || strategy === "ehvi" || strategy === "parego" ? pick([1, 2, 5]) : pick([1, 1, 1, 2, 5]);
  const scheduler = fc ? fc.scheduler : nObj > 1 ? null : sc.make(rnd);
  const strat = fc ? fc.strategy : STRATEGIES_OPTIONS(strategy);
  const space = sp.make(rnd);
  const name = `c${k}-${strategy}-${sc.name}-${sp.name}-${vm.name}`;
  const ctx = `seed ${seed} case ${k} ${name} obj=${nObj} strat=${JSON.stringify(strat)} sched=${JSON.stringify(scheduler)}`;
  const key = `${strategy}|${scheduler ? sc.name : "none"}`;
  const tally = counts.get(key) ?? { cases: 0, created: 0, asks: 0, reports: 0, update: 0, prune: 0, errors: {} };
  counts.set(key, tally);
  tally.cases++;
  const create = await req(ctx, tally, "create_study", {
    name,
    space,
    strategy: strat,
    ...(scheduler ? { scheduler } : {}),
    directions: Array.from({ length: nObj }, (_, i) => (i % 2 ? "maximize" : "minimize")),
    seed: Math.floor(rnd() * 2 ** 32),
    lease_ttl_s: 600, // slow asks at the options' extremes must not expire the pending trials' leases
    ...(scheduler ? { max_resource: fc?.maxResource ?? 1e6 } : {}),
  });
  // With --plots, a study recorded at the double's ends and every chart that applies to it.
  if (plots) await plotCase(ctx, tally, k);
  if (!create?.ok) return;
  tally.created++;
  const stored = create.result.study.space; // normalised (an int high lowered onto its step)
  const ex = extras ? caseExtras(seed, k) : null;
  if (ex?.added) await extraTrials(ex, (op, args) => req(ctx, tally, op, args), name, stored, nObj);
  const pendingMax = pick(fc ? [1, 3, 8, 16] : [1, 3, 8]);
  const pending = [];
  let told = 0;
  // TPE's declared maximum of 100,000 candidates costs seconds of CPU per ask (in a worker thread,
  // tpe-strategy.ts offloadFor): a few asks past its start show it, more only slow the sweep.
  const trials = strat.options?.n_ei_candidates === 100000 ? Math.min(nTrials, 6) : nTrials;
  const values = vm.values(rnd, trials);
  let canAsk = true; // false after a refused ask until the next tell (PBT refuses while every member runs)
  while (told < trials) {
    while (canAsk && pending.length < pendingMax && told + pending.length < trials) {
      const a = await req(ctx, tally, "ask", { study: name, ...(ex?.shortLeases && ex.rnd() < 0.5 ? { lease_ttl_s: 1 } : {}) });
      if (!a?.ok) {
        canAsk = false;
        break;
      }
      tally.asks++;
      checkParams(ctx, stored, a.result.trial.params, `ask #${a.result.trial.number}`);
      pending.push({ a: a.result, queue: null });
    }
    if (pending.length === 0) break;
    if (ex?.shortLeases && !ex.paused && told >= ex.pauseAfter) {
      ex.paused = true; // the short leases expire and are reaped (their retries queued) mid-run
      await new Promise((r) => setTimeout(r, LEASE_PAUSE_MS));
    }
    const i = Math.floor(rnd() * pending.length);
    const p = pending[i];
    const a = p.a;
    const at = { study: name, trial: a.trial.number, token: a.lease.token };
    if (!p.queue) {
      const params = (p.params = { ...a.trial.params });
      if (sp.dbr) await sp.dbr(rnd, async (pname, distribution) => {
        const r = await req(ctx, tally, "suggest", { ...at, name: pname, distribution });
        if (r?.ok) {
          const why = inSpace(distribution, r.result.value);
          if (why) fail(ctx, `suggest ${pname}=${r.result.value} outside ${JSON.stringify(distribution)}: ${why}`);
          params[pname] = r.result.value;
        }
        return r?.ok ? r.result.value : undefined;
      });
      p.v = (fc ? values[a.trial.number % values.length] : values[told]) ?? 0;
      p.queue = vm.reports(rnd, p.v);
    }
    let pruned = false;
    let lost = false; // a short lease expired: the trial is the reaper's
    // A focused case interleaves its pending trials one report at a time: PBT ranks and exploits
    // members mid-run, and rungs fill from several trials at once.
    for (const [step, value] of fc ? p.queue.splice(0, 1) : p.queue.splice(0)) {
      const data =
        strategy === "hypergradient"
          ? { hypergradients: Object.fromEntries(Object.keys(p.params).map((n) => [n, pick([1e308, -1e-310, 0, -0, 1e154, 3])])) }
          : fc && (strategy === "pbt" || strategy === "pb2") && rnd() < 0.8
            ? { checkpoint: `ck/${a.trial.number}/${step}` } // a donor for PBT's exploit
            : undefined;
      const r = await req(ctx, tally, "report", { ...at, step, value, ...(data ? { data } : {}) });
      if (r && !r.ok && r.error.code === "LEASE_LOST") {
        lost = true;
        break;
      }
      if (r?.ok) {
        const d = r.result.decision;
        tally.reports++;
        if (d.action !== "continue") tally[d.action]++;
        if (d.action === "update") checkParams(ctx, stored, d.params, `update #${a.trial.number}`);
        if (d.action === "prune") {
          pruned = true;
          break;
        }
      }
    }
    if (!pruned && !lost && p.queue.length > 0) continue;
    pending.splice(i, 1);
    if (!lost) await req(ctx, tally, "tell", { ...at, ...(pruned ? { state: "PRUNED" } : vm.tell(rnd, p.v, told, nObj)) });
    told++;
    canAsk = true;
  }
  for (const { a } of pending) await req(ctx, tally, "tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "FAIL" });
  const reads = [
    ["get_study", { study: name }],
    ["trials", { study: name, limit: 5000 }],
    ["trials", { study: name, order_by: "value", limit: 10 }],
    ["best", { study: name }],
    ["best_trials", { study: name, history: true }],
    ["param_importances", { study: name }],
    ["study_summary", { study: name }],
    ["query_trials", { study: name, sort: "value", limit: 20 }],
  ];
  const kinds = ["history", "slice", "parallel", "contour", "edf", "importances", "intermediate"];
  if (fc) kinds.push(...(strategy === "pbt" || strategy === "pb2" ? ["lineage", "intermediate"] : strategy === "hypergradient" ? ["trajectories"] : []));
  if (plots || k % (fc ? 3 : 10) === 0) reads.push(["plot", { study: name, kind: pick(kinds) }]);
  if (nObj > 1 && (plots || k % 10 === 0)) reads.push(["plot", { study: name, kind: "pareto_front" }]);
  let listed = false;
  for (const [op, args] of reads) {
    const r = await req(ctx, tally, op, args);
    if (r && !r.ok && op !== "best_trials" && op !== "plot") fail(ctx, `read ${op} refused: ${r.error.code} ${r.error.message}`);
    plotRefusal(ctx, op, args, r);
    // Every value stored, whoever sent it (enqueue, add_trial, suggest, a plug-in), inside its trial's distribution exactly.
    if (r?.ok && op === "trials" && !listed) {
      listed = true;
      for (const t of r.result.trials) checkParams(ctx, t.distributions, t.params, `stored #${t.number}`);
    }
  }
  // Every 8th case (every 4th with --plots) goes out with export_study and back in with `tuneport
  // import` (a database of its own), as it was or tampered with; what was imported must read and draw.
  if (k % (plots ? 4 : 8) === 0) {
    const imp = await hostileImport(seed, k, (op, args) => req(ctx, tally, op, args), name, nObj, dir);
    for (const f of imp.failures) fail(ctx, f);
    const key = imp.imported ? "import:ok" : "import:refused";
    tally.errors[key] = (tally.errors[key] ?? 0) + 1;
  }
  if (!keep) await req(ctx, tally, "delete_study", { study: name });
}

/** plotStudy's study of case `k` (hostile-sweep-plots.mjs), every chart of it, then its deletion. */
async function plotCase(ctx, tally, k) {
  const ps = await plotStudy(seed, k, (op, args) => req(ctx, tally, op, args));
  for (const args of ps.requests) plotRefusal(ctx, "plot", args, await req(ctx, tally, "plot", args));
  if (ps.requests.length) tally.errors["plot-study:created"] = (tally.errors["plot-study:created"] ?? 0) + 1;
  if (!keep && ps.requests.length) await req(ctx, tally, "delete_study", { study: ps.name });
}

/**
 * A chart refused "cannot be drawn" is a failure: the study's stored values are legal (the server
 * accepted them), so its charts must draw. Other refusals (no trial to draw, a kind that does not
 * apply) are the server's to make.
 */
function plotRefusal(ctx, op, args, r) {
  if (op === "plot" && r && !r.ok && r.error.code === "INVALID_ARGUMENT" && /cannot be drawn/.test(r.error.message))
    fail(ctx, `plot ${JSON.stringify(args)} of stored values refused: ${r.error.message}`);
}

/** The options of `strategy`, at their declared extremes now and then. */
function STRATEGIES_OPTIONS(strategy) {
  const extremes = {
    tpe: [{ n_startup_trials: 0 }, { n_ei_candidates: 100000, n_startup_trials: 1 }, { n_ei_candidates: 1, multivariate: false, consider_endpoints: true, prior_weight: 1e-300 }, { startup: "qmc", constant_liar: false, prior_weight: 1e300 }],
    gp: [{ nStartupTrials: 1 }, { nStartupTrials: 1, nCandidates: 1, nLocalSearches: 0, maxFitIterations: 1, outputTransform: "copula" }, { nStartupTrials: 2, outputTransform: "yeo-johnson", maxModelTrials: 10, maxFitTrials: 10, eiXi: 10 }],
    cmaes: [{ popsize: 2 }, { popsize: 2, sigma0: 1 }, { sigma0: 1e-300 }],
    pbt: [{ population_size: 2 }, { population_size: 2, perturbation_interval: 1e-300, quantile_fraction: 0.5 }, { population_size: 2, perturbation_factors: [1e-300, 1e300], resample_probability: 1 }],
    pb2: [{ population_size: 2 }, { population_size: 2, perturbation_interval: 1e-300, quantile_fraction: 0.5 }],
    nsga2: [{ population_size: 2 }, { population_size: 2, mutation_prob: 1, crossover_prob: 1, swapping_prob: 1 }, { mutation_prob: 0, crossover_prob: 0 }],
    parego: [{ rho: 0 }, { rho: 1, scalarization: "hypervolume", weights: "sobol" }],
    ehvi: [{ nStartupTrials: 1 }, { nStartupTrials: 1, nCandidates: 1, nLocalSearches: 0, referenceMargin: 0 }, { nStartupTrials: 2, acquisition: "hedge", referenceMargin: 10 }],
    qmc: [{ scramble: false }, { scramble: false, skip_first: true }],
    grid: [{ points_per_dim: 2 }, { points_per_dim: 1000 }],
    auto: [{ gp_until: 0 }, { tpe_from_dim: 1 }, { portfolio_window: 1, portfolio_floor: 0.5, portfolio_temperature: 1e-300 }, { mo_nsga2_from: 0 }],
    hypergradient: [{ step_rule: "adam", lr: 1, max_step: 1 }, { step_rule: "hd-m", hd_beta: 100 }, { base: "tpe", trajectory_limit: 4 }],
  };
  const list = extremes[strategy];
  if (!list || rnd() < 0.3) return strategy;
  return { name: strategy, options: pick(list) };
}

const t0 = Date.now();
try {
  let stop = false;
  process.once("SIGINT", () => (stop = true)); // ends after the case under way, with the counts so far
  for (let k = 0; k < nCases && !stop; k++) {
    currentCase = `seed ${seed} case ${k}`;
    await runCase(k);
    process.stderr.write(`case ${k} done (${((Date.now() - t0) / 1000).toFixed(0)} s, ${failures.length} failures)\n`);
  }
} catch (e) {
  fail("sweep", e.stack ?? String(e));
}
const hello = await client.request("hello", { versions: [1] }).catch((e) => ({ ok: false, error: { message: e.message } }));
if (!hello.ok) fail("end", `server no longer answers hello: ${hello.error.message}`);
client.close();
proc.kill("SIGTERM");
await new Promise((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once("exit", r)));
rmSync(dir, { recursive: true, force: true });

const rows = [...counts.entries()].sort();
for (const [key, t] of rows) console.log(`${key.padEnd(30)} cases ${String(t.cases).padStart(3)} created ${String(t.created).padStart(3)} asks ${String(t.asks).padStart(5)} reports ${String(t.reports).padStart(6)} (update ${t.update}, prune ${t.prune})  ${JSON.stringify(t.errors)}`);
console.log(`seed ${seed}: ${[...counts.values()].reduce((n, t) => n + t.cases, 0)} cases in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${failures.length} failures`);
for (const f of failures) console.log(`FAIL ${f}`);
process.exit(failures.length ? 1 : 0);
