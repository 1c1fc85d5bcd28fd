/**
 * What is derived from the op table must match it: protocol/schema/<op>.request.json and
 * <op>.reply.json, protocol/ops.json (read by the Python client's coverage test) and the op list in
 * protocol/PROTOCOL.md. Regenerate all of them with
 * `UPDATE_SCHEMAS=1 npx vitest run src/service/ops/ops-schema`.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { OPS, OP_NAMES } from "./ops.js";

const PROTOCOL = join(import.meta.dirname, "..", "..", "..", "protocol");
const DIR = join(PROTOCOL, "schema");
const UPDATE = !!process.env.UPDATE_SCHEMAS;

/**
 * JSON Schema of a zod schema, as the wire sees it. NaN and ±Infinity are numbers to msgpack (float64),
 * so a union of a number with them is `{"type": "number"}`: JSON Schema cannot express them, and the
 * `{}` zod writes for each (`anyOf: [number, {}, {}]`, i.e. anything) made a type generator of
 * another language type `value` as "any value".
 */
function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  return z.toJSONSchema(schema, {
    io,
    unrepresentable: "any",
    target: "draft-2020-12",
    override: ({ zodSchema, jsonSchema: out }) => {
      const def = zodSchema._zod.def;
      if (def.type !== "union") return;
      const kinds = (def as { options: readonly { _zod: { def: { type: string } } }[] }).options.map((o) => o._zod.def.type);
      if (!kinds.includes("nan") || !kinds.every((k) => k === "number" || k === "nan" || k === "custom")) return;
      const { description } = out;
      for (const key of Object.keys(out)) delete (out as Record<string, unknown>)[key];
      Object.assign(out, { type: "number", ...(description === undefined ? {} : { description }) });
    },
  }) as Record<string, unknown>;
}

function schemaFiles(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const op of OP_NAMES) {
    const spec = OPS[op];
    const req = { title: `${op} request arguments`, description: spec.summary, ...jsonSchema(spec.args, "input") };
    const rep = { title: `${op} reply result`, ...jsonSchema(spec.result, "output") };
    out[`${op}.request.json`] = `${JSON.stringify(req, null, 2)}\n`;
    out[`${op}.reply.json`] = `${JSON.stringify(rep, null, 2)}\n`;
  }
  return out;
}

/** The op table without code: what other languages' tests read. */
export function opsManifest(): string {
  const ops = OP_NAMES.map((op) => {
    const s = OPS[op];
    return { op, summary: s.summary, mutating: s.mutating, mcp: s.mcp, python: s.python };
  });
  return `${JSON.stringify({ version: 1, ops }, null, 2)}\n`;
}

const BEGIN = "<!-- ops:begin (generated from src/service/ops/ops.ts; do not edit) -->";
const END = "<!-- ops:end -->";

function opList(): string {
  const rows = OP_NAMES.map((op) => {
    const s = OPS[op];
    const mcp = "via" in s.mcp ? s.mcp.via.map((t) => `\`${t}\``).join(", ") : `— (${s.mcp.hidden})`;
    return `| \`${op}\` | ${s.mutating ? "yes" : "no"} | ${mcp} | ${s.summary} | [request](schema/${op}.request.json), [reply](schema/${op}.reply.json) |`;
  });
  return [
    BEGIN,
    "| op | mutating (idempotent by `id`) | MCP tools | what it does | schemas |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    END,
  ].join("\n");
}

function withOpList(doc: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < 0) throw new Error(`PROTOCOL.md lacks the ${BEGIN} ... ${END} markers`);
  return doc.slice(0, a) + opList() + doc.slice(b + END.length);
}

describe("artefacts derived from the op table", () => {
  it("protocol/schema has a request and a reply schema for every op, matching the zod schemas", () => {
    const files = schemaFiles();
    if (UPDATE) {
      mkdirSync(DIR, { recursive: true });
      for (const f of readdirSync(DIR)) if (f.endsWith(".json") && !(f in files)) throw new Error(`stale schema file ${f}: delete it`);
      for (const [name, text] of Object.entries(files)) writeFileSync(join(DIR, name), text);
    }
    expect(existsSync(DIR)).toBe(true);
    expect(readdirSync(DIR).filter((f) => f.endsWith(".json")).sort()).toEqual(Object.keys(files).sort());
    for (const [name, text] of Object.entries(files)) expect(readFileSync(join(DIR, name), "utf8"), name).toBe(text);
  });

  it("types every double as a number: no schema lets anything stand beside a number (NaN and ±Infinity wrote {})", () => {
    const loose = (node: unknown, at: string): string[] => {
      if (Array.isArray(node)) return node.flatMap((n, i) => loose(n, `${at}/${i}`));
      if (node === null || typeof node !== "object") return [];
      const o = node as Record<string, unknown>;
      const any = Array.isArray(o.anyOf) ? (o.anyOf as Record<string, unknown>[]) : [];
      const own = any.some((a) => a.type === "number") && any.some((a) => Object.keys(a).length === 0) ? [at] : [];
      return [...own, ...Object.entries(o).flatMap(([k, v]) => loose(v, `${at}/${k}`))];
    };
    const files = schemaFiles();
    expect(Object.entries(files).flatMap(([name, text]) => loose(JSON.parse(text), name))).toEqual([]);
  });

  it("protocol/ops.json lists the table", () => {
    const path = join(PROTOCOL, "ops.json");
    if (UPDATE) writeFileSync(path, opsManifest());
    expect(readFileSync(path, "utf8")).toBe(opsManifest());
  });

  it("PROTOCOL.md's op list is the table", () => {
    const path = join(PROTOCOL, "PROTOCOL.md");
    const doc = readFileSync(path, "utf8");
    if (UPDATE) writeFileSync(path, withOpList(doc));
    const now = readFileSync(path, "utf8");
    expect(now).toBe(withOpList(now));
    // Every op also has its own section of prose.
    for (const op of OP_NAMES) expect(now, op).toMatch(new RegExp(`^### .*\`${op}\``, "m"));
  });

  it("every op names its exposure on MCP and in Python, with a reason when hidden", () => {
    for (const op of OP_NAMES) {
      const s = OPS[op];
      for (const e of [s.mcp, s.python]) {
        if ("hidden" in e) expect(e.hidden.length, op).toBeGreaterThan(20);
        else expect(e.via.length, op).toBeGreaterThan(0);
      }
      expect(typeof s.run === "function" || op === "hello", op).toBe(true);
    }
  });
});
