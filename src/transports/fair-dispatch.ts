/**
 * Fair dispatch between a door's clients: the ZeroMQ ROUTER's (zmq-server.ts, by routing id) and MCP
 * over HTTP's (mcp/fair-calls.ts, by client), hence beside both doors. The server has one thread: a request whose op runs
 * for 100 ms (a deep `trials` page sorted by value, a `query_trials` sort of a big study) holds
 * everything else for that long, and one client may pipeline up to `max_inflight` of them. Started
 * in arrival order, they held every other client's hello, ask, tell and heartbeat behind them for
 * minutes, and leases expired. Here each client (routing id) has a queue and, while it holds
 * requests, a slot in each turn of the event loop (a `setImmediate` of its own): the slot starts
 * the client's oldest requests, in the order it sent them, and the next slot (another client's, or
 * its own in the next turn, after the event loop has read what arrived meanwhile) comes once they
 * have run as far as they can without waiting (their microtasks included).
 *
 * A slot starts one request, or while the client's last slot cost under `QUANTUM_MS` twice as many
 * as then (at most `MAX_PER_SLOT`); one that cost more starts as many as fit the quantum at that
 * cost (at least one). Cheap pipelined requests (asks, tells) thus start dozens to a turn and their
 * changes commit in few transactions (group commit), while a client whose requests are slow starts
 * one per turn; a slot also stops starting once it has held the thread `QUANTUM_MS` itself. A
 * slot's cost is the CPU time (`cpuMs`) until its requests have run as far as they can, read by an
 * immediate queued right behind the slot (`mark`). It was the time until the next slot, which
 * counted whatever ran between (the group commit of the requests started the turn before, the
 * sending of their replies) and time the machine gave other processes: a client pipelining 400
 * cheap asks mostly started 1 to 8 a turn and took 32 to 46 commits, now 10 to 15
 * (bench/zmq-group-commit.mjs, docs/BENCHMARKS.md). A request of another client waits behind
 * about one slow request per busy client (more, at most `MAX_PER_SLOT`, once, when a client's
 * cheap requests turn slow after they started). A client's only request in flight is not queued:
 * the server starts it at once (zmq-server.ts).
 */
export const QUANTUM_MS = 2;
export const MAX_PER_SLOT = 64;

/** The CPU time the process has used (ms): a slot's cost, which time the machine gave other processes meanwhile does not inflate. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Client<T> {
  readonly queue: T[];
  /** Requests the next slot may start. */
  perSlot: number;
  readonly slot: () => void;
}

export class FairDispatch<T> {
  private readonly clients = new Map<string, Client<T>>();
  /** The client whose slot ran last and has not been measured yet, and when it began (see `mark`). */
  private last: { client: Client<T>; at: number } | null = null;
  /** Ends the measure of the slot that ran just before it: its requests have run as far as they can. */
  private readonly mark = (): void => {
    if (this.last === null) return;
    const l = this.last.client;
    const cost = cpuMs() - this.last.at;
    l.perSlot = cost < QUANTUM_MS ? Math.min(l.perSlot * 2, MAX_PER_SLOT) : Math.max(1, Math.floor((l.perSlot * QUANTUM_MS) / cost));
    this.last = null;
  };
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
    this.schedule(fresh);
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

  /**
   * Queues `c`'s next slot with its `mark` right behind it: immediates run in the order queued,
   * with the microtasks of each drained before the next, so the mark runs once the slot's requests
   * have run as far as they can, before anything queued after the slot (a commit, another client's slot).
   */
  private schedule(c: Client<T>): void {
    setImmediate(c.slot);
    setImmediate(this.mark);
  }

  private serve(id: string, c: Client<T>): void {
    this.last = { client: c, at: cpuMs() };
    const began = performance.now();
    for (let n = c.perSlot; n > 0 && c.queue.length > 0 && (n === c.perSlot || performance.now() - began < QUANTUM_MS); n--) {
      try {
        this.start(c.queue.shift() as T);
      } catch {
        // `start` must not throw; a throw is not allowed to stop the others.
      }
    }
    if (c.queue.length > 0) this.schedule(c);
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
