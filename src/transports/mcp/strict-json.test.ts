/** How a refused message's id is found without parsing it (`messageHeader`, `edgeId`). */
import { describe, expect, it } from "vitest";
import { edgeId, messageHeader, textShapeReply } from "./strict-json.js";

describe("messageHeader", () => {
  it("reads the outermost object's id and method, wherever they stand, and no nested or quoted one", () => {
    expect(messageHeader('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{}}')).toEqual({ id: 7, method: "tools/call" });
    expect(messageHeader('{"method":"ping","params":{"id":3,"a":[{"id":4}]},"jsonrpc":"2.0","id":"x\\"y"}')).toEqual({ id: 'x"y', method: "ping" });
    expect(messageHeader('{ "params" : {"id": 1, "method": "m"} , "note": "\\"id\\": 2" }')).toEqual({ id: null, method: null });
    // Ids MCP does not use are no ids.
    expect(messageHeader('{"id":1.5,"method":"ping"}').id).toBeNull();
    expect(messageHeader('{"id":{"a":1},"method":"ping"}').id).toBeNull();
    expect(messageHeader('{"id":null}').id).toBeNull();
    // Cut text: what it shows.
    expect(messageHeader('{"id": 12, "method": "tools/ca')).toEqual({ id: 12, method: null });
  });

  it("addresses a deep refusal: -32602 with the id of a tool call, -32600 with the id of anything else", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    expect(textShapeReply(`{"method":"tools/call","params":{"name":"x","arguments":{"a":${deep}}},"jsonrpc":"2.0","id":9}`)).toMatchObject({ id: 9, error: { code: -32602 } });
    expect(textShapeReply(`{"jsonrpc":"2.0","id":"r","method":"resources/read","params":{"a":${deep}}}`)).toMatchObject({ id: "r", error: { code: -32600 } });
    expect(textShapeReply(deep)).toMatchObject({ id: null, error: { code: -32600 } });
    expect(textShapeReply('{"id":1,"method":"ping"}')).toBeNull();
  });
});

describe("edgeId", () => {
  const b = (s: string) => Buffer.from(s);
  it("takes a leading id from the head, else a trailing one from the tail", () => {
    expect(edgeId(b('{"jsonrpc":"2.0","id":"a1","method":"tools/call","params":{"x":"xxxx'), b('xxx"}}}'))).toBe("a1");
    expect(edgeId(b('{"method":"tools/call","params":{"arguments":{"id":5,"s":"xxx'), b('xxx"}},"jsonrpc":"2.0","id":42}\r'))).toBe(42);
    // A nested id at the end is not the message's.
    expect(edgeId(b('{"method":"tools/call","params":{"s":"xxx'), b('xxx","id":3}}'))).toBeNull();
    expect(edgeId(b("xxxx"), b("yyyy"))).toBeNull();
  });

  it("does not take a number the head cut short for the id (it could end another request)", () => {
    expect(edgeId(b('{"jsonrpc":"2.0","id":12'), b('xxx"}}}'))).toBeNull();
    expect(edgeId(b('{"jsonrpc":"2.0","id":12'), b('xxx"}},"id":123456}'))).toBe(123456);
    expect(edgeId(b('{"jsonrpc":"2.0","id":12 ,"method":"x'), b("}"))).toBe(12);
    expect(messageHeader('{"id":7}').id).toBe(7);
  });
});
