/**
 * A structured concurrency fuzzer against a real `tuneport serve` (issue 11, "Tests this issue
 * adds"). Several DEALER sockets pipeline well-formed requests of every op over a few study
 * names that are created and deleted again and again, with tokens from earlier asks (current,
 * finished, or of a deleted incarnation of the same name), string ids, exact retries and ids
 * reused by another op, and some arguments of the wrong type. Seeded: a failure names its seed.
 *
 * Asserts: the server stays up and logs no error; every request gets exactly one reply, `ok`
 * or a typed error other than INTERNAL; a study no request touches exports byte-identically
 * before and after; after a clean stop the database passes SQLite's integrity and foreign-key
 * checks.
 *
 * `make test` runs 3 seeds × 7,000 requests; `make fuzz` runs more (FUZZ_SEEDS, FUZZ_REQUESTS).
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dealer } from "zeromq";
import { ERROR_CODES } from "../src/domain/errors.js";
import { OP_NAMES } from "../src/service/ops/ops.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";
import { decode, encode } from "../src/transports/zmq/codec.js";
import { CLI, type ServerProcess, TestClient, startServer, tempDir } from "./helpers.js";

const SEEDS = (process.env.FUZZ_SEEDS ?? "1,2,3").split(",").map(Number);
const PER_SEED = Number(process.env.FUZZ_REQUESTS ?? 7000);
const SOCKETS = 4;
const WINDOW = 16; // requests in flight per socket
const NAMES = ["f0", "f1", "f2"];
const SPACE = { x: { type: "float", low: 0, high: 1, step: 0.25 }, c: { type: "categorical", choices: ["a", "b"] } };
const STRATEGIES: unknown[] = [
  "random",
  { name: "tpe", options: { n_startup_trials: 4 } },
  { name: "auto", options: { gp_until: 12, gp: { nCandidates: 64, nLocalSearches: 1 } } }, // GP off the event loop
  "grid", // 10 points: SEARCH_SPACE_EXHAUSTED soon
  "qmc",
];
const SCHEDULERS: unknown[] = [undefined, "median", "asha"];
const CODES = new Set(Object.keys(ERROR_CODES));
/** Every op the fuzzer sent, checked against the op table at the end. */
const opsSent = new Set<string>();

/** mulberry32: small, seeded, good enough to pick ops. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Lease {
  study: string;
  trial: number;
  token: string;
}
type Request = { v: 1; id: string; op: string } & Record<string, unknown>;

/** Picks the next request from what the replies so far made known (leases, earlier requests). */
class Generator {
  readonly leases: Lease[] = [];
  private readonly sent: Request[] = [];
  private n = 0;
  constructor(
    private readonly r: () => number,
    private readonly tag: string,
  ) {}

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.r() * xs.length)] as T;
  }
  private lease(): Lease {
    if (this.leases.length > 0 && this.r() < 0.9) return this.pick(this.leases.slice(-40));
    return { study: this.pick(NAMES), trial: Math.floor(this.r() * 30), token: randomUUID() };
  }
  private junk(): unknown {
    return this.pick([null, -1, 1.5, "x", [], {}, true, "f0"]);
  }

  next(): Request {
    const id = `${this.tag}-${this.n++}`;
    const u = this.r();
    // Exact retries (same id, same request) and ids reused by another op.
    if (u < 0.03 && this.sent.length > 0) return this.pick(this.sent.slice(-200));
    const reqId = u < 0.05 && this.sent.length > 0 ? this.pick(this.sent.slice(-200)).id : id;
    const req: Request = { v: 1, id: reqId, ...this.body() };
    if (this.r() < 0.03) {
      const keys = Object.keys(req).filter((k) => !["v", "id", "op"].includes(k));
      if (keys.length > 0) req[this.pick(keys)] = this.junk();
    }
    this.sent.push(req);
    if (this.sent.length > 400) this.sent.splice(0, 200);
    return req;
  }

  private body(): { op: string } & Record<string, unknown> {
    const study = this.pick(NAMES);
    const w = this.r() * 100;
    if (w < 7) {
      const scheduler = this.pick(SCHEDULERS);
      return {
        op: "create_study",
        name: study,
        space: SPACE,
        strategy: this.pick(STRATEGIES),
        ...(scheduler ? { scheduler } : {}),
        load_if_exists: this.r() < 0.5,
        seed: Math.floor(this.r() * 1000),
        lease_ttl_s: 3600,
      };
    }
    if (w < 11) return { op: "delete_study", study };
    if (w < 33) return { op: "ask", study };
    const l = this.lease();
    if (w < 48) {
      const state = this.pick(["COMPLETE", "COMPLETE", "FAIL", "PRUNED"]);
      // COMPLETE with protocol v1's value or the values vector (one objective), constraints now and then.
      const result = this.r() < 0.5 ? { value: this.r() } : { values: [this.r()], ...(this.r() < 0.2 ? { constraints: [this.r() - 0.5] } : {}) };
      return { op: "tell", study: l.study, trial: l.trial, token: l.token, state, ...(state === "COMPLETE" ? result : {}) };
    }
    if (w < 58) return { op: "report", study: l.study, trial: l.trial, token: l.token, step: Math.floor(this.r() * 5), value: this.r() };
    if (w < 62) return { op: "heartbeat", leases: [l, this.lease()] };
    if (w < 66)
      return { op: "suggest", study: l.study, trial: l.trial, token: l.token, name: this.pick(["x", "y"]), distribution: { type: "float", low: 0, high: 1 } };
    if (w < 70) return { op: "enqueue", study, params: { x: this.pick([0, 0.25, 0.5]), c: this.pick(["a", "b"]) }, skip_if_exists: this.r() < 0.5 };
    if (w < 71) return { op: "cancel_trial", study, trial: Math.floor(this.r() * 30), reason: "fuzz" };
    if (w < 72)
      return { op: "add_trial", study, params: { x: this.pick([0, 0.25, 0.5, 0.6]), c: this.pick(["a", "b"]) }, value: this.r(), state: this.pick(["COMPLETE", "FAIL", "PRUNED"]) };
    if (w < 77)
      return this.r() < 0.5
        ? { op: "set_user_attrs", study, attrs: { k: this.r() } }
        : { op: "set_user_attrs", study: l.study, trial: l.trial, attrs: { note: "n", v: [1, { d: this.r() }] } };
    if (w < 82) return { op: "get_study", study };
    if (w < 85) return { op: "trials", study, states: ["COMPLETE", "RUNNING"], limit: 20 };
    if (w < 88)
      return this.r() < 0.8
        ? { op: this.pick(["trial", "trajectory", "lineage"]), study: l.study, trial: l.trial }
        : { op: this.pick(["study_summary", "param_importances"]), study };
    if (w < 91) return this.r() < 0.5 ? { op: "best", study } : { op: "best_trials", study, history: this.r() < 0.5 };
    if (w < 94) return { op: "list_studies" };
    if (w < 94.5) return { op: "plot", study, kind: this.pick(["history", "slice", "importances"]) };
    if (w < 95) {
      const r = this.r();
      if (r < 0.4) return { op: "query_trials", study, states: ["COMPLETE"], ranges: { x: { min: 0.1 } }, sort: this.pick(["value", "params.x", "duration"]), limit: 20 };
      if (r < 0.7) return { op: "plot_spec", study, kind: this.pick(["history", "edf"]) };
      return { op: "studies_overview" };
    }
    if (w < 96) return { op: "catalogue" };
    if (w < 98) return { op: this.pick(["stop_study", "resume_study"]), study };
    return { op: "hello", versions: [1] };
  }
}

describe("concurrency fuzzing of a real server", () => {
  const dir = tempDir();
  const db = join(dir, "fuzz.db");
  let server: ServerProcess;
  let died: Promise<string>;
  let before = "";

  const exportKeep = () => {
    const r = spawnSync(process.execPath, [CLI, "export", "keep", "--storage", db], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    server = await startServer(db, ["--lease-ttl", "3600", "--log-level", "info"]);
    died = new Promise((resolve) =>
      server.proc.once("exit", (code, signal) => resolve(`server exited (${code ?? signal}); last log lines:\n${server.lines.slice(-5).join("\n")}`)),
    );
    const c = new TestClient(server.endpoint);
    try {
      await c.call("create_study", { name: "keep", space: SPACE, strategy: "tpe", seed: 5, user_attrs: { untouched: true } });
      for (let i = 0; i < 5; i++) {
        const a = await c.call("ask", { study: "keep" });
        await c.call("report", { study: "keep", trial: a.trial.number, token: a.lease.token, step: 0, value: i });
        await c.call("tell", { study: "keep", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i / 10 });
      }
    } finally {
      await c.close();
    }
    before = exportKeep();
  });

  afterAll(async () => {
    await server?.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: ${PER_SEED} pipelined requests over ${SOCKETS} sockets, each answered ok or with a typed error`, async () => {
      const gens = Array.from({ length: SOCKETS }, (_, k) => new Generator(rng(seed * 1000 + k), `s${seed}k${k}`));
      const shared: Lease[] = [];
      const bad: unknown[] = [];
      const codes = new Map<string, number>();
      let answered = 0;
      const perSocket = Math.ceil(PER_SEED / SOCKETS);

      const runSocket = async (g: Generator) => {
        const sock = new Dealer({ linger: 0, sendHighWaterMark: 10_000, receiveHighWaterMark: 10_000 });
        sock.connect(server.endpoint);
        const waiting = new Map<string, Request[]>(); // id -> requests awaiting a reply
        let inflight = 0;
        let sent = 0;
        const signal: { wake: (() => void) | null } = { wake: null };
        const reader = (async () => {
          for await (const [frame] of sock) {
            const rep = decode(frame as Buffer) as { v: number; id: string | null; ok: boolean; result?: any; error?: { code: string; message: string } };
            const q = rep.id === null ? undefined : waiting.get(rep.id);
            const req = q?.shift();
            if (q && q.length === 0) waiting.delete(rep.id as string);
            inflight--;
            answered++;
            const code = rep.ok ? "ok" : (rep.error?.code ?? "?");
            codes.set(code, (codes.get(code) ?? 0) + 1);
            const typed = rep.v === 1 && (rep.ok || (CODES.has(code) && code !== "INTERNAL" && typeof rep.error?.message === "string"));
            if ((!req || !typed) && bad.length < 5) bad.push({ req, rep });
            // (a reused id can pair a reply with another request of that id: check the shape)
            if (rep.ok && req?.op === "ask" && typeof rep.result?.lease?.token === "string") {
              const l = { study: req.study as string, trial: rep.result.trial.number as number, token: rep.result.lease.token as string };
              shared.push(l);
              if (shared.length > 200) shared.splice(0, 100);
            }
            // Leases asked on one socket are told, reported and heart-beaten on all of them.
            g.leases.splice(0, g.leases.length, ...shared.slice(-60));
            signal.wake?.();
            if (inflight === 0 && sent >= perSocket) break;
          }
        })();
        try {
          while (sent < perSocket) {
            while (inflight >= WINDOW) {
              const w = new Promise<void>((res) => (signal.wake = res));
              const outcome = await Promise.race([w.then(() => ""), died]);
              if (outcome) throw new Error(outcome);
            }
            const req = g.next();
            const q = waiting.get(req.id) ?? [];
            q.push(req);
            waiting.set(req.id, q);
            inflight++;
            sent++;
            opsSent.add(req.op);
            await sock.send(encode(req));
          }
          const outcome = await Promise.race([reader.then(() => ""), died]);
          if (outcome) throw new Error(outcome);
        } finally {
          sock.close();
        }
      };
      await Promise.all(gens.map(runSocket));

      process.stderr.write(`concurrency fuzz seed ${seed}: ${answered} replies; ${JSON.stringify(Object.fromEntries([...codes].sort()))}\n`);
      expect(bad).toEqual([]);
      expect(answered).toBe(perSocket * SOCKETS);
      expect(codes.get("INTERNAL") ?? 0).toBe(0);
      expect(codes.get("ok") ?? 0).toBeGreaterThan(PER_SEED / 5); // the mix reaches the service, not just validation
      expect(server.proc.exitCode).toBeNull();
    }, 600_000); // a hang guard only: seeds take seconds each
  }

  it("sent every op of the table", () => {
    expect(OP_NAMES.filter((op) => !opsSent.has(op))).toEqual([]);
  });

  it("leaves the untouched study byte-identical, logs no error, and stops cleanly on an intact file", async () => {
    expect(exportKeep()).toBe(before);
    expect(server.lines.filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
    expect(await server.stop("SIGTERM")).toBe(0);
    const storage = new SqliteStorage({ path: db, readonly: true });
    try {
      expect(await storage.checkIntegrity()).toEqual([]);
    } finally {
      await storage.close();
    }
  });
});
