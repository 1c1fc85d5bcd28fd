import { describe, expect, it } from "vitest";
import { formatPretty } from "./logger.js";

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
