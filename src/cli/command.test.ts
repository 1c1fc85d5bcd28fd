import { describe, expect, it } from "vitest";
import { UsageError, intOption } from "./command.js";

describe("intOption", () => {
  it("reads integers within the range and leaves an absent option undefined", () => {
    expect(intOption("port", "8080", 0, 65535)).toBe(8080);
    expect(intOption("port", "0", 0, 65535)).toBe(0);
    expect(intOption("port", undefined, 0, 65535)).toBeUndefined();
  });

  it.each(["", " ", "1.5", "x", "70000", "-1", "0x10", "1e3", "0b11", "Infinity"])("refuses %j, naming the option (an empty value was read as 0, hex and exponents as numbers)", (v) => {
    expect(() => intOption("port", v, 0, 65535)).toThrow(UsageError);
    expect(() => intOption("port", v, 0, 65535)).toThrow(/--port must be an integer in \[0, 65535\]/);
  });
});
