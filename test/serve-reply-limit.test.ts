/**
 * `tuneport serve` wires the service's limit on a change's reply to its ZeroMQ reply ceiling (a
 * quarter of --max-reply-mib): a change whose reply the door could not send is refused before it
 * is applied, with the limit named.
 */
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TestClient, startServer, stopServers, tempDir } from "./helpers.js";

afterAll(stopServers);

describe("serve --max-reply-mib", () => {
  it("refuses, before applying it, a change whose reply would be over a quarter of the ceiling", async () => {
    const server = await startServer(join(tempDir(), "db.sqlite"), ["--max-reply-mib", "64", "--max-message-bytes", String(32 * 1024 * 1024)]);
    const client = new TestClient(server.endpoint);
    try {
      await client.call("create_study", { name: "s", space: { x: { type: "float", low: 0, high: 1 } } });
      // 3.9 M characters of 3 UTF-8 bytes each, within the define-by-run bound (4 Mi characters),
      // echoed twice in the reply (the trial's params and distributions): ~23 MB, over 16 MiB.
      const big = "€".repeat(3_900_000);
      const args = { study: "s", params: { x: 0.5, c: big }, distributions: { c: { type: "categorical", choices: [big] } }, value: 1 };
      // The server's buffers hold the request and the reply it measured (~70 MB) beside the 80 MiB
      // under which small replies go: until V8 collects them, an answer may be refused UNAVAILABLE
      // (reason "memory", retry with the same id), as a busy CI machine showed; a client resends.
      let r = await client.request("add_trial", args, "big", 60_000);
      for (let i = 0; i < 20 && r.error?.code === "UNAVAILABLE" && r.error.data?.reason === "memory"; i++) {
        await new Promise((done) => setTimeout(done, 1_100));
        r = await client.request("add_trial", args, "big", 60_000);
      }
      expect(r.error).toMatchObject({ code: "MESSAGE_TOO_LARGE", data: { op: "add_trial", max_reply_bytes: 16 * 1024 * 1024 } });
      expect((await client.call("get_study", { study: "s" })).study.n_trials).toBe(0);
    } finally {
      await client.close();
      await server.stop();
    }
  }, 120_000);
});
