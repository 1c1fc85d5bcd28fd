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
