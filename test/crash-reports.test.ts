/**
 * The durability rule for intermediate values (docs/DURABILITY.md "Intermediate values"), checked
 * against a real server that is SIGKILLed between requests: a report answered `continue` may be
 * acknowledged before its commit, so a crash may lose it, but
 * - only reports answered since the last reply that is committed before it is sent (ask, tell, a
 *   report with a decision), and per trial only the latest ones (commits keep their order);
 * - never a tell;
 * - never a sent decision: a prune the client saw is stored, a resend of it (same request id)
 *   gets the same prune, and the server never holds a prune the client did not see;
 * - a report is applied once, also when resent after the restart;
 * - a clean stop (SIGTERM) commits everything that was acknowledged.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

afterEach(stopServers);

/** Long enough that, between requests of one client, nothing but a durable reply commits a lazy report. */
const COMMIT_MS = "10000";

type Stored = { number: number; state: string; value: number | null; intermediate: [number, number][]; system_attrs: Record<string, unknown> };
type AckedReport = { trial: number; step: number; value: number; decision: string; id: string; token: string };

class Recorder {
  /** Acknowledged reports still expected in storage, by trial and step. */
  readonly expected = new Map<number, Map<number, number>>();
  /** Acknowledged prunes. */
  readonly prunes: AckedReport[] = [];
  /** Acknowledged tells. */
  readonly tells = new Map<number, { state: string; value: number | null }>();
  /** Reports answered `continue` since the last reply committed before it was sent: a crash may lose these, in order. */
  mayLose: AckedReport[] = [];
  lost = 0;

  constructor(public client: TestClient) {}

  async ask(): Promise<{ trial: number; token: string }> {
    const a = await this.client.call("ask", { study: "r" });
    this.mayLose = []; // the ask's commit took every earlier report with it
    return { trial: a.trial.number, token: a.lease.token };
  }

  async report(trial: number, token: string, step: number, value: number, id: string = randomUUID()): Promise<AckedReport> {
    const r = await this.client.call("report", { study: "r", trial, token, step, value }, id);
    const rec = { trial, step, value, decision: r.decision.action as string, id, token };
    let steps = this.expected.get(trial);
    if (!steps) this.expected.set(trial, (steps = new Map()));
    steps.set(step, value);
    if (rec.decision === "continue") this.mayLose.push(rec);
    else {
      this.mayLose = [];
      if (rec.decision === "prune") this.prunes.push(rec);
    }
    return rec;
  }

  async tell(trial: number, token: string, state: "COMPLETE" | "PRUNED", value: number | null): Promise<void> {
    await this.client.call("tell", { study: "r", trial, token, state, ...(value === null ? {} : { value }) });
    this.tells.set(trial, { state, value });
    this.mayLose = [];
  }

  /** After a restart: checks the rule against storage and forgets the reports it lost. */
  async check(): Promise<void> {
    const { trials } = await this.client.call("trials", { study: "r", limit: 1000 });
    const stored = new Map((trials as Stored[]).map((t) => [t.number, t]));
    const has = (r: { trial: number; step: number }) => (stored.get(r.trial)?.intermediate ?? []).some(([s]) => s === r.step);
    // Only reports of the loss window are missing, and per trial only its latest ones.
    const lost = this.mayLose.filter((r) => !has(r));
    for (const r of lost) {
      const later = this.mayLose.filter((x) => x.trial === r.trial && x.step > r.step);
      expect(later.filter(has), `trial ${r.trial}: step ${r.step} lost but a later step kept`).toEqual([]);
    }
    for (const r of lost) this.expected.get(r.trial)?.delete(r.step);
    this.lost += lost.length;
    this.mayLose = [];
    // Everything else acknowledged is stored, exactly once, and nothing unacknowledged is.
    for (const [trial, steps] of this.expected) {
      const got = stored.get(trial)?.intermediate ?? [];
      expect(got, `intermediate values of trial ${trial}`).toEqual([...steps.entries()].sort((a, b) => a[0] - b[0]));
    }
    // No tell is lost.
    for (const [trial, t] of this.tells) {
      expect(stored.get(trial)?.state, `acknowledged tell of trial ${trial}`).toBe(t.state);
      if (t.state === "COMPLETE") expect(stored.get(trial)?.value).toBe(t.value);
    }
    // No decision is contradicted: every prune sent is stored; none is stored that was not sent.
    for (const p of this.prunes) {
      const t = stored.get(p.trial);
      expect(t?.system_attrs.pruned_at_step, `prune of trial ${p.trial}`).toBe(p.step);
      expect(["RUNNING", "PRUNED"]).toContain(t?.state);
    }
    for (const t of stored.values())
      if (t.system_attrs.pruned_at_step !== undefined)
        expect(this.prunes.some((p) => p.trial === t.number && p.step === t.system_attrs.pruned_at_step), `trial ${t.number}'s prune was sent`).toBe(true);
  }
}

const good = (step: number) => 1 / (step + 1);
const bad = (step: number) => 5 + step;

describe("intermediate values under SIGKILL (reports committed after their reply)", () => {
  it("loses only the latest continue reports: never a tell, never a decision already sent", async () => {
    const db = join(tempDir(), "reports.sqlite");
    let server: ServerProcess = await startServer(db, ["--report-commit-ms", COMMIT_MS]);
    const rec = new Recorder(new TestClient(server.endpoint));
    const restart = async (signal: NodeJS.Signals = "SIGKILL") => {
      if (signal === "SIGKILL") server.proc.kill("SIGKILL");
      await server.stop(signal);
      server = await startServer(db, ["--report-commit-ms", COMMIT_MS], server.endpoint);
      await rec.client.close();
      rec.client = new TestClient(server.endpoint);
      await rec.check();
    };
    try {
      await rec.client.call("create_study", {
        name: "r",
        strategy: "random",
        space: { x: { type: "float", low: 0, high: 1 } },
        scheduler: { name: "median", options: { n_startup_trials: 2, n_warmup_steps: 2 } },
      });
      // Two complete trials so that the median scheduler prunes from step 2 on.
      for (let i = 0; i < 2; i++) {
        const { trial, token } = await rec.ask();
        for (let s = 0; s < 6; s++) expect((await rec.report(trial, token, s, good(s))).decision).toBe("continue");
        await rec.tell(trial, token, "COMPLETE", good(5));
      }

      // 1. Killed after five continue reports that nothing durable followed.
      const t1 = await rec.ask();
      let last: AckedReport | null = null;
      for (let s = 0; s < 5; s++) last = await rec.report(t1.trial, t1.token, s, good(s));
      await restart();
      // The resent last report (same id) is applied once: stored reply or fresh, never twice.
      await rec.report(t1.trial, t1.token, 4, good(4), (last as AckedReport).id);
      await rec.report(t1.trial, t1.token, 5, good(5));
      await rec.tell(t1.trial, t1.token, "COMPLETE", good(5));

      // 2. Killed right after a prune was sent, before the worker's tell.
      const t2 = await rec.ask();
      let pruned: AckedReport | null = null;
      for (let s = 0; s < 6 && !pruned; s++) {
        const r = await rec.report(t2.trial, t2.token, s, bad(s));
        if (r.decision === "prune") pruned = r;
      }
      expect(pruned?.step, "a bad trial is pruned at the first step after the warm-up").toBe(2);
      await restart();
      const again = await rec.client.call("report", { study: "r", trial: t2.trial, token: t2.token, step: 2, value: bad(2) }, (pruned as AckedReport).id);
      expect(again.decision.action, "a resent prune is answered prune again").toBe("prune");
      await rec.tell(t2.trial, t2.token, "PRUNED", null);

      // 3. Killed after continue reports of two trials, the first one told in between.
      const t3 = await rec.ask();
      for (let s = 0; s < 4; s++) await rec.report(t3.trial, t3.token, s, good(s));
      await rec.tell(t3.trial, t3.token, "COMPLETE", good(3));
      const t4 = await rec.ask();
      for (let s = 0; s < 3; s++) await rec.report(t4.trial, t4.token, s, good(s));
      await restart();
      expect(rec.lost, "the kills did lose acknowledged continue reports (the case under test)").toBeGreaterThan(0);

      // 4. A clean stop commits every acknowledged report.
      for (let s = 10; s < 13; s++) await rec.report(t4.trial, t4.token, s, good(s));
      const lostBefore = rec.lost;
      await restart("SIGTERM");
      expect(rec.lost, "nothing lost on a clean stop").toBe(lostBefore);
    } finally {
      await rec.client.close();
    }
  }, 300_000);
});
