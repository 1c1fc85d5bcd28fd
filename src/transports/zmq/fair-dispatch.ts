/**
 * Fair dispatch between a ROUTER's clients. The server has one thread: a request whose op runs
 * for 100 ms (a deep `trials` page sorted by value, a `query_trials` sort of a big study) holds
 * everything else for that long, and one client may pipeline up to `max_inflight` of them. Started
 * in arrival order, they held every other client's hello, ask, tell and heartbeat behind them for
 * minutes, and leases expired. Here each client (routing id) has a queue and, while it holds
 * requests, a slot in each turn of the event loop (a `setImmediate` of its own): the slot starts
 * the client's oldest requests, in the order it sent them, and the next slot (another client's, or
 * its own in the next turn, after the event loop has read what arrived meanwhile) comes once they
 * have run as far as they can without waiting (their microtasks included). A slot starts one
 * request, or while the client's last slot took under `QUANTUM_MS` of the thread twice as many as
 * then (at most `MAX_PER_SLOT`): cheap pipelined requests (asks, tells) still start many to a turn,
 * and their changes commit in one transaction (group commit), while a client whose requests are
 * slow starts one per turn. A request of another client thus waits behind about one slow request
 * per busy client (at most `MAX_PER_SLOT`, once, when a client's cheap requests turn slow). A
 * client's only request in flight is not queued: the server starts it at once (zmq-server.ts).
 */
export const QUANTUM_MS = 2;
export const MAX_PER_SLOT = 16;

interface Client<T> {
  readonly queue: T[];
  /** Requests the next slot may start. */
  perSlot: number;
  readonly slot: () => void;
}

export class FairDispatch<T> {
  private readonly clients = new Map<string, Client<T>>();
  /** The client whose slot ran last, and when it began: the time until the next slot is its cost. */
  private last: { client: Client<T>; at: number } | null = null;
  private waiters: (() => void)[] = [];

  /** `start` begins one request (it must not throw: a throw is counted as its start and passed over). */
  constructor(private readonly start: (item: T) => void) {}

  /** Queues `item` behind `client`'s others; it starts in a slot of a later turn (never inside this call). */
  submit(client: string, item: T): void {
    const c = this.clients.get(client);
    if (c !== undefined) {
      c.queue.push(item);
      return;
    }
    const fresh: Client<T> = { queue: [item], perSlot: 1, slot: () => this.serve(client, fresh) };
    this.clients.set(client, fresh);
    setImmediate(fresh.slot);
  }

  /** Requests queued and not started yet. */
  get queued(): number {
    let n = 0;
    for (const c of this.clients.values()) n += c.queue.length;
    return n;
  }

  /** Resolves once every queued request has started (at once when none is queued). */
  drained(): Promise<void> {
    if (this.clients.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private serve(id: string, c: Client<T>): void {
    const now = performance.now();
    if (this.last !== null) {
      const l = this.last.client;
      l.perSlot = now - this.last.at < QUANTUM_MS ? Math.min(l.perSlot * 2, MAX_PER_SLOT) : 1;
    }
    this.last = { client: c, at: now };
    for (let n = c.perSlot; n > 0 && c.queue.length > 0; n--) {
      try {
        this.start(c.queue.shift() as T);
      } catch {
        // `start` must not throw; a throw is not allowed to stop the others.
      }
    }
    if (c.queue.length > 0) setImmediate(c.slot);
    else {
      this.clients.delete(id);
      if (this.clients.size === 0 && this.waiters.length > 0) {
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w();
      }
    }
  }
}
