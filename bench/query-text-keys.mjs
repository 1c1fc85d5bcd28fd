// query_trials (the dashboard's table) sorted by a user attribute, over a real `tuneport serve` on
// SQLite and its ZeroMQ socket, in a study of --trials COMPLETE trials whose attribute `blob` is
// --shape object: {a: "<i mod 97>xxx…"} of 60,000 characters (its JSON differs early), or tail: a
// 60,000-character string of x ending in i mod 97 (strings alike but for their ends), or wide: an
// object of 4,500 keys k0..k4499 (about 60 KB of JSON), k0 being i mod 97. The study is
// written by `tuneport import` of a generated export. Each query (ascending, then descending) is
// asked --reps times, one at a time; the median (ms, request to reply) is printed. With --before CLI
// (another build's dist/cli/main.js) that build's server is timed too, on a copy of the database.
//
//   node bench/query-text-keys.mjs [--cli dist/cli/main.js] [--before CLI] [--trials 5000] [--shape object|tail|wide] [--reps 5] [--port 62391]
//
// docs/BENCHMARKS.md "query_trials sorted by a long user attribute" has the figures.
import "./help.mjs";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { median } from "./ab-args.mjs";
import { importBigStudy, serveCopy } from "./big-study.mjs";

const argv = process.argv.slice(2);
const opt = (k, d) => (argv.includes(`--${k}`) ? argv[argv.indexOf(`--${k}`) + 1] : d);
const cli = resolve(opt("cli", "dist/cli/main.js"));
const trials = Number(opt("trials", 5000));
const shape = opt("shape", "object");
const reps = Number(opt("reps", 5));
const port = Number(opt("port", 62391));
const builds = [["after", cli]];
if (opt("before", undefined)) builds.push(["before", resolve(opt("before"))]);

const dir = mkdtempSync(join(tmpdir(), "query-text-keys-"));
try {
  const db = importBigStudy(cli, dir, trials, (i) => ({
    value: i,
    user_attrs: {
      blob:
        shape === "object"
          ? { a: String(i % 97).padEnd(60_000, "x") }
          : shape === "wide"
            ? Object.fromEntries(Array.from({ length: 4500 }, (_, j) => [`k${j}`, j === 0 ? i % 97 : j]))
            : String(i % 97).padStart(60_000, "x"),
    },
  }));
  console.log(`${trials} trials, blob ${shape}; median of ${reps} (ms)`);
  for (const [label, bin] of builds) {
    const { call, stop } = await serveCopy(bin, db, label, port, "error");
    for (const descending of [false, true]) {
      const ms = [];
      for (let i = 0; i < reps; i++) {
        const t = performance.now();
        const r = await call("query_trials", { study: "big", sort: "user_attrs.blob", descending });
        if (!r.ok) throw new Error(JSON.stringify(r.error));
        ms.push(performance.now() - t);
      }
      console.log(`${label.padEnd(7)} ${descending ? "descending" : "ascending "} ${median(ms).toFixed(0).padStart(6)}`);
    }
    await stop();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
