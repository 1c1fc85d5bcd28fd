/**
 * `freePort` keeps to TUNEPORT_TEST_PORTS when it is given (as python-client/tests/conftest.py's
 * `free_port` does), so that test runs sharing a machine each draw from a band of their own.
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { freePort } from "./helpers.js";

describe("freePort with TUNEPORT_TEST_PORTS", () => {
  const saved = process.env.TUNEPORT_TEST_PORTS;
  afterEach(() => {
    if (saved === undefined) delete process.env.TUNEPORT_TEST_PORTS;
    else process.env.TUNEPORT_TEST_PORTS = saved;
  });

  it("draws only from the band, every port of a narrow one", async () => {
    const lo = await freePort();
    process.env.TUNEPORT_TEST_PORTS = `${lo}-${lo + 19}`;
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(await freePort());
    expect([...seen].every((p) => p >= lo && p <= lo + 19)).toBe(true);
    expect(seen.size).toBeGreaterThan(10);
  });

  it("throws rather than leave the band when its ports are taken", async () => {
    const port = await freePort();
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(port, "127.0.0.1", resolve));
    try {
      process.env.TUNEPORT_TEST_PORTS = `${port}-${port}`;
      await expect(freePort()).rejects.toThrow(`no free loopback port in TUNEPORT_TEST_PORTS=${port}-${port}`);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });
});
