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
 * ones that matter), string length, array size, 0 or 1 lower bounds and integer upper bounds (the
 * server checks them and answers a violation with an isError result that says what to fix).
 * Parameter-value and space-entry maps lose their value schema (the service checks every entry).
 * Below `depth` levels of properties a schema is `{}` (outputs: the names of the top-level fields
 * are the contract, as issue 14 §1 traded types for a tools/list under 12,000 characters with 28
 * tools; the structured content shows the rest).
 */
export function stripSchema(v: unknown, depth = Infinity): unknown {
  if (Array.isArray(v)) return v.map((x) => stripSchema(x, depth));
  if (!v || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  // Below `depth` (outputs: their fields), anything goes: the names are the contract.
  if (depth <= 0) return {};
  const nullable = nullableType(o);
  if (nullable) return { ...stripSchema(nullable, depth) as Record<string, unknown>, type: [nullable.type, "null"] };
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    if (k === "$schema" || k === "default" || k === "minLength" || k === "maxLength" || k === "minItems" || k === "maxItems") continue;
    if (k === "properties" && JSON.stringify(x) === "{}") continue;
    if ((k === "minimum" || k === "maximum") && typeof x === "number" && Math.abs(x) === SAFE) continue;
    if (k === "minimum" && (x === 0 || x === 1)) continue; // counts and trial numbers: obvious, and checked
    // Upper bounds (page sizes, timeouts, seeds) are checked, and a refused call names them.
    if (k === "maximum" && o.type === "integer") continue;
    // Parameter values (any JSON scalar) and space entries (objects): the service checks each, and
    // the descriptions say the shapes.
    if (k === "additionalProperties" && ['{"type":["string","number","boolean","null"]}', '{"type":"object"}'].includes(JSON.stringify(stripSchema(x)))) continue;
    if (k === "propertyNames" && JSON.stringify(x) === '{"type":"string"}') continue;
    if (k === "additionalProperties" && JSON.stringify(x) === "{}") continue;
    if (k === "properties" && x && typeof x === "object")
      out[k] = Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([p, y]) => [p, stripSchema(y, depth - 1)]));
    else out[k] = stripSchema(x, depth);
  }
  return out;
}

/** `X` of `{anyOf: [X, {type: null}]}` when X is a plain scalar type, so it reads `type: [X, "null"]`. */
function nullableType(o: Record<string, unknown>): Record<string, unknown> | null {
  const any = o.anyOf;
  if (!Array.isArray(any) || any.length !== 2 || Object.keys(o).length !== 1) return null;
  const [x, n] = any as Record<string, unknown>[];
  if (JSON.stringify(n) !== '{"type":"null"}' || typeof x?.type !== "string" || x.type === "object" || x.type === "array") return null;
  return x;
}

/** One tool as `tools/list` shows it (no title: the name and description say it). */
export function toolDefinition(t: McpTool): Tool {
  const input = stripSchema(z.toJSONSchema(callInput(t), { target: "draft-7", io: "input" })) as Tool["inputSchema"];
  // max_chars has the same bounds on every sized tool (2,000 to 60,000); a refused call names them.
  if (input.properties?.max_chars) input.properties.max_chars = { type: "integer" };
  // `trial` takes a trial's number or the trial object a tool answered (mcp-server.ts
  // withTrialNumber takes its number): advertised as "integer" alone, a client that checks
  // arguments against the schema refused the object, and a model read that it must not send it.
  // Both types, not an anyOf with the object's shape: 11 characters a tool, within the 12,000.
  const trial = input.properties?.trial as { type?: unknown } | undefined;
  if (trial?.type === "integer") trial.type = ["integer", "object"];
  const def: Tool = {
    name: t.name,
    description: t.meta.description,
    inputSchema: input,
    // Only the hints that differ from the spec's defaults for these tools: read-only ones, and a
    // destructive one (mutating tools are left at the default, "may be destructive").
    ...(t.meta.readOnly ? { annotations: { readOnlyHint: true } } : t.meta.destructive ? { annotations: { destructiveHint: true } } : {}),
  };
  if (t.output) {
    // The fields' names are the contract; which are always there is in the description.
    const { required: _r, ...out } = stripSchema(z.toJSONSchema(t.output, { target: "draft-7", io: "output" }), 1) as Record<string, unknown>;
    def.outputSchema = out as Tool["outputSchema"];
  }
  return def;
}
