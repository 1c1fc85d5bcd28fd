/**
 * How `--trusted-proxy` addresses are read and matched against remote addresses, what a client's
 * limits are counted under (`addressKey`) and which client a trusted proxy's request speaks for
 * (`forwardedClient`) (accept-budget.ts). Over real sockets: http-door.test.ts,
 * test/http-ipv6-prefix.test.ts, dashboard-busy.test.ts, mcp-http-limits.test.ts.
 */
import { describe, expect, it } from "vitest";
import { AcceptBudget, addressKey, canonicalAddress, forwardedClient, everyPeerTrusted, hostBitsSet, proxyNet, trustedAddresses } from "./accept-budget.js";

describe("trusted proxy addresses", () => {
  it("matches a remote address however it is spelled: IPv6 case and zeros, an IPv4 address and its IPv4-mapped form", () => {
    const trusted = trustedAddresses(["10.0.0.5", "2001:DB8:0:0::1", "::ffff:192.0.2.9"]);
    for (const remote of ["10.0.0.5", "::ffff:10.0.0.5", "2001:db8::1", "2001:db8:0:0:0:0:0:1", "192.0.2.9", "::ffff:192.0.2.9"]) expect(trusted(remote), remote).toBe(true);
    for (const remote of ["10.0.0.6", "10.0.0.50", "2001:db8::2", "127.0.0.1", "::1", "", "proxy.internal"]) expect(trusted(remote), remote).toBe(false);
    expect(trustedAddresses([])("10.0.0.5")).toBe(false);
  });

  it("takes exact addresses and CIDR networks only: no names, ports, zone ids or malformed prefixes", () => {
    for (const bad of ["proxy.internal", "10.0.0.1:80", "[::1]", "fe80::1%eth0", "010.0.0.1", "10.0.0.256", ""]) {
      expect(canonicalAddress(bad), bad).toBeNull();
      expect(() => trustedAddresses(["10.0.0.1", bad])).toThrow(`not an IPv4 or IPv6 address or CIDR network: ${JSON.stringify(bad)}`);
    }
    for (const bad of ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/08", "10.0.0.0/-1", "10.0.0.0/8/8", "2001:db8::/129", "proxy.internal/8", "10.0.0.0/ 8", "fe80::1%eth0/64"]) {
      expect(proxyNet(bad), bad).toBeNull();
      expect(() => trustedAddresses([bad])).toThrow(`not an IPv4 or IPv6 address or CIDR network: ${JSON.stringify(bad)}`);
    }
  });

  it("matches an address inside a CIDR network however either is spelled, and nothing outside it", () => {
    const trusted = trustedAddresses(["10.1.0.0/16", "2001:DB8:ab00::/40", "192.0.2.77/32", "172.16.5.0/28"]);
    const inside = ["10.1.0.0", "10.1.255.255", "::ffff:10.1.2.3", "2001:db8:abff:ffff::1", "2001:db8:ab00::", "192.0.2.77", "172.16.5.0", "172.16.5.15"];
    const outside = ["10.2.0.0", "10.0.255.255", "11.1.0.1", "2001:db8:ac00::1", "2001:db8:aa00::1", "192.0.2.76", "172.16.5.16", "172.16.4.255", "::1", "127.0.0.1", "junk"];
    for (const remote of inside) expect(trusted(remote), remote).toBe(true);
    for (const remote of outside) expect(trusted(remote), remote).toBe(false);
    expect(trustedAddresses(["0.0.0.0/0"])("203.0.113.9"), "every IPv4 address").toBe(true);
    expect(trustedAddresses(["0.0.0.0/0"])("2001:db8::1"), "but no IPv6 one").toBe(false);
    expect(trustedAddresses(["::/0"])("2001:db8::1")).toBe(true);
    // A /16 of IPv6 splits no 16-bit group; a /12 and a /20 do.
    expect(trustedAddresses(["2001:db0::/28"])("2001:dbf:ffff::1")).toBe(true);
    expect(trustedAddresses(["2001:db0::/28"])("2001:dc0::1")).toBe(false);
    expect(trustedAddresses(["2000::/12"])("200f:ffff::1")).toBe(true);
    expect(trustedAddresses(["2000::/12"])("2010::1")).toBe(false);
  });

  it("refuses a network with address bits set past its prefix: the IPv4-mapped 10/8 would be ::/8, every IPv4 peer", () => {
    for (const bad of ["::ffff:10.0.0.0/8", "::ffff:0.0.0.0/0", "10.1.2.3/8", "10.0.0.1/31", "2001:db8::1/64", "2001:db8:ab01::/40", "1::/0"]) {
      expect(hostBitsSet(bad), bad).toBe(true);
      expect(proxyNet(bad), bad).toBeNull();
      expect(() => trustedAddresses([bad])).toThrow(`not an IPv4 or IPv6 address or CIDR network (address bits set past the prefix): ${JSON.stringify(bad)}`);
    }
    for (const good of ["::ffff:10.0.0.0/104", "::ffff:0.0.0.0/96", "10.0.0.0/8", "10.0.0.0/31", "2001:db8::/64", "2001:db8:ab00::/40", "::/0", "0.0.0.0/0", "10.1.2.3", "10.1.2.3/32", "2001:db8::1/128"]) {
      expect(hostBitsSet(good), good).toBe(false);
      expect(proxyNet(good), good).not.toBeNull();
    }
    for (const other of ["proxy.internal/8", "10.0.0.0/33", "10.0.0.1"]) expect(hostBitsSet(other), other).toBe(false);
    expect(trustedAddresses(["::ffff:10.0.0.0/104"])("10.200.1.1")).toBe(true);
    expect(trustedAddresses(["::ffff:10.0.0.0/104"])("192.0.2.1")).toBe(false);
  });

  it("reads the forwarded client past every hop inside a trusted network", () => {
    const trusted = trustedAddresses(["10.0.0.0/8"]);
    expect(forwardedClient("10.3.3.3", "203.0.113.5, 10.9.9.9", trusted)).toBe("203.0.113.5");
    expect(forwardedClient("192.0.2.1", "203.0.113.5", trusted), "not from inside the network: the header is not read").toBe("192.0.2.1");
  });
});

describe("what a client's limits are counted under", () => {
  it("keys an IPv6 address by its /64 however it is spelled, an IPv4 address (and its IPv4-mapped form) as it is", () => {
    const cases: [string, string][] = [
      ["2001:db8:1:2::1", "2001:db8:1:2::/64"],
      ["2001:DB8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64"],
      ["2001:0db8:0001:0002:0:0:0:9", "2001:db8:1:2::/64"],
      ["2001:db8:1:3::1", "2001:db8:1:3::/64"],
      ["2001:db8::1", "2001:db8:0:0::/64"],
      ["2001:db8:1:2:3:4:5.6.7.8", "2001:db8:1:2::/64"],
      ["fe80::1%eth0", "fe80:0:0:0::/64"],
      ["::ffff:192.0.2.9", "192.0.2.9"],
      ["::ffff:c000:209", "192.0.2.9"],
      ["192.0.2.9", "192.0.2.9"],
      ["127.0.0.1", "127.0.0.1"],
      ["::1", "::1"],
      ["", ""],
      ["not an address", "not an address"],
    ];
    for (const [address, key] of cases) expect(addressKey(address), address).toBe(key);
    // Whole, for a trusted proxy's own address: one spelling, no prefix.
    expect(addressKey("2001:DB8:1:2:0::7", false)).toBe("2001:db8:1:2::7");
    expect(addressKey("::ffff:192.0.2.9", false)).toBe("192.0.2.9");
  });

  it("gives a client rotating its addresses within one /64 one budget, and another /64 its own", () => {
    const budget = new AcceptBudget(1, 3);
    const rotating = ["2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:1::c", "2001:db8:1:2:ffff::d"];
    expect(rotating.map((a) => budget.take(a, 0))).toEqual([true, true, true, false]);
    expect(budget.take("2001:db8:1:3::a", 0)).toBe(true);
    expect(budget.take("::ffff:192.0.2.1", 0) && budget.take("192.0.2.1", 0) && budget.take("::ffff:192.0.2.1", 0)).toBe(true);
    expect(budget.take("192.0.2.1", 0)).toBe(false);
  });
});

describe("the client a trusted proxy's request speaks for", () => {
  const trusted = trustedAddresses(["127.0.0.1", "10.0.0.9", "2001:db8::9"]);
  it("takes the right-most X-Forwarded-For address that is not a trusted proxy, from a trusted proxy only", () => {
    const cases: [string | string[] | undefined, string][] = [
      ["192.0.2.1", "192.0.2.1"],
      ["198.51.100.7, 192.0.2.1", "192.0.2.1"],
      ["198.51.100.7, 192.0.2.1, 10.0.0.9", "192.0.2.1"],
      ["192.0.2.1,2001:db8::9,::ffff:10.0.0.9", "192.0.2.1"],
      ["  2001:DB8:7::1 ", "2001:DB8:7::1"],
      [["198.51.100.7", "192.0.2.1, 10.0.0.9"], "192.0.2.1"],
      // Malformed before a client is found, missing, empty, or only proxies: the proxy's own address.
      [undefined, "127.0.0.1"],
      ["", "127.0.0.1"],
      ["192.0.2.1, ", "127.0.0.1"],
      ["192.0.2.1:4711", "127.0.0.1"],
      ["[2001:db8:7::1]", "127.0.0.1"],
      ["unknown", "127.0.0.1"],
      ["192.0.2.1, 10.0.0.9, proxy.internal", "127.0.0.1"],
      ["10.0.0.9, 127.0.0.1", "127.0.0.1"],
      // Only the entries right of the client are read.
      ["garbage, 192.0.2.1", "192.0.2.1"],
    ];
    for (const [header, client] of cases) expect(forwardedClient("127.0.0.1", header, trusted), JSON.stringify(header)).toBe(client);
    // Anyone else's header is not read.
    for (const [header] of cases) expect(forwardedClient("127.0.0.2", header, trusted), JSON.stringify(header)).toBe("127.0.0.2");
    expect(forwardedClient("192.0.2.1", "203.0.113.5", trustedAddresses([]))).toBe("192.0.2.1");
  });
});

describe("a trusted network that holds every peer", () => {
  it("is told apart from a narrower one (the doors warn of it at start)", () => {
    expect(everyPeerTrusted("::/0")).toBe("every peer");
    for (const all of ["0.0.0.0/0", "::ffff:0.0.0.0/96", "::/8", "::/64"]) expect(everyPeerTrusted(all), all).toBe("every IPv4 peer");
    for (const some of ["0.0.0.0/1", "128.0.0.0/1", "10.0.0.0/8", "2000::/3", "192.0.2.7", "::ffff:10.0.0.0/104", "not an address"]) expect(everyPeerTrusted(some), some).toBeNull();
  });
});
