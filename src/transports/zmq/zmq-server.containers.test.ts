/**
 * A frame may hold at most `maxContainers(bytes)` maps and arrays (domain/input-limits.ts), counted
 * by the frame scan before decoding: a byte `[]` or `{}` decoded to 40 to 60 bytes of heap, so a
 * 1 MiB request of empty maps took 63 MiB. A real server, a real DEALER socket, the default limits.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dealer, context } from "zeromq";
import { BYTES_PER_CONTAINER, CONTAINER_ALLOWANCE, maxContainers } from "../../domain/input-limits.js";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { decode, encode } from "./codec.js";
import { DEFAULT_MAX_MESSAGE_BYTES, ZmqServer } from "./zmq-server.js";

context.blocky = false;

/** How many `unit`s fill a request to about 900 KiB (under the default 1 MiB limit). */
const fill = (unitBytes: number) => Math.floor((900 * 1024) / unitBytes);

describe("ZeroMQ requests holding more containers than their bytes allow", () => {
  let storage: SqliteStorage;
  let service: StudyService;
  let server: ZmqServer;
  let dealer: Dealer;

  beforeAll(async () => {
    storage = new SqliteStorage({ path: ":memory:" });
    service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    await service.createStudy({ name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
    server = new ZmqServer(service, { bind: ["tcp://127.0.0.1:0"], logger: silentLogger() });
    const [endpoint] = await server.start();
    dealer = new Dealer({ linger: 0 });
    dealer.connect(endpoint as string);
  });
  afterAll(async () => {
    dealer.close();
    await server.close();
    await service.close();
    await storage.close();
  });

  const call = async (frame: Buffer) => {
    expect(frame.byteLength).toBeLessThanOrEqual(DEFAULT_MAX_MESSAGE_BYTES);
    await dealer.send(frame);
    return decode((await dealer.receive())[0] as Buffer) as { id: string; ok: boolean; result?: any; error?: { code: string; message: string; data?: any } };
  };

  it("refuses, before decoding, empty arrays, empty maps and small pairs packed one per byte or three", async () => {
    const hostile: [string, unknown[]][] = [
      ["empty-arrays", Array.from({ length: fill(1) }, () => [])],
      ["empty-maps", Array.from({ length: fill(1) }, () => ({}))],
      ["int-pairs", Array.from({ length: fill(3) }, () => [0, 0])],
    ];
    for (const [id, junk] of hostile) {
      const frame = encode({ v: 1, id, op: "set_user_attrs", study: "s", attrs: { junk } });
      const r = await call(frame);
      expect(r).toMatchObject({ id, ok: false, error: { code: "INVALID_ARGUMENT", data: { reason: "max_containers", max_containers: maxContainers(frame.byteLength), message_bytes: frame.byteLength } } });
      expect(r.error?.message).toMatch(new RegExp(`at most ${maxContainers(frame.byteLength)}: ${CONTAINER_ALLOWANCE} plus one per ${BYTES_PER_CONTAINER} bytes`));
      expect(r.error?.message).toMatch(/not configurable/);
    }
    expect((await service.getStudy({ study: "s" })).user_attrs).toEqual({});
  });

  it("still takes the densest real requests at the default limits: add_trial's pairs, a big space, attrs of pairs", async () => {
    const pairs = Array.from({ length: fill(14) }, (_, i) => [i, i + 0.25]);
    const added = await call(encode({ v: 1, id: "t", op: "add_trial", study: "s", params: { x: 0.5 }, state: "COMPLETE", value: 1.5, intermediate: pairs }));
    expect(added, JSON.stringify(added.error)).toMatchObject({ ok: true });
    const trial = await service.getTrial({ study: "s", trial: added.result.trial.number });
    expect(trial.intermediate).toHaveLength(pairs.length);

    const space = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`p${i}`, { type: "float", low: 0.5, high: 1.5 }]));
    expect(await call(encode({ v: 1, id: "c", op: "create_study", name: "big", space }))).toMatchObject({ ok: true });

    // User attributes hold at most 64 KiB of JSON: as many pairs as fit.
    const history = pairs.slice(0, 2500);
    const attrs = await call(encode({ v: 1, id: "a", op: "set_user_attrs", study: "s", attrs: { history } }));
    expect(attrs, JSON.stringify(attrs.error)).toMatchObject({ ok: true });
    expect(((await service.getStudy({ study: "s" })).user_attrs.history as unknown[]).length).toBe(history.length);
  });
});
