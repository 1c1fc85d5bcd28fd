/**
 * RemoteBackend (`tuneport mcp --connect`) on a server whose list_studies reply is cut into pages:
 * a page ends before about 8 MiB (paging.ts `MAX_PAGE_BYTES`), so the change feed must read every
 * page. It read only the first: a study past it never woke a wait_for_progress (which then held
 * the agent's turn to its timeout) and subscribed clients never heard of it, and a study pushed
 * past the first page (studies before it grew) was announced deleted.
 * On a real service behind a real ZeroMQ server.
 */
import { afterEach, expect, it } from "vitest";
import { context } from "zeromq";
import { silentLogger } from "../../logger.js";
import { type StudyChange, StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { ZmqClient } from "../zmq/zmq-client.js";
import { ZmqServer } from "../zmq/zmq-server.js";
import { RemoteBackend } from "./backend.js";

context.blocky = false;

const cleanup: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** 130 studies with 64 KB of user attributes each: about 8.6 MB of views, more than one page. */
const STUDIES = 130;
const name = (i: number) => `s${String(i).padStart(3, "0")}`;

it("reads every page of list_studies: a study past the first page wakes a wait, and none is taken as deleted", async () => {
  const storage = new SqliteStorage({ path: ":memory:" });
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  cleanup.push(() => storage.close(), () => service.close());
  const pad = "x".repeat(64 * 1024 - 16);
  for (let i = 0; i < STUDIES; i++)
    await service.execute("create_study", { name: name(i), space: { x: { type: "float", low: 0, high: 1 } }, strategy: "random", user_attrs: { pad } });
  // The premise: one list_studies call without a limit does not answer every study.
  const first = await service.execute("list_studies", {});
  expect(first.studies.length).toBeLessThan(STUDIES);
  expect(first.next_cursor).toEqual(expect.any(String));

  const server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
  const [endpoint] = await server.start();
  cleanup.push(() => server.close());
  const zmq = new ZmqClient(endpoint as string, { timeoutMs: 20_000 });
  await zmq.connect();
  const backend = new RemoteBackend(zmq, silentLogger(), 100);
  const changes: StudyChange[] = [];
  backend.onChange((c) => changes.push(c));
  await backend.start();
  cleanup.push(() => backend.close());

  // A change of the last study: before, its version never moved, and the wait ran to its timeout.
  const last = name(STUDIES - 1);
  const before = await backend.version(last);
  await service.execute("ask", { study: last });
  expect(await backend.waitForChange(last, before, 30_000)).toBeGreaterThan(before);

  // Studies at the front grow (notes): the first page now ends earlier. Before, the studies pushed
  // off it were announced deleted (and created again if they came back).
  const grown = name(0);
  const v0 = await backend.version(grown);
  for (let i = 0; i < 4; i++) await service.execute("update_study", { study: name(i), notes: "n".repeat(20_000) });
  expect(await backend.waitForChange(grown, v0, 30_000)).toBeGreaterThan(v0);
  expect(changes.filter((c) => c.kind === "deleted")).toEqual([]);
  expect(changes.filter((c) => c.kind === "created").length).toBe(STUDIES);
}, 120_000);
