import { describe, expect, it } from "vitest";
import { bindProblem, isLoopback } from "./serve.js";

describe("isLoopback (decides the loud warning for binds without CURVE)", () => {
  it.each([
    ["tcp://127.0.0.1:5555", true],
    ["tcp://127.3.2.1:0", true],
    ["tcp://localhost:5555", true],
    ["tcp://[::1]:5555", true],
    ["ipc:///tmp/tuneport.sock", true],
    ["inproc://x", true],
    ["tcp://0.0.0.0:5555", false],
    ["tcp://*:5555", false],
    ["tcp://eth0:5555", false],
    ["tcp://192.168.1.4:5555", false],
    ["tcp://[::]:5555", false],
    ["tcp://128.0.0.1:5555", false],
  ])("%s → %s", (endpoint, loopback) => {
    expect(isLoopback(endpoint)).toBe(loopback);
  });
});

describe("bindProblem (a hint instead of ZeroMQ's bare 'Invalid argument')", () => {
  it.each(["tcp://127.0.0.1:5555", "tcp://127.0.0.1:0", "tcp://*:5555", "tcp://0.0.0.0:*", "tcp://[::1]:5555", "tcp://eth0:5555", "ipc:///tmp/t.sock", "inproc://x"])(
    "accepts %s",
    (endpoint) => {
      expect(bindProblem(endpoint)).toBeNull();
    },
  );

  it.each([
    ["127.0.0.1:5555", "add the scheme: --bind tcp://127.0.0.1:5555"],
    ["*:5555", "add the scheme: --bind tcp://*:5555"],
    ["tcp://127.0.0.1", "add a port: --bind tcp://127.0.0.1:5555"],
    ["tcp://127.0.0.1:70000", "port 70000 is out of range (0-65535)"],
    ["http://127.0.0.1:5555", "--bind takes a ZeroMQ endpoint (tcp://HOST:PORT) for workers; MCP over HTTP is --mcp-http PORT"],
    ["tuneport.db", "expected tcp://HOST:PORT (e.g. tcp://127.0.0.1:5555), ipc://PATH or inproc://NAME"],
  ])("refuses %s: %s", (endpoint, hint) => {
    expect(bindProblem(endpoint)).toBe(hint);
  });

  it("refuses a wildcard first --bind on PostgreSQL without --advertise: it was sent to other servers' clients as tcp://0.0.0.0", () => {
    const pg = "postgresql://tuneport@db/tuneport";
    for (const host of ["0.0.0.0", "*", "[::]", "[0:0:0:0:0:0:0:0]"])
      expect(bindProblem(`tcp://${host}:5555`, pg, true)).toBe(
        `on PostgreSQL other servers send clients to the first --bind unless --advertise names another, and ${host} is no address to connect to: add --advertise tcp://<this machine's name or address>:5555`,
      );
    expect(bindProblem("tcp://0.0.0.0:*", pg, true)).toMatch(/add --advertise tcp:\/\/<this machine's name or address>:<a fixed port, bound here too>$/);
    // Advertised otherwise (--advertise, or a later --bind), on SQLite, or an address clients can dial: fine.
    expect([bindProblem("tcp://0.0.0.0:5555", pg, false), bindProblem("tcp://0.0.0.0:5555", "x.db", true), bindProblem("tcp://10.0.0.5:5555", pg, true)]).toEqual([null, null, null]);
  });
});
