import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { batchedDestination, formatPretty } from "./logger.js";
import { exitTempDir } from "./testing/temp-dirs.js";

describe("formatPretty (serve --log-format pretty)", () => {
  const time = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();

  it("puts time, level, component and message first, then the other fields as key=value", () => {
    const line = JSON.stringify({ level: 30, time, app: "tuneport", pid: 1, hostname: "h", component: "service", msg: "trial finished", study: "my study", trial: 3, value: 0.25, params: { lr: 0.1 } });
    expect(formatPretty(line)).toBe('03:04:05.067 INFO  service: trial finished  study="my study" trial=3 value=0.25 params={"lr":0.1}');
  });

  it("indents an error's stack under the line and colours the level only when asked", () => {
    const line = JSON.stringify({ level: 50, time, msg: "commit failed", err: { type: "Error", message: "disk", stack: "Error: disk\n    at x" } });
    expect(formatPretty(line)).toBe("03:04:05.067 ERROR commit failed\n    Error: disk\n        at x");
    expect(formatPretty(line, true)).toContain("\x1b[31mERROR\x1b[0m");
  });

  it("passes anything that is not a JSON record through unchanged", () => {
    expect(formatPretty("not json {")).toBe("not json {");
    expect(formatPretty("42")).toBe("42");
  });
});

describe("batchedDestination (serve's JSON log)", () => {
  const turn = () => new Promise((r) => setImmediate(r));
  const tempLog = () => join(exitTempDir("tuneport-log-"), "log.jsonl");

  it("holds records across turns until the window closes, then writes them together, in order", async () => {
    const file = tempLog();
    const fd = openSync(file, "w");
    try {
      const dest = batchedDestination(fd, 60_000);
      dest.write('{"n":1}\n');
      await turn();
      dest.write('{"n":2}\n');
      await turn();
      expect(readFileSync(file, "utf8"), "nothing written within the window").toBe("");
      dest.flushSync(); // what the window's end (or exit) does
      expect(readFileSync(file, "utf8")).toBe('{"n":1}\n{"n":2}\n');
    } finally {
      closeSync(fd);
    }
  });

  it("writes when the window closes, by itself", async () => {
    const file = tempLog();
    const fd = openSync(file, "w");
    try {
      const dest = batchedDestination(fd, 5);
      dest.write('{"n":1}\n');
      dest.write('{"n":2}\n');
      // A timer due after the window's fires after it (timers run in order of their due time).
      await new Promise((r) => setTimeout(r, 50));
      expect(readFileSync(file, "utf8")).toBe('{"n":1}\n{"n":2}\n');
      dest.write('{"n":3}\n');
      await new Promise((r) => setTimeout(r, 50));
      expect(readFileSync(file, "utf8")).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
    } finally {
      closeSync(fd);
    }
  });

  it("writes at once when records grow past the batch size, and on flushSync", () => {
    const file = tempLog();
    const fd = openSync(file, "w");
    try {
      const dest = batchedDestination(fd, 60_000);
      const big = `{"pad":"${"x".repeat(10 * 1024)}"}\n`;
      dest.write(big);
      expect(readFileSync(file, "utf8")).toBe(big);
      dest.write('{"n":1}\n');
      dest.flushSync();
      expect(readFileSync(file, "utf8")).toBe(`${big}{"n":1}\n`);
    } finally {
      closeSync(fd);
    }
  });
});
