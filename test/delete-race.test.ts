/**
 * Issue 11 §1 and §2 over the wire, against a real server process: the reproduction that crashed
 * the server (create, then `ask` and `delete_study` pipelined on one DEALER socket), and the
 * requests that used to be answered "ok" after their study was deleted.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { type ServerProcess, TestClient, startServer, tempDir, stopServers } from "./helpers.js";

// A failed assertion or hook must not leave a server running.
afterAll(stopServers);

const SPACE = { x: { type: "float", low: 0, high: 1 } };

describe("delete_study racing other requests on a live server", () => {
  let dir: string;
  let server: ServerProcess;
  let client: TestClient;

  beforeEach(async () => {
    dir = tempDir();
    server = await startServer(join(dir, "fk.db"));
    client = new TestClient(server.endpoint);
  });
  afterEach(async () => {
    await client.close();
    await server.stop("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(["tpe", "auto", "random"])("survives ask + delete_study pipelined on one socket (strategy %s)", async (strategy) => {
    for (let round = 0; round < 5; round++) {
      const name = `victim-${round}`;
      await client.call("create_study", { name, space: SPACE, strategy });
      const replies = await Promise.all([
        client.request("ask", { study: name }, `a${round}`),
        client.request("enqueue", { study: name, params: { x: 0.5 } }, `e${round}`),
        client.request("delete_study", { study: name }, `d${round}`),
        client.request("enqueue", { study: name, params: { x: 0.25 } }, `e2${round}`),
        client.request("ask", { study: name }, `a2${round}`),
      ]);
      for (const r of replies) if (!r.ok) expect(r.error?.code).toBe("NOT_FOUND");
      expect(replies[2]?.ok).toBe(true);
    }
    const hello = await client.call("hello", { versions: [1] });
    expect(hello.version).toBe(1);
    expect(server.proc.exitCode).toBeNull();
    expect(server.lines.some((l) => l.includes("storage commit failed"))).toBe(false);
  });

  it("answers NOT_FOUND, not ok, to tell, suggest, report, enqueue and attribute writes pipelined behind a delete", async () => {
    await client.call("create_study", { name: "gone", space: SPACE, strategy: "random" });
    const a = await client.call("ask", { study: "gone" });
    const tok = a.lease.token;
    const del = client.request("delete_study", { study: "gone" });
    const calls: [string, Record<string, unknown>][] = [
      ["tell", { study: "gone", trial: 0, token: tok, state: "COMPLETE", value: 1 }],
      ["suggest", { study: "gone", trial: 0, token: tok, name: "y", distribution: { type: "int", low: 0, high: 2 } }],
      ["set_user_attrs", { study: "gone", attrs: { a: 1 } }],
      ["set_user_attrs", { study: "gone", trial: 0, attrs: { a: 1 } }],
      ["report", { study: "gone", trial: 0, token: tok, step: 1, value: 0.5 }],
      ["enqueue", { study: "gone", params: { x: 0.1 } }],
    ];
    // Pipelined behind the delete on the same socket: each was received while the study still existed.
    const replies = await Promise.all(calls.map(([op, args]) => client.request(op, args)));
    expect((await del).ok).toBe(true);
    calls.forEach(([op], i) => {
      const r = replies[i];
      expect({ op, ok: r?.ok, code: r?.error?.code }).toEqual({ op, ok: false, code: "NOT_FOUND" });
    });
  });
});
