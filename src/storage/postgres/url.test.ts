import { afterEach, describe, expect, it } from "vitest";
import { parseUrl } from "./url.js";

describe("parseUrl's connect_timeout (libpq's parameter, which pg ignores)", () => {
  const saved = process.env.PGCONNECT_TIMEOUT;
  afterEach(() => {
    if (saved === undefined) delete process.env.PGCONNECT_TIMEOUT;
    else process.env.PGCONNECT_TIMEOUT = saved;
  });

  it("takes whole seconds off the URL, keeping the other parameters for pg", () => {
    delete process.env.PGCONNECT_TIMEOUT;
    expect(parseUrl("postgresql://u@h/db?sslmode=disable&connect_timeout=5&schema=s1")).toEqual({
      connectionString: "postgresql://u@h/db?sslmode=disable",
      schema: "s1",
      connectTimeoutMs: 5000,
    });
    expect(parseUrl("postgresql://u@h/db").connectTimeoutMs).toBeNull();
  });

  it("reads 0 (libpq's wait forever) as the default bound, from the URL or PGCONNECT_TIMEOUT", () => {
    delete process.env.PGCONNECT_TIMEOUT;
    expect(parseUrl("postgresql://u@h/db?connect_timeout=0").connectTimeoutMs).toBeNull();
    process.env.PGCONNECT_TIMEOUT = "0";
    expect(parseUrl("postgresql://u@h/db").connectTimeoutMs).toBeNull();
  });

  it("uses PGCONNECT_TIMEOUT when the URL says nothing, and the URL over it", () => {
    process.env.PGCONNECT_TIMEOUT = "7";
    expect(parseUrl("postgresql://u@h/db").connectTimeoutMs).toBe(7000);
    expect(parseUrl("postgresql://u@h/db?connect_timeout=3").connectTimeoutMs).toBe(3000);
  });
});

describe("a URL's port", () => {
  it("is refused with INVALID_ARGUMENT unless 1-65535, in the host or as port=; socket URLs and IPv6 hosts pass", () => {
    for (const url of ["postgresql://u@h:abc/db", "postgresql://u@h/db?port=abc", "postgresql://u@h:0/db", "postgresql://u@h:65536/db", "postgresql://u@[::1]:5432x/db", "postgresql://u@[::1/db"])
      expect(() => parseUrl(url), url).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT" }));
    for (const url of ["postgresql://u:p@h:5432/db", "postgresql://u@[::1]:5432/db", "postgresql://u@[::1]/db", "postgresql://u@/db?host=/run/postgresql&port=5433", "postgresql://u:p:q@h/db"])
      expect(() => parseUrl(url), url).not.toThrow();
  });

  it("port=abc is refused before the driver, which threw inside its pool and then never ended it: open waited for ever", async () => {
    const { PostgresStorage } = await import("./postgres-storage.js");
    await expect(PostgresStorage.open({ url: "postgresql://u@127.0.0.1/db?port=abc", connectTimeoutMs: 2000 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    // A URL the driver cannot read is the caller's to fix, not "check that the server runs" (UNAVAILABLE).
    await expect(PostgresStorage.open({ url: "postgresql://u@h^/db", connectTimeoutMs: 2000 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringContaining("not one the driver can read") });
  }, 60_000);
});

describe("libpq's multi-host URLs", () => {
  it("are refused saying that several hosts are not supported and what to use instead, not that the port is not a number", () => {
    for (const url of [
      "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write",
      "postgresql://u:p@h1,h2/db",
      "postgresql://u@/db?host=h1,h2&port=5432,5433",
    ]) {
      // Before: 'the URL's port must be a number from 1 to 65535, not "5432,h2:5433"' (or pg's own error).
      expect(() => parseUrl(url), url).toThrow(expect.objectContaining({ code: "INVALID_ARGUMENT", message: expect.stringContaining("several hosts") }));
      expect(() => parseUrl(url), url).toThrow(expect.objectContaining({ message: expect.stringContaining("High availability") }));
    }
    expect(() => parseUrl("postgresql://u@h1:5432/db?target_session_attrs=read-write")).not.toThrow();
  });
});
