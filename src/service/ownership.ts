/**
 * Ownership: which studies this server serves, and where its storage-wide ids come from.
 *
 * - `SoleOwner` (one server on SQLite, and readers): this server owns every study; ids continue
 *   from the largest stored. Nothing is checked, nothing changes from before several servers.
 * - `SharedOwnership` (several servers on PostgreSQL): each study *name* is owned by one server at a
 *   time through a lease row (`OwnershipStore`, storage/postgres/pg-ownership.ts) whose expiry is
 *   the database clock's. A server takes a name on the first request for it when the name is free
 *   or its owner's lease ran out (then it loads the study from storage: a takeover), renews all its
 *   names every TTL/3, and scans for expired names every TTL/2, so the studies of a dead server are
 *   taken over within TTL + TTL/2 + load time ≤ 2 × TTL of its last renewal even when no request
 *   arrives. A request for a study another live server owns is refused with UNAVAILABLE
 *   `{reason: "moved", endpoint}`: clients resend it, same id, to that endpoint (the redirect).
 *   Writes are fenced in storage (each commit checks the owner and the epoch in its own
 *   transaction), so a server that lost a study can never write to it; a server that finds it
 *   lost one forgets it (`OwnershipHost.lost`: its memory is no longer the truth) and serves on;
 *   a request on it in flight then is answered UNAVAILABLE, never acknowledged (`use`).
 *   Ids come in blocks from database sequences, so servers never hand out the same id.
 */
import type { Logger } from "pino";
import { TuneportError } from "../domain/errors.js";
import type { Study } from "../domain/trial.js";
import { type Storage, type StoredTrial, storageFull } from "../storage/storage.js";
import { ClaimRefusals } from "./commit-pipeline.js";
import { IdBlocks } from "./id-blocks.js";
import { notHeldError } from "./ownership-refusal.js";
import { type StudyView, type SummarySource, storedViews } from "./views.js";

/** What the service offers the ownership module. */
export interface OwnershipHost {
  /** Installs a study loaded from storage (a takeover) as this server's. */
  adopt(study: Study, trials: StoredTrial[]): void;
  /**
   * Called when this server finds it lost study `name` (another server took it over): its memory of
   * it is no longer the truth, and storage fences its writes to it; the service forgets it.
   */
  lost(name: string, err: Error): void;
  /** Whether a study of that name is in this server's memory (created, loading's result, or deleted but kept). */
  serves(name: string): boolean;
}

/** The ownership a service runs under (see the file comment). */
export interface Ownership {
  /** True when this server owns every study (then the service loads them all at start). */
  readonly everything: boolean;
  /** Starts (ids, timers). Called once by the service after it is built. */
  start(host: OwnershipHost, storage: Storage, readOnly: boolean): Promise<void>;
  /**
   * Runs `run` once `name` is served here: owned, and loaded when it exists. A name no study has is
   * claimed only to `create` it: a read of a missing study answers NOT_FOUND without a claim.
   * `run` is one of the requests in flight on that name; when the last of them ends and no study of
   * that name is here (a `create_study` refused after its name was claimed: `low > high`, say), the
   * claim is handed back, so refused creates do not leave claims this server renews while it runs.
   * @throws UNAVAILABLE `{reason: "moved", study, endpoint}` when another live server owns it.
   */
  use<T>(name: string, create: boolean, run: () => Promise<T>): Promise<T>;
  /**
   * Makes each name served here as `use` does before it runs (a heartbeat's studies), the names that
   * have no study found with one lookup for all of them; returns the names that could not be served
   * here, with why (UNAVAILABLE).
   */
  ensureEach(names: readonly string[]): Promise<Map<string, TuneportError>>;
  /** Makes sure at least `n` ids of each kind can be taken without waiting. */
  reserve(n: number): Promise<void>;
  /** Runs work that may take `n` trial ids [1], once they are reserved on top of those of all other such work in flight. */
  withIds<T>(run: () => Promise<T>, n?: number): Promise<T>;
  nextTrialId(): number;
  nextStudyId(): number;
  /**
   * Views of the studies in storage served elsewhere (listing across servers), as last committed, from SQL
   * summaries (no trial loaded), and of those `local` says are in memory here the ones whose row alone is
   * unsure. `local` is asked once the hold is confirmed: a study that renewal found lost is listed from
   * storage (a set taken before left it out of both). UNAVAILABLE when this server's rows are unsure.
   * `pick`: given what reads windows of the stored studies' keys (`OwnershipStore.studyKeys`), the names to view (one page of a listing; only their rows are read); all without it.
   */
  foreignStudies(local: (name: string) => boolean, pick?: (read: OwnershipStore["studyKeys"]) => Promise<readonly string[]>): Promise<StudyView[]>;
  /** Stops the timers and hands this server's studies back (their rows expire now). */
  close(): Promise<void>;
  /** Makes sure the studies this server lost are known as lost (a renewal); after the fence refused a commit. */
  recheck?(): Promise<void>;
  /**
   * The clock the service keeps leases and timestamps on, in ms since the epoch; absent: the
   * server's own. Several servers read each other's lease expiries at a takeover, so theirs is the
   * database's (`SharedOwnership.now`).
   */
  now?(): number;
}

/** One server owns everything (SQLite, readers). */
export class SoleOwner implements Ownership {
  readonly everything = true;
  private trialId = 1;
  private studyId = 1;

  async start(_host: OwnershipHost, storage: Storage): Promise<void> {
    this.trialId = (await storage.maxTrialId()) + 1;
    this.studyId = (await storage.maxStudyId()) + 1;
  }
  use<T>(_name: string, _create: boolean, run: () => Promise<T>): Promise<T> {
    return run();
  }
  async ensureEach(): Promise<Map<string, TuneportError>> {
    return new Map();
  }
  async reserve(): Promise<void> {}
  withIds<T>(run: () => Promise<T>): Promise<T> {
    return run();
  }
  nextTrialId(): number {
    return this.trialId++;
  }
  nextStudyId(): number {
    return this.studyId++;
  }
  async foreignStudies(): Promise<StudyView[]> { return []; } // prettier-ignore
  async close(): Promise<void> {}
}

/** A claim on a study name: held (with the epoch taken), or held by another server. */
export type Claim =
  | { readonly held: true; readonly epoch: number }
  /** `locked`: the row's lease ran out but another transaction holds it (the old owner's commit in flight): no live owner. */
  | { readonly held: false; readonly endpoint: string; readonly expiresInMs: number; readonly locked?: true };

/** A study's name and creation time (ms since the epoch). */
export type StudyKey = { readonly name: string; readonly createdAt: number };

/** The rows a renewal extended (name → epoch), and those it found still held but could not extend (`locked`). */
export type Renewal = Map<string, number> & { readonly locked?: Map<string, number> };

/** The ownership rows and id sequences in the shared database. */
export interface OwnershipStore {
  /** Takes `name` if free or (with `takeover`, the default) expired (epoch + 1), keeps it if ours; else says who holds it. */
  claim(name: string, owner: string, endpoint: string, ttlMs: number, takeover?: boolean): Promise<Claim>;
  /**
   * Extends every row `owner` holds; returns those extended with their epochs, and in `locked` those
   * still its own that another transaction held locked (a long commit of that study) past a short
   * wait: not extended, so at risk, not lost.
   */
  renew(owner: string, ttlMs: number): Promise<Renewal>;
  /** Names of existing studies whose owner's lease ran out. */
  expired(): Promise<string[]>;
  /** Lets the rows expire now (clean shutdown). */
  release(owner: string): Promise<void>;
  /** Which of `names` have a study. */
  existing(names: readonly string[]): Promise<Set<string>>;
  /** Drops the row of `name` if `owner` holds it at `epoch` and no study of that name exists. */
  unclaim(name: string, owner: string, epoch: number): Promise<void>;
  /** The database's clock, ms since the epoch. */
  dbNowMs(): Promise<number>;
  /** The first id of a fresh block of `ID_BLOCK` ids. */
  reserveIds(kind: "trial" | "study"): Promise<number>;
  readonly blockSize: number;
  findStudy(name: string): Promise<Study | null>;
  loadTrials(studyId: number): Promise<StoredTrial[]>;
  listStudies(): Promise<Study[]>;
  /** Stored studies' names and creation times (ms) from `fromS` on (`createdAt / 1000 >= fromS`; all without), in creation order: the first `count` and every other created at the same time as the last (all without): a listing's page is cut from such a window. */
  studyKeys(fromS?: number | null, count?: number): Promise<StudyKey[]>;
  studiesNamed(names: readonly string[]): Promise<Study[]>;
  /** Study summaries from SQL (a foreign study's view without its trials). */
  readonly summaries: SummarySource;
  /** The fence storage commits check: this server's id and the names it holds with their epochs. */
  setFence(owner: string, held: ReadonlyMap<string, number>): void;
}

export interface SharedOwnershipOptions {
  readonly store: OwnershipStore;
  readonly logger: Logger;
  /** This server's id (unique per process). */
  readonly serverId: string;
  /** Where clients reach this server (sent in redirects); settable later with `setEndpoint`. */
  endpoint?: string;
  /** Ownership lease, ms [10000]. */
  readonly ttlMs?: number;
}

/** Several servers on one database (see the file comment). */
export class SharedOwnership implements Ownership {
  readonly everything = false;
  private readonly log: Logger;
  private readonly ttlMs: number;
  /** Names held with the epoch taken: the fence of every commit. */
  private readonly held = new Map<string, number>();
  private readonly pending = new Map<string, Promise<void>>();
  /** How many times each name was lost (`renewOnce`): a request in flight meanwhile is not acknowledged (`use`). */
  private readonly losses = new Map<string, number>();
  /** Requests in flight per name (`use`). */
  private readonly users = new Map<string, number>();
  private host: OwnershipHost | null = null;
  private timers: NodeJS.Timeout[] = [];
  private trialIds: IdBlocks;
  private studyIds: IdBlocks;
  private closed = false;
  /** Claims and renewals refused for want of space (commit-pipeline.ts `ClaimRefusals`). */
  private readonly fullClaims = new ClaimRefusals();
  private endpoint: string;
  /** Whether the last renewal failed (the database unreachable; "full": no room for its rows), and until when takeovers wait after one succeeded again. */
  private renewFailed: boolean | "full" = false;
  private noTakeoverUntil = 0;
  /** When a renewal last succeeded (or the server started): one that hangs (a partition, not a refusal) fails nothing. */
  private renewedAt = 0;
  /**
   * When the last successful renewal was sent (or the server started): this server's rows are sure
   * to be its own until `heldSince + ttlMs` (the database sets expiries from its `now()`, later than
   * the send). Past that another server may have taken them over.
   */
  private heldSince = 0;
  /**
   * Names whose rows the last renewals could not extend (locked by another transaction: a long commit
   * of that study), with when the renewal that last extended each was sent: their own `heldSince`.
   * One locked row held every renewal back before, and all the server's studies lapsed with it.
   */
  private readonly lagging = new Map<string, number>();
  /** The renewal in flight, shared by the timer and requests that wait to confirm their hold. */
  private renewing: Promise<void> | null = null;
  /** The database's clock minus this server's (`now`), ms. */
  private clockOffsetMs = 0;

  constructor(private readonly opts: SharedOwnershipOptions) {
    this.log = opts.logger.child({ component: "ownership", server: opts.serverId });
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.endpoint = opts.endpoint ?? "";
    this.trialIds = new IdBlocks(() => opts.store.reserveIds("trial"), opts.store.blockSize);
    this.studyIds = new IdBlocks(() => opts.store.reserveIds("study"), opts.store.blockSize);
    opts.store.setFence(opts.serverId, this.held);
  }

  /** The endpoint redirects name (a bound port is known only after binding). */
  setEndpoint(endpoint: string): void {
    this.endpoint = endpoint;
  }

  /** Names this server holds now. */
  heldNames(): string[] {
    return [...this.held.keys()];
  }

  /**
   * The database's clock, as last measured (start, then each renewal). Lease expiries are stored as
   * times and read by whichever server takes a study over: on each server's own clock, a takeover by
   * a server whose clock ran an hour ahead failed every running trial of the study at its reaper's
   * next tick (and one running behind kept a dead worker's trial RUNNING for that hour).
   */
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Measures the database clock's offset; a change under a second is ignored (no jitter in lease times). */
  private async syncClock(): Promise<void> {
    const t0 = Date.now();
    const db = await this.opts.store.dbNowMs();
    const offset = Math.round(db - (t0 + Date.now()) / 2);
    if (Math.abs(offset - this.clockOffsetMs) < 1000) return;
    if (Math.abs(offset) >= 1000) this.log.warn({ offset_ms: offset }, "this server's clock differs from the database's: leases and timestamps follow the database's");
    this.clockOffsetMs = offset;
  }

  async start(host: OwnershipHost, _storage: Storage, readOnly: boolean): Promise<void> {
    this.host = host;
    await this.syncClock();
    this.renewedAt = this.heldSince = Date.now();
    if (readOnly) return;
    await this.reserve(1);
    const every = (ms: number, f: () => Promise<void>, what: string) => {
      const t = setInterval(() => void f().catch((err: unknown) => this.log.error({ err }, `${what} failed`)), ms);
      t.unref();
      this.timers.push(t);
    };
    every(Math.max(50, this.ttlMs / 3), () => this.renew(), "ownership renewal");
    every(Math.max(1000, this.ttlMs), () => this.syncClock(), "clock check");
    every(Math.max(50, this.ttlMs / 2), () => this.scan(), "takeover scan");
  }

  /** Returns once `name` is served here (see `Ownership.use`). */
  private async ensure(name: string, create = false): Promise<void> {
    // A name is held (fenced) before its study is loaded: wait for a takeover in progress.
    const loading = this.pending.get(name);
    if (loading) await loading;
    if (this.held.has(name)) {
      await this.confirmHeld(name);
      if (this.held.has(name)) return;
      throw new TuneportError("UNAVAILABLE", `this server no longer serves study '${name}' (another server took it over); retry against the next server`);
    }
    if (this.closed) throw new TuneportError("UNAVAILABLE", "the server is shutting down; retry against the next one");
    // A claim is a row, renewed for as long as this server runs: one heartbeat naming 10,000 missing
    // studies made 10,000 of them. A read of a name no study has claims nothing (the op answers
    // NOT_FOUND); a study created elsewhere meanwhile is found by the next request.
    if (!create && !this.pending.has(name) && (await this.opts.store.findStudy(name)) === null) return;
    // After that lookup another request may hold the name and still be loading its study (the name is
    // held before the load): wait for that load, not only for the name.
    let p = this.pending.get(name);
    if (!p && this.held.has(name)) return;
    if (!p) {
      p = this.acquire(name).finally(() => this.pending.delete(name));
      this.pending.set(name, p);
    }
    await p;
  }

  async use<T>(name: string, create: boolean, run: () => Promise<T>): Promise<T> {
    this.users.set(name, (this.users.get(name) ?? 0) + 1);
    const losses = this.losses.get(name) ?? 0;
    try {
      await this.ensure(name, create);
      const out = await run();
      if ((this.losses.get(name) ?? 0) !== losses) throw await this.lostMeanwhile(name);
      return out;
    } catch (err) {
      if ((this.losses.get(name) ?? 0) !== losses) throw await this.lostMeanwhile(name);
      throw err;
    } finally {
      const left = (this.users.get(name) ?? 1) - 1;
      if (left > 0) this.users.set(name, left);
      else {
        this.users.delete(name);
        this.unclaimIfUnused(name);
      }
    }
  }

  async ensureEach(names: readonly string[]): Promise<Map<string, TuneportError>> {
    // One heartbeat may name 10,000 studies: one lookup for those not held, not one each (2.2 s).
    const unknown = names.filter((n) => !this.held.has(n) && !this.pending.has(n));
    const exist = unknown.length > 0 ? await this.opts.store.existing(unknown).catch(() => null) : new Set<string>();
    const out = new Map<string, TuneportError>();
    for (const name of names) {
      if (exist && !exist.has(name) && !this.held.has(name) && !this.pending.has(name)) continue; // NOT_FOUND, no claim
      await this.ensure(name).catch((err: unknown) => {
        if (!(err instanceof TuneportError)) throw err;
        out.set(name, err);
      });
    }
    return out;
  }

  /**
   * The answer to a request on `name` in flight while this server lost it: its changes may have been
   * dropped uncommitted (commit-pipeline.ts `commitKeeping`), so it is never acknowledged here. The
   * client resends it (same id) to where the study is now: a claim finds the owner for the redirect.
   */
  private async lostMeanwhile(name: string): Promise<TuneportError> {
    try {
      await this.ensure(name);
    } catch (err) {
      if (err instanceof TuneportError && err.code === "UNAVAILABLE") return err;
    }
    return new TuneportError("UNAVAILABLE", `this server lost study '${name}' to another server while the request ran; resend it (same id)`);
  }

  async recheck(): Promise<void> {
    // The renewal in flight may have been sent before the takeover: one sent after it too.
    await this.renew().catch(() => undefined);
    await this.renew().catch(() => undefined);
  }

  /**
   * Hands back a name held with no study here and no request on it. Synchronously: the name leaves
   * `held` now (the fence no longer lets a commit for it through, and there is none: no request is
   * in flight), and the next request for it waits on `pending` until the row is gone, then claims it
   * afresh. The statement itself keeps a name whose study exists in storage.
   */
  private unclaimIfUnused(name: string): void {
    const epoch = this.held.get(name);
    if (epoch === undefined || this.closed || this.pending.has(name) || this.host?.serves(name) !== false) return;
    this.held.delete(name);
    this.lagging.delete(name);
    const p = this.opts.store
      .unclaim(name, this.opts.serverId, epoch)
      .catch((err: unknown) => this.log.warn({ err, study: name }, "could not hand back an unused study name (renewed until the server stops)"))
      .finally(() => this.pending.delete(name));
    this.pending.set(name, p);
  }

  private async acquire(name: string): Promise<void> {
    const { store } = this.opts;
    // No room for the claim's row (a new name on a full disk): UNAVAILABLE storage_full, not INTERNAL.
    const claim = await this.fullClaims.claim(store.claim(name, this.opts.serverId, this.endpoint, this.ttlMs, this.mayTakeOver()), name);
    if (!claim.held) throw notHeldError(name, claim, this.ttlMs);
    // Fence first: nothing of this study commits before the name is ours at this epoch.
    this.held.set(name, claim.epoch);
    this.lagging.delete(name); // the claim extended its row
    try {
      const study = await store.findStudy(name);
      if (study) {
        const t0 = Date.now();
        const trials = await store.loadTrials(study.id);
        this.host?.adopt(study, trials);
        this.log.info({ study: name, epoch: claim.epoch, trials: trials.length, load_ms: Date.now() - t0 }, "study taken over");
      }
    } catch (err) {
      // Not loaded (the database restarting, say): not ours in memory either, or the next request
      // would find the name held and the study missing. The row stays ours; the next request loads it.
      this.held.delete(name);
      throw err;
    }
  }

  /**
   * Whether an expired name of another server may be taken now. Not while the database is
   * unreachable from here (a renewal failed, or none succeeded for a TTL: one may hang rather than
   * fail), nor for a TTL after it came back: an outage longer than the TTL lets every
   * server's rows expire, and the first server back took the studies of live servers (which then
   * found them lost and stopped, exit 70: one outage stopped every server but one). Their owners
   * renew within TTL/3 of the database's return; a dead owner's studies wait a TTL longer.
   */
  private mayTakeOver(): boolean {
    const now = Date.now();
    return !this.renewFailed && now >= this.noTakeoverUntil && now - this.renewedAt <= this.ttlMs;
  }

  /**
   * Returns when this server's rows are sure to be its own: at once while the last renewal is recent
   * (under 2/3 of the TTL: renewals run every TTL/3), else after a renewal (the one in flight, or a new
   * one) that succeeds before they could have expired. A server that stalled past its TTL (a pause, a
   * blocked event loop, a partition from the database) and woke up answered reads from memory that
   * another server's takeover had made stale, until its next renewal; its writes were fenced already.
   * Past the TTL it still waits for that renewal, up to TTL/3: one that succeeds then finds the rows
   * still this server's (a takeover changes their owner, and the renewal judges those names lost),
   * so memory is current. Refusing at once, every request after a blocked event loop (a GC pause, a
   * long sort) got UNAVAILABLE until the timer's renewal answered, though no other server had moved.
   * With `name`, only that study's row is judged (one a renewal could not extend, `lagging`, on its
   * own time); without, the rows the renewals extend (`foreignStudies` judges the lagging ones).
   * @throws UNAVAILABLE when the renewal fails or does not answer in time; `storage_full` when it found no room for the rows (it said "slow or unreachable" before 2026-12-07).
   */
  private async confirmHeld(name?: string): Promise<void> {
    const age = Date.now() - this.holdSince(name);
    if (age < (this.ttlMs * 2) / 3) return;
    const left = this.holdSince(name) + this.ttlMs - Date.now();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((r) => (timer = setTimeout(r, Math.max(left, this.ttlMs / 3))));
    try {
      await Promise.race([this.renew(), late]);
    } catch {
      // judged below: a failed renewal leaves heldSince as it was
    } finally {
      clearTimeout(timer);
    }
    const locked = name !== undefined && this.lagging.has(name) ? ` of study '${name}' (another transaction holds its row: a long commit)` : "";
    if (Date.now() - this.holdSince(name) < this.ttlMs) return;
    if (!locked && this.renewFailed === "full") throw this.fullClaims.refused("this server could not renew the ownership of its studies (no room for their rows)");
    throw new TuneportError("UNAVAILABLE", `this server could not renew its ownership${locked || " of its studies (the database is slow or unreachable from it)"} in time; retry`);
  }

  /** When the renewal that last extended `name`'s row was sent (without a name: the rows the last renewal extended). */
  private holdSince(name?: string): number {
    return (name !== undefined && this.lagging.get(name)) || this.heldSince;
  }

  /**
   * Joins the renewal in flight, if any: one at a time. Starting another once the last was sent
   * TTL/3 ago, a database slow enough that each renewal took longer than that had them pile up, each
   * holding one of the pool's few connections until the requests' commits and reads found none. A
   * renewal that does not answer within the TTL (a connection lost without an error: pg sets no
   * query timeout) could no longer extend the hold: it is abandoned then (the PostgreSQL store ends
   * its statement at 2/3 of the TTL, its connection within the TTL), and the next starts afresh;
   * joining it for ever, the rows expired and the server answered UNAVAILABLE until it restarted.
   * One that answers later than a renewal period after it was sent is followed at once by the next.
   */
  private renew(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.renewing) return this.renewing;
    const sentAt = Date.now();
    const p: Promise<void> = this.renewNow().finally(() => {
      if (this.renewing === p) this.renewing = null;
    });
    this.renewing = p;
    p.then(
      () => {
        if (!this.closed && this.renewing === null && Date.now() - sentAt >= this.ttlMs / 3)
          void this.renew().catch((err: unknown) => this.log.error({ err }, "ownership renewal failed"));
      },
      () => undefined,
    );
    return p;
  }

  private async renewNow(): Promise<void> {
    const sentAt = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TuneportError("UNAVAILABLE", "an ownership renewal did not answer within the TTL; retry")), this.ttlMs);
    });
    try {
      await Promise.race([this.renewOnce(), abandoned]);
    } catch (err) {
      this.renewFailed = storageFull(err) ? "full" : true;
      throw err;
    } finally {
      clearTimeout(timer);
    }
    // A late answer to an older renewal must not move the hold back.
    this.heldSince = Math.max(this.heldSince, sentAt);
    // After a failure, or a gap of over a TTL (renewals that hung), live owners renew first.
    const now = Date.now();
    if (this.renewFailed || now - this.renewedAt > this.ttlMs) this.noTakeoverUntil = now + this.ttlMs;
    this.renewFailed = false;
    this.fullClaims.wrote();
    this.renewedAt = now;
  }

  private async renewOnce(): Promise<void> {
    // Only the names held when the renewal starts are judged by it: a name taken while its statement
    // is in flight (its claim committed after the statement's snapshot) is missing from the answer,
    // and judging it lost stopped a lone server under a burst of new names.
    const before = new Map(this.held);
    // The hold of every row before this renewal: a row it cannot extend keeps that one.
    const since = this.heldSince;
    const still = await this.opts.store.renew(this.opts.serverId, this.ttlMs);
    for (const [name, epoch] of before) {
      if (this.pending.has(name) || this.held.get(name) !== epoch) continue; // taken again (or dropped) meanwhile
      if (still.get(name) === epoch) this.lagging.delete(name);
      else if (still.locked?.get(name) === epoch) {
        // Still ours, not extended (a long commit holds its row): at risk on its own time, not lost.
        if (!this.lagging.has(name)) {
          this.lagging.set(name, since);
          this.log.warn({ study: name }, "could not renew this study's ownership row (another transaction holds it locked); its reads wait for a later renewal");
        }
      } else {
        const err = new Error(`this server lost study '${name}' to another server (its ownership lease ran out)`);
        this.log.error({ study: name }, `${err.message}; it gives the study up and serves its others on`);
        this.held.delete(name);
        this.lagging.delete(name);
        this.losses.set(name, (this.losses.get(name) ?? 0) + 1);
        this.host?.lost(name, err);
      }
    }
  }

  private async scan(): Promise<void> {
    // Before its port is bound a server could take studies it cannot yet be redirected to.
    if (this.closed || !this.endpoint || !this.mayTakeOver()) return;
    for (const name of await this.opts.store.expired()) {
      if (this.held.has(name) || this.pending.has(name)) continue;
      await this.ensure(name).catch((err: unknown) => {
        if (!(err instanceof TuneportError && err.code === "UNAVAILABLE")) throw err;
      });
    }
  }

  async reserve(n: number): Promise<void> {
    await Promise.all([this.trialIds.top(n), this.studyIds.top(Math.min(n, 2))]);
  }

  /** Requests in flight that may take a trial id (`withIds`). */
  private taking = 0;

  async withIds<T>(run: () => Promise<T>, n = 1): Promise<T> {
    // 7,200 asks in flight took the ids faster than blocks came (1,017 answered UNAVAILABLE "no ids
    // reserved yet", which a server on SQLite never says): each waits until there is one for all.
    this.taking += n;
    try {
      // Most requests find their ids there already: no await on the hot path then.
      if (this.trialIds.available < this.taking) await this.trialIds.top(this.taking);
      return await run();
    } finally {
      this.taking -= n;
    }
  }

  nextTrialId(): number {
    return this.trialIds.next();
  }

  nextStudyId(): number {
    return this.studyIds.next();
  }

  async foreignStudies(local: (name: string) => boolean, pick?: (read: OwnershipStore["studyKeys"]) => Promise<readonly string[]>): Promise<StudyView[]> {
    // Summaries, not trials: loading every trial of another server's 100,000-trial study took this
    // one's event loop for seconds (its ownership lapsed under --ownership-ttl 2, and it stopped).
    // The caller lists its own studies from memory: only while they are sure to be its own.
    if (this.held.size > 0) await this.confirmHeld();
    // One whose row alone is unsure (`lagging`) is listed from storage too: it made every listing UNAVAILABLE.
    const unsure = await Promise.all([...this.lagging.keys()].map((n) => this.confirmHeld(n).then(() => "", () => n)));
    const { store } = this.opts;
    const stored = pick ? await store.studiesNamed(await pick((fromS, count) => store.studyKeys(fromS, count))) : await store.listStudies();
    return storedViews(store.summaries, stored, (name) => local(name) && !unsure.includes(name));
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await Promise.allSettled([...this.pending.values()]);
    // Handing the rows back only spares the next owner one TTL: a database that stopped answering
    // held a clean stop (SIGTERM, no request in flight) for as long as it was silent.
    const released = this.opts.store.release(this.opts.serverId).then(
      () => true,
      (err: unknown) => (this.log.warn({ err }, "could not hand this server's studies back; they are taken over once their rows expire"), true),
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), this.ttlMs)));
    if (!(await Promise.race([released, waited])))
      this.log.warn({ waited_ms: this.ttlMs }, "the database did not answer the hand-back of this server's studies; they are taken over once their rows expire");
    clearTimeout(timer);
    this.held.clear();
    this.lagging.clear();
  }
}
