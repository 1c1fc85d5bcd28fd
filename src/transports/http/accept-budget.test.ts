/** How `--trusted-proxy` addresses are read and matched against remote addresses (accept-budget.ts). */
import { describe, expect, it } from "vitest";
import { canonicalAddress, trustedAddresses } from "./accept-budget.js";

describe("trusted proxy addresses", () => {
  it("matches a remote address however it is spelled: IPv6 case and zeros, an IPv4 address and its IPv4-mapped form", () => {
    const trusted = trustedAddresses(["10.0.0.5", "2001:DB8:0:0::1", "::ffff:192.0.2.9"]);
    for (const remote of ["10.0.0.5", "::ffff:10.0.0.5", "2001:db8::1", "2001:db8:0:0:0:0:0:1", "192.0.2.9", "::ffff:192.0.2.9"]) expect(trusted(remote), remote).toBe(true);
    for (const remote of ["10.0.0.6", "10.0.0.50", "2001:db8::2", "127.0.0.1", "::1", "", "proxy.internal"]) expect(trusted(remote), remote).toBe(false);
    expect(trustedAddresses([])("10.0.0.5")).toBe(false);
  });

  it("takes exact addresses only: no names, ranges, ports or zone ids", () => {
    for (const bad of ["proxy.internal", "10.0.0.0/8", "10.0.0.1:80", "[::1]", "fe80::1%eth0", "010.0.0.1", "10.0.0.256", ""]) {
      expect(canonicalAddress(bad), bad).toBeNull();
      expect(() => trustedAddresses(["10.0.0.1", bad])).toThrow(`not an IPv4 or IPv6 address: ${JSON.stringify(bad)}`);
    }
  });
});
