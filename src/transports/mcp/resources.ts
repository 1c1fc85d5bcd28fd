/**
 * Study resources (`tuneport://studies/{name}`, JSON: the study view and its summary) and their
 * notifications: `notifications/resources/list_changed` follows creations and deletions (coalesced
 * within 200 ms); `notifications/resources/updated` follows changes of subscribed studies, at most
 * once per `throttleMs` per study (the last change is always delivered). Both are fed by the
 * backend's change feed, which fires only after a change is committed.
 */
import { type McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { ListResourcesRequestSchema, SubscribeRequestSchema, UnsubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Logger } from "pino";
import type { McpBackend } from "./backend.js";
import { isTuneportError, studyLine, withoutDescriptions } from "./format.js";
import { STUDY_URI_PREFIX, studyUri } from "./uris.js";

/** Studies per `resources/list` page. */
export const RESOURCES_PAGE = 50;

const safeDecode = (s: string): string | null => {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
};

/** Registers the study resources on `server`; returns the function that stops their notifications. */
export function registerStudyResources(server: McpServer, backend: McpBackend, log: Logger, throttleMs: number): () => void {
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
    async (uri, vars) => {
      const raw = vars.name;
      let name: string;
      try {
        name = decodeURIComponent(Array.isArray(raw) ? (raw[0] ?? "") : (raw ?? ""));
      } catch {
        throw resourceNotFound("Resource not found: the study name in the URI is not valid percent-encoded UTF-8", uri.href);
      }
      let study;
      try {
        study = (await backend.call("get_study", { study: name })).study;
      } catch (err) {
        if (isTuneportError(err) && err.code === "NOT_FOUND") throw resourceNotFound(`Resource not found: no study named '${name}'`, uri.href);
        throw err;
      }
      // Computed by the server (embedded or --connect): the trials never travel here.
      const summary = await backend.call("study_summary", { study: name });
      // Compact, and without the plug-in descriptions list_strategies gives: read on every look.
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: JSON.stringify({ study, summary: withoutDescriptions(summary) }) }] };
    },
  );

  // resources/list a page at a time (issue 14 §1): the SDK's template listing has no cursor.
  server.server.setRequestHandler(ListResourcesRequestSchema, async (req) => {
    const page = await backend.call("list_studies", { limit: RESOURCES_PAGE, cursor: req.params?.cursor });
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

  const subscribed = new Set<string>();
  // Subscribing to a URI that names no study is an error (-32002, as resources/read), not a no-op.
  server.server.setRequestHandler(SubscribeRequestSchema, async (req) => {
    const uri = req.params.uri;
    const name = uri.startsWith(STUDY_URI_PREFIX) ? safeDecode(uri.slice(STUDY_URI_PREFIX.length)) : null;
    let known = false;
    if (name !== null)
      try {
        await backend.call("get_study", { study: name });
        known = true;
      } catch (err) {
        if (!(isTuneportError(err) && (err.code === "NOT_FOUND" || err.code === "INVALID_ARGUMENT"))) throw err;
      }
    if (!known) throw resourceNotFound(`Resource not found: ${uri} names no study (list them with resources/list)`, uri);
    subscribed.add(uri);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (req) => {
    subscribed.delete(req.params.uri);
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
    if (c) c.dirty = true;
    else sendUpdated(uri);
  });

  return () => {
    off();
    if (listTimer) clearTimeout(listTimer);
    for (const c of cooldown.values()) clearTimeout(c.timer);
    cooldown.clear();
  };
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

