/**
 * Input that must be refused, never rewritten (issue 11 §3), at the ZeroMQ adapter: strings
 * that are not UTF-8, study names outside the grammar, nesting beyond the shared limit, and
 * the request id echoed on replies to frames refused before decoding.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_NESTING } from "../../domain/input-limits.js";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { encode } from "./codec.js";
import { ZmqServer } from "./zmq-server.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };

/** A str8 holding exactly these bytes. */
const str8 = (bytes: number[]) => Buffer.from([0xd9, bytes.length, ...bytes]);
/** A request map from already-encoded values (so that any bytes can be placed anywhere). */
function rawRequest(entries: [string | Buffer, Buffer][]): Buffer {
  const parts = entries.flatMap(([k, v]) => [typeof k === "string" ? encode(k) : k, v]);
  return Buffer.concat([Buffer.from([0x80 | entries.length]), ...parts]);
}
const head = (id: string, op: string): [string, Buffer][] => [
  ["v", encode(1)],
  ["id", encode(id)],
  ["op", encode(op)],
];

/** `{"a": {"a": ... 1}}` with `levels` maps, built byte by byte (encoders recurse). */
function nestedMaps(levels: number): Buffer {
  return Buffer.concat([Buffer.alloc(levels * 3).fill(Buffer.from([0x81, 0xa1, 0x61])), Buffer.from([0x01])]);
}

describe("ZeroMQ input refused, never rewritten", () => {
  let storage: SqliteStorage;
  let service: StudyService;
  let server: ZmqServer;

  beforeAll(async () => {
    storage = new SqliteStorage({ path: ":memory:" });
    service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
    server = new ZmqServer(service, { bind: [], logger: silentLogger(), maxMessageBytes: 4096 });
    await service.createStudy({ name: "s", space: SPACE });
  });
  afterAll(async () => {
    await server.close();
    await service.close();
    await storage.close();
  });

  const names = async () => (await service.listStudies()).map((s) => s.name).sort();

  it("answers a hello that lists 200,000 versions (Math.max(...versions) threw RangeError: INTERNAL)", async () => {
    const roomy = new ZmqServer(service, { bind: [], logger: silentLogger() });
    try {
      const r = await roomy.process(encode({ v: 1, id: "h-many", op: "hello", versions: new Array(200_000).fill(1) }));
      expect(r).toMatchObject({ id: "h-many", ok: true, result: { version: 1 } });
    } finally {
      await roomy.close();
    }
  });

  it("refuses study names that are not UTF-8, so different bytes never become one name", async () => {
    for (const [i, bad] of [[0xed, 0xa0, 0x80], [0xff, 0xfe], [0x61, 0xc3]].entries()) {
      const r = await server.process(rawRequest([...head(`u${i}`, "create_study"), ["name", str8(bad)], ["space", encode(SPACE)]]));
      expect(r).toMatchObject({ id: `u${i}`, ok: false, error: { code: "INVALID_ARGUMENT" } });
      expect((r.error as { message: string }).message).toMatch(/not valid UTF-8/);
    }
    expect(await names()).toEqual(["s"]);
    // the same characters, correctly encoded, are fine
    const ok = await server.process(rawRequest([...head("u-ok", "create_study"), ["name", str8([0x72, 0xc3, 0xa9, 0x73])], ["space", encode(SPACE)]]));
    expect(ok).toMatchObject({ ok: true, result: { study: { name: "rés" } } });
    await service.deleteStudy({ study: "rés" });
  });

  it("refuses bad UTF-8 in any string: keys, attribute values, reasons, ids", async () => {
    const cases: [string, Buffer][] = [
      ["attr-value", rawRequest([...head("a1", "set_user_attrs"), ["study", encode("s")], ["attrs", rawRequest([["note", str8([0xfe])]])]])],
      ["attr-key", rawRequest([...head("a2", "set_user_attrs"), ["study", encode("s")], ["attrs", rawRequest([[str8([0xc0, 0x80]), encode(1)]])]])],
      ["op", rawRequest([["v", encode(1)], ["id", encode("a3")], ["op", str8([0x61, 0x73, 0x6b, 0xff])], ["study", encode("s")]])],
      ["study-ref", rawRequest([...head("a4", "get_study"), ["study", str8([0x73, 0xff])]])],
    ];
    for (const [what, frame] of cases) {
      const r = await server.process(frame);
      expect(r, what).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT" } });
      expect(r.id, what).toBe(`a${cases.findIndex(([w]) => w === what) + 1}`);
    }
    const badId = await server.process(rawRequest([["v", encode(1)], ["id", str8([0x69, 0xff])], ["op", encode("list_studies")]]));
    expect(badId).toMatchObject({ id: null, ok: false, error: { code: "MALFORMED_MESSAGE" } });
    expect((await service.getStudy({ study: "s" })).user_attrs).toEqual({});
  });

  it("refuses map keys that are not strings and extension values (timestamps), storing nothing", async () => {
    const attrs = (entries: [string | Buffer, Buffer][]) => rawRequest([...head("k1", "set_user_attrs"), ["study", encode("s")], ["attrs", rawRequest(entries)]]);
    const timestamp = Buffer.from([0xd6, 0xff, 0, 0, 0, 100]); // fixext 4, type -1: 100 s after the epoch
    const cases: [string, Buffer][] = [
      ["int key beside its string twin", attrs([[encode(1), encode("int")], ["1", encode("str")]])],
      ["nil key", attrs([[Buffer.from([0xc0]), encode("nil")]])],
      ["bool key", attrs([[Buffer.from([0xc3]), encode("bool")]])],
      ["float key", attrs([[Buffer.from([0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]), encode("one")]])],
      ["bin key", attrs([[Buffer.from([0xc4, 1, 0x61]), encode("bin")]])],
      ["timestamp", attrs([["at", timestamp]])],
      ["bad timestamp", attrs([["at", Buffer.from([0xc7, 3, 0xff, 1, 2, 3])]])],
      ["other ext", attrs([["x", Buffer.from([0xd4, 0x00, 0x01])]])],
    ];
    for (const [what, frame] of cases) {
      const r = await server.process(frame);
      expect(r, what).toMatchObject({ id: "k1", ok: false, error: { code: "INVALID_ARGUMENT" } });
    }
    expect((await service.getStudy({ study: "s" })).user_attrs).toEqual({});
  });

  it("refuses a map holding a key twice, at any depth, applying nothing (msgpackr kept the last: a tell of 1 and 2 told 2)", async () => {
    const trial = await service.ask({ study: "s" });
    const tell = (id: string, extra: [string | Buffer, Buffer][]) =>
      rawRequest([...head(id, "tell"), ["study", encode("s")], ["trial", encode(trial.trial.number)], ["token", encode(trial.lease.token)], ["state", encode("COMPLETE")], ...extra]);
    const long = "k".repeat(70);
    const cases: [string, Buffer, string][] = [
      ["top level", tell("d1", [["value", encode(1)], ["value", encode(2)]]), "value"],
      ["str8 twin of a fixstr", tell("d2", [["value", encode(1)], [str8([...Buffer.from("value")]), encode(2)]]), "value"],
      ["in user_attrs", tell("d3", [["value", encode(1)], ["user_attrs", rawRequest([["a", encode(1)], ["b", encode(2)], ["a", encode(3)]])]]), "a"],
      ["after a nested map", tell("d4", [["user_attrs", rawRequest([["x", encode(1)]])], ["value", encode(1)], ["user_attrs", encode({})]]), "user_attrs"],
      ["a long key", tell("d5", [["value", encode(1)], ["user_attrs", rawRequest([[long, encode(1)], [long, encode(2)]])]]), `${"k".repeat(64)}…`],
    ];
    for (const [what, frame, key] of cases) {
      const r = await server.process(frame);
      expect(r, what).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", data: { duplicate_key: key } } });
      expect((r.error as { message: string }).message, what).toContain(`the key ${JSON.stringify(key)} twice`);
    }
    expect((await service.getTrial({ study: "s", trial: trial.trial.number })).state).toBe("RUNNING");
    // The same key in two different maps, and keys that differ only in length, are fine.
    const ok = await server.process(tell("d6", [["value", encode(1)], ["user_attrs", rawRequest([["value", encode(1)], ["valu", rawRequest([["value", encode(2)]])]])]]));
    expect(ok).toMatchObject({ ok: true, result: { trial: { state: "COMPLETE", user_attrs: { value: 1, valu: { value: 2 } } } } });
  });

  it("refuses names outside the grammar and still finds studies by any name", async () => {
    for (const [i, name] of ["evil\u202Egnp", " padded", "trailing ", "../up", "a/b", "tab\there", "..", "e\u0301"].entries()) {
      const r = await server.process(encode({ v: 1, id: `g${i}`, op: "create_study", name, space: SPACE }));
      expect(r, JSON.stringify(name)).toMatchObject({ id: `g${i}`, ok: false, error: { code: "INVALID_ARGUMENT" } });
      expect((r.error as { message: string }).message).toMatch(/name/);
    }
    expect(await names()).toEqual(["s"]);
    const lookup = await server.process(encode({ v: 1, id: "g-look", op: "get_study", study: " padded" }));
    expect(lookup).toMatchObject({ ok: false, error: { code: "NOT_FOUND" } });
  });

  it(`accepts ${MAX_NESTING} levels of nesting and refuses ${MAX_NESTING + 1}, counting the request map`, async () => {
    // request map (1) > attrs (2) > ... : attrs holds MAX_NESTING - 1 levels of maps
    const at = (levels: number, id: string) => rawRequest([...head(id, "set_user_attrs"), ["study", encode("s")], ["attrs", nestedMaps(levels)]]);
    expect(await server.process(at(MAX_NESTING - 1, "n-ok"))).toMatchObject({ id: "n-ok", ok: true });
    const deep = await server.process(at(MAX_NESTING, "n-deep"));
    expect(deep).toMatchObject({ id: "n-deep", ok: false, error: { code: "INVALID_ARGUMENT", data: { max_nesting: MAX_NESTING } } });
  });

  it("names a missing v or op as missing, and a bin op as bin (the messages read 'version undefined', 'unknown op undefined')", async () => {
    const noV = await server.process(encode({ id: "no-v", op: "hello" }));
    expect(noV).toMatchObject({ id: "no-v", ok: false, error: { code: "UNSUPPORTED_VERSION", data: { supported: [1] } } });
    expect((noV.error as { message: string }).message).toMatch(/no protocol version `v`/);
    // JSON.stringify wrote NaN as null ('protocol version null'), and a map as its JSON.
    for (const [v, said] of [[Number.NaN, "NaN"], [2, "2"], [{ a: 1 }, "a map"], ["1", "a string"]] as const) {
      const bad = await server.process(encode({ v, id: "bad-v", op: "hello" }));
      expect(bad).toMatchObject({ id: "bad-v", ok: false, error: { code: "UNSUPPORTED_VERSION", data: { supported: [1] } } });
      expect((bad.error as { message: string }).message).toBe(`protocol version ${said} is not supported (send v: 1)`);
    }
    const noOp = await server.process(encode({ v: 1, id: "no-op" }));
    expect(noOp).toMatchObject({ id: "no-op", ok: false, error: { code: "UNKNOWN_OP" } });
    expect((noOp.error as { message: string }).message).toMatch(/has no `op`/);
    // A client whose library writes strings as bin read 'unknown op {"type":"Buffer","data":[...]}'.
    const binOp = await server.process(encode({ v: 1, id: "bin-op", op: Buffer.from("hello") }));
    expect(binOp).toMatchObject({ id: "bin-op", ok: false, error: { code: "UNKNOWN_OP", message: "op must be a MessagePack str naming an operation, not bin" } });
    for (const r of [noV, noOp]) expect((r.error as { message: string }).message).not.toMatch(/undefined/);
  });

  it("echoes the request id on MESSAGE_TOO_LARGE whenever it can be read", async () => {
    const first = await server.process(encode({ v: 1, id: "big-1", op: "ask", study: "s", pad: "x".repeat(10_000) }));
    expect(first).toMatchObject({ id: "big-1", ok: false, error: { code: "MESSAGE_TOO_LARGE" } });
    const last = await server.process(encode({ pad: "x".repeat(10_000), op: "ask", v: 1, id: "big-2" }));
    expect(last).toMatchObject({ id: "big-2", error: { code: "MESSAGE_TOO_LARGE" } });
    const none = await server.process(encode({ v: 1, op: "ask", pad: "x".repeat(10_000) }));
    expect(none).toMatchObject({ id: null, error: { code: "MESSAGE_TOO_LARGE" } });
  });
});
