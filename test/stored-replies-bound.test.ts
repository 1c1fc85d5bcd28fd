/**
 * `tuneport serve --max-stored-replies`: the replies a SQLite server keeps for resends (24 hours,
 * each request id in memory) are at most N; past it the oldest are dropped and logged, and a resend
 * of a recent request still gets its stored reply. Before, every mutation's reply was kept for 24
 * hours whatever their number: ~290 bytes of server memory a request, and at 2^24 ids the Map that
 * indexes them threw after a commit, which stops the server (reply-index.ts).
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TestClient, startServer, stopServers, tempDir } from "./helpers.js";

afterAll(stopServers);

const MAX = 200;

describe("serve --max-stored-replies", () => {
  it("keeps at most N stored replies, the newest, and logs each drop", async () => {
    const db = join(tempDir(), "db.sqlite");
    const server = await startServer(db, ["--max-stored-replies", String(MAX)]);
    const client = new TestClient(server.endpoint);
    try {
      await client.call("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
      const a = await client.call("ask", { study: "s" });
      const report = (step: number) => ({ study: "s", trial: a.trial.number, token: a.lease.token, step, value: step });
      const n = 3 * MAX;
      for (let step = 0; step < n; step++) expect((await client.request("report", report(step), `r${step}`)).ok).toBe(true);

      // The newest replies are kept: a resend gets the stored reply (a report of a step already
      // passed would otherwise be refused INVALID_ARGUMENT, "steps must increase").
      const resent = await client.request("report", report(n - 2), `r${n - 2}`);
      expect(resent.ok).toBe(true);
      // The server is up and the trial goes on.
      expect((await client.request("tell", { study: "s", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 })).ok).toBe(true);
      await client.close();
      expect(await server.stop()).toBe(0); // every reply committed, its log read to the end
      const rows = (new Database(db, { readonly: true }).prepare("SELECT count(*) AS n FROM request_log").get() as { n: number }).n;
      expect(rows).toBeLessThanOrEqual(MAX);
      expect(rows).toBeGreaterThanOrEqual(Math.floor((MAX * 15) / 16));
      const drops = server.lines.filter((l) => l.includes("stored replies over --max-stored-replies")).map((l) => JSON.parse(l) as { dropped: number; stored_replies: number; max_stored_replies: number });
      expect(drops.length).toBeGreaterThan(0);
      for (const d of drops) expect(d).toMatchObject({ max_stored_replies: MAX });
      for (const d of drops) expect(d.stored_replies).toBeLessThanOrEqual(MAX);
      // create_study, ask, the n reports and the tell stored a reply each (the resend none): all
      // but those kept were dropped.
      expect(drops.reduce((s, d) => s + d.dropped, 0)).toBe(n + 3 - rows);
    } finally {
      if (!client.sock.closed) await client.close();
      await server.stop();
    }
  }, 180_000);

  it("refuses a bound outside [100, 16,000,000] with a usage error", async () => {
    await expect(startServer(join(tempDir(), "db.sqlite"), ["--max-stored-replies", "99"])).rejects.toThrow(/max-stored-replies/);
    await expect(startServer(join(tempDir(), "db.sqlite"), ["--max-stored-replies", "16000001"])).rejects.toThrow(/max-stored-replies/);
  }, 120_000);
});
