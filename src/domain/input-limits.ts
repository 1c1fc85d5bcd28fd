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

/**
 * Maps and arrays a request of `bytes` bytes may hold (empty ones included): `CONTAINER_ALLOWANCE`
 * plus one per `BYTES_PER_CONTAINER` bytes. A container takes one byte on the wire (`[]`, `{}`)
 * but 40 to 60 bytes once decoded, so a 1 MiB frame of empty maps took 63 times its size in
 * memory (empty arrays 40 times) and 0.1 to 0.3 s of the event loop; a frame of small integers,
 * which no limit on containers touches, takes 8 times. The densest real requests hold a container
 * per 11 bytes or more (add_trial's `[step, value]` pairs, a float value each) and a space's
 * parameters one per about 40, so the bound leaves them a margin of 3; the costliest frame within
 * it measured 20 times its size (arrays of three small integers). Counted before decoding, by the
 * ZeroMQ frame scan (zmq/msgpack-scan.ts); docs/BENCHMARKS.md "Input hardening" has the figures.
 */
export const CONTAINER_ALLOWANCE = 256;
export const BYTES_PER_CONTAINER = 4;

/** The most maps and arrays a request of `bytes` bytes may hold (see `CONTAINER_ALLOWANCE`). */
export function maxContainers(bytes: number): number {
  return CONTAINER_ALLOWANCE + Math.floor(bytes / BYTES_PER_CONTAINER);
}

/**
 * Maps and arrays a JSON text of `chars` characters may hold (empty ones included; the JSON doors:
 * MCP over HTTP and stdio, the dashboard's ops): `CONTAINER_ALLOWANCE` plus one per
 * `JSON_CHARS_PER_CONTAINER` characters. JSON spends about twice the characters on a container and
 * its small elements that MessagePack spends bytes (`[0,0,0],` is 8 characters, 4 bytes), so about
 * the same data is refused at every door; `JSON.parse` took 21 times the text for `[{},{},…]` and 24
 * for `[[{}],…]` (a 4 MiB MCP body 85 to 100 MB), at most 10 within the bound (`[[0,0,0],…]`). Real
 * messages hold one per 33 characters or more (a batch, a space's parameter maps), add_trial's
 * `[step, value]` pairs one per 15. docs/BENCHMARKS.md "Input hardening" has the figures.
 */
export const JSON_CHARS_PER_CONTAINER = 8;

/** The most maps and arrays a JSON text of `chars` characters may hold (see `JSON_CHARS_PER_CONTAINER`). */
export function maxJsonContainers(chars: number): number {
  return CONTAINER_ALLOWANCE + Math.floor(chars / JSON_CHARS_PER_CONTAINER);
}

/**
 * The message of a request refused for holding more maps and arrays than its size allows: a
 * MessagePack frame of `size` bytes (`maxContainers`), or JSON text of `size` characters when
 * `json` (`maxJsonContainers`).
 */
export function tooManyContainersMessage(what: string, size: number, json = false): string {
  const [max, per, unit] = json ? [maxJsonContainers(size), JSON_CHARS_PER_CONTAINER, "characters"] : [maxContainers(size), BYTES_PER_CONTAINER, "bytes"];
  return `${what} holds more maps and arrays than its ${size} ${unit} allow (at most ${max}: ${CONTAINER_ALLOWANCE} plus one per ${per} ${unit}; each costs the server 40 to ${json ? 80 : 60} bytes once decoded); send the same data in fewer containers (a list of numbers rather than a list of one-element lists, say); this limit is not configurable`;
}

/** The `data` of a JSON text of `chars` characters refused for its containers (as ZeroMQ's, sized in characters). */
export function jsonContainersData(chars: number): { reason: "max_containers"; max_containers: number; message_chars: number } {
  return { reason: "max_containers", max_containers: maxJsonContainers(chars), message_chars: chars };
}

const LONE_SURROGATE = /\p{Cs}/u;

/** True when `s` holds a UTF-16 surrogate that is not part of a pair (not encodable as UTF-8). */
export function hasLoneSurrogate(s: string): boolean {
  return LONE_SURROGATE.test(s);
}

/** A container met by a walk, and how to name it: its path is built only for the one reported. */
interface Visit {
  readonly value: object;
  readonly parent: Visit | null;
  /** Its index in the parent array, or its key in the parent map (the root's name at the root). */
  readonly key: string | number;
}

const isContainer = (v: unknown): v is object => typeof v === "object" && v !== null && !(v instanceof Uint8Array);

/** `root[0].key…`, the path of `visit`, and of its child `child` when given. */
function pathOf(visit: Visit, child?: string | number): string {
  const parts: (string | number)[] = child === undefined ? [] : [child];
  for (let v: Visit | null = visit; v !== null; v = v.parent) parts.push(v.key);
  let path = String(parts.pop());
  for (let i = parts.length - 1; i >= 0; i--) path += typeof parts[i] === "number" ? `[${parts[i]}]` : `.${parts[i] as string}`;
  return path;
}

/**
 * Calls `visit` on each container in `value` (maps and arrays, byte arrays excepted), depth first;
 * stops at the first for which it returns a non-null answer, and returns that answer. Only containers
 * are kept on the stack, and paths are made only for the answer: a request of a million numbers
 * cost seconds of the event loop when each element was pushed with its path.
 */
function walk<T>(value: unknown, root: string, visit: (v: Visit, level: number) => T | null): T | null {
  if (!isContainer(value)) return null;
  const stack: [Visit, number][] = [[{ value, parent: null, key: root }, 1]];
  while (stack.length > 0) {
    const [v, level] = stack.pop() as [Visit, number];
    const answer = visit(v, level);
    if (answer !== null) return answer;
    if (Array.isArray(v.value)) {
      const a = v.value as unknown[];
      for (let i = 0; i < a.length; i++) if (isContainer(a[i])) stack.push([{ value: a[i] as object, parent: v, key: i }, level + 1]);
    } else for (const k in v.value) {
      const child = (v.value as Record<string, unknown>)[k];
      if (Object.prototype.hasOwnProperty.call(v.value, k) && isContainer(child)) stack.push([{ value: child, parent: v, key: k }, level + 1]);
    }
  }
  return null;
}

/**
 * True when `value` nests maps/arrays deeper than `max` levels (`value` itself, when a
 * container, is level 1). Iterative: safe on input of any depth. Byte arrays are leaves.
 */
export function nestingExceeds(value: unknown, max: number = MAX_NESTING): boolean {
  return walk(value, "", (_v, level) => (level > max ? true : null)) === true;
}

/** What `jsonTextShapeProblem` found wrong with a JSON text before parsing it. */
export type JsonTextProblem = "too-deep" | "too-many-containers";

/**
 * Reads JSON `text`'s characters, before any parser, for arrays/objects nested deeper than
 * `maxDepth` levels (the top-level value is level 1; `JSON.parse` of a megabyte of `[[[[…` blocks
 * the event loop for a second) or more than `maxContainers` of them in all (`maxJsonContainers`:
 * `JSON.parse` of `[{},{},…]` holds 21 times the text); null when neither. One pass, which stops at
 * the first problem, so a text both too deep and too full answers whichever comes first. Text that
 * is not JSON may answer anything; parse it after.
 */
export function jsonTextShapeProblem(text: string, maxDepth: number, maxContainers: number = maxJsonContainers(text.length)): JsonTextProblem | null {
  let depth = 0;
  let left = maxContainers;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return "too-deep";
      if (--left < 0) return "too-many-containers";
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return null;
}

/** True when JSON `text` nests arrays/objects deeper than `max` levels (`jsonTextShapeProblem`, containers not counted). */
export function jsonTextNestingExceeds(text: string, max: number): boolean {
  return jsonTextShapeProblem(text, max, Number.POSITIVE_INFINITY) === "too-deep";
}

/**
 * The first string in `value` (a key or a value, at any depth) that is not well-formed
 * Unicode, as a short description of where it is (a path from `root`); null when there is none. Iterative; call it
 * on input already known to nest at most `MAX_NESTING` levels.
 */
export function findIllFormedString(value: unknown, root = "$"): string | null {
  if (typeof value === "string") return hasLoneSurrogate(value) ? root : null;
  return walk(value, root, illFormedIn);
}

/** The path of the first string of `v` itself (its keys and values, not deeper) that is not well-formed, or null. */
function illFormedIn(v: Visit): string | null {
  if (Array.isArray(v.value)) {
    const a = v.value as unknown[];
    for (let i = 0; i < a.length; i++) if (typeof a[i] === "string" && hasLoneSurrogate(a[i] as string)) return pathOf(v, i);
    return null;
  }
  for (const k in v.value) {
    if (!Object.prototype.hasOwnProperty.call(v.value, k)) continue;
    if (hasLoneSurrogate(k)) return `a key in ${pathOf(v)}`;
    const child = (v.value as Record<string, unknown>)[k];
    if (typeof child === "string" && hasLoneSurrogate(child)) return pathOf(v, k);
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
  return walk(value, root, (v) => (hasForbiddenKey(v) ? pathOf(v) : null));
}

const hasForbiddenKey = (v: Visit): boolean => !Array.isArray(v.value) && Object.prototype.hasOwnProperty.call(v.value, FORBIDDEN_KEY);

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
  // One walk for the three limits (a request of a million values is walked once, not three times);
  // nesting is refused first, as when each had its own walk.
  let illFormed: string | null = typeof args === "string" && hasLoneSurrogate(args) ? "arguments" : null;
  let forbidden: string | null = null;
  const deep = walk(args, "arguments", (v, level) => {
    if (level > MAX_NESTING) return true;
    illFormed ??= illFormedIn(v);
    if (forbidden === null && hasForbiddenKey(v)) forbidden = pathOf(v);
    return null;
  });
  if (deep === true) throw invalidArgument(`${subject}: the arguments nest deeper than ${MAX_NESTING} levels`, { max_nesting: MAX_NESTING });
  if (illFormed !== null) throw invalidArgument(`${subject}: ${illFormed} is not well-formed Unicode (a lone surrogate); strings are refused, never repaired`);
  if (forbidden !== null) throw invalidArgument(`${subject}: ${forbiddenKeyMessage(forbidden)}`);
}

/**
 * `s` cut to at most `max` UTF-16 units, as a string of its own, and never between the two halves of
 * a surrogate pair (a character beyond U+FFFF is kept whole or dropped whole). V8's `slice` of a long
 * string is a view that keeps the whole original alive, so a 1 MB field clipped to 200 characters and
 * kept (a worker's identity, a fail reason) held its megabyte for as long as the clipped text lived.
 * A cut through a pair left a lone surrogate in the stored text: a `hello` naming its client with an
 * emoji at the 200th unit made the study's export one that `tuneport import` refuses (and
 * `export --format optuna` too), and replies carried U+FFFD in its place.
 */
export function clipText(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  const end = last >= 0xd800 && last <= 0xdbff ? max - 1 : max;
  return Buffer.from(s.slice(0, end), "utf16le").toString("utf16le");
}

/** Marks an array on `jsonTextDuplicateKey`'s stack (an object's entry is its keys so far, or null before its first). */
const IN_ARRAY = 0;

/**
 * The first key that one object of JSON `text` holds twice (decoded: `"a"` and `"\u0061"` are one
 * key), found by reading the text; null when there is none. `JSON.parse` keeps the last of two
 * equal keys without a word, where another parser may keep the first, so `{"study": "a", "study":
 * "b"}` meant `b` here and perhaps `a` to a proxy or log that read it before; the ZeroMQ door
 * refuses a duplicate key (msgpack-scan.ts), and the JSON doors refuse it the same way. Call it on
 * text `JSON.parse` accepted (other text may answer either way). Strings are skipped with
 * `indexOf`: a 4 MiB body costs a few milliseconds (docs/SECURITY.md has the figures).
 */
export function jsonTextDuplicateKey(text: string): string | null {
  const stack: (Set<string> | null | typeof IN_ARRAY)[] = [];
  let keyNext = false; // inside an object, after `{` or `,`: the next string is a key
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const open = i;
      for (;;) {
        i = text.indexOf('"', i + 1);
        if (i < 0) return null;
        let slashes = 0;
        while (text.charCodeAt(i - 1 - slashes) === 0x5c) slashes++;
        if (slashes % 2 === 0) break;
      }
      if (!keyNext) continue;
      keyNext = false;
      const raw = text.slice(open + 1, i);
      const key = raw.includes("\\") ? (JSON.parse(text.slice(open, i + 1)) as string) : raw;
      const top = stack.length - 1;
      const keys = stack[top];
      if (keys === null) {
        stack[top] = new Set([key]);
      } else if (keys !== IN_ARRAY && keys !== undefined) {
        if (keys.has(key)) return key;
        keys.add(key);
      }
    } else if (c === 0x7b) {
      stack.push(null);
      keyNext = true;
    } else if (c === 0x5b) {
      stack.push(IN_ARRAY);
      keyNext = false;
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
      keyNext = false;
    } else if (c === 0x2c) keyNext = stack.length > 0 && stack[stack.length - 1] !== IN_ARRAY;
  }
  return null;
}

/** The refusal's words for `key`, found twice in one object of `where` (a key shown cut to 64 characters, as the ZeroMQ door shows it). */
export function duplicateKeyMessage(where: string, key: string): { message: string; shown: string } {
  const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
  return { message: `${where} holds an object with the key ${JSON.stringify(shown)} twice: the keys of an object must be unique (neither value is picked)`, shown };
}
