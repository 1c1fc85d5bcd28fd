import { copyFileSync, linkSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TestClient, startServer, stopServers, tempDir } from "./helpers.js";

// Whatever an assertion does, no server outlives its test.
afterEach(stopServers);

describe("durability under SIGKILL", () => {
  it("keeps every acknowledged tell when the server is killed right after replying", async () => {
    const db = join(tempDir(), "crash.sqlite");
    const acknowledged: { trial: number; value: number }[] = [];
    for (let round = 0; round < 4; round++) {
      const server = await startServer(db);
      const client = new TestClient(server.endpoint);
      try {
        if (round === 0) await client.call("create_study", { name: "c", space: { x: { type: "float", low: 0, high: 1 } } });
        // earlier rounds' tells are all there after the restart
        const stored = await client.call("trials", { study: "c", states: ["COMPLETE"] });
        expect(stored.trials.map((t: { number: number; value: number }) => ({ trial: t.number, value: t.value }))).toEqual(acknowledged);
        const a = await client.call("ask", { study: "c" });
        const value = round + 0.25;
        await client.call("tell", { study: "c", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value });
        acknowledged.push({ trial: a.trial.number, value });
        server.proc.kill("SIGKILL"); // no chance to flush anything after the reply
        await server.stop();
      } finally {
        await client.close();
      }
    }
  });

  it("lets a restarted server take over the lock of a killed one, and refuses a second live server by any path to the file", async () => {
    const db = join(tempDir(), "lock.sqlite");
    const first = await startServer(db);
    await expect(startServer(db)).rejects.toThrow(/in use by another tuneport process/);
    // Through a symbolic link it is the same file, and the same lock (it had one of its own).
    const link = `${db}-link.sqlite`;
    symlinkSync(db, link);
    await expect(startServer(link)).rejects.toThrow(/in use by another tuneport process/);
    // A hard link is the same file under another name, with no lock beside it: the writer row in
    // the database refuses it.
    const hard = `${db}-hard.sqlite`;
    linkSync(db, hard);
    await expect(startServer(hard)).rejects.toThrow(/in use by another tuneport process \(pid \d+\), which opened it by another name \(a hard link\?\)/);
    // A copy (a backup taken while the server runs) carries the live server's writer row, but the
    // server does not have the copy open: a server may run on it.
    const copy = `${db}-copy.sqlite`;
    copyFileSync(db, copy);
    const onCopy = await startServer(copy);
    expect(await onCopy.stop("SIGINT")).toBe(0);
    first.proc.kill("SIGKILL");
    await first.stop();
    // The killed server's row and lock name a dead process: taken over, by either name.
    const second = await startServer(hard);
    expect(await second.stop("SIGINT")).toBe(0);
    const third = await startServer(db);
    expect(await third.stop("SIGINT")).toBe(0);
  });
});
