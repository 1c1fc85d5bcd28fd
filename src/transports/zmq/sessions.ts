import { type WorkerIdentity, workerIdentity } from "../../domain/worker.js";

/** Connections remembered at most (about 300 bytes each with a `hello`'s identity). */
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
 */
export class Sessions {
  private readonly byClient = new Map<string, Session>();

  /** The session of `client`'s connection (a new one for a connection not seen yet). */
  of(client: string): Session {
    let s = this.byClient.get(client);
    if (s === undefined) {
      this.byClient.set(client, (s = { worker: null }));
      // Bounded: the oldest goes first (its requests still hold it; later ones are anonymous).
      if (this.byClient.size > MAX_SESSIONS) this.byClient.delete(this.byClient.keys().next().value as string);
    }
    return s;
  }

  /** `client`'s connection closed: its next one is a new session; requests already received keep this one. */
  closed(client: string): void {
    this.byClient.delete(client);
  }

  /** Records a `hello`'s client description on `session` (kept longest while its connection is open and says hello again). */
  hello(client: string, session: Session, description: Parameters<typeof workerIdentity>[1]): void {
    session.worker = workerIdentity("zmq", description);
    if (this.byClient.get(client) === session) {
      this.byClient.delete(client);
      this.byClient.set(client, session);
    }
  }

  /** Who holds the trials `session`'s connection asks for. */
  static worker(session: Session | undefined): WorkerIdentity {
    return session?.worker ?? ZMQ_ANONYMOUS;
  }
}
