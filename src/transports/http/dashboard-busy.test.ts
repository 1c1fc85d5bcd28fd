/**
 * The dashboard under a crowd, over real sockets to a real DashboardServer on loopback: how many
 * ops run at once and who waits (op-gate.ts), and who gets a live stream when 256 are open.
 * Several remote addresses come from 127.0.0.0/8 (`localAddress`), which Linux routes to the
 * server's 127.0.0.1. The ops are a stand-in source whose chart reads wait until the test lets them go.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { type IncomingHttpHeaders, request } from "node:http";
import { type Socket, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../logger.js";
import type { StudyChange } from "../../service/change-feed.js";
import { type DashboardOptions, DashboardServer, MAX_LIVE_STREAMS } from "./dashboard.js";
import { HEAVY_LANE, LIGHT_LANE, RETRY_AFTER_S } from "./op-gate.js";

let server: DashboardServer | undefined;
let port: number;
let assets: string | undefined;
const sockets: Socket[] = [];
/** Chart reads being run, and the most at once. */
let running = 0;
let mostAtOnce = 0;
let held: (() => void)[] = [];
let holding = true;

/** Starts the test's server (again, with `options`: `trustedProxies`), its chart reads held. */
async function open(options: Partial<DashboardOptions> = {}): Promise<void> {
  await server?.close();
  rmSync(assets ?? "", { recursive: true, force: true });
  assets = mkdtempSync(join(tmpdir(), "tuneport-dash-"));
  running = 0;
  mostAtOnce = 0;
  held = [];
  holding = true;
  const source = {
    execute: async (op: string, args: unknown) => {
      if (op !== "plot_spec") return { op };
      running++;
      mostAtOnce = Math.max(mostAtOnce, running);
      if (holding) await new Promise<void>((r) => held.push(r));
      running--;
      return { op, args };
    },
    onChange: (_l: (c: StudyChange) => void) => () => undefined,
  };
  server = new DashboardServer({ source, logger: silentLogger(), port: 0, assetsDir: assets, ...options });
  port = await server.start();
}

beforeEach(() => open());

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  holding = false;
  for (const r of held.splice(0)) r();
  await server?.close();
  server = undefined;
  rmSync(assets ?? "", { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/** POSTs op `name` on a connection of its own from `from` (with `forwardedFor` as X-Forwarded-For). */
function post(name: string, args: unknown, from = "127.0.0.1", forwardedFor?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(args);
    const headers = { "content-type": "application/json", ...(forwardedFor === undefined ? {} : { "x-forwarded-for": forwardedFor }) };
    const req = request({ host: "127.0.0.1", port, localAddress: from, agent: false, path: `/api/op/${name}`, method: "POST", headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => void (text += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

/** Opens `GET /api/events` from `from` (with `forwardedFor` as X-Forwarded-For); resolves with the socket, its first bytes and all it got since (`got()`). */
function openStream(from = "127.0.0.1", forwardedFor?: string): Promise<{ socket: Socket; head: string; got: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: "127.0.0.1", localAddress: from });
    sockets.push(socket);
    let all = "";
    socket.on("data", (d: Buffer) => void (all += d.toString("latin1")));
    socket.once("error", reject);
    socket.once("data", (d) => resolve({ socket, head: d.toString("latin1"), got: () => all }));
    const forwarded = forwardedFor === undefined ? "" : `X-Forwarded-For: ${forwardedFor}\r\n`;
    socket.write(`GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${forwarded}\r\n`);
  });
}

/** The end of a chunked answer: the stream was ended by the server. */
const ENDED = "\r\n0\r\n\r\n";

describe("dashboard ops under a crowd", () => {
  it(`runs at most ${HEAVY_LANE.running} chart reads at once, queues ${HEAVY_LANE.queued}, answers one more 503 with Retry-After, and a cheap read meanwhile at once`, async () => {
    const total = HEAVY_LANE.running + HEAVY_LANE.queued;
    const crowd = Array.from({ length: total }, (_, i) => post("plot_spec", { study: "s", kind: "history", i }));
    await vi.waitFor(() => expect(server!.ops.heavy).toEqual({ running: HEAVY_LANE.running, queued: HEAVY_LANE.queued }));
    expect(held.length).toBe(HEAVY_LANE.running);
    // The lane is full: one more is refused, with the time to wait.
    const extra = await post("plot_spec", { study: "s", kind: "history", i: "extra" });
    expect(extra.status).toBe(503);
    expect(extra.headers["retry-after"]).toBe(String(RETRY_AFTER_S));
    expect(JSON.parse(extra.body).error.code).toBe("UNAVAILABLE");
    // Another lane: answered while every chart read waits.
    const cheap = await post("studies_overview", {});
    expect(cheap.status).toBe(200);
    expect(held.length).toBe(HEAVY_LANE.running);
    // Let them go: every queued one is answered, never more than the lane's running at once.
    holding = false;
    for (const r of held.splice(0)) r();
    const answers = await Promise.all(crowd);
    expect(answers.map((a) => a.status)).toEqual(Array(total).fill(200));
    expect(answers.map((a) => JSON.parse(a.body).args.i)).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(mostAtOnce).toBe(HEAVY_LANE.running);
  });

  it("gives a newcomer address a place in a full queue: the newest op of the address holding the most is refused instead", async () => {
    const total = HEAVY_LANE.running + HEAVY_LANE.queued;
    const crowd = Array.from({ length: total }, (_, i) => post("plot_spec", { study: "s", kind: "history", i }, "127.0.0.2"));
    await vi.waitFor(() => expect(server!.ops.heavy).toEqual({ running: HEAVY_LANE.running, queued: HEAVY_LANE.queued }));
    const newcomer = post("plot_spec", { study: "s", kind: "history", i: "newcomer" }, "127.0.0.3");
    // The crowd's newest queued op gave its place up.
    const refused = await Promise.race(crowd.map((p, i) => p.then((a) => ({ a, i }))));
    expect(refused.a.status).toBe(503);
    expect(refused.i).toBe(total - 1);
    holding = false;
    for (const r of held.splice(0)) r();
    expect((await newcomer).status).toBe(200);
    const answers = await Promise.all(crowd);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(total - 1);
  });

  it(`runs the light lane's ops (${LIGHT_LANE.running} at once) without waiting when few come: a few tabs never queue`, async () => {
    holding = false;
    const answers = await Promise.all(Array.from({ length: 8 }, () => post("plot_spec", { study: "s", kind: "history" })));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
    expect(answers.every((a) => a.headers["retry-after"] === undefined)).toBe(true);
  });
});

describe("dashboard live streams when all are taken", () => {
  it("ends the oldest stream of the address holding the most for a newcomer from another address, not an older page's", async () => {
    const page = await openStream("127.0.0.1");
    const hog: Awaited<ReturnType<typeof openStream>>[] = [];
    for (let i = 0; i < MAX_LIVE_STREAMS - 1; i++) hog.push(await openStream("127.0.0.2"));
    expect(server!.liveStreams).toBe(MAX_LIVE_STREAMS);
    const newcomer = await openStream("127.0.0.3");
    expect(newcomer.head).toMatch(/^HTTP\/1\.1 200/);
    await vi.waitFor(() => expect(hog[0]?.got()).toContain(ENDED));
    expect(server!.liveStreams).toBe(MAX_LIVE_STREAMS);
    expect(server!.evictedStreams).toBe(1);
    expect(page.got()).not.toContain(ENDED);
    expect(hog[1]?.got()).not.toContain(ENDED);
  });

  it("on one address (loopback: every local client), ends that address's oldest stream for the newcomer", async () => {
    const first = await openStream();
    for (let i = 1; i < MAX_LIVE_STREAMS; i++) await openStream();
    const newcomer = await openStream();
    expect(newcomer.head).toMatch(/^HTTP\/1\.1 200/);
    await vi.waitFor(() => expect(first.got()).toContain(ENDED));
    expect(server!.liveStreams).toBe(MAX_LIVE_STREAMS);
    // The ended one's client opens another: the next oldest makes room.
    const again = await openStream();
    expect(again.head).toMatch(/^HTTP\/1\.1 200/);
    expect(server!.evictedStreams).toBe(2);
    expect(newcomer.got()).not.toContain(ENDED);
  });
});

describe("dashboard clients behind a trusted proxy (--trusted-proxy: X-Forwarded-For)", () => {
  // Every user of a reverse proxy arrives from its address: before, they all shared one place in the
  // op queue and the live streams' share, and one busy user's ops took the others' places.
  const cases = [
    { via: "127.0.0.1", trusted: ["127.0.0.1"], newcomerGetsIn: true },
    { via: "127.0.0.1", trusted: [], newcomerGetsIn: false },
    // Anyone may send the header: read from a trusted proxy only.
    { via: "127.0.0.2", trusted: ["127.0.0.1"], newcomerGetsIn: false },
  ];
  it.each(cases)("from $via, trusting $trusted: a newcomer user's op takes the busiest user's newest place in a full queue: $newcomerGetsIn", async ({ via, trusted, newcomerGetsIn }) => {
    await open({ trustedProxies: trusted });
    const total = HEAVY_LANE.running + HEAVY_LANE.queued;
    const crowd = Array.from({ length: total }, (_, i) => post("plot_spec", { study: "s", kind: "history", i }, via, "198.51.100.7, 192.0.2.1"));
    await vi.waitFor(() => expect(server!.ops.heavy).toEqual({ running: HEAVY_LANE.running, queued: HEAVY_LANE.queued }));
    const newcomer = post("plot_spec", { study: "s", kind: "history", i: "newcomer" }, via, "192.0.2.2");
    const first = await Promise.race([newcomer.then((a) => ({ a, i: -1 })), ...crowd.map((p, i) => p.then((a) => ({ a, i })))]);
    expect(first.a.status).toBe(503);
    expect(first.i).toBe(newcomerGetsIn ? total - 1 : -1);
    holding = false;
    for (const r of held.splice(0)) r();
    expect((await newcomer).status).toBe(newcomerGetsIn ? 200 : 503);
    expect((await Promise.all(crowd)).filter((a) => a.status === 200)).toHaveLength(newcomerGetsIn ? total - 1 : total);
  });

  it.each(cases)("from $via, trusting $trusted: a newcomer user's live stream ends the busiest user's oldest, not another user's: $newcomerGetsIn", async ({ via, trusted, newcomerGetsIn }) => {
    await open({ trustedProxies: trusted });
    const page = await openStream(via, "192.0.2.1");
    const hog: Awaited<ReturnType<typeof openStream>>[] = [];
    for (let i = 0; i < MAX_LIVE_STREAMS - 1; i++) hog.push(await openStream(via, "192.0.2.2"));
    const newcomer = await openStream(via, "192.0.2.3");
    expect(newcomer.head).toMatch(/^HTTP\/1\.1 200/);
    // One user of the proxy: the page of another user, oldest of all, is ended for the hog's sake.
    const ended = newcomerGetsIn ? (hog[0] as { got: () => string }) : page;
    await vi.waitFor(() => expect(ended.got()).toContain(ENDED));
    expect(server!.evictedStreams).toBe(1);
    expect((newcomerGetsIn ? page : (hog[0] as { got: () => string })).got()).not.toContain(ENDED);
  });
});
