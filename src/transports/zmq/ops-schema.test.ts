/**
 * protocol/schema/*.json are generated from the zod schemas in ops.ts. This test fails when
 * they drift; regenerate with `UPDATE_SCHEMAS=1 npx vitest run src/transports/zmq/ops-schema`.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { OP_SCHEMAS } from "./ops.js";

const DIR = join(import.meta.dirname, "..", "..", "..", "protocol", "schema");

function generated(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [op, schema] of Object.entries(OP_SCHEMAS)) {
    const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
    out[`${op}.request.json`] = `${JSON.stringify({ title: `${op} request arguments`, ...json }, null, 2)}\n`;
  }
  return out;
}

describe("protocol/schema", () => {
  it("matches the zod schemas of every op", () => {
    const files = generated();
    if (process.env.UPDATE_SCHEMAS) {
      mkdirSync(DIR, { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(DIR, name), text);
    }
    expect(existsSync(DIR)).toBe(true);
    expect(readdirSync(DIR).filter((f) => f.endsWith(".json")).sort()).toEqual(Object.keys(files).sort());
    for (const [name, text] of Object.entries(files)) expect(readFileSync(join(DIR, name), "utf8"), name).toBe(text);
  });
});
