/**
 * An import takes back what an export of stored data wrote (study-io.ts: the format round-trips):
 * the line's bound on maps and arrays, checked before the parse, must hold every line the ops could
 * have stored. A line gathers what many requests stored, each checked against its own message's
 * bound (a JSON door's 256 plus one per 8 characters, ZeroMQ's 256 plus one per 4 bytes, where a
 * double takes 9), so the line's own `maxJsonContainers` alone refused studies the server holds.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Packr } from "msgpackr";
import { maxContainers, maxJsonContainers } from "../src/domain/input-limits.js";
import { silentLogger } from "../src/logger.js";
import { StudyService } from "../src/service/study-service.js";
import { SqliteStorage } from "../src/storage/sqlite/sqlite-storage.js";

const opened: { service: StudyService; storage: SqliteStorage }[] = [];
async function open(): Promise<StudyService> {
  const storage = new SqliteStorage({ path: ":memory:" });
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  opened.push({ service, storage });
  return service;
}
afterEach(async () => {
  for (const { service, storage } of opened.splice(0)) {
    await service.close();
    await storage.close();
  }
});

/** How many `[` and `{` outside strings `line` holds (no string in these lines holds either). */
const containers = (line: string) => (line.match(/[[{]/g) ?? []).length;

async function roundTrip(service: StudyService, name: string): Promise<string[]> {
  const lines = [...service.exportStudy(name)];
  await service.importStudy(`${lines.join("\n")}\n`, `${name}-back`);
  expect([...service.exportStudy(`${name}-back`)].slice(1)).toEqual(lines.slice(1));
  return lines;
}

describe("import takes back every line an export of stored data writes", () => {
  it("a trial's and the study's attributes set by many small requests, each within its door's bound", async () => {
    const svc = await open();
    await svc.createStudy({ name: "attrs", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
    const a = await svc.ask({ study: "attrs" });
    // Per-epoch 2x2 confusion matrices, 50 a request: 150 containers in a message of some 1,100 characters, under its 256 + 1/8.
    for (let from = 0; from < 1500; from += 50) {
      const attrs = Object.fromEntries(Array.from({ length: 50 }, (_, k) => [`e${from + k}`, [[(from + k) % 10, 1], [0, 7]]]));
      const message = JSON.stringify({ op: "set_user_attrs", params: { study: "attrs", trial: a.trial.number, attrs } });
      expect(containers(message)).toBeLessThan(maxJsonContainers(message.length));
      await svc.execute("set_user_attrs", { study: "attrs", trial: a.trial.number, attrs });
      await svc.execute("set_user_attrs", { study: "attrs", attrs });
    }
    await svc.tell({ study: "attrs", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    const [header, line] = (await roundTrip(svc, "attrs")) as [string, string];
    // The lines hold more containers than their own length allows (the case refused before).
    expect(containers(line)).toBeGreaterThan(maxJsonContainers(line.length));
    expect(containers(header)).toBeGreaterThan(maxJsonContainers(header.length));
  });

  it("attributes of one-element lists of doubles, which ZeroMQ takes in one request (9 bytes a double)", async () => {
    const svc = await open();
    await svc.createStudy({ name: "zmq", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
    const a = await svc.ask({ study: "zmq" });
    // msgpack: 10 bytes per `[0.25]`, within 256 + bytes/4; JSON: 7 characters, over one per 8.
    const params = { study: "zmq", trial: a.trial.number, attrs: { samples: Array.from({ length: 8000 }, () => [0.25]) } };
    const packed = new Packr({ useRecords: false }).pack({ v: 1, id: "r1", op: "set_user_attrs", params });
    expect(8000 + 4).toBeLessThan(maxContainers(packed.length));
    await svc.execute("set_user_attrs", params);
    await svc.tell({ study: "zmq", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    const [, line] = (await roundTrip(svc, "zmq")) as [string, string];
    expect(containers(line)).toBeGreaterThan(maxJsonContainers(line.length));
  });

  it("a trial of 10,000 reported steps with single-digit values fits its line's own bound (about 8.9 characters a step)", async () => {
    const svc = await open();
    await svc.createStudy({ name: "steps", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
    const a = await svc.ask({ study: "steps" });
    for (let step = 0; step < 10_000; step++) await svc.report({ study: "steps", trial: a.trial.number, token: a.lease.token, step, value: step % 10 });
    await svc.tell({ study: "steps", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.5 });
    const [, line] = (await roundTrip(svc, "steps")) as [string, string];
    // 10,008 containers against 11,404 (steps 0..9,999 take 38,890 digits): the densest a report writes.
    expect(containers(line)).toBeLessThan(maxJsonContainers(line.length));
  });
});
