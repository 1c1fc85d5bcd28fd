// Charts and imports of bench/hostile-sweep.mjs (with --plots): a study recorded with `add_trial` at
// the double's ends — 1, 3, 4 or 6 objectives; subnormal, ±1e308 and signed-zero values; params at
// the edges of huge, subnormal and signed-zero ranges, log ranges from 5e-324 to 1.8e308, ints to
// ±2^53, categorical choices of odd types — then every kind of chart that applies to it, with and
// without params and log_y; and a case's own study exported (export_study) and imported again
// (`tuneport import` into a database of its own, then read and charted from it), as it was and
// tampered with. The server stored these values, so its charts must draw them: a chart refused "cannot be
// drawn" is a failure here (the sweep's `plotRefusal`), as are a round trip that import refuses, an
// import that ends with a stack trace, and a read of an imported study that the server refuses.
// Drawn from generators of their own (seed and case), so the main sequence of cases stays the one
// earlier seeds ran. Not a benchmark on its own.
import "./help.mjs";
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Rng } from "../dist/math/rng.js";

const MAXI = Number.MAX_SAFE_INTEGER;
const DMAX = 1.7976931348623157e308;
/** Finite results at the double's ends (a result must be finite: tell and add_trial refuse others). */
const ENDS = [DMAX, -DMAX, 1e308, -1e308, 5e-324, -5e-324, 0, -0, 2.2250738585072014e-308, 1e-300, -1e-300];
const ODD_CHOICES = [null, true, false, -0, 1e308, -1e308, 5e-324, "", "ü", "<b>&amp;</b>", "a".repeat(200), "0", "null"];

/** Extreme distributions a chart must put on an axis; each plot study declares a few of them. */
const PLOT_PARAMS = {
  sub: { type: "float", low: 5e-324, high: 1e-323 },
  subspan: { type: "float", low: -1e-320, high: 1e-320 },
  zero: { type: "float", low: -0, high: 0 },
  wide: { type: "float", low: -8e307, high: 8e307 },
  neg: { type: "float", low: -1e308, high: 0 },
  logends: { type: "float", low: 5e-324, high: 1.7e308, log: true },
  logtiny: { type: "float", low: 5e-324, high: 1e-323, log: true },
  loghuge: { type: "float", low: 1e307, high: 1.7e308, log: true },
  logsub: { type: "float", low: 1e-310, high: 1e-308, log: true },
  int53: { type: "int", low: -MAXI, high: MAXI },
  intlog: { type: "int", low: 1, high: MAXI, log: true },
  intpoint: { type: "int", low: MAXI - 1, high: MAXI - 1 },
  stepped: { type: "float", low: 5e-324, high: 2e-323, step: 5e-324 },
  odd: { type: "categorical", choices: ODD_CHOICES },
  nums: { type: "categorical", choices: [5e-324, 1e308, -1e308, -0] },
  one: { type: "categorical", choices: [null] },
};

/** Result patterns of a plot study: objective j of trial i. */
const RESULTS = {
  ends: (r) => ENDS[Math.floor(r() * ENDS.length)],
  subnormal: (r, i, j) => ((i + j) % 3 === 0 ? -5e-324 : 5e-324) * (1 + ((i * 7 + j) % 4)),
  zeros: (r, i, j) => ((i + j) % 2 ? 0 : -0),
  equal: () => 1e308,
  positive: (r) => pick(r, [DMAX, 1e308, 5e-324, 2.2250738585072014e-308, 1e-300]), // log_y draws these
  scales: (r, i, j) => (r() - 0.5) * 10 ** (-300 + 150 * (j % 5)), // one objective near 1e-300, another near 1e300
};

const pick = (r, xs) => xs[Math.floor(r() * xs.length)];

/** A value of `d` at an edge or in the middle (never outside: the stored values are legal). */
function valueOf(r, d) {
  if (d.type === "categorical") return pick(r, d.choices);
  if (d.low === d.high) return d.low;
  const mid = d.log ? Math.exp((Math.log(d.low) + Math.log(d.high)) / 2) : d.low / 2 + d.high / 2;
  let v = pick(r, [d.low, d.high, mid, d.low, d.high]);
  if (d.type === "int") v = Math.min(d.high, Math.max(d.low, Math.round(v)));
  if (d.step) v = Math.min(d.high, d.low + Math.round((v - d.low) / d.step) * d.step);
  return v;
}

/** The kinds (with params and log_y now and then) that apply to a study of `nObj` objectives and these parameters. */
function plotRequests(r, study, nObj, names) {
  const kinds = nObj > 1 ? ["pareto_front", "hypervolume_history", "intermediate_values"] : ["history", "parallel_coordinates", "importances", "intermediate_values", "slice", "contour", "edf"];
  const out = [];
  for (const kind of kinds) {
    out.push({ study, kind });
    if (["parallel_coordinates", "slice", "contour"].includes(kind) && names.length > 0)
      out.push({ study, kind, params: [pick(r, names), pick(r, names)].filter((n, i, a) => a.indexOf(n) === i), ...(r() < 0.5 ? { log_y: true } : {}) });
    else if (["history", "intermediate_values", "edf"].includes(kind)) out.push({ study, kind, log_y: true });
  }
  return out;
}

/**
 * Creates a study of extreme parameters and results through `call(op, args)` (the sweep's checked
 * request), records 6 to 14 trials with `add_trial`, and returns the chart requests to make of it
 * (empty when the server refused the study, which `call` has tallied).
 */
export async function plotStudy(seed, k, call) {
  const rng = new Rng(seed, `hostile-sweep-plots-${k}`);
  const r = () => rng.random();
  const nObj = pick(r, [1, 1, 3, 4, 6]);
  const names = Object.keys(PLOT_PARAMS).filter(() => r() < 0.35);
  const space = Object.fromEntries(names.map((n) => [n, PLOT_PARAMS[n]]));
  const mode = pick(r, Object.keys(RESULTS));
  const name = `p${k}-${nObj}obj-${mode}`;
  const created = await call("create_study", { name, space, strategy: "random", directions: Array.from({ length: nObj }, (_, j) => (j % 2 ? "maximize" : "minimize")), seed: k });
  if (!created?.ok) return { name, requests: [] };
  const n = 6 + Math.floor(r() * 9);
  const constrained = r() < 0.3; // the first COMPLETE trial fixes the count for the rest
  for (let i = 0; i < n; i++) {
    const values = Array.from({ length: nObj }, (_, j) => RESULTS[mode](r, i, j));
    const args = { study: name, params: Object.fromEntries(names.map((p) => [p, valueOf(r, space[p])])), state: i === 2 ? "FAIL" : "COMPLETE" };
    if (args.state === "COMPLETE") {
      if (nObj === 1) args.value = values[0];
      else args.values = values;
      if (constrained) args.constraints = [pick(r, ENDS), pick(r, ENDS)];
    }
    if (r() < 0.5) args.intermediate = [[0, pick(r, ENDS)], [5e-324, values[0]], [1e-300, pick(r, ENDS)], [1e308, values[0]]];
    await call("add_trial", args);
  }
  return { name, requests: plotRequests(r, name, nObj, names) };
}

/** Runs `tuneport ARGS…`; resolves {rc, stderr} (rc null: killed after 120 s, a hang). */
function cli(args) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ["dist/cli/main.js", ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    p.stderr.on("data", (d) => (stderr += d));
    const t = setTimeout(() => p.kill("SIGKILL"), 120_000);
    p.on("exit", (rc) => {
      clearTimeout(t);
      resolve({ rc, stderr });
    });
  });
}

/** What is wrong with a CLI run's end (a hang, a stack trace, INTERNAL), or null. */
function cliFailure(what, { rc, stderr }) {
  if (rc === null) return `${what} hung (killed after 120 s)`;
  if (/\n\s+at /.test(stderr) || /\(INTERNAL\)/.test(stderr)) return `${what} ended with an internal error: ${stderr.slice(-1500)}`;
  return null;
}

/** One trial line tampered with: a value, step, param or attribute at an end the format allows or not. */
function tamper(r, line) {
  const t = JSON.parse(line);
  const how = pick(r, ["value", "values", "intermediate", "param", "attrs", "number", "state", "cut"]);
  if (how === "cut") return line.slice(0, Math.floor(line.length / 2));
  if (how === "value") t.value = pick(r, [...ENDS, "NaN", "Infinity", null, "1", true]);
  else if (how === "values") t.values = Array.from({ length: 1 + Math.floor(r() * 17) }, () => pick(r, [...ENDS, "NaN"]));
  else if (how === "intermediate") t.intermediate = [["NaN", 1], [5e-324, "Infinity"], [1e308, -0], [1e308, 1], [-1, DMAX]];
  else if (how === "param") {
    const p = pick(r, Object.keys(t.params ?? {}).concat(["zz"]));
    t.params = { ...t.params, [p]: pick(r, [...ENDS, ...ODD_CHOICES, "NaN"]) };
  } else if (how === "attrs") t.user_attrs = { deep: JSON.parse("[".repeat(200) + "]".repeat(200)), big: DMAX, s: "\u0000\u001b[31m" };
  else if (how === "number") t.number = pick(r, [-1, MAXI, 1e308, 0.5, 0]);
  else t.state = pick(r, ["RUNNING", "WAITING", "COMPLETE", "BOGUS"]);
  return JSON.stringify(t);
}

/**
 * Exports study `study` through the server (export_study pages) and imports it with `tuneport
 * import` into a database of its own in `dir` (one server per SQLite file: the sweep's is the
 * server's), as it was or with one to three trial lines tampered with; an imported study is then
 * read and charted from that file (`tuneport studies show`, `tuneport plot`). Returns
 * `{imported, failures}`: an untouched round trip refused, a stack trace or a hang of any of these
 * commands, a chart of the imported (so legal) values refused "cannot be drawn". Refusals of
 * tampered files are the importer's to make.
 */
export async function hostileImport(seed, k, call, study, nObj, dir) {
  const rng = new Rng(seed, `hostile-sweep-import-${k}`);
  const r = () => rng.random();
  const lines = [];
  let cursor;
  do {
    const page = await call("export_study", { study, ...(cursor ? { cursor } : {}), max_chars: 1_000_000 });
    if (!page?.ok) return { imported: false, failures: page ? [`export_study refused: ${page.error.code} ${page.error.message}`] : [] };
    lines.push(...page.result.lines);
    cursor = page.result.next_cursor;
  } while (cursor);
  const tampered = lines.length > 1 && r() < 0.6;
  if (tampered) for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
    const i = 1 + Math.floor(r() * (lines.length - 1));
    lines[i] = tamper(r, lines[i]);
  }
  const file = join(dir, `import-${k}.jsonl`);
  const db = join(dir, `import-${k}.db`);
  writeFileSync(file, `${lines.join("\n")}\n`);
  const imp = await cli(["import", file, "--storage", db]);
  const failures = [cliFailure(`import of ${file}`, imp)].filter(Boolean);
  if (imp.rc !== 0) {
    if (!tampered && imp.rc !== null) failures.push(`the round trip of ${study} was refused (rc ${imp.rc}): ${imp.stderr.slice(-1500)}`);
    return { imported: false, failures };
  }
  const show = await cli(["studies", "show", study, "--storage", db, "--json"]);
  failures.push(cliFailure(`studies show of imported ${study}`, show) ?? (show.rc !== 0 ? `studies show of imported ${study} refused: ${show.stderr.slice(-500)}` : null));
  for (const kind of nObj > 1 ? ["pareto_front", "hypervolume_history"] : ["history", "slice", "parallel"]) {
    const plot = await cli(["plot", study, "--storage", db, "--kind", kind, "--out", join(dir, `import-${k}-${kind}.png`)]);
    failures.push(cliFailure(`plot ${kind} of imported ${study}`, plot) ?? (/cannot be drawn/.test(plot.stderr) ? `plot ${kind} of imported ${study} refused: ${plot.stderr.slice(-500)}` : null));
  }
  rmSync(db, { force: true });
  return { imported: true, failures: failures.filter(Boolean) };
}
