/**
 * JSON-RPC requests whose shape the MCP SDK would not answer as a client's mistake, refused before
 * it sees them (both transports: `stdioLineProblem` for stdio, the HTTP door for each body).
 *
 * - A request whose `params` is not an object, or whose `params._meta` is not one (or carries a
 *   `progressToken` that is neither a string nor a number), fails the SDK's message schema: over
 *   stdio the SDK dropped it without a word, so a client waiting for the answer waited for ever
 *   (over HTTP it answered a parse error, -32700, without the request's id). Now -32600 (invalid
 *   request) with its id.
 * - A request whose `params` fails its method's schema (`resources/read` with a numeric `uri`, a
 *   `tools/call` whose `name` is no string, a `cursor` that is no string, `prompts/get` arguments
 *   that are not strings, an `initialize` without its fields) reached the SDK's handler, whose
 *   schema threw: the client got -32603 (internal error) with a dump of the schema's complaint,
 *   which says the server failed. Now -32602 (invalid params) naming the field. The schemas are the
 *   SDK's own, so what passes here is what its handlers take.
 * - A request asking to be run as a task (`params.task`): this server declares no task capability,
 *   and the SDK answered -32603 "Server does not support task creation". Now -32602.
 *
 * Notifications and responses are left to the SDK: JSON-RPC answers neither.
 */
import {
  CallToolRequestSchema,
  GetPromptRequestSchema,
  InitializeRequestSchema,
  JSONRPCMessageSchema,
  ListPromptsRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  PingRequestSchema,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { JsonRpcErrorReply } from "./strict-json.js";

interface ParamsSchema {
  safeParse(v: unknown): { success: boolean; error?: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/** The request schema of each method a tuneport MCP server answers (others get the SDK's -32601). */
const REQUEST_SCHEMAS: ReadonlyMap<string, ParamsSchema> = new Map<string, ParamsSchema>([
  ["initialize", InitializeRequestSchema],
  ["ping", PingRequestSchema],
  ["tools/list", ListToolsRequestSchema],
  ["tools/call", CallToolRequestSchema],
  ["resources/list", ListResourcesRequestSchema],
  ["resources/templates/list", ListResourceTemplatesRequestSchema],
  ["resources/read", ReadResourceRequestSchema],
  ["resources/subscribe", SubscribeRequestSchema],
  ["resources/unsubscribe", UnsubscribeRequestSchema],
  ["prompts/list", ListPromptsRequestSchema],
  ["prompts/get", GetPromptRequestSchema],
]);

function refusal(id: string | number | null, code: number, message: string): JsonRpcErrorReply {
  return { jsonrpc: "2.0", id, error: { code, message: `INVALID_ARGUMENT: ${message}`, data: { code: "INVALID_ARGUMENT" } } };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The first complaint of a failed parse, as `params.uri: Invalid input: expected string, received number`. */
function firstIssue(result: ReturnType<ParamsSchema["safeParse"]>): string {
  const issue = result.error?.issues[0];
  if (issue === undefined) return "the params do not fit the method";
  const path = issue.path.map(String).join(".");
  return path === "" ? issue.message : `${path}: ${issue.message}`;
}

/**
 * The refusal of a request (a message with `method` and an `id`) whose shape the SDK would drop or
 * answer -32603, or null (notifications, responses and well-shaped requests). `message` is a parsed
 * JSON-RPC message whose `jsonrpc`, `method` and `id` were already checked, or any JSON value.
 */
export function requestProblem(message: unknown): JsonRpcErrorReply | null {
  // A batch (over HTTP): its first such request answers for it, as a key `__proto__` in one does.
  if (Array.isArray(message)) {
    for (const m of message) {
      const problem = requestProblem(m);
      if (problem !== null) return problem;
    }
    return null;
  }
  if (!isObject(message) || typeof message.method !== "string" || !("id" in message)) return null;
  const id = message.id;
  if (!(typeof id === "string" || (typeof id === "number" && Number.isSafeInteger(id)))) return null;
  const method = message.method;
  const params = message.params;
  if ("params" in message && !isObject(params)) return refusal(id, -32600, `"params" of a request must be an object (${method})`);
  if (isObject(params)) {
    const meta = params._meta;
    if (meta !== undefined && !isObject(meta)) return refusal(id, -32600, '"params._meta" must be an object');
    const token = isObject(meta) ? meta.progressToken : undefined;
    if (token !== undefined && typeof token !== "string" && typeof token !== "number") return refusal(id, -32600, '"params._meta.progressToken" must be a string or a number');
    if (params.task !== undefined) return refusal(id, -32602, `this server runs no request as a task (it declares no tasks capability): send ${method} without "params.task"`);
  }
  if (!JSONRPCMessageSchema.safeParse(message).success) return refusal(id, -32600, "not a JSON-RPC request as MCP sends them");
  const schema = REQUEST_SCHEMAS.get(method);
  if (schema === undefined) return null;
  const parsed = schema.safeParse(message);
  return parsed.success ? null : refusal(id, -32602, `${method}: ${firstIssue(parsed)}`);
}

/**
 * The refusal of a body (a message or a batch) holding a request whose id is already taken: by a
 * request of the same session still being answered (`inFlight`), or by another request of the same
 * batch; null when every id is free. The SDK keeps one answer stream per id, so the later request
 * took the id's stream: the earlier one's POST never got its answer and stayed open until the
 * session ended (30 minutes idle). MCP: a request id "MUST NOT have been previously used by the
 * requestor within the same session". Answered with id null (-32600), so that the refusal is not
 * read as the answer of the request in flight that holds the id.
 */
export function reusedIdProblem(body: unknown, inFlight: (id: string | number) => boolean): JsonRpcErrorReply | null {
  const seen = new Set<string | number>();
  for (const m of Array.isArray(body) ? body : [body]) {
    if (!isObject(m) || typeof m.method !== "string") continue;
    const id = m.id;
    if (typeof id !== "string" && typeof id !== "number") continue;
    const where = seen.has(id) ? "by another request of this batch" : inFlight(id) ? "by a request of this session not answered yet" : null;
    if (where !== null)
      return refusal(null, -32600, `request id ${JSON.stringify(id)} is already taken ${where}: give each request an id of its own (MCP: an id is never reused within a session)`);
    seen.add(id);
  }
  return null;
}
