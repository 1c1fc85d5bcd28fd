// Pages of trials by value (`trials {order_by: "value"}`) of one minimised study of --trials COMPLETE
// trials, over a real `tuneport serve` on SQLite and its ZeroMQ socket: the first page of 1,000
// (the default limit), of 5,000, a page of 5,000 at offset 50,000, and the last page at an offset of
// the whole study. --shape improving: trial i has value trials - i (each trial a new best, as a
// minimisation that keeps improving); random: values uniform in 0-1. The study is written by
// `tuneport import` of a generated export. Each page is asked --reps times, one at a time; the median
// (ms, request to reply) is printed. With --before CLI (another build's dist/cli/main.js) that
// build's server is timed too, on a copy of the same database, after this one.
//
//   node bench/value-pages.mjs [--cli dist/cli/main.js] [--before CLI] [--trials 100000] [--shape improving|random] [--reps 9] [--port 62390]
//
// docs/BENCHMARKS.md "A page of trials by value deep in a big study" has the figures.
import "./help.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./ab-args.mjs";
import { importBigStudy, serveCopy } from "./big-study.mjs";

const argv = process.argv.slice(2);
const opt = (k, d) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const cli = resolve(opt("cli", "dist/cli/main.js"));
const trials = Number(opt("trials", 100_000));
const shape = opt("shape", "improving");
const reps = Number(opt("reps", 9));
const port = Number(opt("port", 62390));
const builds = [["after", cli]];
if (opt("before", undefined)) builds.push(["before", resolve(opt("before"))]);

const dir = mkdtempSync(join(tmpdir(), "value-pages-"));
try {
  const db = importBigStudy(cli, dir, trials, (i) => ({ value: shape === "improving" ? trials - i : Math.random() }));
  const pages = [
    ["first 1,000", { limit: 1000 }],
    ["first 5,000", { limit: 5000 }],
    ["5,000 at offset 50,000", { offset: 50_000, limit: 5000 }],
    [`last at offset ${trials - 10}`, { offset: trials - 10, limit: 10 }],
  ];
  console.log(`${trials} trials, ${shape}; median of ${reps} (ms)`);
  for (const [label, bin] of builds) {
    const { call, stop } = await serveCopy(bin, db, label, port, "warn");
    for (const [what, args] of pages) {
      const ms = [];
      for (let i = 0; i < reps; i++) {
        const t = performance.now();
        const r = await call("trials", { study: "big", order_by: "value", fields: ["value"], ...args });
        if (!r.ok) throw new Error(JSON.stringify(r.error));
        ms.push(performance.now() - t);
      }
      console.log(`${label.padEnd(7)} ${what.padEnd(28)} ${median(ms).toFixed(0).padStart(6)}`);
    }
    await stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
