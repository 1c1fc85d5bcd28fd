/**
 * Crash-safety of protocol features added on 2026-12-06, against a real server SIGKILLed between
 * requests (docs/DURABILITY.md): PBT's `data.pbt_loaded` lineage move, and `serve --max-intermediate`.
 */
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type ServerProcess, TestClient, startServer, stopServers, tempDir } from "./helpers.js";

afterEach(stopServers);

const COMMIT_MS = "10000";

async function killAndRestart(server: ServerProcess, db: string, extra: string[]): Promise<ServerProcess> {
  server.proc.kill("SIGKILL");
  await server.stop("SIGKILL");
  return startServer(db, extra, server.endpoint);
}

describe("new features under SIGKILL", () => {
  it("pbt_loaded: the lineage move survives a restart, and its resend (same id) gets the first reply, applied once", async () => {
    const db = join(tempDir(), "pbt.sqlite");
    const extra = ["--report-commit-ms", COMMIT_MS];
    let server = await startServer(db, extra);
    let c = new TestClient(server.endpoint);
    try {
      await c.call("create_study", {
        name: "p", direction: "maximize", seed: 3,
        space: { h0: { type: "float", low: 0, high: 1 }, h1: { type: "float", low: 0, high: 1 } },
        strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 2, resample_probability: 0 } },
      });
      const a = await c.call("ask", { study: "p" });
      const b = await c.call("ask", { study: "p" });
      const rep = (t: any, step: number, value: number, extra: Record<string, unknown> = {}, id: string = randomUUID()) =>
        c.call("report", { study: "p", trial: t.trial.number, token: t.lease.token, step, value, data: { checkpoint: `ck/${t.trial.number}/${step}`, ...extra } }, id);
      await rep(b, 1, 0.9);
      await rep(b, 2, 0.9);
      await rep(a, 1, 0.1);
      const d = await rep(a, 2, 0.1);
      expect(d.decision.action).toBe("update");
      const donor = `ck/${b.trial.number}/2`;
      const id3 = randomUUID();
      // No checkpoint of its own: the lineage move is the only thing this continue stores.
      const rep3 = () => c.call("report", { study: "p", trial: a.trial.number, token: a.lease.token, step: 3, value: 0.2, data: { pbt_loaded: { checkpoint: donor, after_step: 3 } } }, id3);
      const d3 = await rep3();
      expect(d3.decision.delete_checkpoints).toBeUndefined();
      expect(d3.decision.action).toBe("continue");
      server = await killAndRestart(server, db, extra);
      await c.close();
      c = new TestClient(server.endpoint);
      const t = await c.call("trial", { study: "p", trial: a.trial.number });
      const lin = (t.system_attrs ?? t.trial?.system_attrs).pbt_lineage as { step: number }[];
      expect(lin.map((e) => e.step), "the move the client was acknowledged is stored").toEqual([0, 3]);
      const again = await rep3();
      expect(again, "resend gets the first reply").toEqual(d3);
      const t2 = await c.call("trial", { study: "p", trial: a.trial.number });
      expect((t2.system_attrs ?? t2.trial?.system_attrs).pbt_lineage).toEqual((t.system_attrs ?? t.trial?.system_attrs).pbt_lineage);
    } finally {
      await c.close();
    }
  }, 120_000);

  it("--max-intermediate: after a restart the count is what storage holds, and a resent report at the cap gets its first reply", async () => {
    const db = join(tempDir(), "cap.sqlite");
    const extra = ["--report-commit-ms", COMMIT_MS, "--max-intermediate", "3"];
    let server = await startServer(db, extra);
    let c = new TestClient(server.endpoint);
    try {
      await c.call("create_study", { name: "m", strategy: "random", space: { x: { type: "float", low: 0, high: 1 } } });
      const a = await c.call("ask", { study: "m" });
      const rep = (step: number, id: string = randomUUID()) => c.call("report", { study: "m", trial: a.trial.number, token: a.lease.token, step, value: step }, id);
      const ids = [randomUUID(), randomUUID(), randomUUID()];
      for (let s = 0; s < 3; s++) expect((await rep(s, ids[s])).decision.action).toBe("continue");
      const over = randomUUID();
      await expect(rep(3, over)).rejects.toThrow(/holds at most 3 intermediate values/);
      server = await killAndRestart(server, db, extra);
      await c.close();
      c = new TestClient(server.endpoint);
      const t = await c.call("trial", { study: "m", trial: a.trial.number });
      const stored = (t.intermediate ?? t.trial?.intermediate) as unknown[];
      expect(stored.length, "the kill lost acknowledged continue reports (the case under test)").toBeLessThan(3);
      // Resend the acknowledged ones (same ids): each gets continue, applied once.
      for (let s = 0; s < 3; s++) expect((await rep(s, ids[s])).decision.action).toBe("continue");
      const t2 = await c.call("trial", { study: "m", trial: a.trial.number });
      expect(((t2.intermediate ?? t2.trial?.intermediate) as unknown[]).length).toBe(3);
      await expect(rep(3, over), `stored before resend: ${stored.length}`).rejects.toThrow(/holds at most 3 intermediate values/);
    } finally {
      await c.close();
    }
  }, 120_000);
});
