import { type WorkerIdentity, workerIdentity } from "../../domain/worker.js";

/** Connections whose `hello` is remembered at most (about 300 bytes each with its identity). */
export const MAX_SESSIONS = 10_000;
/** The holder of a trial asked by a client that sent no `hello` (or whose hello was forgotten). */
export const ZMQ_ANONYMOUS = workerIdentity("zmq");

/** One connection of a routing id: what its `hello` said about the client (null before one). */
export interface Session {
  worker: WorkerIdentity | null;
}

/**
 * The connection each routing id (hex) has now, and what its `hello` said: who holds the trials it
 * asks for. A request takes its connection's session at its arrival and keeps it until it is
 * answered. Before, the identity was looked up by routing id when a queued request started: a
 * connection that closed had its identity forgotten at once, so its asks still waiting for their
 * turn were recorded as anonymous ("zmq"), and under a routing id a client chose (ZMQ_ROUTING_ID)
 * those of the connection that closed were recorded as whoever said hello on the next one
 * (test/zmq-departed-requests.test.ts).
 *
 * Only a connection that said hello is remembered between its requests (`named`), up to `max`,
 * the one whose last request is oldest forgotten first. A connection without one is kept only
 * while it has requests in flight (`pending`: a hello among them names the requests queued behind
 * it), then forgotten (`idle`): it has nothing to remember. Before, every connection that sent a
 * request took a place among the 10,000 until it closed, hello or not, so 10,000 idle connections
 * that each sent one request pushed out the identity of every real client, whose asks and leases
 * were then recorded as anonymous (zmq-server.sessions.test.ts).
 */
export class Sessions {
  /** Connections that said hello, in the order of their last request (the oldest first). */
  private readonly named = new Map<string, Session>();
  /** Connections without a hello that have requests in flight. */
  private readonly pending = new Map<string, Session>();

  /**
   * @param busy whether `client` has requests in flight now: a named connection pushed out of the
   * bound while busy is kept (as `pending`) until it idles, so a `hello` of its that was queued then
   * still names it. Before, such a hello found its session neither named nor pending, recorded the
   * name on a session no later request took, and the connection stayed anonymous
   * (sessions.test.ts).
   */
  constructor(
    private readonly max = MAX_SESSIONS,
    private readonly busy: (client: string) => boolean = () => false,
  ) {}

  /** The session of `client`'s connection (a new one for a connection not seen yet), taken by a request that arrived. */
  of(client: string): Session {
    const named = this.named.get(client);
    if (named !== undefined) {
      this.named.delete(client);
      this.named.set(client, named);
      return named;
    }
    let s = this.pending.get(client);
    if (s === undefined) this.pending.set(client, (s = { worker: null }));
    return s;
  }

  /** `client` has no request in flight: a connection without a hello is forgotten (its next request starts a new session). */
  idle(client: string): void {
    this.pending.delete(client);
  }

  /** `client`'s connection closed: its next one is a new session; requests already received keep this one. */
  closed(client: string): void {
    this.named.delete(client);
    this.pending.delete(client);
  }

  /** Records a `hello`'s client description on `session`, remembered for the connection while it is `client`'s current one. */
  hello(client: string, session: Session, description: Parameters<typeof workerIdentity>[1]): void {
    session.worker = workerIdentity("zmq", description);
    if (this.pending.get(client) === session) this.pending.delete(client);
    else if (this.named.get(client) === session) this.named.delete(client);
    else return;
    this.named.set(client, session);
    // Bounded: the connection whose last request is oldest goes (its requests still hold it; later ones are anonymous).
    if (this.named.size > this.max) {
      const [oldest, evicted] = this.named.entries().next().value as [string, Session];
      this.named.delete(oldest);
      if (this.busy(oldest)) this.pending.set(oldest, evicted);
    }
  }

  /** Who holds the trials `session`'s connection asks for. */
  static worker(session: Session | undefined): WorkerIdentity {
    return session?.worker ?? ZMQ_ANONYMOUS;
  }
}
