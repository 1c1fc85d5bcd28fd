/**
 * Study resources (`tuneport://studies/{name}`, JSON: the study view and its summary) and their
 * notifications: `notifications/resources/list_changed` follows creations and deletions (coalesced
 * within 200 ms); `notifications/resources/updated` follows changes of subscribed studies, at most
 * once per `throttleMs` per study (the last change is always delivered). Both are fed by the
 * backend's change feed, which fires only after a change is committed.
 */
import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ListResourcesRequestSchema, ReadResourceRequestSchema, SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import { hasLoneSurrogate } from "../../domain/input-limits.js";
import type { McpBackend } from "./backend.js";
import type { ToolCalls } from "./tool-calls.js";
import { isTuneportError, rpcError, studyLine, withoutDescriptions } from "./format.js";
import { STUDY_URI_PREFIX, studyUri } from "./uris.js";

/** Studies per `resources/list` page. */
export const RESOURCES_PAGE = 50;

/**
 * The study name a URI names, or null when it is not a study URI, not percent-encoded UTF-8, or
 * holds a lone surrogate (a JSON `\uD800` escape: SQLite would look it up as U+FFFD, another name).
 */
function studyNameOf(uri: string): string | null {
  if (!uri.startsWith(STUDY_URI_PREFIX)) return null;
  try {
    const name = decodeURIComponent(uri.slice(STUDY_URI_PREFIX.length));
    return hasLoneSurrogate(name) ? null : name;
  } catch {
    return null;
  }
}

/** Registers the study resources on `server`; returns the function that stops their notifications. */
export function registerStudyResources(server: McpServer, backend: McpBackend, log: Logger, throttleMs: number, calls: Pick<ToolCalls, "admit">): () => void {
  server.registerResource(
    "study",
    new ResourceTemplate(`${STUDY_URI_PREFIX}{name}`, {
      list: async () => ({
        resources: (await backend.call("list_studies", {})).studies.map((s) => ({
          uri: studyUri(s.name),
          name: s.name,
          title: `Study ${s.name}`,
          description: studyLine(s),
          mimeType: "application/json",
        })),
      }),
    }),
    { title: "tuneport study", description: "A study's configuration, counts, best trial and summary (JSON).", mimeType: "application/json" },
    // Never called: resources/read has its own handler below.
    async (uri, _variables, extra) => readStudy(uri.href, extra.signal),
  );

  /**
   * A study's resource. Any URI is looked up (not only those the template matches: the SDK answered
   * others with its own -32602 error); one that names no study, or a study deleted while it is read,
   * is -32002. Any other failure (a backend that went away under `--connect`) is a typed JSON-RPC error.
   * Its ops carry the request's `signal`, as a tool call's do (`cancellableBy`): over HTTP a read
   * cancelled (`notifications/cancelled`, its POST's connection closed, its session ended) while its
   * ops wait for their client's turn runs neither of them (fair-calls.ts); a read of a big study that
   * nobody waited for any more ran its `get_study` and its `study_summary` (every trial) to the end.
   */
  const readStudy = async (uri: string, signal: AbortSignal) => {
    const name = studyNameOf(uri);
    if (name === null) throw resourceNotFound(`Resource not found: ${uri} names no study (list them with resources/list)`, uri);
    try {
      const study = (await backend.call("get_study", { study: name }, signal)).study;
      // Computed by the server (embedded or --connect): the trials never travel here.
      const summary = await backend.call("study_summary", { study: name }, signal);
      // Compact, and without the plug-in descriptions list_strategies gives: read on every look.
      return { contents: [{ uri, mimeType: "application/json", text: JSON.stringify({ study, summary: withoutDescriptions(summary) }) }] };
    } catch (err) {
      if (namesNoStudy(err)) throw resourceNotFound(`Resource not found: no study named '${name}'`, uri);
      throw rpcError(err, log, "resources/read");
    }
  };
  // Within the session's bound on calls in flight (tool-calls.ts), as tool calls are.
  server.server.setRequestHandler(ReadResourceRequestSchema, (req, extra) => calls.admit(() => readStudy(req.params.uri, extra.signal)).catch((err: unknown) => {
    throw isTuneportError(err) ? rpcError(err, log, "resources/read") : err;
  }));

  // resources/list a page at a time (issue 14 §1): the SDK's template listing has no cursor.
  server.server.setRequestHandler(ListResourcesRequestSchema, async (req, extra) => {
    const page = await calls.admit(() => backend.call("list_studies", { limit: RESOURCES_PAGE, cursor: req.params?.cursor }, extra.signal)).catch((err: unknown) => {
      throw rpcError(err, log, "resources/list");
    });
    return {
      resources: page.studies.map((s) => ({
        uri: studyUri(s.name),
        name: s.name,
        title: `Study ${s.name}`,
        description: studyLine(s),
        mimeType: "application/json",
      })),
      ...(page.next_cursor !== null ? { nextCursor: page.next_cursor } : {}),
    };
  });

  /**
   * The canonical URI (`studyUri`) of each study subscribed to, dropped when the study is deleted:
   * at most one entry per live study (`--max-studies`). Kept as given, every spelling of a name
   * (`%61` for `a`, upper- or lower-case hex) was an entry of its own, and entries of deleted
   * studies stayed: one session could grow it without bound with one study (docs/SECURITY.md).
   */
  const subscribed = new Set<string>();
  // Subscribing to a URI that names no study is an error (-32002, as resources/read), not a no-op.
  server.server.setRequestHandler(SubscribeRequestSchema, async (req, extra) => {
    const uri = req.params.uri;
    const name = studyNameOf(uri);
    let known = false;
    if (name !== null)
      try {
        await calls.admit(() => backend.call("get_study", { study: name }, extra.signal));
        known = true;
      } catch (err) {
        if (!namesNoStudy(err)) throw rpcError(err, log, "resources/subscribe");
      }
    if (!known || name === null) throw resourceNotFound(`Resource not found: ${uri} names no study (list them with resources/list)`, uri);
    subscribed.add(studyUri(name));
    log.debug({ subscriptions: subscribed.size }, "resources/subscribe");
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    const name = studyNameOf(req.params.uri);
    subscribed.delete(name === null ? req.params.uri : studyUri(name));
    return {};
  });

  let listTimer: NodeJS.Timeout | null = null;
  const cooldown = new Map<string, { timer: NodeJS.Timeout; dirty: boolean }>();
  const connected = () => server.isConnected();
  const sendUpdated = (uri: string) => {
    if (!connected()) return;
    server.server.sendResourceUpdated({ uri }).catch((err: unknown) => log.debug({ err }, "resources/updated not sent"));
    const timer = setTimeout(() => {
      const c = cooldown.get(uri);
      cooldown.delete(uri);
      if (c?.dirty && subscribed.has(uri)) sendUpdated(uri);
    }, throttleMs);
    timer.unref();
    cooldown.set(uri, { timer, dirty: false });
  };
  const off = backend.onChange((change) => {
    if (change.kind !== "updated" && !listTimer) {
      listTimer = setTimeout(() => {
        listTimer = null;
        if (connected()) server.sendResourceListChanged();
      }, 200);
      listTimer.unref();
    }
    const uri = studyUri(change.study);
    if (!subscribed.has(uri)) return;
    const c = cooldown.get(uri);
    if (change.kind === "deleted") {
      // Told at once (the cooldown's later send would find it unsubscribed), and forgotten.
      if (c) clearTimeout(c.timer), cooldown.delete(uri);
      sendUpdated(uri);
      subscribed.delete(uri);
    } else if (c) c.dirty = true;
    else sendUpdated(uri);
  });

  return () => {
    off();
    if (listTimer) clearTimeout(listTimer);
    for (const c of cooldown.values()) clearTimeout(c.timer);
    cooldown.clear();
  };
}

/** A lookup's failure that means the URI names no study: none of that name, or a name no study can have. */
function namesNoStudy(err: unknown): boolean {
  return isTuneportError(err) && (err.code === "NOT_FOUND" || err.code === "INVALID_ARGUMENT");
}

/**
 * MCP's "resource not found" (-32002). Not an `McpError`: its message carries an "MCP error -32002: "
 * prefix, which the SDK sends as part of the message and the client's McpError adds again
 * ("MCP error -32002: MCP error -32002: Resource not found ..."). The SDK answers any thrown error
 * with its numeric `code`, `message` and `data`.
 */
function resourceNotFound(message: string, uri: string): Error {
  return Object.assign(new Error(message), { code: -32002, data: { uri } });
}

