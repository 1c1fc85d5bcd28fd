/**
 * JSON-RPC input that is refused rather than repaired. RFC 8259 §8.1 requires JSON exchanged
 * between systems to be UTF-8; decoding other bytes would turn them into U+FFFD and let two
 * different inputs become one value. The HTTP transport checks each body, and `Utf8LineGuard`
 * checks each line of the stdio transport, before the SDK decodes anything; what fails gets a
 * JSON-RPC parse error (-32700) with `data.code` INVALID_ARGUMENT. A message with a key
 * `__proto__`, which the SDK's schemas would drop, gets an invalid-request error (-32600) the
 * same way.
 */
import { isUtf8 } from "node:buffer";
import { Transform, type TransformCallback, type Writable } from "node:stream";
import {
  MAX_NESTING,
  duplicateKeyMessage,
  findForbiddenKey,
  forbiddenKeyMessage,
  jsonContainersData,
  jsonTextDuplicateKey,
  jsonTextShapeProblem,
  tooManyContainersMessage,
} from "../../domain/input-limits.js";
import { requestProblem } from "./request-shape.js";

/** Largest stdio message accepted (the HTTP transport's body limit). */
export const MAX_LINE_BYTES = 4 * 1024 * 1024;

/**
 * Deepest nesting of a whole message, read from its text before it is parsed: a tool's arguments
 * (32 levels, refused by the tool with its own message beyond) sit at level 3 of a message, one
 * more in a batch; the rest is room. `JSON.parse` of 4 MiB of `[[[[…` held the event loop ~2 s.
 */
export const MAX_MESSAGE_NESTING = MAX_NESTING + 8;

/**
 * The refusal of message text nesting deeper than `MAX_MESSAGE_NESTING`, or holding more maps and
 * arrays than its length allows (`maxJsonContainers`, with `data.reason` max_containers: 4 MiB of
 * `[{},{},…]` took 85 MB once parsed), or null: found by one pass over the text before it is parsed
 * (`jsonTextShapeProblem`). Invalid params (-32602) for a tool call, an invalid request (-32600)
 * otherwise, with the message's id read from its text (`messageHeader`), so that the client's request
 * ends at once. With id null, as before 2026-12-06, no client could match it to its request: the
 * SDK's waited for its 60 s timeout.
 */
export function textShapeReply(text: string): JsonRpcErrorReply | null {
  const problem = jsonTextShapeProblem(text, MAX_MESSAGE_NESTING);
  if (problem === null) return null;
  const { id, method } = messageHeader(text);
  const code = method === "tools/call" ? -32602 : -32600;
  if (problem === "too-deep") return refusal(id, code, `the message nests deeper than ${MAX_MESSAGE_NESTING} levels (a tool's arguments take at most ${MAX_NESTING})`);
  return refusal(id, code, tooManyContainersMessage("the message", text.length, true), jsonContainersData(text.length));
}

/**
 * The top-level `id` (a string or a safe integer) and `method` of a JSON-RPC message, read from its
 * text without parsing it (a message refused for its nesting may hold a million levels; one over
 * `MAX_LINE_BYTES` is only known by its first bytes), null for each that is not there. Only keys
 * of the outermost object count. Text that is not one JSON object may give anything: the answer
 * only addresses a refusal.
 */
export function messageHeader(text: string): { id: string | number | null; method: string | null } {
  let id: string | number | null = null;
  let method: string | null = null;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x22) {
      const end = stringEnd(text, i);
      if (end < 0) break;
      const colon = skipSpace(text, end + 1);
      if (depth === 1 && text.charCodeAt(colon) === 0x3a) {
        const key = text.slice(i + 1, end);
        if (key === "id" || key === "method") {
          const v = scalarAt(text, skipSpace(text, colon + 1));
          if (key === "id" && isRequestId(v.value)) id = v.value;
          if (key === "method" && typeof v.value === "string") method = v.value;
          if (v.end > end) {
            i = v.end - 1;
            continue;
          }
        }
      }
      i = end;
    }
  }
  return { id, method };
}

/** A JSON-RPC request id as MCP uses them: a string (whole, not decoded with replacements) or a safe integer. */
const isRequestId = (v: unknown): v is string | number => (typeof v === "string" && !v.includes("\uFFFD")) || (typeof v === "number" && Number.isSafeInteger(v));

/** The index of the quote that closes the string opening at `open`, or -1. */
function stringEnd(text: string, open: number): number {
  for (let i = open + 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++;
    else if (c === 0x22) return i;
  }
  return -1;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && " \t\r\n".includes(text.charAt(i))) i++;
  return i;
}

/** The string or number at `i` (parsed alone) and the index after it; value undefined for anything else. */
function scalarAt(text: string, i: number): { value: unknown; end: number } {
  let end = -1;
  if (text.charCodeAt(i) === 0x22) end = stringEnd(text, i) + 1;
  else {
    const m = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = i;
    if (m.exec(text) !== null) end = m.lastIndex;
    // A number must be seen to end: the head of a dropped message may cut "id":123456 to "id":12.
    if (end >= 0 && !",}] \t\r\n".includes(text.charAt(end) || "x")) return { value: undefined, end: i };
  }
  if (end <= i) return { value: undefined, end: i };
  try {
    return { value: JSON.parse(text.slice(i, end)) as unknown, end };
  } catch {
    return { value: undefined, end };
  }
}

/**
 * The id of a message known only by its first and last bytes (one over `MAX_LINE_BYTES`, dropped as
 * it streamed in): a top-level `id` among its first keys, or its last key (where the SDK's clients
 * write it: `{"method":…,"params":…,"jsonrpc":"2.0","id":7}`). Null when neither shows one.
 */
export function edgeId(head: Buffer, tail: Buffer): string | number | null {
  const first = messageHeader(head.toString("utf8")).id;
  if (first !== null) return first;
  const m = /"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*\}\s*$/.exec(tail.toString("utf8"));
  if (m === null) return null;
  try {
    const v = JSON.parse(m[1] as string) as unknown;
    return isRequestId(v) ? v : null;
  } catch {
    return null;
  }
}

/** Only text that spells `proto`, or escapes a character, can hold the key `__proto__`: the walk is skipped otherwise. */
export const mayHoldForbiddenKey = (text: string): boolean => text.includes("proto") || text.includes("\\u");

/** A JSON-RPC error reply. */
export interface JsonRpcErrorReply {
  jsonrpc: "2.0";
  id: string | number | null;
  /** `data.code` the wire code; a refusal may say more (`data.reason`, …). */
  error: { code: number; message: string; data: { code: string } & Record<string, unknown> };
}

/**
 * The reply to a message whose bytes are not UTF-8. It echoes the request id when the id
 * itself survived decoding intact (a number, or a string without U+FFFD), else null.
 */
export function invalidUtf8Reply(bytes: Uint8Array): JsonRpcErrorReply {
  let id: string | number | null = null;
  try {
    const lossy = JSON.parse(Buffer.from(bytes).toString("utf8")) as { id?: unknown } | null;
    const raw = lossy && typeof lossy === "object" ? lossy.id : undefined;
    if (typeof raw === "number" || (typeof raw === "string" && !raw.includes("\uFFFD"))) id = raw;
  } catch {
    id = null;
  }
  return {
    jsonrpc: "2.0",
    id,
    error: {
      code: -32700,
      message: "INVALID_ARGUMENT: the message is not valid UTF-8 (strings are refused, never repaired)",
      data: { code: "INVALID_ARGUMENT" },
    },
  };
}

/**
 * The reply to a message with a key `__proto__` at `path` (domain/input-limits.ts): the SDK's
 * schemas would drop it before any tool saw it. Echoes a string or number id.
 */
export function forbiddenKeyReply(message: unknown, path: string): JsonRpcErrorReply {
  const raw = typeof message === "object" && message !== null && !Array.isArray(message) ? (message as { id?: unknown }).id : undefined;
  return {
    jsonrpc: "2.0",
    id: typeof raw === "number" || typeof raw === "string" ? raw : null,
    error: { code: -32600, message: `INVALID_ARGUMENT: ${forbiddenKeyMessage(path)}`, data: { code: "INVALID_ARGUMENT" } },
  };
}

/**
 * The refusal (-32600, with a string or number id) of message text `text`, already parsed as
 * `message`, that holds one key twice in an object, or null (`jsonTextDuplicateKey`): the SDK's
 * `JSON.parse` kept the last of the two without a word.
 */
export function duplicateKeyReply(text: string, message: unknown): JsonRpcErrorReply | null {
  const key = jsonTextDuplicateKey(text);
  if (key === null) return null;
  const raw = typeof message === "object" && message !== null && !Array.isArray(message) ? (message as { id?: unknown }).id : undefined;
  return refusal(typeof raw === "number" || typeof raw === "string" ? raw : null, -32600, duplicateKeyMessage("the message", key).message);
}

/** A JSON-RPC error reply refusing a message with INVALID_ARGUMENT (`code`: -32700, -32600 or -32602), `data` beside `data.code`. */
function refusal(id: string | number | null, code: number, message: string, data: Record<string, unknown> = {}): JsonRpcErrorReply {
  return { jsonrpc: "2.0", id, error: { code, message: `INVALID_ARGUMENT: ${message}`, data: { ...data, code: "INVALID_ARGUMENT" } } };
}

const invalidRequest = (message: string): JsonRpcErrorReply => refusal(null, -32600, message);

/**
 * The refusal of a stdio line that is not one JSON-RPC 2.0 message as MCP uses them, or null:
 * not JSON (-32700), or not a request, notification or response (-32600; a batch too, which MCP
 * 2025-06-18 dropped), a key `__proto__` (-32600, which the SDK's schemas would drop), a key twice
 * in one object (-32600, `duplicateKeyReply`), or a tool
 * call's arguments that are no object (-32602), or a request of another shape the SDK would drop or
 * answer as its own failure (`requestProblem`, request-shape.ts). The SDK's stdio transport drops the first kinds
 * without a word, so a client waiting for the answer would wait for ever; JSON-RPC 2.0 §5 says to
 * answer them with id null. The line is parsed once here, and again by the SDK.
 */
export function stdioLineProblem(text: string): JsonRpcErrorReply | null {
  const shape = textShapeReply(text);
  if (shape !== null) return shape;
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return refusal(null, -32700, "the message is not JSON");
  }
  const forbidden = mayHoldForbiddenKey(text) ? findForbiddenKey(m, "message") : null;
  if (forbidden !== null) return forbiddenKeyReply(m, forbidden);
  const duplicate = duplicateKeyReply(text, m);
  if (duplicate !== null) return duplicate;
  if (Array.isArray(m)) return invalidRequest("batches are not supported: send one JSON-RPC message per line");
  return messageProblem(m);
}

/**
 * The refusal of an HTTP body that is not one JSON-RPC message or a batch of them (checked as a
 * stdio line is, each message of a batch in turn; an empty batch is refused, JSON-RPC 2.0 §6), or
 * null. The SDK answered valid JSON of another shape (`{}`, `null`, `[1]`) with -32700 "Parse
 * error: Invalid JSON-RPC message", which says the JSON did not parse and not what is wrong, and
 * an empty batch with 202 Accepted.
 */
export function bodyProblem(body: unknown): JsonRpcErrorReply | null {
  if (!Array.isArray(body)) return messageProblem(body);
  if (body.length === 0) return invalidRequest("an empty batch: send one JSON-RPC message, or an array of at least one");
  for (const m of body) {
    const problem = Array.isArray(m) ? invalidRequest("a batch holds JSON-RPC messages, not arrays") : messageProblem(m);
    if (problem !== null) return problem;
  }
  return null;
}

/** The refusal of a parsed JSON value that is not one JSON-RPC message as MCP uses them (`stdioLineProblem`), or null. */
function messageProblem(m: unknown): JsonRpcErrorReply | null {
  if (typeof m !== "object" || m === null) return invalidRequest("a JSON-RPC message is an object");
  const msg = m as Record<string, unknown>;
  if (msg.jsonrpc !== "2.0") return invalidRequest('"jsonrpc" must be "2.0"');
  const id = msg.id;
  const idOk = typeof id === "string" || (typeof id === "number" && Number.isSafeInteger(id));
  if ("method" in msg) {
    if (typeof msg.method !== "string") return invalidRequest('"method" must be a string');
    if ("id" in msg && !idOk) return invalidRequest('a request id is a string or an integer');
    return toolArgumentsProblem(msg) ?? requestProblem(msg);
  }
  // A response to a request of the server's (sampling, elicitation, roots).
  if (!idOk) return invalidRequest('a message without "method" is a response, with the string or integer id of the request it answers');
  if (!("result" in msg) && !("error" in msg)) return invalidRequest('a response holds "result" or "error"');
  return null;
}

/**
 * The refusal of a `tools/call` whose `params` is not an object or whose `arguments` is there but
 * not an object (-32602, invalid params, with the request's id), or null. The SDK answered such a
 * call with -32603 (internal error) and a dump of its schema's complaint.
 */
export function toolArgumentsProblem(message: unknown): JsonRpcErrorReply | null {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return null;
  const m = message as { id?: unknown; method?: unknown; params?: unknown };
  if (m.method !== "tools/call") return null;
  const isObject = (v: unknown) => typeof v === "object" && v !== null && !Array.isArray(v);
  const args = isObject(m.params) ? (m.params as { arguments?: unknown }).arguments : undefined;
  const problem = !isObject(m.params) ? '"params" must be an object {name, arguments}' : args !== undefined && !isObject(args) ? '"arguments" must be an object of the tool\'s arguments' : null;
  if (problem === null) return null;
  return refusal(typeof m.id === "string" || typeof m.id === "number" ? m.id : null, -32602, problem);
}

/** The reply to a stdio message over `MAX_LINE_BYTES`, with its id when its edges show it (`edgeId`). */
export function tooLargeReply(id: string | number | null = null): JsonRpcErrorReply {
  return {
    jsonrpc: "2.0",
    id,
    error: { code: -32700, message: `MESSAGE_TOO_LARGE: a message has at most ${MAX_LINE_BYTES} bytes`, data: { code: "MESSAGE_TOO_LARGE" } },
  };
}

/** Answers a stdio client may leave unread before the server stops reading its requests. */
export const MAX_UNREAD_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * Passes through the newline-delimited messages of a stdio stream whose bytes are UTF-8; for
 * every other line, and every line over `MAX_LINE_BYTES`, it calls `refuse` with the error
 * reply to send instead. Never throws on input.
 */
export class Utf8LineGuard extends Transform {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Inside a line that grew past the limit: drop bytes until its newline. */
  private skipping = false;
  /** The first and the latest `EDGE_BYTES` of the line being dropped, where its id is (`edgeId`). */
  private head: Buffer = EMPTY;
  private tail: Buffer = EMPTY;

  /**
   * @param output where the answers go (stdout): while more than `maxUnread` bytes of them wait
   *   for the client to read them, no further input is taken (stdin's pipe fills, and the client's
   *   writes wait). Without it, a client that sent requests and read no answer made the server
   *   hold every answer: 600 `resources/read` of a study with a 10,000-choice space grew
   *   `tuneport mcp` by ~1 GB.
   */
  constructor(
    private readonly refuse: (reply: JsonRpcErrorReply) => void,
    private readonly output?: Writable,
    private readonly maxUnread = MAX_UNREAD_ANSWER_BYTES,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      this.endLine(chunk.subarray(start, nl));
      start = nl + 1;
    }
    this.addPartial(chunk.subarray(start));
    this.whenRead(done);
  }

  /** Calls `done` at once, or once the client has read the answers it left unread past `maxUnread`. */
  private whenRead(done: TransformCallback): void {
    const out = this.output;
    if (out === undefined || out.destroyed || out.writableLength <= this.maxUnread) return done();
    const go = () => {
      out.off("drain", go);
      out.off("close", go);
      done();
    };
    out.on("drain", go);
    out.on("close", go);
  }

  override _flush(done: TransformCallback): void {
    if (this.partialBytes > 0 || this.skipping) this.endLine(Buffer.alloc(0));
    done();
  }

  private addPartial(piece: Buffer): void {
    if (piece.length === 0) return;
    if (this.skipping) {
      this.tail = lastBytes(this.tail, piece);
      return;
    }
    this.partial.push(piece);
    this.partialBytes += piece.length;
    if (this.partialBytes > MAX_LINE_BYTES) {
      this.head = Buffer.from(Buffer.concat(this.partial, EDGE_BYTES));
      this.tail = this.partial.reduce(lastBytes, EMPTY);
      this.partial = [];
      this.partialBytes = 0;
      this.skipping = true;
    }
  }

  private endLine(tail: Buffer): void {
    if (this.skipping) {
      this.skipping = false;
      this.refuse(tooLargeReply(edgeId(this.head, lastBytes(this.tail, tail))));
      this.head = this.tail = EMPTY;
      return;
    }
    const line = this.partial.length === 0 ? tail : Buffer.concat([...this.partial, tail]);
    this.partial = [];
    this.partialBytes = 0;
    if (line.length > MAX_LINE_BYTES) this.refuse(tooLargeReply(edgeId(line.subarray(0, EDGE_BYTES), line.subarray(line.length - EDGE_BYTES))));
    else if (!isUtf8(line)) this.refuse(invalidUtf8Reply(line));
    else if (line.length === 0 || (line.length === 1 && line[0] === 0x0d)) return; // a blank line (the SDK skips it too)
    else {
      const refused = stdioLineProblem(line.toString("utf8"));
      if (refused !== null) this.refuse(refused);
      else this.push(Buffer.concat([line, NEWLINE]));
    }
  }
}

const NEWLINE = Buffer.from("\n");
const EMPTY: Buffer = Buffer.alloc(0);
/** How much of each end of a dropped line is kept to find its id. */
const EDGE_BYTES = 1024;

/** The last `EDGE_BYTES` of `kept` followed by `piece`, copied (a slice would hold the whole chunk). */
function lastBytes(kept: Buffer, piece: Buffer): Buffer {
  const both = piece.length >= EDGE_BYTES ? piece : Buffer.concat([kept, piece]);
  return Buffer.from(both.subarray(Math.max(0, both.length - EDGE_BYTES)));
}
