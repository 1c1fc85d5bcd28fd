/**
 * A dashboard (`serve --dashboard`) on a server that gives a study up to another server (it stalled
 * past its ownership TTL), on the shared test PostgreSQL: its live stream announces that study's
 * change at once, and the page's read of it, over HTTP, names the server that has it now. Before,
 * nothing was announced, and an open page showed the study as it was until something made it read.
 */
import { describe, expect, inject, it } from "vitest";
import { silentLogger } from "../../logger.js";
import type { Renewal } from "../../service/ownership.js";
import { PgOwnershipStore } from "../../storage/postgres/pg-ownership.js";
import { closers, ownedServer } from "../../testing/shared-ownership-server.js";
import { postgresBackend } from "../../testing/storage-backends.js";
import { waitFor } from "../../testing/waits.js";
import { DashboardServer } from "./dashboard.js";

const TTL_MS = 600;
const SPACE = { x: { type: "float", low: -5, high: 5 } };

/** The real store; while `paused`, renewals write nothing and answer as the last one did (a stalled process's rows expire). */
class PausableStore extends PgOwnershipStore {
  paused = false;
  last: Renewal = new Map<string, number>();
  override async renew(owner: string, ttlMs: number) {
    if (this.paused) return this.last; // with the rows it found locked: still held, not lost
    return (this.last = await super.renew(owner, ttlMs));
  }
}

const cleanup = closers();

async function server(url: string, id: string) {
  const { svc, store, ownership } = await ownedServer(cleanup, url, id, { ttlMs: TTL_MS, store: (storage) => new PausableStore(storage) });
  return { svc, store, ownership };
}

describe("a dashboard on a server that gave a study up", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("announces the study on its live stream at once, and its read names the server that has it now", async () => {
    const url = backend.location();
    const a = await server(url, "a");
    await a.svc.execute("create_study", { name: "s", space: SPACE, seed: 1 });
    const b = await server(url, "b");
    const dashboard = new DashboardServer({ source: a.svc, logger: silentLogger(), port: 0 });
    const port = await dashboard.start();
    cleanup.push(() => dashboard.close());
    const base = `http://127.0.0.1:${port}`;

    // The page's live stream, open before the loss.
    const stream = new AbortController();
    const res = await fetch(`${base}/api/events`, { signal: stream.signal });
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let seen = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        seen += decoder.decode(value, { stream: true });
      }
    })().catch(() => undefined);
    cleanup.push(() => reading, async () => stream.abort()); // aborted first (run in reverse)
    await waitFor(async () => seen.length > 0, 30_000);
    const before = seen.length;

    // 'a' stalls past its TTL: 'b' takes the study over; 'a' wakes, renews, and finds it lost.
    a.store.paused = true;
    await waitFor(async () => (await b.svc.execute("get_study", { study: "s" })).study.name === "s", 30_000);
    a.store.paused = false;
    await waitFor(async () => !a.ownership.heldNames().includes("s"), 30_000);

    // No request was made of 'a' meanwhile: the stream says the study changed (before: nothing).
    await waitFor(async () => seen.slice(before).includes('"study":"s"'), 30_000);
    const read = await fetch(`${base}/api/op/get_study`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ study: "s" }) });
    const body = (await read.json()) as { error?: { code: string; data?: { reason?: string; endpoint?: string } } };
    expect(body.error?.code).toBe("UNAVAILABLE");
    expect(body.error?.data).toMatchObject({ reason: "moved", endpoint: "tcp://b:1" });
  });
});
