/**
 * How fast one remote address may open connections to an HTTP door: ACCEPT_RATE_PER_ADDRESS a
 * second, ACCEPT_BURST_PER_ADDRESS at once (a token bucket per address); one beyond is closed as
 * soon as it is accepted, before a byte of it is read. A client that opened a connection again as
 * soon as the door closed one (each after the ~37 pipelined requests a connection gets parsed) had
 * every one of them parsed, and kept every other client waiting (docs/SECURITY.md). Loopback
 * addresses are left out by default: every local client (and a reverse proxy's every client) is
 * 127.0.0.1 there, so a budget would refuse the flood's neighbours as often as the flood. So are
 * the addresses an operator names as reverse proxies (`--trusted-proxy`, `trustedAddresses`): every
 * user of a proxy on another machine is its one address, and three dashboard pages through one that
 * opens a connection per request (nginx's default) went past the budget.
 */
import { isIP } from "node:net";

export const ACCEPT_RATE_PER_ADDRESS = 50;
export const ACCEPT_BURST_PER_ADDRESS = 100;
/** Addresses tracked before those whose bucket has refilled are forgotten (at most once a second). */
const TRACKED = 4096;

/** True for a loopback remote address (127.0.0.0/8, ::1, IPv4-mapped 127.x). */
export function isLoopbackAddress(address: string): boolean {
  return address.startsWith("127.") || address.startsWith("::ffff:127.") || address === "::1";
}

/**
 * One spelling of an IP address to compare remote addresses by (`2001:DB8::1` and `2001:db8:0::1`
 * alike; an IPv4 address and its IPv4-mapped form `::ffff:a.b.c.d`, as a dual-stack listener
 * reports it, alike), or null for anything else: a name, a range, a port, a zone id (`%eth0`).
 */
export function canonicalAddress(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return null;
  try {
    return new URL(`http://[${family === 4 ? `::ffff:${address}` : address}]/`).hostname;
  } catch {
    return null; // an IPv6 address with a zone id: isIP takes it, a URL does not
  }
}

/**
 * Whether a remote address is one of `addresses` (exact IPv4/IPv6 addresses, compared by
 * `canonicalAddress`). @throws Error naming the first that is not an IP address
 */
export function trustedAddresses(addresses: readonly string[]): (address: string) => boolean {
  const set = new Set<string>();
  for (const a of addresses) {
    const c = canonicalAddress(a);
    if (c === null) throw new Error(`not an IPv4 or IPv6 address: ${JSON.stringify(a)}`);
    set.add(c);
  }
  if (set.size === 0) return () => false;
  return (address) => {
    const c = canonicalAddress(address);
    return c !== null && set.has(c);
  };
}

export class AcceptBudget {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private sweptAt = 0;

  constructor(
    private readonly rate = ACCEPT_RATE_PER_ADDRESS,
    private readonly burst = ACCEPT_BURST_PER_ADDRESS,
    private readonly exempt: (address: string) => boolean = isLoopbackAddress,
  ) {}

  /** Whether `address` may open one more connection now (and takes it from its budget). */
  take(address: string, now = performance.now()): boolean {
    if (this.exempt(address)) return true;
    const b = this.buckets.get(address) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.buckets.set(address, b);
    if (this.buckets.size > TRACKED && now - this.sweptAt >= 1000) this.sweep(now);
    if (b.tokens < 1) return false;
    b.tokens--;
    return true;
  }

  /** Forgets the addresses whose bucket is full again (as good as a new one). */
  private sweep(now: number): void {
    this.sweptAt = now;
    const full = (this.burst / this.rate) * 1000;
    for (const [address, b] of this.buckets) if (now - b.at >= full) this.buckets.delete(address);
  }
}
