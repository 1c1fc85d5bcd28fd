import { randomBytes } from "node:crypto";
import type { Router } from "zeromq";

/**
 * libzmq's ZMQ_DISCONNECT_MSG (a draft option, libzmq 4.3.3): the message a ROUTER delivers after the
 * last one of each connection that closes (one whose handshake completed), with its routing id.
 */
const ZMQ_DISCONNECT_MSG = 111;

/**
 * Which connections wait for each request in flight, so that the service can drop an ask nobody
 * waits for any more (`OpContext.gone`). The ROUTER is told of each connection that closes
 * (`listen`), and a routing id that libzmq made never comes back. One a client chose
 * (ZMQ_ROUTING_ID) does, on its next connection: the asks it sent on the one that closed are
 * dropped all the same, and their UNAVAILABLE reaches it there. Kept per request id, not per
 * connection: a client that timed out resends the same id on a new connection, joining the run in
 * flight (idempotency.ts), which must go on for it.
 */
export class Requesters {
  /** Per request id: the runs in flight under it, and the connections (routing id, hex) that sent it and are still open. */
  private readonly byId = new Map<string, { runs: number; open: Map<string, number> }>();
  /** Per open connection: the request ids it has in flight. */
  private readonly byClient = new Map<string, Set<string>>();
  /** What libzmq delivers from each connection that closes: a random token, never sent; null until `listen`. */
  private departure: Buffer | null = null;

  /**
   * Has `router` deliver `[routing id, token]` from each connection that closes (ZMQ_DISCONNECT_MSG);
   * false where its libzmq cannot. Not ZMQ_ROUTER_NOTIFY: its notice is an empty message, which a
   * client's own empty message (a malformed request) matched, and that dropped the client's waiting asks.
   */
  listen(router: Router): boolean {
    const token = randomBytes(32);
    try {
      (router as unknown as { setStringOption(option: number, value: Buffer): void }).setStringOption(ZMQ_DISCONNECT_MSG, token);
    } catch {
      return false;
    }
    this.departure = token;
    return true;
  }

  /** The connection (routing id, hex) that `frames`, a received message, say closed (then `left` it), or null: a request. */
  departed(frames: readonly Buffer[]): string | null {
    if (frames.length !== 2 || this.departure === null || !this.departure.equals(frames[1] as Buffer)) return null;
    const gone = (frames[0] as Buffer).toString("hex");
    this.left(gone);
    return gone;
  }

  /**
   * Records that `client` sent request `id`; `release` when its run ends. `gone` is true once
   * every connection that sent `id` (while a run of it was in flight) has closed.
   */
  watch(id: string, client: string): { gone: () => boolean; release: () => void } {
    let entry = this.byId.get(id);
    if (entry === undefined) this.byId.set(id, (entry = { runs: 0, open: new Map() }));
    const e = entry;
    e.runs++;
    e.open.set(client, (e.open.get(client) ?? 0) + 1);
    let ids = this.byClient.get(client);
    if (ids === undefined) this.byClient.set(client, (ids = new Set()));
    ids.add(id);
    return {
      gone: () => e.open.size === 0,
      release: () => {
        const n = e.open.get(client);
        if (n !== undefined) {
          if (n > 1) e.open.set(client, n - 1);
          else {
            e.open.delete(client);
            const mine = this.byClient.get(client);
            mine?.delete(id);
            if (mine?.size === 0) this.byClient.delete(client);
          }
        }
        if (--e.runs === 0 && this.byId.get(id) === e) this.byId.delete(id);
      },
    };
  }

  /** Connection `client` closed: the requests it sent wait for it no more. */
  private left(client: string): void {
    for (const id of this.byClient.get(client) ?? []) this.byId.get(id)?.open.delete(client);
    this.byClient.delete(client);
  }
}
