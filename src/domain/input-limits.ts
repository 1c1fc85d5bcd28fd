/**
 * Limits on the shape of untrusted input that hold on every transport (ZeroMQ, MCP over stdio
 * and HTTP, import files), so that a request refused by one door is refused by all of them.
 *
 * - Nesting: maps/objects and arrays nest at most `MAX_NESTING` levels, counting the request's
 *   own map (a ZeroMQ request map, an MCP tool's `arguments` object) as level 1. Deeper input
 *   is refused with INVALID_ARGUMENT before anything recursive (JSON serialisation for
 *   storage, schema validation) touches it. 32 leaves room for any sensible `user_attrs` and
 *   keeps every recursive walk far from the stack limit.
 * - Text: every string (keys included) must be well-formed Unicode. Bytes that are not UTF-8
 *   are refused at the transports (see `zmq/msgpack-scan.ts`, `mcp/strict-json.ts`); a
 *   JSON `\uD800` escape yields a lone surrogate, which SQLite would store as U+FFFD, so it is
 *   refused here. Refused, never rewritten: two different inputs must not become one value.
 */
import { invalidArgument } from "./errors.js";

/** Deepest nesting of maps and arrays accepted in a request (the request's own map is level 1). */
export const MAX_NESTING = 32;

const LONE_SURROGATE = /\p{Cs}/u;

/** True when `s` holds a UTF-16 surrogate that is not part of a pair (not encodable as UTF-8). */
export function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

/**
 * True when `value` nests maps/arrays deeper than `max` levels (`value` itself, when a
 * container, is level 1). Iterative: safe on input of any depth. Byte arrays are leaves.
 */
export function nestingExceeds(value: unknown, max: number = MAX_NESTING): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, level] = stack.pop() as [unknown, number];
    if (typeof v !== "object" || v === null || v instanceof Uint8Array) continue;
    if (level > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, level + 1]);
  }
  return false;
}

/**
 * The first string in `value` (a key or a value, at any depth) that is not well-formed
 * Unicode, as a short description of where it is (a path from `root`); null when there is none. Iterative; call it
 * on input already known to nest at most `MAX_NESTING` levels.
 */
export function findIllFormedString(value: unknown, root = "$"): string | null {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string];
    if (typeof v === "string") {
      if (hasLoneSurrogate(v)) return path;
      continue;
    }
    if (typeof v !== "object" || v === null || v instanceof Uint8Array) continue;
    if (Array.isArray(v)) {
      v.forEach((child, i) => stack.push([child, `${path}[${i}]`]));
      continue;
    }
    for (const [k, child] of Object.entries(v)) {
      if (hasLoneSurrogate(k)) return `a key in ${path}`;
      stack.push([child, `${path}.${k}`]);
    }
  }
  return null;
}

/**
 * The map key no door accepts. A JavaScript object cannot hold `__proto__` as an ordinary key, so
 * the decoders rewrite it: msgpackr decodes it as `__proto_` (two different keys become one) and
 * schema validation drops it. It is refused instead, like any input that cannot be kept as sent.
 */
export const FORBIDDEN_KEY = "__proto__";

/**
 * Where the first key `__proto__` is in `value` (JSON.parse keeps it as an own property), as a
 * path from `root`; null when there is none. Iterative; call it on input already known to nest
 * at most `MAX_NESTING` levels.
 */
export function findForbiddenKey(value: unknown, root = "$"): string | null {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [v, path] = stack.pop() as [unknown, string];
    if (typeof v !== "object" || v === null || v instanceof Uint8Array) continue;
    if (Array.isArray(v)) {
      v.forEach((child, i) => stack.push([child, `${path}[${i}]`]));
      continue;
    }
    if (Object.prototype.hasOwnProperty.call(v, FORBIDDEN_KEY)) return path;
    for (const [k, child] of Object.entries(v)) stack.push([child, `${path}.${k}`]);
  }
  return null;
}

/** The refusal of a key `__proto__` found at `path`. */
export function forbiddenKeyMessage(path: string): string {
  return `${path} has a key '${FORBIDDEN_KEY}', which no decoder keeps as sent (it would be renamed or dropped); rename it`;
}

/**
 * Refuses the arguments of `subject` (an op or tool, named in the message) that break the limits
 * above: nesting beyond MAX_NESTING, a lone surrogate, a key `__proto__`. The doors that decode
 * JSON themselves (MCP tool calls, the dashboard) call it before any schema walks the arguments.
 * @throws TuneportError INVALID_ARGUMENT (`data.max_nesting` for nesting).
 */
export function checkArgumentLimits(subject: string, args: unknown): void {
  if (nestingExceeds(args, MAX_NESTING)) throw invalidArgument(`${subject}: the arguments nest deeper than ${MAX_NESTING} levels`, { max_nesting: MAX_NESTING });
  const illFormed = findIllFormedString(args, "arguments");
  if (illFormed !== null) throw invalidArgument(`${subject}: ${illFormed} is not well-formed Unicode (a lone surrogate); strings are refused, never repaired`);
  const forbidden = findForbiddenKey(args, "arguments");
  if (forbidden !== null) throw invalidArgument(`${subject}: ${forbiddenKeyMessage(forbidden)}`);
}

/**
 * `s` cut to `max` UTF-16 units, as a string of its own. V8's `slice` of a long string is a view
 * that keeps the whole original alive, so a 1 MB field clipped to 200 characters and kept (a
 * worker's identity, a fail reason) held its megabyte for as long as the clipped text lived.
 */
export function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  return Buffer.from(s.slice(0, max), "utf16le").toString("utf16le");
}
