import { describe, expect, it } from "vitest";
import { isLoopback } from "./serve.js";

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
