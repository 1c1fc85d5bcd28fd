/**
 * A client rotating its IPv6 address within its /64 (a host is handed a whole /64: SLAAC, privacy
 * addresses) had an accept budget and a connection share per address, i.e. none: the HTTP doors key
 * them by the /64 (accept-budget.ts `addressKey`). Real sockets from hundreds of addresses of one /64
 * need them to be local, which this machine's loopback (::1 only) is not: the probe
 * (fixtures/ipv6-prefix-probe.mjs) runs in a user and network namespace of its own (`unshare -rn`,
 * which needs user namespaces allowed, and `ip` from iproute2) where two /64s are routed to lo,
 * against a real `tuneport serve --dashboard` and in-process doors (a trusted proxy of the /64 is
 * counted alone). The keying itself is src/transports/http/accept-budget.test.ts.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, tempDir } from "./helpers.js";

const SETUP = [
  "set -e",
  "ip link set lo up",
  "ip -6 route add local 2001:db8:1:2::/64 dev lo",
  "ip -6 route add local 2001:db8:1:3::/64 dev lo",
  "echo 1 > /proc/sys/net/ipv6/ip_nonlocal_bind",
  'exec "$0" "$@"',
].join("; ");

describe("an HTTP door's limits for an IPv6 client", () => {
  it("counts every address of one /64 under one accept budget and one connection share, another /64 apart", () => {
    const probe = join(import.meta.dirname, "fixtures", "ipv6-prefix-probe.mjs");
    const r = spawnSync("unshare", ["-rn", "sh", "-c", SETUP, process.execPath, probe, CLI, tempDir()], { encoding: "utf8", timeout: 120_000 });
    expect(r.status, `the probe (needs unshare -rn and ip from iproute2): ${r.error?.message ?? ""} ${r.stderr}`).toBe(0);
    const seen = JSON.parse(r.stdout.trim().split("\n").pop() as string);
    // 400 connections at once, each from another address of 2001:db8:1:2::/64: before, all 400 answered.
    expect(seen.rotating.answered + seen.rotating.closed).toBe(400);
    expect(seen.rotating.closed).toBeGreaterThan(0);
    expect(seen.throttled).toMatchObject({ key: "2001:db8:1:2::/64" });
    // Another /64 has its own budget.
    expect(seen.other).toEqual({ answered: 20, closed: 0 });
    // Three connections of the /64 being answered fill its share of 3: a fourth from yet another
    // address of it is closed (before, it was held), one from another /64 is not.
    expect(seen.share).toEqual({ fourth: "closed", refused: 1, otherHeld: true });
    // A trusted proxy of that /64 (no share of its own) holding 5: a neighbour of its /64 still gets in.
    expect(seen.proxy).toEqual({ proxyHeld: 5, neighbour: "held", refused: 0 });
  });
});
