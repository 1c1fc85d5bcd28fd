/**
 * `tools/list` from the tool table: each tool's input schema (with `max_chars` where its output
 * grows with the data) and output schema as JSON Schema, without the noise that only costs a
 * model's context — `$schema` lines, JavaScript's ±9007199254740991 integer bounds, the
 * `propertyNames: {type: string}` every JSON object has anyway, empty `additionalProperties` —
 * so that the whole list stays under 12,000 characters (issue 14 §1).
 */
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { maxCharsArg } from "./budget.js";
import type { McpTool } from "./tools/tool.js";

/** The input schema a tool is called with: its own, plus `max_chars` for sized tools. */
export function callInput(t: McpTool): z.ZodObject {
  return t.meta.sized ? t.input.extend({ max_chars: maxCharsArg }) : t.input;
}

const SAFE = Number.MAX_SAFE_INTEGER;

/**
 * `v` without the JSON-Schema noise described above, and without defaults (descriptions name the
 * ones that matter), string length, array size and 0 or 1 lower bounds (the server checks them and answers a violation with an isError result that says what to
 * fix). Below `depth` levels of properties, objects and arrays keep only their type (outputs: the
 * names and types of the top-level fields are the contract; the structured content shows the rest).
 */
export function stripSchema(v: unknown, depth = Infinity): unknown {
  if (Array.isArray(v)) return v.map((x) => stripSchema(x, depth));
  if (!v || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  if (depth <= 0 && (o.type === "object" || o.type === "array")) return { type: o.type };
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    if (k === "$schema" || k === "default" || k === "minLength" || k === "maxLength" || k === "minItems" || k === "maxItems") continue;
    if ((k === "minimum" || k === "maximum") && typeof x === "number" && Math.abs(x) === SAFE) continue;
    if (k === "minimum" && (x === 0 || x === 1)) continue; // counts and trial numbers: obvious, and checked
    if (k === "propertyNames" && JSON.stringify(x) === '{"type":"string"}') continue;
    if (k === "additionalProperties" && JSON.stringify(x) === "{}") continue;
    if (k === "properties" && x && typeof x === "object")
      out[k] = Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([p, y]) => [p, stripSchema(y, depth - 1)]));
    else out[k] = stripSchema(x, depth);
  }
  return out;
}

/** One tool as `tools/list` shows it (no title: the name and description say it). */
export function toolDefinition(t: McpTool): Tool {
  const def: Tool = {
    name: t.name,
    description: t.meta.description,
    inputSchema: stripSchema(z.toJSONSchema(callInput(t), { target: "draft-7", io: "input" })) as Tool["inputSchema"],
    // Only the hints that differ from the spec's defaults for these tools: read-only ones, and a
    // destructive one (mutating tools are left at the default, "may be destructive").
    ...(t.meta.readOnly ? { annotations: { readOnlyHint: true } } : t.meta.destructive ? { annotations: { destructiveHint: true } } : {}),
  };
  if (t.output) {
    // The fields' names and types are the contract; which are always there is in the description.
    const { required: _r, ...out } = stripSchema(z.toJSONSchema(t.output, { target: "draft-7", io: "output" }), 1) as Record<string, unknown>;
    def.outputSchema = out as Tool["outputSchema"];
  }
  return def;
}
