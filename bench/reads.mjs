// `make bench-reads`: read ops on big studies (issue 19, item 5).
//
// For each size (1,000 / 10,000 / 100,000 trials; one study, 6 float params, random strategy,
// median scheduler, 2 reports per trial, and beside it a two-objective study of as many trials,
// random search on a trade-off) a SQLite file is filled in process through the service
// (ask, 2 reports, tell), then `tuneport serve` is started on it and each read op is timed over
// ZeroMQ from a Dealer socket (REPS requests, median and IQR of the round trip), with the reply
// size; the CLI's `tuneport studies list|show|trials` are timed as processes (wall, max RSS). Writes
// bench/results/reads.json and the `reads` section of docs/BENCHMARKS.md.
//
// With `--baseline DIR` (the dist/ of another build, e.g. main's) the same file is also read
// through that build's server and CLI, in the same run, as a "before" column.
//
//   node bench/reads.mjs [--sizes 1000,10000,100000] [--reps 15] [--baseline /tmp/base/dist]
//                        [--only LABEL-SUBSTRING] [--cpu-prof DIR]   (either: print only, write nothing)
import "./help.mjs";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { Packr, Unpackr } from "msgpackr";
import { Dealer } from "zeromq";
import { MO, STUDY, fill } from "./reads-fill.mjs";
import { freePort, listening } from "./serve-process.mjs";

const ROOT = join(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "cli", "main.js");

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const SIZES = (args.sizes ?? "1000,10000,100000").split(",").map(Number);
const REPS = Number(args.reps ?? 15);
const BASELINE = args.baseline ? join(args.baseline, "cli", "main.js") : null;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });
let seq = 0;

async function request(sock, op, a) {
  const id = `r${++seq}`;
  const t0 = performance.now();
  await sock.send(packr.pack({ v: 1, id, op, ...a }));
  for (;;) {
    const frames = await sock.receive();
    const raw = frames[frames.length - 1];
    const reply = unpackr.unpack(raw);
    if (reply.id !== id) continue;
    if (!reply.ok) throw new Error(`${op}: ${reply.error.code} ${reply.error.message}`);
    return { ms: performance.now() - t0, bytes: raw.length, reply: reply.result };
  }
}

const q = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  const k = (s.length - 1) * p;
  const lo = Math.floor(k);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (k - lo);
};

const READS = [
  ["get_study", { study: STUDY }],
  ["list_studies", {}],
  ["best", { study: STUDY }],
  ["trials (first 100)", { study: STUDY, limit: 100 }, "trials"],
  ["trials (COMPLETE, best 10)", { study: STUDY, states: ["COMPLETE"], order_by: "value", limit: 10 }, "trials"],
  ["trial (one)", { study: STUDY, trial: 7 }, "trial"],
  ["study_summary", { study: STUDY }],
  ["param_importances", { study: STUDY }],
  // What `mcp --connect` fetched to compute study_summary / param_importances before they were ops.
  // Every page, following next_cursor (a page ends before its intermediate values pass 100,000).
  ["trials (every trial, as mcp --connect read them)", { study: STUDY, limit: 100_000 }, "trials", 3, false, true],
  ["plot history", { study: STUDY, kind: "history" }, "plot"],
  ["plot parallel", { study: STUDY, kind: "parallel" }, "plot"],
  // A live study: a trial finishes between two requests, so the cache never answers and every
  // request renders (in the already started plot worker).
  ["plot history (live: one tell before each request)", { study: STUDY, kind: "history" }, "plot", undefined, true],
  ["plot parallel (live: one tell before each request)", { study: STUDY, kind: "parallel" }, "plot", undefined, true],
  ["plot_spec history", { study: STUDY, kind: "history" }, "plot_spec"],
  ["best_trials (two objectives)", { study: MO }, "best_trials"],
  ["best_trials with history (two objectives)", { study: MO, history: true }, "best_trials"],
  ["study_summary (two objectives)", { study: MO }, "study_summary"],
];

async function measure(path, n, cli, build) {
  const port = await freePort();
  const endpoint = `tcp://127.0.0.1:${port}`;
  const prof = args["cpu-prof"] ? ["--cpu-prof", "--cpu-prof-dir", args["cpu-prof"]] : [];
  const proc = spawn("node", [...prof, cli, "serve", "--storage", path, "--bind", endpoint], { stdio: ["ignore", "pipe", "inherit"] });
  await listening(proc);
  const sock = new Dealer({ linger: 0 });
  sock.connect(endpoint);
  const rows = [];
  try {
    await request(sock, "hello", { versions: [1] });
    for (const [label, a, op, fixedReps, live, allPages] of READS) {
      if (args.only && !label.includes(args.only)) continue;
      const times = [];
      let bytes = 0;
      const reps = fixedReps ?? (label.startsWith("plot") ? Math.max(3, Math.ceil(REPS / 3)) : REPS);
      try {
        for (let r = 0; r < reps; r++) {
          // A plot's first request follows a tell too: the server draws its biggest study's first
          // charts once its plot worker is warm (embedded.ts warmStudyPlots), so an unchanged
          // study's first request could be a cache hit; this row measures a drawing.
          if (live || (op === "plot" && r === 0)) {
            const asked = await request(sock, "ask", { study: STUDY });
            await request(sock, "tell", { study: STUDY, trial: asked.reply.trial.number, token: asked.reply.lease.token, state: "COMPLETE", value: Math.random() });
          }
          const m = await request(sock, op ?? label, a);
          for (let cursor = allPages ? m.reply.next_cursor : null; cursor; ) {
            const next = await request(sock, op ?? label, { ...a, cursor });
            m.ms += next.ms;
            m.bytes += next.bytes;
            cursor = next.reply.next_cursor;
          }
          times.push(m.ms);
          bytes = m.bytes;
        }
      } catch (err) {
        // An op the baseline build does not have yet.
        console.log(`${build}\t${n}\t${label}: ${err.message}`);
        continue;
      }
      // A PNG plot of an unchanged study is rendered once and then served from the server's cache
      // (reads.ts): the first request and the repeats are different costs, so both are reported.
      const parts = op === "plot" && !live ? [[`${label} (first request, one tell before it)`, times.slice(0, 1)], [`${label} (repeated, unchanged study)`, times.slice(1)]] : [[label, times]];
      for (const [read, ts] of parts) {
        rows.push({ n, build, read, reps: ts.length, p50_ms: q(ts, 0.5), q1_ms: q(ts, 0.25), q3_ms: q(ts, 0.75), reply_bytes: bytes });
        console.log(`${build}\t${n}\t${read.padEnd(28)} p50 ${q(ts, 0.5).toFixed(2)} ms  [${q(ts, 0.25).toFixed(2)}, ${q(ts, 0.75).toFixed(2)}]  ${bytes} B`);
      }
    }
    const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
    rows.push({ n, build, read: "server RSS after the reads (MiB)", value: rss });
  } finally {
    sock.close();
    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
  }
  // The CLI, as a process: wall time (and max RSS where GNU time exists), each read command.
  const gnuTime = spawnSync("sh", ["-c", "command -v /usr/bin/time"]).status === 0;
  // The floor of every CLI row: Node starting and exiting with nothing to run.
  const commands = [
    ["node -e 0 (Node's own start and exit, no tuneport)", null],
    ["studies list", ["studies", "list"]],
    ["studies show", ["studies", "show", STUDY]],
    ["studies show (two objectives)", ["studies", "show", MO]],
    ["studies trials --limit 10", ["studies", "trials", STUDY, "--limit", "10"]],
    ["studies trials --limit 10 --sort value", ["studies", "trials", STUDY, "--limit", "10", "--sort", "value"]],
  ];
  for (const [label, argv] of commands) {
    const times = [];
    let maxRss = NaN;
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      const cmd = argv ? ["node", cli, ...argv, "--storage", path] : ["node", "-e", "0"];
      const res = gnuTime ? spawnSync("/usr/bin/time", ["-f", "%M", ...cmd], { encoding: "utf8" }) : spawnSync(cmd[0], cmd.slice(1), { encoding: "utf8" });
      times.push(performance.now() - t0);
      if (res.status !== 0) throw new Error(`${cmd.slice(1).join(" ")} failed: ${res.stderr}`);
      if (gnuTime) maxRss = Math.max(Number.isNaN(maxRss) ? 0 : maxRss, Number(res.stderr.trim().split("\n").pop()) / 1024);
    }
    rows.push({ n, build, read: `CLI ${label} max RSS (MiB)`, value: maxRss });
    rows.push({ n, build, read: `CLI ${label} (process wall)`, reps: 3, p50_ms: q(times, 0.5), q1_ms: q(times, 0.25), q3_ms: q(times, 0.75) });
    console.log(`${build}\t${n}\tCLI ${label.padEnd(24)} p50 ${q(times, 0.5).toFixed(0)} ms`);
  }
  return rows;
}

const dir = mkdtempSync(join(tmpdir(), "tuneport-reads-"));
const runs = [];
try {
  for (const n of SIZES) {
    const path = join(dir, `reads-${n}.db`);
    const fillS = await fill(path, n);
    console.log(`${n}\tfilled in ${fillS.toFixed(1)} s`);
    runs.push({ n, read: "fill (in process, s)", value: fillS });
    if (BASELINE) runs.push(...(await measure(path, n, BASELINE, "baseline")));
    runs.push(...(await measure(path, n, CLI, "this")));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (args.only || args["cpu-prof"]) {
  // A partial or profiled run: printed above, not written over the full tables.
  process.exit(0);
}
const meta = { machine: `${cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}`, reps: REPS, sizes: SIZES };
mkdirSync(join(ROOT, "bench", "results"), { recursive: true });
writeFileSync(join(ROOT, "bench", "results", "reads.json"), JSON.stringify({ meta, runs }, null, 1));

const reads = [...new Set(runs.filter((r) => r.p50_ms !== undefined).map((r) => r.read))];
const cell = (n, read, build = "this") => {
  const r = runs.find((x) => x.n === n && x.read === read && x.build === build);
  if (!r) return "–";
  const kb = r.reply_bytes !== undefined ? `, ${(r.reply_bytes / 1024).toFixed(r.reply_bytes < 10240 ? 1 : 0)} KiB` : "";
  return `${r.p50_ms.toFixed(r.p50_ms < 10 ? 2 : 0)} [${r.q1_ms.toFixed(r.q1_ms < 10 ? 2 : 0)}, ${r.q3_ms.toFixed(r.q3_ms < 10 ? 2 : 0)}]${kb}`;
};
const md = [
  "## Reads on big studies (`make bench-reads`, issue 19 item 5)",
  "",
  `${meta.machine}. One study of 6 float params (random strategy, median scheduler, 2 reports per trial) and beside it a two-objective study of as many trials (random search on a trade-off; the rows that say "two objectives"), filled in process, then read`,
  `over ZeroMQ from one Dealer socket against \`tuneport serve\`: round trip p50 [IQR] in ms over ${REPS} requests (plots: ${Math.max(3, Math.ceil(REPS / 3))}; every trial: 3), with the`,
  "reply size; a CLI row is a whole `tuneport studies …` process (3 runs). Command: `nice -n 19 make bench-reads`.",
  "",
  ...(BASELINE ? ["", `Each cell: this build; below it, in the same run on the same file, the baseline build (\`--baseline ${args.baseline}\`).`] : []),
  "",
  `| read | ${SIZES.map((n) => `${n.toLocaleString("en")} trials`).join(" | ")} |`,
  `|---|${SIZES.map(() => "---").join("|")}|`,
  ...reads.map(
    (read) => `| ${read} | ${SIZES.map((n) => cell(n, read) + (BASELINE ? `<br>before: ${cell(n, read, "baseline")}` : "")).join(" | ")} |`,
  ),
  ...["server RSS after the reads (MiB)", ...[...new Set(runs.filter((r) => r.read.startsWith("CLI ") && r.read.endsWith("max RSS (MiB)")).map((r) => r.read))]].map(
    (k) => `| ${k} | ${SIZES.map((n) => (runs.find((x) => x.n === n && x.read === k && x.build === "this")?.value.toFixed(0) ?? "–") + (BASELINE ? ` (before: ${runs.find((x) => x.n === n && x.read === k && x.build === "baseline")?.value.toFixed(0) ?? "–"})` : "")).join(" | ")} |`,
  ),
].join("\n");
const mdPath = join(ROOT, "docs", "BENCHMARKS.md");
let text = readFileSync(mdPath, "utf8");
const start = "<!-- reads:start -->";
const end = "<!-- reads:end -->";
const block = `${start}\n${md}\n${end}`;
text = text.includes(start) && text.includes(end) ? text.slice(0, text.indexOf(start)) + block + text.slice(text.indexOf(end) + end.length) : `${text.trimEnd()}\n\n${block}\n`;
writeFileSync(mdPath, text);
