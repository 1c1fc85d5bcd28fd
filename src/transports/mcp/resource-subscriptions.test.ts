/**
 * A session's resource subscriptions hold one entry per live study (resources.ts `subscribed`):
 * every spelling of a study's URI is the one subscription, and a deleted study's is dropped. Before,
 * each spelling was an entry of its own and none was ever dropped, so one session could grow the set
 * without bound with one study. The size is read from the server's debug line per subscribe.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { pino } from "pino";
import { afterEach, expect, it } from "vitest";
import { silentLogger } from "../../logger.js";
import { StudyService } from "../../service/study-service.js";
import { SqliteStorage } from "../../storage/sqlite/sqlite-storage.js";
import { waitFor } from "../../testing/waits.js";
import { serviceBackend } from "./backend.js";
import { createTuneportMcp } from "./mcp-server.js";

const closers: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Every spelling of `name`'s URI that percent-encodes a subset of its first `k` characters, hex in upper or lower case. */
function spellings(name: string, k: number): string[] {
  const out: string[] = [];
  for (let mask = 0; mask < 1 << k; mask++)
    for (const upper of [false, true]) {
      const enc = [...name].map((ch, i) => (i < k && mask & (1 << i) ? `%${ch.charCodeAt(0).toString(16)[upper ? "toUpperCase" : "toLowerCase"]()}` : ch)).join("");
      out.push(`tuneport://studies/${enc}`);
    }
  return [...new Set(out)];
}

it("holds one subscription per live study, whatever the URI's spelling, and drops a deleted study's", async () => {
  const lines: { msg: string; subscriptions?: number }[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const storage = new SqliteStorage({ path: ":memory:" });
  const service = await StudyService.open({ storage, logger: silentLogger(), reapIntervalMs: 0 });
  const mcp = createTuneportMcp(serviceBackend(service), { logger, version: "test", updateThrottleMs: 50 });
  const [a, b] = InMemoryTransport.createLinkedPair();
  const client = new Client({ name: "unit", version: "1" });
  const updated: string[] = [];
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated.push(n.params.uri));
  await mcp.server.connect(a);
  await client.connect(b);
  closers.push(() => storage.close(), () => service.close(), () => mcp.dispose(), () => client.close());

  const space = { x: { type: "float", low: 0, high: 1 } };
  for (const name of ["abcdef", "other"]) expect((await client.callTool({ name: "create_study", arguments: { name, space } })).isError).toBeFalsy();
  const uris = spellings("abcdef", 5);
  expect(uris.length).toBe(32);
  for (const uri of uris) await client.subscribeResource({ uri });
  const sizes = () => lines.filter((l) => l.msg === "resources/subscribe").map((l) => l.subscriptions);
  expect(new Set(sizes())).toEqual(new Set([1]));

  // A change of the study is told under its canonical URI, once per change (not once per spelling).
  expect((await client.callTool({ name: "set_user_attrs", arguments: { study: "abcdef", attrs: { k: 1 } } })).isError).toBeFalsy();
  await waitFor(async () => updated.includes("tuneport://studies/abcdef"), 30_000);

  // Deleted: told once more, then forgotten; the next subscription is the only one.
  expect((await client.callTool({ name: "delete_study", arguments: { study: "abcdef", confirm: true } })).isError).toBeFalsy();
  await waitFor(async () => updated.filter((u) => u === "tuneport://studies/abcdef").length >= 2, 30_000);
  await client.subscribeResource({ uri: "tuneport://studies/other" });
  expect(sizes().at(-1)).toBe(1);
}, 60_000);
