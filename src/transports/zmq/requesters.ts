import { randomBytes } from "node:crypto";
import type { Router } from "zeromq";

/**
 * libzmq's ZMQ_DISCONNECT_MSG (a draft option, libzmq 4.3.3): the message a ROUTER delivers after the
 * last one of each connection that closes (one whose handshake completed), with its routing id.
 */
const ZMQ_DISCONNECT_MSG = 111;
/** libzmq's ZMQ_ROUTER_NOTIFY (a draft option) and its ZMQ_NOTIFY_CONNECT: an empty message before a new connection's first. */
const ZMQ_ROUTER_NOTIFY = 97;
const ZMQ_NOTIFY_CONNECT = 1;

/** What a received message is to `Requesters.arrived`: a connection's notice that it opened or closed, or a request (null). */
export type Notice = "opened" | "closed" | null;

/**
 * Which connections wait for each request in flight, so that the service can drop an ask nobody
 * waits for any more (`OpContext.gone`): one whose every sender's routing id has no connection open.
 * The ROUTER tells of each connection that opens and closes (`listen`). A routing id that libzmq
 * made never comes back; one a client chose (ZMQ_ROUTING_ID) does, on its next connection (libzmq
 * reconnects a connection that broke 100 ms later), and the asks it sent on the one that closed
 * are answered there if it is back by their turn (libzmq's ROUTER reads nothing of a connection
 * made while the one closing still holds its routing id, e.g. while this thread was busy:
 * protocol/PROTOCOL.md). Kept per request id, not per connection: a client that timed out resends
 * the same id on a new connection, joining the run in flight (idempotency.ts), which must go on for it.
 */
export class Requesters {
  /** Per request id: the runs in flight under it, and the connections (routing id, hex) that sent it, with their runs. */
  private readonly byId = new Map<string, { runs: number; senders: Map<string, number> }>();
  /** The routing ids (hex) with a connection open, from the messages received; kept once `listen` succeeded. */
  private readonly open = new Set<string>();
  /** What libzmq delivers from each connection that closes: a random token, never sent; null until `listen`. */
  private departure: Buffer | null = null;
  /** Whether each new connection's first message is an empty notice (ZMQ_NOTIFY_CONNECT). */
  private connectNotices = false;

  /**
   * Has `router` deliver `[routing id, token]` from each connection that closes (ZMQ_DISCONNECT_MSG)
   * and `[routing id, empty]` before a new one's first message (ZMQ_ROUTER_NOTIFY); false where its
   * libzmq cannot tell of closed connections. Not ZMQ_ROUTER_NOTIFY's disconnect notice: an empty
   * message, which a client's own empty message (a malformed request) matched, and that dropped the
   * client's waiting asks. A connect notice is told apart from it: it comes before any other message
   * of its connection, so from a routing id with none open.
   */
  listen(router: Router): boolean {
    const options = router as unknown as { setStringOption(option: number, value: Buffer): void; setInt32Option(option: number, value: number): void };
    const token = randomBytes(32);
    try {
      options.setStringOption(ZMQ_DISCONNECT_MSG, token);
    } catch {
      return false;
    }
    this.departure = token;
    try {
      options.setInt32Option(ZMQ_ROUTER_NOTIFY, ZMQ_NOTIFY_CONNECT);
      this.connectNotices = true;
    } catch {
      // A client that chose its routing id and connected again is known to be back by its first request.
    }
    return true;
  }

  /**
   * What `frames`, a message received from routing id `client` (hex), are: its connection's notice
   * that it opened ("opened") or closed ("closed"), or a request (null): its connection is open.
   */
  arrived(frames: readonly Buffer[], client: string): Notice {
    if (this.departure === null) return null;
    if (frames.length === 2 && this.departure.equals(frames[1] as Buffer)) {
      this.open.delete(client);
      return "closed";
    }
    if (this.open.has(client)) return null;
    this.open.add(client);
    return this.connectNotices && frames.length === 2 && (frames[1] as Buffer).byteLength === 0 ? "opened" : null;
  }

  /** Whether `client` (routing id, hex) has no connection open now, as far as the notices tell (false without them). */
  left(client: string): boolean {
    return this.departure !== null && !this.open.has(client);
  }

  /**
   * Records that `client` sent request `id`; `release` when its run ends. `gone` is true while no
   * routing id that sent `id` (while a run of it was in flight) has a connection open.
   */
  watch(id: string, client: string): { gone: () => boolean; release: () => void } {
    let entry = this.byId.get(id);
    if (entry === undefined) this.byId.set(id, (entry = { runs: 0, senders: new Map() }));
    const e = entry;
    e.runs++;
    e.senders.set(client, (e.senders.get(client) ?? 0) + 1);
    return {
      gone: () => this.departure !== null && ![...e.senders.keys()].some((c) => this.open.has(c)),
      release: () => {
        const n = e.senders.get(client) ?? 1;
        if (n > 1) e.senders.set(client, n - 1);
        else e.senders.delete(client);
        if (--e.runs === 0 && this.byId.get(id) === e) this.byId.delete(id);
      },
    };
  }
}
