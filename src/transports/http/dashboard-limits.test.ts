/**
 * The dashboard's live stream (SSE) against clients that open many streams or never read: a real
 * DashboardServer on a loopback port, raw sockets, a change feed the test drives.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { type Socket, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../logger.js";
import type { StudyChange } from "../../service/change-feed.js";
import { DashboardServer, MAX_LIVE_STREAMS } from "./dashboard.js";

let server: DashboardServer;
let port: number;
let assets: string;
const listeners = new Set<(c: StudyChange) => void>();
const sockets: Socket[] = [];
const announce = (c: StudyChange) => {
  for (const l of [...listeners]) l(c);
};

beforeEach(async () => {
  assets = mkdtempSync(join(tmpdir(), "tuneport-dash-"));
  const source = {
    execute: async () => ({}),
    onChange: (l: (c: StudyChange) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
  server = new DashboardServer({ source, logger: silentLogger(), port: 0, assetsDir: assets });
  port = await server.start();
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server.close();
  listeners.clear();
  rmSync(assets, { recursive: true, force: true });
});

/** Opens `GET /api/events` on a raw socket; resolves with the socket and the first bytes it got. */
function openStream(): Promise<{ socket: Socket; head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    socket.once("error", reject);
    socket.once("data", (d) => resolve({ socket, head: d.toString("latin1") }));
    socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
  });
}

const tick = () => new Promise((r) => setTimeout(r, 1));

describe("dashboard live stream limits", () => {
  it("ends a stream whose client does not read, and keeps serving one that does", async () => {
    const stalled = await openStream();
    stalled.socket.pause();
    const reader = await openStream();
    let received = 0;
    let tail = "";
    reader.socket.on("data", (d: Buffer) => {
      received += d.length;
      tail = (tail + d.toString("latin1")).slice(-256);
    });
    let stalledClosed = false;
    stalled.socket.once("close", () => void (stalledClosed = true));
    await vi.waitFor(() => expect(server.liveStreams).toBe(2));

    // 64 KiB per change; up to 96 MiB in all, far past what the kernel holds for a paused socket.
    const big = "x".repeat(64 * 1024);
    let version = 0;
    for (; version < 1536 && server.liveStreams === 2; ) {
      announce({ study: big, kind: "updated", version: ++version });
      await tick();
    }
    // The stalled stream was ended (it used to be buffered for ever); the reading one is live.
    await vi.waitFor(() => expect(server.liveStreams).toBe(1));
    stalled.socket.resume();
    await vi.waitFor(() => expect(stalledClosed).toBe(true));
    expect(reader.socket.destroyed).toBe(false);
    announce({ study: "last", kind: "updated", version: ++version });
    await vi.waitFor(() => expect(tail).toContain(`"study":"last","kind":"updated","version":${version}`));
    expect(received).toBeGreaterThan((version - 1) * big.length);
  });

  it(`keeps at most ${MAX_LIVE_STREAMS} live streams: one more ends the oldest`, async () => {
    for (let i = 0; i < MAX_LIVE_STREAMS; i++) expect((await openStream()).head).toMatch(/^HTTP\/1\.1 200/);
    expect(server.liveStreams).toBe(MAX_LIVE_STREAMS);
    const extra = await openStream();
    expect(extra.head).toMatch(/^HTTP\/1\.1 200/);
    expect(server.liveStreams).toBe(MAX_LIVE_STREAMS);
    // A closed stream frees its place.
    sockets[1]?.destroy();
    await vi.waitFor(() => expect(server.liveStreams).toBe(MAX_LIVE_STREAMS - 1));
    expect((await openStream()).head).toMatch(/^HTTP\/1\.1 200/);
    expect(server.liveStreams).toBe(MAX_LIVE_STREAMS);
  });

  it("takes a change that comes while it stops (streams ended, not yet closed) without writing to an ended stream", async () => {
    // The write after end was an 'error' event without a listener: an uncaught exception that
    // ended the server in the middle of its shutdown (vitest fails the run on it).
    await openStream();
    await openStream();
    await vi.waitFor(() => expect(server.liveStreams).toBe(2));
    const closing = server.close();
    announce({ study: "late", kind: "updated", version: 1 });
    await closing;
    await new Promise((r) => setTimeout(r, 50)); // the error event came on the next tick
  });
});
