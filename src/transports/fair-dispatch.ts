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
 *
 * A request `start` refuses without running anything (it returns `false`: MCP's call cancelled while
 * it waited, fair-calls.ts) neither counts against the slot's allowance nor tells anything of the
 * client's cost: a slot that ran none leaves the allowance as it was. A slot still starts at most
 * `MAX_PER_SLOT` requests, refused or run: the 2 ms guard times only the loop, and a refusal's cost
 * mostly follows it (its rejection's handlers: the MCP SDK's error reply, some 50 µs), so a client that
 * cancelled hundreds of queued calls had some 350 refused in one slot, 20 ms held before any other
 * client's slot, where a slot had started at most 64. Counted as a run, a refusal measured next to
 * nothing, so a client behind its own costly calls that sent 63 calls and cancelled them had its allowance
 * doubled by each slot of them (1, 2 ... 32: 64), and its next 64 costly ops started in one slot while
 * every other client waited behind them (fair-dispatch.test.ts; over MCP's HTTP door, whose refusals
 * each cost some 55 µs after the loop, 3 to 6: fair-calls-http.test.ts).
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
  /** Requests the next slot may start (run: those `start` refused are not counted). */
  perSlot: number;
  /** Requests the slot being measured ran (see `mark`). */
  ran: number;
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
    // A slot that only refused requests says nothing of the client's cost.
    if (l.ran > 0) l.perSlot = cost < QUANTUM_MS ? Math.min(l.perSlot * 2, MAX_PER_SLOT) : Math.max(1, Math.floor((l.perSlot * QUANTUM_MS) / cost));
    this.last = null;
  };
  private waiters: (() => void)[] = [];

  /**
   * `start` begins one request (it must not throw: a throw is counted as its start and passed over),
   * or returns `false` when it refused it without running anything.
   */
  constructor(private readonly start: (item: T) => unknown) {}

  /** Queues `item` behind `client`'s others; it starts in a slot of a later turn (never inside this call). */
  submit(client: string, item: T): void {
    const c = this.clients.get(client);
    if (c !== undefined) {
      c.queue.push(item);
      return;
    }
    const fresh: Client<T> = { queue: [item], perSlot: 1, ran: 0, slot: () => this.serve(client, fresh) };
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
    c.ran = 0;
    // Refusals are bounded by count as well as by the 2 ms: the guard sees only their synchronous part,
    // and each one's rejection then runs its handlers (the SDK's error reply, ~50 µs) before the next slot.
    for (
      let tried = 0;
      c.ran < c.perSlot && tried < MAX_PER_SLOT && c.queue.length > 0 && (tried === 0 || performance.now() - began < QUANTUM_MS);
      tried++
    ) {
      try {
        if (this.start(c.queue.shift() as T) !== false) c.ran++;
      } catch {
        // `start` must not throw; a throw is not allowed to stop the others.
        c.ran++;
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
