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
 *
 * A budget is kept per `addressKey`: an IPv4 address (IPv4-mapped IPv6 as IPv4), an IPv6 address's
 * /64. One host is handed a whole /64 (SLAAC, privacy addresses), so a client that opened each
 * connection from another address of its /64 had a budget per connection, i.e. none.
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

/** The 8 groups of a valid IPv6 address (`isIP(address) === 6`, no zone id), a dotted IPv4 tail read as two. */
function groupsOf(address: string): number[] {
  let s = address;
  const tail: number[] = [];
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    tail.push(a * 256 + b, c * 256 + d);
    s = s.slice(0, v4.index);
    if (!s.endsWith("::")) s = s.slice(0, -1);
  }
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((h) => parseInt(h, 16)));
  const gap = s.indexOf("::");
  if (gap < 0) return [...parse(s), ...tail];
  const head = parse(s.slice(0, gap));
  const rest = parse(s.slice(gap + 2));
  return [...head, ...Array<number>(8 - head.length - rest.length - tail.length).fill(0), ...rest, ...tail];
}

/**
 * What one client's limits are counted under: an IPv4 address as it is (its IPv4-mapped IPv6 form
 * `::ffff:a.b.c.d` as the IPv4 address), loopback `::1` as it is, any other IPv6 address by its
 * /64 prefix (`2001:db8:0:7::/64`, a zone id dropped; with `prefix` false the whole address, in
 * one spelling), anything else (not an IP address) as it is.
 */
export function addressKey(address: string, prefix = true): string {
  const bare = address.replace(/%.*$/, "");
  const family = isIP(bare);
  if (family === 4) return bare;
  if (family !== 6) return address;
  const g = groupsOf(bare);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `${(g[6] as number) >> 8}.${(g[6] as number) & 255}.${(g[7] as number) >> 8}.${(g[7] as number) & 255}`;
  if (!prefix || (g.slice(0, 7).every((x) => x === 0) && g[7] === 1)) return (canonicalAddress(bare) ?? bare).replace(/^\[|\]$/g, "");
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(":")}::/64`;
}

/**
 * The address a request from `remote` speaks for: `remote` itself, unless `remote` is a trusted
 * proxy (`trusted`); then the right-most address of `X-Forwarded-For` (`forwarded`, every header
 * of that name read as one list) that is not itself a trusted proxy. A missing header, an empty or
 * malformed entry met before that one (anything but an exact IPv4/IPv6 address: a port, brackets,
 * a name, `unknown`), or a list of trusted proxies only, gives `remote`. The header of a peer that
 * is not a trusted proxy is never read: anyone can send one.
 */
export function forwardedClient(remote: string, forwarded: string | string[] | undefined, trusted: (address: string) => boolean): string {
  if (forwarded === undefined || !trusted(remote)) return remote;
  const hops = (Array.isArray(forwarded) ? forwarded.join(",") : forwarded).split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = (hops[i] as string).trim();
    if (canonicalAddress(hop) === null) return remote;
    if (!trusted(hop)) return hop;
  }
  return remote;
}

/** A trusted proxy's address or network: its first `bits` bits of the 128 (an IPv4 one as its IPv4-mapped form, 96 + n). */
interface ProxyNet {
  readonly groups: readonly number[];
  readonly bits: number;
}

/**
 * An exact IPv4/IPv6 address, or a network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`; the
 * prefix length 0–32 or 0–128, plain digits) written by its first address; null for anything else
 * (a name, a port, a zone id, an address with bits set past its prefix: `hostBitsSet`).
 */
export function proxyNet(entry: string): ProxyNet | null {
  const net = parseNet(entry);
  return net === null || hostBits(net) ? null : net;
}

/**
 * Whether `entry` is a CIDR network but for bits set past its prefix (`10.1.2.3/8`). Refused rather
 * than masked: `::ffff:10.0.0.0/8`, the IPv4-mapped spelling a dual-stack listener logs with an
 * IPv4 prefix, masks to `::/8`, which holds every IPv4 peer (and `::1`).
 */
export function hostBitsSet(entry: string): boolean {
  const net = parseNet(entry);
  return net !== null && hostBits(net);
}

function hostBits(net: ProxyNet): boolean {
  return net.groups.some((g, i) => {
    const left = net.bits - 16 * i;
    return left < 16 && (g & (left <= 0 ? 0xffff : 0xffff >> left)) !== 0;
  });
}

function parseNet(entry: string): ProxyNet | null {
  const slash = entry.indexOf("/");
  const base = slash < 0 ? entry : entry.slice(0, slash);
  const c = canonicalAddress(base);
  if (c === null) return null;
  const v4 = isIP(base) === 4;
  let bits = 128;
  if (slash >= 0) {
    const n = entry.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(n) || Number(n) > (v4 ? 32 : 128)) return null;
    bits = (v4 ? 96 : 0) + Number(n);
  }
  return { groups: groupsOf(c.slice(1, -1)), bits };
}

function inNet(net: ProxyNet, g: readonly number[]): boolean {
  for (let i = 0, left = net.bits; left > 0; i++, left -= 16) {
    const mask = left >= 16 ? 0xffff : (0xffff << (16 - left)) & 0xffff;
    if (((g[i] as number) & mask) !== ((net.groups[i] as number) & mask)) return false;
  }
  return true;
}

/**
 * Which peers a trusted entry holds all of: "every peer" for `::/0`, "every IPv4 peer" for a
 * network holding the whole IPv4-mapped range (`0.0.0.0/0`, `::ffff:0.0.0.0/96`, `::/8`), else null
 * (an entry that is not a network `proxyNet` takes is null too). Trusting such a network lets any
 * client pick the address it is counted under by sending `X-Forwarded-For`.
 */
export function everyPeerTrusted(entry: string): "every peer" | "every IPv4 peer" | null {
  const net = proxyNet(entry);
  if (net === null) return null;
  if (net.bits === 0) return "every peer";
  return net.bits <= 96 && inNet(net, [0, 0, 0, 0, 0, 0xffff, 0, 0]) ? "every IPv4 peer" : null;
}

/**
 * Whether a remote address is one of `addresses`: exact IPv4/IPv6 addresses, compared by
 * `canonicalAddress`, or networks in CIDR notation (`proxyNet`; a proxy whose address changes, as
 * an ingress controller's pods do, named by its subnet). An IPv4 address and network match the
 * IPv4-mapped form of the address too. @throws Error naming the first that is neither
 */
export function trustedAddresses(addresses: readonly string[]): (address: string) => boolean {
  const set = new Set<string>();
  const nets: ProxyNet[] = [];
  for (const a of addresses) {
    const net = proxyNet(a);
    if (net === null)
      throw new Error(`not an IPv4 or IPv6 address or CIDR network${hostBitsSet(a) ? " (address bits set past the prefix)" : ""}: ${JSON.stringify(a)}`);
    if (net.bits === 128) set.add(canonicalAddress(a.split("/")[0] as string) as string);
    else nets.push(net);
  }
  if (set.size === 0 && nets.length === 0) return () => false;
  return (address) => {
    const c = canonicalAddress(address);
    if (c === null) return false;
    if (set.has(c)) return true;
    if (nets.length === 0) return false;
    const g = groupsOf(c.slice(1, -1));
    return nets.some((net) => inNet(net, g));
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

  /** Whether `address` may open one more connection now (and takes it from the budget of its `addressKey`). */
  take(address: string, now = performance.now()): boolean {
    if (this.exempt(address)) return true;
    const key = addressKey(address);
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.buckets.set(key, b);
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
