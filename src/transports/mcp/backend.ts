/**
 * What the MCP adapter needs from tuneport, with two implementations:
 * - `serviceBackend`: the in-process StudyService (`tuneport mcp --storage`, `serve --mcp-http`);
 * - `RemoteBackend`: a running server reached over ZeroMQ (`tuneport mcp --connect`).
 *
 * Both expose every op of the table through one typed `call(op, args)`, so a tool reaches whatever
 * workers reach, with the same results. Derived read models (summary, importances, plots) are ops
 * computed by the service where the trials live, so both modes agree and `--connect` never ships a
 * big study's trials to compute them (`wait_for_progress` reads one page of the latest finished
 * trials, not the study).
 */
import type { Logger } from "pino";
import { TuneportError } from "../../domain/errors.js";
import { type WorkerIdentity, workerIdentity } from "../../domain/worker.js";
import { MUTATING_OPS, type OpArgs, type OpName, type OpResult } from "../../service/ops/ops.js";
import type { StudyChange, StudyService } from "../../service/study-service.js";
import type { StudyView, TrialView } from "../../service/views.js";
import { sendChange } from "../change-resend.js";
import type { ZmqClient } from "../zmq/zmq-client.js";

/** An agent over MCP whose session and name are not known (stdio, or before `initialize`). */
const MCP_AGENT = workerIdentity("mcp");

export interface McpBackend {
  /**
   * Runs one op of the table. A change waiting out a full disk (`sendChange`) ends at its next wait
   * once `signal` aborts (the agent cancelled the call). @throws TuneportError.
   */
  call<K extends OpName>(op: K, args: OpArgs<K>, signal?: AbortSignal): Promise<OpResult<K>>;
  /** A number that changes whenever the study changes. @throws NOT_FOUND. */
  version(study: string): Promise<number>;
  /**
   * Resolves with the new version once the study changed since `since`, or at the timeout or when
   * `signal` aborts with the current one.
   */
  waitForChange(study: string, since: number, timeoutMs: number, signal?: AbortSignal): Promise<number>;
  /** Subscribes to changes of every study; returns the unsubscribe function. */
  onChange(listener: (change: StudyChange) => void): () => void;
  close(): Promise<void>;
  /**
   * Whether a trial's `worker` attribute names an agent of this MCP surface, whose trials only
   * `tell_trial` finishes. Absent: an ask over MCP (`askedOverMcp`).
   */
  heldByAgent?(worker: unknown): boolean;
  /**
   * The same backend, with every op it runs attributed to `who()` (asked at each call: an MCP
   * session's agent is known after `initialize`), which `ask` records as the trial's holder.
   * Absent on `RemoteBackend`: its ZeroMQ `hello` identifies it to the server.
   */
  as?(who: () => WorkerIdentity): McpBackend;
}

/** True for the `worker` attribute of a trial asked over MCP (stdio or an HTTP session). */
export const askedOverMcp = (worker: unknown): boolean => (worker as { transport?: unknown } | undefined)?.transport === "mcp";

/**
 * `backend` with every call's change wait ended by `signal` (an MCP tool call the agent cancelled):
 * a cancelled change refused for a full disk kept its call, and one of the session's tool-call slots,
 * sent again for 20 s.
 */
export function cancellableBy(backend: McpBackend, signal: AbortSignal): McpBackend {
  return {
    call: (op, args, own) => backend.call(op, args, own ? AbortSignal.any([signal, own]) : signal),
    version: (s) => backend.version(s),
    waitForChange: (s, since, ms, own) => backend.waitForChange(s, since, ms, own),
    onChange: (l) => backend.onChange(l),
    close: () => backend.close(),
    ...(backend.heldByAgent ? { heldByAgent: (w: unknown) => backend.heldByAgent?.(w) === true } : {}),
    ...(backend.as ? { as: (who: () => WorkerIdentity) => cancellableBy((backend.as as NonNullable<McpBackend["as"]>)(who), signal) } : {}),
  };
}

/** The in-process service. `close` leaves the service open: its owner closes it. */
export function serviceBackend(service: StudyService, who: () => WorkerIdentity = () => MCP_AGENT): McpBackend {
  return {
    // A change carries a request id, so that one refused for a full disk is waited out (`sendChange`).
    call: (op, args, signal) =>
      MUTATING_OPS.has(op)
        ? sendChange(op, (requestId) => service.execute(op, args, { worker: who(), requestId }), undefined, signal)
        : service.execute(op, args, { worker: who() }),
    as: (other) => serviceBackend(service, other),
    version: async (s) => service.versionOf(s),
    waitForChange: (s, since, ms, signal) => service.waitForChange(s, since, ms, signal),
    onChange: (l) => service.onChange(l),
    close: async () => undefined,
  };
}

/**
 * A running server over ZeroMQ. The protocol has no change feed, so this polls
 * `list_studies` (every `pollMs`, each page of it) and derives created/updated/deleted events and per-study
 * versions from a fingerprint of each study's view (counts, best value, settings, stopped flag,
 * notes). Intermediate reports, which change none of it, are not seen as changes in this mode.
 */
export class RemoteBackend implements McpBackend {
  private readonly fingerprints = new Map<string, string>();
  private readonly versions = new Map<string, number>();
  private readonly listeners = new Set<(c: StudyChange) => void>();
  private timer: NodeJS.Timeout | null = null;
  private polling: Promise<void> | null = null;
  /** Waits to wake when a poll fails: a server gone mid-wait ended it only at its timeout, then a get_study's own timeout later. */
  private readonly pollFailures = new Set<(err: TuneportError) => void>();
  /** Aborted by `stopTaking`: a change being sent again is answered outcome unknown, not after its 20 s. */
  private readonly stopping = new AbortController();

  constructor(
    private readonly client: ZmqClient,
    private readonly log: Logger,
    private readonly pollMs = 500,
  ) {}

  /** Takes the first snapshot and starts polling. */
  async start(): Promise<void> {
    await this.poll();
    this.timer = setInterval(() => {
      if (!this.polling) this.polling = this.poll().finally(() => (this.polling = null));
    }, this.pollMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const studies: StudyView[] = [];
    try {
      // Every page: a reply ends before about 8 MiB (a server with many studies, or large ones),
      // and a study past the first page never woke a wait, or was announced deleted when the
      // studies before it grew. A server from before list_studies paged answers no next_cursor.
      let cursor: string | null | undefined;
      do {
        const page = await this.client.call("list_studies", cursor ? { cursor } : {});
        studies.push(...page.studies);
        cursor = page.next_cursor;
      } while (cursor);
    } catch (err) {
      this.log.warn({ err: err as TuneportError }, "polling the server failed");
      if (err instanceof TuneportError && err.code === "UNAVAILABLE") for (const l of [...this.pollFailures]) l(err);
      return;
    }
    const seen = new Set<string>();
    for (const s of studies) {
      seen.add(s.name);
      // The whole view: stop_study and update_study change no count, yet a pending wait_for_progress
      // must wake to find the study stuck, and subscribed clients hear of them.
      const fp = JSON.stringify(s);
      const old = this.fingerprints.get(s.name);
      if (old === fp) continue;
      this.fingerprints.set(s.name, fp);
      const v = (this.versions.get(s.name) ?? 0) + 1;
      this.versions.set(s.name, v);
      this.emit({ study: s.name, kind: old === undefined ? "created" : "updated", version: v });
    }
    for (const name of [...this.fingerprints.keys()]) {
      if (seen.has(name)) continue;
      this.fingerprints.delete(name);
      const v = (this.versions.get(name) ?? 0) + 1;
      this.versions.delete(name);
      this.emit({ study: name, kind: "deleted", version: v });
    }
  }

  private emit(c: StudyChange): void {
    for (const l of [...this.listeners]) {
      try {
        l(c);
      } catch (err) {
        this.log.error({ err }, "change listener failed");
      }
    }
  }

  /**
   * Runs an op on the server; a change (a mutating op) is sent until it is answered (`sendChange`):
   * an UNAVAILABLE passed on to the agent read "retry in a few seconds", and its retry, a new call
   * with a new id, applied the change a second time (a trial queued twice).
   */
  async call<K extends OpName>(op: K, args: OpArgs<K>, signal?: AbortSignal): Promise<OpResult<K>> {
    if (!MUTATING_OPS.has(op)) return this.client.call(op, args);
    const stop = signal ? AbortSignal.any([this.stopping.signal, signal]) : this.stopping.signal;
    return sendChange(op, (id) => this.client.call(op, args, id), this.log, stop);
  }

  /** Asks over MCP, and this process's own: its ZeroMQ `hello` (`ZmqClient.identity`) named it as their holder. */
  heldByAgent(worker: unknown): boolean {
    if (askedOverMcp(worker)) return true;
    const w = worker as Partial<WorkerIdentity> | undefined;
    const me = this.client.identity;
    return w?.transport === "zmq" && w.name === me.name && w.host === me.host && w.pid === me.pid;
  }

  async version(s: string): Promise<number> {
    await this.client.call("get_study", { study: s }); // NOT_FOUND for an unknown study
    return this.versions.get(s) ?? 0;
  }

  async waitForChange(s: string, since: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
    const now = this.versions.get(s) ?? 0;
    if (now !== since || signal?.aborted) return now;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        off();
        this.pollFailures.delete(failed);
        signal?.removeEventListener("abort", done);
      };
      const done = () => {
        cleanup();
        resolve();
      };
      // The server stopped answering: the wait ends with the poll's UNAVAILABLE, not at its timeout.
      const failed = (err: TuneportError) => {
        cleanup();
        reject(new TuneportError("UNAVAILABLE", `the server stopped answering while waiting (${err.message})`, err.data));
      };
      const off = this.onChange((c) => {
        if (c.study === s) done();
      });
      this.pollFailures.add(failed);
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done, { once: true });
    });
    return this.versions.get(s) ?? 0;
  }

  onChange(l: (c: StudyChange) => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  /** The server is stopping: changes being sent again stop at their next wait (`sendChange`), so the stop does not wait out a full disk. */
  stopTaking(): void {
    this.stopping.abort();
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.polling;
    await this.client.close();
  }
}
