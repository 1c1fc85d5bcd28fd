/**
 * Optuna's distribution JSON answered with the space entry it means, within a bound: a refusal
 * carries at most MAX_OPTUNA_HINT_CHARS of translation, as formatZodError names 5 issues at most.
 */
import { describe, expect, it } from "vitest";
import { MAX_OPTUNA_HINT_CHARS, optunaDistributionHint, optunaSpaceHint } from "./optuna-distribution-json.js";

const categorical = (n: number) => ({ name: "CategoricalDistribution", attributes: { choices: Array.from({ length: n }, (_, i) => `choice_${i}_`.padEnd(40, "q")) } });

describe("optunaSpaceHint", () => {
  it("writes every entry of a small space", () => {
    const hint = optunaSpaceHint({ x: { name: "FloatDistribution", attributes: { low: -10, high: 10, log: false, step: null } }, y: { type: "int", low: 0, high: 1 } });
    expect(hint).toBe(` (that is Optuna's distribution JSON; a space entry here is written {"x": {"type":"float","low":-10,"high":10}})`);
  });

  it("writes the entries that fit its bound and counts the rest, of a space of hundreds", () => {
    const space = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`p${i}`, categorical(100)]));
    expect(JSON.stringify(space).length).toBeGreaterThan(800_000);
    const hint = optunaSpaceHint({ small: { name: "IntDistribution", attributes: { low: 1, high: 9, step: 1, log: false } }, ...space });
    expect(hint.length).toBeLessThan(MAX_OPTUNA_HINT_CHARS + 300);
    expect(hint).toContain(`"small": {"type":"int","low":1,"high":9}`);
    expect(hint).toMatch(/\}, and \d+ entries more the same way\)$/);
  });

  it("writes the forms when not one entry fits", () => {
    const hint = optunaSpaceHint({ wide: categorical(1000) });
    expect(hint.length).toBeLessThan(400);
    expect(hint).toContain(`in 1 entry; a space entry here is written {"type": "float"`);
    const one = optunaDistributionHint(categorical(1000));
    expect(one.length).toBeLessThan(400);
    expect(one).toContain(`{"type": "categorical", "choices": […]}`);
  });
});
