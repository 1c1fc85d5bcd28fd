// The server's CPU per read on a big study, in process, against another build in the same run
// (issue 19 item 5). `bench/reads.mjs` times round trips, which a busy machine inflates; this times
// the CPU a request takes on the server's thread (`process.cpuUsage` around `service.execute`), with
// a plot renderer that answers at once so that a plot row is what the server's thread spends
// choosing and shipping the sample — time in which it answers no other client. "live" rows tell one
// trial before each request, so no cache answers.
//
// One file of the studies of bench/reads-fill.mjs is filled once; each run reads a fresh copy of it.
// Builds alternate `--rounds` times; the median over `--reps` requests is printed per row and build.
//
//   node bench/reads-cpu.mjs [--trials 100000] [--reps 25] [--rounds 3] [--baseline /tmp/base/dist]
import "./help.mjs";
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MO, STUDY, fill } from "./reads-fill.mjs";

const ROOT = join(import.meta.dirname, "..");
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const TRIALS = Number(args.trials ?? 100_000);
const REPS = Number(args.reps ?? 25);
const ROUNDS = Number(args.rounds ?? 3);
const BUILDS = [...(args.baseline ? [["baseline", args.baseline]] : []), ["this", join(ROOT, "dist")]];

/** [label, op, args, live]. */
const ROWS = [
  ["study_summary (live)", "study_summary", { study: STUDY }, true],
  ["study_summary, two objectives", "study_summary", { study: MO }, false],
  ["plot history, server thread (live)", "plot", { study: STUDY, kind: "history" }, true],
  ["plot parallel coordinates, server thread (live)", "plot", { study: STUDY, kind: "parallel_coordinates" }, true],
  ["best_trials, two objectives", "best_trials", { study: MO }, false],
];

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(dist, file) {
  const { StudyService, SqliteStorage } = await import(join(dist, "index.js"));
  const { silentLogger } = await import(join(dist, "logger.js"));
  const storage = new SqliteStorage({ path: file, durability: "process" });
  const plots = { render: async () => ({ png: Buffer.alloc(1), caption: "", width: 1, height: 1 }) };
  const service = await StudyService.open({ storage, logger: silentLogger(), plots });
  const out = {};
  try {
    for (const [label, op, a, live] of ROWS) {
      const ms = [];
      for (let i = 0; i < REPS; i++) {
        if (live) {
          const t = await service.execute("ask", { study: STUDY });
          await service.execute("tell", { study: STUDY, trial: t.trial.number, token: t.lease.token, state: "COMPLETE", value: 0.5 });
        }
        const c0 = process.cpuUsage();
        await service.execute(op, a);
        const c = process.cpuUsage(c0);
        ms.push((c.user + c.system) / 1000);
      }
      out[label] = median(ms);
    }
  } finally {
    await service.close();
    await storage.close();
  }
  return out;
}

const dir = mkdtempSync(join(tmpdir(), "tuneport-reads-cpu-"));
try {
  const source = join(dir, "source.db");
  const fillS = await fill(source, TRIALS);
  process.stderr.write(`${TRIALS} trials per study filled in ${fillS.toFixed(1)} s\n`);
  const results = Object.fromEntries(BUILDS.map(([label]) => [label, Object.fromEntries(ROWS.map(([r]) => [r, []]))]));
  for (let round = 0; round < ROUNDS; round++)
    for (const [label, dist] of BUILDS) {
      const file = join(dir, `${label}-${round}.db`);
      copyFileSync(source, file);
      const got = await measure(dist, file);
      for (const [row, v] of Object.entries(got)) results[label][row].push(v);
      process.stderr.write(`round ${round + 1}/${ROUNDS} ${label} done\n`);
    }
  const head = ["read (CPU ms per request)", ...BUILDS.map(([l]) => l), ...(BUILDS.length > 1 ? ["ratio of medians"] : [])];
  const lines = [`| ${head.join(" | ")} |`, `| ${head.map(() => "---").join(" | ")} |`];
  for (const [row] of ROWS) {
    const cells = BUILDS.map(([l]) => results[l][row].map((v) => v.toFixed(1)).join(", "));
    const ratio = BUILDS.length > 1 ? [(median(results.this[row]) / median(results.baseline[row])).toFixed(2)] : [];
    lines.push(`| ${row} | ${cells.join(" | ")} | ${ratio.join("")} |`.replace(/ \| \|$/, " |"));
  }
  process.stdout.write(`${TRIALS} trials, ${REPS} requests per row, ${ROUNDS} rounds\n${lines.join("\n")}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
