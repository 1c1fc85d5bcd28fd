import { describe, expect, it } from "vitest";
import { formatNumber, plural } from "./format.js";

describe("formatNumber", () => {
  it("keeps integers and spells non-numbers and non-finite values plainly", () => {
    expect([0, -3, 1e9, 12345678].map((v) => formatNumber(v))).toEqual(["0", "-3", "1000000000", "12345678"]);
    expect([null, undefined, "relu", true].map((v) => formatNumber(v))).toEqual(["-", "-", "relu", "true"]);
    expect([NaN, Infinity, -Infinity].map((v) => formatNumber(v))).toEqual(["NaN", "Infinity", "-Infinity"]);
  });

  it("rounds to the given significant digits without trailing zeros", () => {
    expect(formatNumber(0.7666666666)).toBe("0.76667");
    expect(formatNumber(0.7666666666, 6)).toBe("0.766667");
    expect(formatNumber(1.5)).toBe("1.5");
    expect(formatNumber(-123456.789)).toBe("-123460");
    expect(formatNumber(0.001)).toBe("0.001");
  });

  it("switches to exponent form below 1e-3 and from 1e6 in magnitude", () => {
    expect(formatNumber(0.000123456)).toBe("1.235e-4");
    expect(formatNumber(-0.000123456, 6)).toBe("-1.2346e-4");
    expect(formatNumber(2.5e7 + 0.5)).toBe("2.500e+7");
    expect(formatNumber(999999.5)).toBe("1000000"); // below 1e6 before rounding: fixed form
  });
});

describe("plural", () => {
  it("keeps the noun singular for exactly 1 only, with an irregular plural when given", () => {
    expect([0, 1, 2].map((n) => plural(n, "trial"))).toEqual(["0 trials", "1 trial", "2 trials"]);
    expect([1, 3].map((n) => plural(n, "study", "studies"))).toEqual(["1 study", "3 studies"]);
    expect(plural(1.25, "step")).toBe("1.25 steps");
  });
});
