/** Every example in examples/ must be run by some test (TypeScript or Python). */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const testFiles = (dir: string, re: RegExp): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((f) => re.test(f))
    .map((f) => readFileSync(join(ROOT, dir, f), "utf8"));

describe("examples", () => {
  const sources = [...testFiles("test", /\.test\.ts$/), ...testFiles("src", /\.test\.ts$/), ...testFiles("python-client/tests", /^test_.*\.py$/)];
  const examples = readdirSync(join(ROOT, "examples")).filter((f) => /\.(py|mjs|js|ts|sh)$/.test(f) && !f.startsWith("_")); // _name: shared code, not an example

  it("exist", () => {
    expect(examples.length).toBeGreaterThan(0);
  });

  it.each(examples)("%s is exercised by a test", (name) => {
    expect(sources.some((s) => s.includes(`examples/${name}`)), `no test mentions examples/${name}`).toBe(true);
  });
});
