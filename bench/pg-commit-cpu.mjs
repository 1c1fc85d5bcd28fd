#!/usr/bin/env node
/**
 * PostgreSQL's CPU per trial in tuneport's group commits, without the load generator: one process
 * commits batches shaped like the 32-worker random load's (bench/load.mjs: per trial an ask's
 * insert-trial, a report's add-intermediate and a tell's update-trial, each with its stored reply;
 * K trials' asks and K earlier trials' reports and tells per batch), one batch at a time, and reads
 * the server's CPU (postmaster and backends, /proc) and the wall time. Several builds (`--dist A,B`)
 * each get their own schema on one throw-away server (fsync off: CPU, not the disk) and run in
 * alternating rounds, so a noisy machine hits them alike.
 *
 * `--mix` adds rows that take tuneport_commit's one-row-per-statement loop on migration 8 (not only trial
 * inserts and updates): `leases` a lease write ('sl', as a heartbeat or report writes one per half TTL
 * of a running trial) for each of the K trials that end in the next batch; `add-trial` replaces the
 * load with batches of K finished trials inserted with 10 intermediate values each (add_trial, a
 * retry that keeps them); `import` does the same with each batch a new study (its insert-study row
 * first: `tuneport import`, and a study's create before its first asks).
 *
 *   node bench/pg-commit-cpu.mjs [--dist dist,.tmp-dist-before] [--batches 300] [--k 7] [--rounds 3] [--mix leases|add-trial|import] [--url URL --data PGDATA]
 */
import "./help.mjs";
import { readFileSync, readdirSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { startPostgres } from "../dist-bench/src/testing/postgres-server.js";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const dists = (args.dist ?? "dist").split(",");
const batches = Number(args.batches ?? 300);
const K = Number(args.k ?? 7);
const rounds = Number(args.rounds ?? 3);
const mix = args.mix ?? "none";
if (!["none", "leases", "add-trial", "import"].includes(mix)) throw new Error(`--mix ${mix}: leases, add-trial or import`);

function cpuOf(pid, withChildren) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0)) / 100;
}
function pgCpuS(postmaster) {
  let total = cpuOf(postmaster, true);
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const f = readFileSync(`/proc/${d}/stat`, "utf8").split(") ")[1].split(" ");
      if (Number(f[1]) === postmaster) total += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      /* gone */
    }
  }
  return total;
}

const DISTS = {
  lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
  dropout: { type: "float", low: 0, high: 0.5 },
  layers: { type: "int", low: 1, high: 8, step: 1 },
  act: { type: "categorical", choices: ["relu", "gelu", "tanh"] },
};
const reply = () => new Uint8Array(Buffer.from(`reply ${Math.random()} `.repeat(12)));

// --url/--data: an already running server (e.g. one with pg_stat_statements loaded) and its data directory.
const server = args.url ? { url: args.url, dir: null, stop() {} } : startPostgres({});
try {
  const postmaster = Number(readFileSync(`${args.data ?? `${server.dir}/data`}/postmaster.pid`, "utf8").split("\n")[0]);
  const runs = [];
  for (const [i, d] of dists.entries()) {
    const { PostgresStorage } = await import(pathToFileURL(resolve(d, "storage/postgres/postgres-storage.js")).href);
    const storage = await PostgresStorage.open({ url: `${server.url}&schema=cpu_${i}_${process.pid}` });
    const now = Date.now();
    await storage.commit([{ kind: "insert-study", study: { id: 1, name: "load", config: {}, userAttrs: {}, createdAt: now, stopped: false } }]);
    runs.push({ dist: d, storage, next: 1, study: 1, open: [], cpuMs: [], wallMs: [] });
  }
  const trial = (r, id, number, state, value, studyId = 1) => ({
    id, studyId, number, state,
    params: { lr: Math.random() / 10, dropout: Math.random() / 2, layers: 3, act: "relu" },
    distributions: DISTS, values: value === null ? null : [value], value, constraints: null, intermediate: [],
    userAttrs: {}, systemAttrs: { worker: { transport: "zmq" } }, createdAt: Date.now(), startedAt: Date.now(),
    finishedAt: state === "COMPLETE" ? Date.now() : null, lease: state === "RUNNING" ? { token: `t${id}`, expiresAt: Date.now() + 6e5 } : null,
  });
  const batchOf = (r) => {
    const changes = [];
    if (mix === "add-trial" || mix === "import") {
      const sid = mix === "import" ? ++r.study : 1;
      if (mix === "import")
        changes.push({ kind: "insert-study", study: { id: sid, name: `import-${sid}`, config: {}, userAttrs: {}, createdAt: Date.now(), stopped: false } });
      for (let j = 0; j < K; j++) {
        const n = r.next++;
        const v = Math.random();
        const t = { ...trial(r, n, mix === "import" ? j : n - 1, "COMPLETE", v, sid), intermediate: Array.from({ length: 10 }, (_, s) => ({ step: s, value: v + s })) };
        changes.push({ kind: "insert-trial", trial: t });
      }
      return changes;
    }
    for (let j = 0; j < K; j++) {
      const n = r.next++;
      const t = trial(r, n, n - 1, "RUNNING", null);
      r.open.push(t);
      changes.push({ kind: "insert-trial", trial: t }, { kind: "put-reply", requestId: `a${n}`, op: "ask", reply: reply(), at: Date.now() });
    }
    // the previous batch's trials report and end
    const ending = r.open.splice(0, r.open.length > 2 * K ? K : 0);
    for (const t of ending) {
      const v = Math.random();
      changes.push({ kind: "add-intermediate", trialId: t.id, step: 1, value: v }, { kind: "put-reply", requestId: `r${t.id}`, op: "report", reply: reply(), at: Date.now() });
      changes.push({ kind: "update-trial", trial: { ...t, state: "COMPLETE", value: v, values: [v], finishedAt: Date.now(), lease: null } },
        { kind: "put-reply", requestId: `t${t.id}`, op: "tell", reply: reply(), at: Date.now() });
    }
    if (mix === "leases")
      for (const t of r.open.slice(0, K)) changes.push({ kind: "set-lease", trialId: t.id, lease: { token: `t${t.id}`, expiresAt: Date.now() + 6e5 } });
    return changes;
  };
  // warm-up: a few batches each
  for (const r of runs) for (let b = 0; b < 20; b++) await r.storage.commit(batchOf(r));
  for (let round = 0; round < rounds; round++) {
    for (const r of runs) {
      const all = Array.from({ length: batches }, () => batchOf(r));
      const c0 = pgCpuS(postmaster);
      const t0 = performance.now();
      for (const b of all) await r.storage.commit(b);
      const wall = performance.now() - t0;
      const cpu = (pgCpuS(postmaster) - c0) * 1000;
      r.cpuMs.push(cpu / (batches * K));
      r.wallMs.push(wall / (batches * K));
    }
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const r of runs) {
    console.log(JSON.stringify({ dist: r.dist, mix, k: K, batches, rounds, pg_cpu_ms_per_trial: r.cpuMs.map((x) => +x.toFixed(3)), median_cpu: +med(r.cpuMs).toFixed(3), wall_ms_per_trial: r.wallMs.map((x) => +x.toFixed(3)), median_wall: +med(r.wallMs).toFixed(3) }));
    await r.storage.close();
  }
} finally {
  server.stop();
}
