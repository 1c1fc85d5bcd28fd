/**
 * How many dashboard ops run at once, and who waits (MCP has 64 tool calls per session, ZeroMQ
 * `--max-inflight`; the dashboard had no limit: 100 clients each asking `plot_spec` slices of a
 * 1,000-trial study in a loop made another client's `studies_overview` wait up to 2.6 s, behind
 * every chart read in the same turn of the event loop).
 *
 * Two lanes, so a cheap read never waits behind the expensive ones: `HEAVY_OPS` (charts and whole
 * trial tables, tens of ms and hundreds of KB each on a big study) and the rest. A lane runs at
 * most `running` ops; an op counts until its answer is handed over (`end`) and one more turn of the
 * event loop has passed, so a lane starts at most `running` ops per turn and every other
 * connection's request is read between turns, however fast the ops' storage answers. Beyond that
 * an op waits in the lane's queue (at most `queued`, answered in turn, the addresses with the fewest
 * ops running first, oldest first among them). The queue full, a newcomer from an address holding
 * fewer queued ops than the address holding the most takes the place of that address's newest;
 * otherwise it is refused. A refused op is answered 503 with `Retry-After` (never run: safe to
 * retry, writes included), which the page retries after.
 *
 * A few browser tabs never reach `running`: their ops run at once, as before.
 */

/** Ops whose answers are big on a big study: charts and trial tables. */
export const HEAVY_OPS: ReadonlySet<string> = new Set(["plot_spec", "query_trials", "trajectory", "lineage"]);

export interface LaneLimits {
  /** Ops of the lane running at once. */
  readonly running: number;
  /** Ops of the lane waiting for their turn; one more is refused (or displaces, see above). */
  readonly queued: number;
}

/** [running 4, queued 32]: a page asks a handful of charts at once. */
export const HEAVY_LANE: LaneLimits = { running: 4, queued: 32 };
/** [running 16, queued 64] */
export const LIGHT_LANE: LaneLimits = { running: 16, queued: 64 };
/** Seconds a refused client is told to wait (`Retry-After`). */
export const RETRY_AFTER_S = 1;

/** Runs the op once it may (`release` when its answer is handed over); `refuse` when it may not. */
export interface GateTicket {
  /** Who asks: the dashboard gives the door's `clientKey` (the remote address, an IPv6 one's /64, or the client a trusted proxy forwards). */
  readonly address: string;
  readonly run: (release: () => void) => void;
  readonly refuse: () => void;
}

class Lane {
  private runningNow = 0;
  private readonly runningBy = new Map<string, number>();
  /** Waiting tickets, oldest first. */
  private readonly waiting: GateTicket[] = [];
  /** Ops refused since start (queue full). */
  refused = 0;
  /** Queued ops that gave their place to another address's (refused). */
  displaced = 0;

  constructor(private readonly limits: LaneLimits) {}

  get running(): number {
    return this.runningNow;
  }

  get queued(): number {
    return this.waiting.length;
  }

  enter(t: GateTicket): void {
    if (this.runningNow < this.limits.running && this.waiting.length === 0) return this.start(t);
    if (this.waiting.length < this.limits.queued) {
      this.waiting.push(t);
      return;
    }
    const busiest = this.busiestQueued();
    if (busiest !== null && busiest.count > this.queuedOf(t.address) + 1) {
      // The newest of the address holding the most gives its place up.
      let i = this.waiting.length - 1;
      while ((this.waiting[i] as GateTicket).address !== busiest.address) i--;
      const [out] = this.waiting.splice(i, 1);
      this.displaced++;
      this.waiting.push(t);
      out?.refuse();
      return;
    }
    this.refused++;
    t.refuse();
  }

  private queuedOf(address: string): number {
    let n = 0;
    for (const w of this.waiting) if (w.address === address) n++;
    return n;
  }

  private busiestQueued(): { address: string; count: number } | null {
    const counts = new Map<string, number>();
    let best: { address: string; count: number } | null = null;
    for (const w of this.waiting) {
      const c = (counts.get(w.address) ?? 0) + 1;
      counts.set(w.address, c);
      if (best === null || c > best.count) best = { address: w.address, count: c };
    }
    return best;
  }

  private start(t: GateTicket): void {
    this.runningNow++;
    this.runningBy.set(t.address, (this.runningBy.get(t.address) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      // One more turn: the requests read meanwhile (other connections') get theirs first.
      setImmediate(() => {
        this.runningNow--;
        const left = (this.runningBy.get(t.address) ?? 1) - 1;
        if (left === 0) this.runningBy.delete(t.address);
        else this.runningBy.set(t.address, left);
        this.pump();
      });
    };
    try {
      t.run(release);
    } catch (err) {
      release();
      throw err;
    }
  }

  /** Starts waiting ops while there is room: the addresses with the fewest running first, oldest first. */
  private pump(): void {
    while (this.runningNow < this.limits.running && this.waiting.length > 0) {
      let pick = 0;
      let least = Number.POSITIVE_INFINITY;
      for (let i = 0; i < this.waiting.length && least > 0; i++) {
        const n = this.runningBy.get((this.waiting[i] as GateTicket).address) ?? 0;
        if (n < least) {
          least = n;
          pick = i;
        }
      }
      const [t] = this.waiting.splice(pick, 1);
      this.start(t as GateTicket);
    }
  }
}

/** The dashboard's two lanes. */
export class OpGate {
  readonly heavy: Lane;
  readonly light: Lane;

  constructor(heavy: LaneLimits = HEAVY_LANE, light: LaneLimits = LIGHT_LANE) {
    this.heavy = new Lane(heavy);
    this.light = new Lane(light);
  }

  /** Runs or queues op `name`'s ticket in its lane, or refuses it. */
  enter(name: string, t: GateTicket): void {
    (HEAVY_OPS.has(name) ? this.heavy : this.light).enter(t);
  }

  /** Ops refused since start, both lanes (queue full or displaced). */
  get refused(): number {
    return this.heavy.refused + this.heavy.displaced + this.light.refused + this.light.displaced;
  }
}
