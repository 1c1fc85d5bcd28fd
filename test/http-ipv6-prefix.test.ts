/**
 * A client rotating its IPv6 address within its /64 (a host is handed a whole /64: SLAAC, privacy
 * addresses) had an accept budget and a connection share per address, i.e. none: the HTTP doors key
 * them by the /64 (accept-budget.ts `addressKey`). Real sockets from hundreds of addresses of one /64
 * need them to be local, which this machine's loopback (::1 only) is not: the probe
 * (fixtures/ipv6-prefix-probe.mjs) runs in a user and network namespace of its own (`unshare -rn`,
 * which needs user namespaces allowed, and `ip` from iproute2) where two /64s are routed to lo,
 * against a real `tuneport serve --dashboard` and in-process doors (a trusted proxy of the /64 is
 * counted alone). The keying itself is src/transports/http/accept-budget.test.ts.
 *
 * The namespace has a PID namespace of its own too, its first process killed when `unshare` dies
 * (`--pid --kill-child`), and `unshare` is killed with SIGKILL (with `--fork` it blocks SIGTERM):
 * a probe killed on its timeout otherwise left its `tuneport serve` running for good, in a network
 * namespace no one can reach.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { CLI, tempDir } from "./helpers.js";

const SETUP = [
  "set -e",
  "ip link set lo up",
  "ip -6 route add local 2001:db8:1:2::/64 dev lo",
  "ip -6 route add local 2001:db8:1:3::/64 dev lo",
  "echo 1 > /proc/sys/net/ipv6/ip_nonlocal_bind",
  'exec "$0" "$@"',
].join("; ");

/**
 * Runs `fixture` with `args` in the namespace; kills it (and with it every process it started) after
 * `timeoutMs`, or once its stdout holds `until`.
 */
function inNamespace(fixture: string, args: string[], timeoutMs: number, until?: string): Promise<{ status: number | null; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn("unshare", ["-rn", "--pid", "--kill-child", "sh", "-c", SETUP, process.execPath, join(import.meta.dirname, "fixtures", fixture), ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let killed = false;
    const stop = () => {
      killed = true;
      child.kill("SIGKILL");
    };
    const timer = setTimeout(stop, timeoutMs);
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      if (until !== undefined && stdout.includes(until)) stop();
    });
    child.stderr.on("data", (d: Buffer) => void (stderr += d.toString()));
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, killed });
    });
  });
}

/** The machine's processes whose command line holds `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "latin1").includes(marker)) found.push(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

describe("an HTTP door's limits for an IPv6 client", () => {
  it("counts every address of one /64 under one accept budget and one connection share, another /64 apart", async () => {
    const r = await inNamespace("ipv6-prefix-probe.mjs", [CLI, tempDir()], 120_000);
    expect(r.status, `the probe (needs unshare -rn --pid and ip from iproute2)${r.killed ? ", killed after 120 s" : ""}: ${r.stderr}`).toBe(0);
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

  it("leaves no process of the probe's behind when it is killed (on its timeout)", { timeout: 60_000 }, async () => {
    const file = join(tempDir(), "up");
    const marker = `tuneport-ns-leak-${process.pid}-${Date.now()}`;
    const r = await inNamespace("ns-leak-probe.mjs", [file, marker], 50_000, "up\n");
    expect(r.killed).toBe(true);
    // Its child was running when it was killed...
    expect(existsSync(file), r.stderr).toBe(true);
    try {
      // ...and is killed with it.
      await vi.waitFor(() => expect(processesWith(marker)).toEqual([]), { timeout: 5_000, interval: 50 });
    } finally {
      for (const pid of processesWith(marker)) process.kill(pid, "SIGKILL");
    }
  });
});
