/**
 * Who holds a trial: the identity of the worker (or agent) whose `ask` started it, recorded in
 * the trial's system attribute `worker` (an existing JSON field: no storage migration, and old
 * servers' trials simply have none). A re-asked queued trial records its new holder; a retry is
 * a new trial, so each attempt keeps the worker that ran it.
 *
 * Transports fill it: ZeroMQ from the client's `hello` (`client`: name, version, host, pid, which
 * the Python client sends; a client that skipped hello is recorded by transport only), MCP over
 * HTTP with its session's tag (`sessionTag` in mcp/http.ts: a hash, never the id) and the agent's `clientInfo` name. Every field is bounded so a client
 * cannot grow the trial row: strings to 200 characters, pid an integer.
 */
import { clipText } from "./input-limits.js";

/** The `worker` system attribute of a trial. */
export interface WorkerIdentity {
  /** How the holder reached the server. */
  readonly transport: "zmq" | "mcp" | "http";
  /** The client library or agent (`tuneport-python`, an MCP clientInfo name). */
  readonly name?: string;
  readonly version?: string;
  readonly host?: string;
  readonly pid?: number;
  /** The MCP session of an agent: its tag (a hash of the id; trials asked before 2026-12-07 hold the id). */
  readonly session?: string;
}

const MAX_TEXT = 200;

function text(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? clipText(v, MAX_TEXT) : undefined;
}

/**
 * A bounded identity from what a client sent about itself (`hello`'s `client` map, MCP
 * `clientInfo`): unknown fields and wrong types are dropped, never refused (identity is
 * informational; a worker must not fail to start over it).
 */
export function workerIdentity(transport: WorkerIdentity["transport"], info: Record<string, unknown> = {}): WorkerIdentity {
  const pid = info.pid;
  const out: { -readonly [K in keyof WorkerIdentity]: WorkerIdentity[K] } = { transport };
  const name = text(info.name);
  const version = text(info.version);
  const host = text(info.host);
  const session = text(info.session);
  if (name) out.name = name;
  if (version) out.version = version;
  if (host) out.host = host;
  if (typeof pid === "number" && Number.isSafeInteger(pid) && pid >= 0) out.pid = pid;
  if (session) out.session = session;
  return out;
}

/** One line for a table cell: `host:pid (name)`, `mcp session 1a2b… (agent)`, or the transport alone; null for none. */
export function workerLabel(attr: unknown): string | null {
  if (typeof attr !== "object" || attr === null) return null;
  const w = attr as Partial<WorkerIdentity>;
  const where = w.host !== undefined ? `${w.host}${w.pid !== undefined ? `:${w.pid}` : ""}` : w.session !== undefined ? `${w.transport ?? "mcp"} session ${w.session.slice(0, 8)}` : w.transport ?? "unknown";
  return w.name !== undefined ? `${where} (${w.name})` : where;
}
