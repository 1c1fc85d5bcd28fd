/**
 * Population-based training (PBT).
 *
 * Source: Jaderberg et al., "Population Based Training of Neural Networks" (arXiv 1711.09846),
 * §3 and §4.1 — "truncation selection" exploit and "perturb / resample" explore; defaults as in
 * Ray Tune's `PopulationBasedTraining` (../shared/REFERENCE.md), with the pitfalls Ray users hit
 * (ray#8441, #27170, #28509, #11936) designed out:
 *
 * - Members are trials. The first `population_size` asks create members with uniform random
 *   params (`pbt_member: k`, `pbt_generation: 0`). A member whose trial FAILs or is PRUNED
 *   (lease expired, crash) is refilled by a later ask: params explored from the best RUNNING
 *   member that has a checkpoint, and `system_attrs.pbt_restore = {trial, checkpoint, step}` so the
 *   worker loads that checkpoint before it trains. A checkpoint that a lost member was told to load
 *   and never confirmed (it failed before its next report, or before its next one that was not
 *   blind) is no donor checkpoint any more, for refills and exploits: a torn or unreadable file
 *   would otherwise fail every refill of the slot. A COMPLETE member is done; when every slot
 *   is RUNNING, WAITING or COMPLETE, `ask` answers SEARCH_SPACE_EXHAUSTED (stop asking).
 *   The service does not re-queue lost members (`refillsLostTrials`).
 * - Failures (`max_failures`, default 3, as Ray Tune's per-trial `max_failures`): a slot whose
 *   trials failed more than `max_failures` times is given up, not refilled: a training script
 *   that always fails would otherwise be refilled for ever. What counts (`failureCounts`): every
 *   FAIL its client told (the script raised, before or after its first report), and a lost lease
 *   or an interrupted FAIL (`system_attrs.interrupted`) only when the trial made no progress (`noProgress`): a script that dies hard (segfault,
 *   CUDA OOM, the OOM killer's SIGKILL) never tells FAIL, its lease lapses, and it was refilled for
 *   ever, a lease's wait at a time. A preempted or killed worker that trained further than the slot
 *   had been is what refills are for and never counts. PRUNED does not count. With slots given up and none left to refill, `ask` answers
 *   SEARCH_SPACE_EXHAUSTED with `data.reason: "max_failures"`, naming the slots and the last
 *   failure, and, with no member running, the lost members' checkpoints nobody released
 *   (`checkpoints_left`: no report or completion will come to release them). The way back once
 *   the script is fixed: enqueued trials, which take given-up slots as fresh members, or (once no
 *   trial runs: update_study refuses while PBT members run) a larger `max_failures` (-1: none).
 * - Reports carry `data.checkpoint` (a path the worker saved before reporting). A member is
 *   *ready* `perturbation_interval` steps after its last perturbation decision (Ray's default
 *   is 60 `training_iteration`s; tuneport's steps are usually epochs, so the default is 5).
 *   Ready members are ranked by their latest value (direction aware, NaN worst) among the live
 *   population (current members that are RUNNING and have reported). The bottom
 *   `quantile_fraction` (0.25, Ray; at most half the population, at least one member when
 *   there are ≥ 2) gets `update` with `restore: {trial, checkpoint, step}` of a member drawn
 *   uniformly from the top quantile *that has a checkpoint* (never itself) and the donor's
 *   params (as they were when that checkpoint was saved) explored.
 * - `burn_in_period` (Ray Tune's, in the trial's own steps; default 0): no perturbation decision
 *   for a member before it reported a step at or beyond it (it still ranks and can be a donor);
 *   in synchronous mode the first boundary is the first multiple of the interval at or past it.
 * - Explore (Ray's rule, clipped to bounds unlike Ray): with `resample_probability` (0.25)
 *   resample from the declared distribution; otherwise multiply numbers by one of
 *   `perturbation_factors` (0.8, 1.2) drawn uniformly — ints that would not move step one
 *   unit in that direction — then snap onto the grid and clip; categoricals move to a
 *   neighbouring choice (the only neighbour at an end).
 * - `mode: "asynchronous"` (Ray's default, `synch=False`) decides per member as above.
 *   `"synchronous"`: interval boundaries are the multiples of `perturbation_interval`; a member
 *   past a boundary keeps training (decision `continue`) until every live member has reported
 *   a step at or beyond it; then each member, at its next report, is ranked by the values
 *   the members reported first at or after that boundary, so all members see the same ranking.
 *   A lost member leaves the live population and so never stalls a round.
 * - Retention: the server releases a member's older checkpoints in the `delete_checkpoints`
 *   field of its decisions. Kept: the member's latest checkpoint, and any checkpoint that a
 *   recipient has been told to load and has not yet confirmed by reporting a later step
 *   (an exploit) or any step (a refill). Only the latest checkpoint of a RUNNING member can
 *   become a new donor checkpoint, and it is never released while the member runs, so no member
 *   is pointed at a deleted one. When a member completes (`tell`, `onFinish`) its checkpoints are
 *   released too, except pinned ones, which the next report or completion after the recipient loaded
 *   them releases (`pbt_released`); so once every member has completed nothing is left. A lost
 *   member (FAIL or PRUNED, told or reaped) releases nothing itself: its client does not act on
 *   `pbt_released`, so its checkpoints go to the next live member's report or completion (its
 *   refill's, when it was the last one). A reaped member's late report or tell is refused naming
 *   its pinned checkpoints (`neededFiles`), which its worker's clean-up then spares.
 * - Exploits loaded late (non-blocking reports, `lineage.ts`'s `lineageLoadedLate`, `blindHold`): no
 *   new decision for a member at the report that says it loads its last exploit only now, nor while
 *   its blind reports leave that load unconfirmed, so each exploit decided is one its client loads.
 *   No number of blind reports ends the hold (PROTOCOL.md says why: a client's queue of them).
 *   Its checkpoints meanwhile are its old weights: as a donor it gives the params, age and
 *   generation before the held exploit (`heldExploit`, `checkpointGeneration`).
 * - An exploit that took effect on nothing the member reported or was told with (decided at its last
 *   report and not measured after it, or held unconfirmed by blind ones) is taken back when the member
 *   finishes, completed or lost (`unappliedAtFinish`): a completion told with a value other than its
 *   last report's measured the exploit's weights, and keeps it, unless that report was non-blocking.
 * - A diverged member may be completed with NaN/inf (`completesDiverged`); it ranks worst.
 * - Ablations for the benchmarks: `exploit: false` (explore own params, keep own weights) and
 *   `explore: false` (copy the donor's weights and params unchanged).
 */
import { z } from "zod";
import type { Decision } from "../../domain/decision.js";
import { type Distribution, type ParamValue, type Params, type SearchSpace, choiceIndex, snap } from "../../domain/distributions.js";
import { TuneportError, invalidArgument } from "../../domain/errors.js";
import type { Direction, Trial } from "../../domain/trial.js";
import type { Rng } from "../../math/rng.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { DecisionResult, FinishRequest, ReportRequest, Strategy, StrategyFactory, SuggestRequest, Suggestion } from "../../domain/plugin.js";
import { pb2Explore } from "./pb2-explore.js";
import {
  type CheckpointRecord,
  type LineageEntry,
  ageAt,
  blindHold,
  checkpointGeneration,
  checkpointsOf,
  lastStep,
  latestCheckpoint,
  lineageLoadedLate,
  lineageOf,
  memberOf,
  donorParams,
  pinnedCheckpoints,
  releasableCheckpoints,
  releasedPaths,
  unappliedAtFinish,
  unloadableCheckpoints,
} from "./lineage.js";
import { failureCounts, leaseLost } from "./failures.js";
import { type PbtOptions, RETRY_INSTEAD, options } from "./options.js";
import { PBT_READ_MODELS } from "./read-models.js";

export type { PbtOptions } from "./options.js";

/** Ranking key: smaller is better; NaN (diverged) is the worst. */
function key(direction: Direction, v: number | undefined): number {
  if (v === undefined || Number.isNaN(v)) return Infinity;
  return direction === "minimize" ? v : -v;
}

/** How many members form the top (and the bottom) quantile of `n` ranked ones. */
export function quantileCount(n: number, fraction: number): number {
  if (n < 2) return 0;
  return Math.min(Math.ceil(n * fraction), Math.floor(n / 2));
}

/** A slot's latest trial was lost (FAIL or PRUNED): the slot is free for a refill, unless given up. */
function lostMember(t: Trial | undefined): t is Trial {
  return t !== undefined && (t.state === "FAIL" || t.state === "PRUNED");
}

/** Explores one value inside its distribution (see the file comment). */
export function exploreValue(d: Distribution, v: ParamValue, opts: PbtOptions, rng: Rng): ParamValue {
  if (rng.random() < opts.resample_probability) return sampleUniform(d, rng);
  const up = rng.random() < 0.5;
  const factor = up ? opts.perturbation_factors[1] : opts.perturbation_factors[0];
  if (d.type === "categorical") {
    const i = choiceIndex(d, v);
    if (i < 0) return sampleUniform(d, rng);
    const n = d.choices.length;
    if (n === 1) return d.choices[0] as ParamValue;
    const j = i === 0 ? 1 : i === n - 1 ? n - 2 : up ? i + 1 : i - 1;
    return d.choices[j] as ParamValue;
  }
  if (typeof v !== "number") return sampleUniform(d, rng);
  let out = snap(d, v * factor);
  if (d.type === "int" && out === v && factor !== 1) {
    const step = d.log ? 1 : (d.step ?? 1);
    out = snap(d, v + (factor > 1 ? step : -step));
  }
  return out;
}

export function exploreParams(params: Params, dists: Record<string, Distribution>, opts: PbtOptions, rng: Rng): Params {
  const out: Params = { ...params };
  for (const [k, v] of Object.entries(params)) {
    const d = dists[k];
    if (d) out[k] = exploreValue(d, v, opts, rng);
  }
  return out;
}

/** The value a trial reported at `step` (NaN when none). */
function valueAt(t: Trial, step: number): number {
  return t.intermediate.find((iv) => Math.abs(iv.step - step) < 1e-9)?.value ?? Number.NaN;
}

/** The paths this trial has released so far. */
function releasedBy(t: Trial): string[] {
  const r = t.systemAttrs.pbt_released;
  return Array.isArray(r) ? r.filter((p): p is string => typeof p === "string") : [];
}

/**
 * A report of a trial outside the population (enqueued with every slot taken; `pbt_report` still
 * saves a checkpoint per report): nobody loads its checkpoints (donors are members), so all but the
 * latest are released at once, and the latest when it completes (or, lost, at a member's report).
 * Before, none ever was: one file per report stayed on disk.
 */
function outsiderReport(checkpoints: CheckpointRecord[], saved: boolean): DecisionResult | null {
  if (!saved) return null;
  const latest = checkpoints.slice(-1);
  const release = checkpoints.slice(0, -1).map((c) => c.path);
  const decision: Decision = release.length > 0 ? { action: "continue", delete_checkpoints: release } : { action: "continue" };
  return { decision, systemAttrs: { pbt_checkpoints: latest } };
}

/** A donor's latest checkpoint can be pointed at: it exists and no lost member failed to load it. */
function usable(ck: CheckpointRecord | null, unloadable: ReadonlySet<string>): boolean {
  return ck !== null && !unloadable.has(ck.path);
}

/** How explored params are chosen: PBT's random perturbation or PB2's GP bandit. */
export type Explorer = "perturb" | "pb2";

export class PbtStrategy implements Strategy {
  readonly refillsLostTrials = true;
  /** A diverged member (NaN/inf) can be completed as such; it ranks worst (value null). */
  readonly completesDiverged = true;

  constructor(
    private readonly opts: PbtOptions,
    private readonly explorer: Explorer = "perturb",
  ) {}

  /**
   * Explored params for a model of age `at.t` whose last value was `at.r`: PBT perturbs each
   * value; PB2 asks its bandit for the numeric ones (see pb2-explore.ts).
   */
  private explore(
    base: Params,
    dists: Record<string, Distribution>,
    ctx: { trials: readonly Trial[]; direction: Direction; at: { t: number; r: number }; self: number },
    rng: Rng,
  ): Params {
    const perturb = (p: Params) => exploreParams(p, dists, this.opts, rng);
    if (this.explorer === "perturb") return perturb(base);
    const others = this.live(ctx.trials).filter((x) => x.number !== ctx.self);
    return pb2Explore(base, dists, { ...ctx, interval: this.opts.perturbation_interval, others }, rng, perturb);
  }

  /** The latest trial of each member slot (undefined: the slot was never filled). */
  private slots(trials: readonly Trial[]): (Trial | undefined)[] {
    const out: (Trial | undefined)[] = new Array(this.opts.population_size).fill(undefined);
    for (const t of trials) {
      const m = memberOf(t);
      if (m !== null && m < out.length) out[m] = t;
    }
    return out;
  }

  /** Current members that are RUNNING and have reported. */
  private live(trials: readonly Trial[]): Trial[] {
    return this.slots(trials).filter((t): t is Trial => t !== undefined && t.state === "RUNNING" && t.intermediate.length > 0);
  }

  /**
   * Slots whose latest trial was lost and that are not refilled any more: their trials failed more
   * than `max_failures` times (`failureCounts`). Every told FAIL counts, also one after reports
   * (a script that breaks after its first report failed every refill just the same), as in Ray Tune,
   * whose `max_failures` counts a trial's failures over its whole life; lost leases only without progress.
   */
  private givenUp(trials: readonly Trial[], slots: readonly (Trial | undefined)[]): Set<number> {
    const out = new Set<number>();
    const max = this.opts.max_failures;
    if (max < 0) return out;
    const { failures } = failureCounts(trials, slots.length);
    slots.forEach((t, m) => {
      if (lostMember(t) && (failures[m] as number) > max) out.add(m);
    });
    return out;
  }

  suggest(req: SuggestRequest): Suggestion {
    const slots = this.slots(req.trials);
    const empty = slots.findIndex((t) => t === undefined);
    if (empty >= 0) return this.fresh(req, empty, null);
    const givenUp = this.givenUp(req.trials, slots);
    const lost = slots.findIndex((t, m) => lostMember(t) && !givenUp.has(m));
    if (lost >= 0) return this.refill(req, lost, slots[lost] as Trial);
    if (givenUp.size === 0)
      throw new TuneportError(
        "SEARCH_SPACE_EXHAUSTED",
        `every one of the ${this.opts.population_size} PBT members is running, waiting or complete; a lost member's slot is refilled on a later ask`,
        { reason: "population_full", population_size: this.opts.population_size },
      );
    throw this.givenUpError(req.trials, slots, givenUp);
  }

  /** SEARCH_SPACE_EXHAUSTED naming the slots given up after `max_failures` and the last failure's reason. */
  private givenUpError(trials: readonly Trial[], slots: readonly (Trial | undefined)[], givenUp: ReadonlySet<number>): TuneportError {
    const members = [...givenUp].sort((a, b) => a - b);
    const last = members.map((m) => slots[m] as Trial).sort((a, b) => b.number - a.number)[0] as Trial;
    const reason = typeof last.systemAttrs.fail_reason === "string" ? last.systemAttrs.fail_reason : null;
    // Lost leases without progress among the counted failures: no error was ever told, so say what they mean.
    const { lost } = failureCounts(trials, slots.length);
    const died = members.reduce((n, m) => n + (lost[m] as number), 0);
    const lastWhy = leaseLost(last) ? "its worker died without reporting: a crash, OOM or SIGKILL" : reason;
    const deaths =
      died > 0
        ? ` ${died} of those failures were lost leases or interrupted runs without progress: the worker died or was stopped without reporting further ` +
          "(a crash, CUDA OOM or SIGKILL by the OOM killer, a Ctrl-C or stop signal; no error reached the server, the workers' logs say why)."
        : "";
    const running = slots.filter((t) => t !== undefined && (t.state === "RUNNING" || t.state === "WAITING")).length;
    const all = members.length === slots.length;
    // With no member running, nobody reports or completes again to release what lost members left
    // (their clients do not act on releases, see onFinish): name those files rather than keep quiet.
    const left = running === 0 ? releasableCheckpoints(trials) : [];
    const files = left.length > 0 ? `; ${left.length} checkpoint(s) of lost members stay on disk until a member reports again (data.checkpoints_left)` : "";
    const what = all
      ? `every one of the ${slots.length} PBT member slots was given up`
      : `${members.length} of the ${slots.length} PBT member slots (${members.join(", ")}) were given up and the others are running, waiting or complete`;
    return new TuneportError(
      "SEARCH_SPACE_EXHAUSTED",
      `${what}: each slot's trials failed more than max_failures (${this.opts.max_failures}) times, so the training script fails ` +
        `(last: trial ${last.number}${lastWhy ? `, ${lastWhy}` : ""}).${deaths} Fix the script, then enqueue trials (each takes a given-up slot) ` +
        `or, once no trial runs, raise max_failures with update_study (strategy {name: '${this.explorer === "pb2" ? "pb2" : "pbt"}', options: {max_failures}})${files}`,
      {
        reason: "max_failures", max_failures: this.opts.max_failures, given_up: members, running, last_failed_trial: last.number, last_fail_reason: reason,
        lost_without_progress: died,
        ...(left.length > 0 ? { checkpoints_left: left.slice(0, 100), ...(left.length > 100 ? { checkpoints_left_out: left.length - 100 } : {}) } : {}),
      },
    );
  }

  private fresh(req: SuggestRequest, member: number, refillOf: number | null): Suggestion {
    const params: Params = {};
    for (const [name, d] of Object.entries(req.study.space)) params[name] = sampleUniform(d, req.rng);
    const origin: LineageEntry = { step: 0, donor: null, donor_step: null, age: 0, params, checkpoint: null };
    return {
      params,
      systemAttrs: { pbt_member: member, pbt_generation: 0, pbt_lineage: [origin], ...(refillOf !== null ? { pbt_refill_of: refillOf } : {}) },
    };
  }

  /**
   * An enqueued trial becomes a fresh member with its own params, in a slot never filled or one
   * whose member was lost (no donor: it starts from its own params); with none free it runs
   * outside the population, as any trial without `pbt_member`.
   */
  startAttrs(req: SuggestRequest, params: Params): Record<string, unknown> {
    const slots = this.slots(req.trials);
    let member = slots.findIndex((t) => t === undefined);
    // A given-up slot too (see givenUp): enqueuing is how a user whose script is fixed brings one back.
    if (member < 0) member = slots.findIndex(lostMember);
    if (member < 0) return {};
    const lost = slots[member];
    const origin: LineageEntry = { step: 0, donor: null, donor_step: null, age: 0, params: { ...params }, checkpoint: null };
    return { pbt_member: member, pbt_generation: 0, pbt_lineage: [origin], ...(lost ? { pbt_refill_of: lost.number } : {}) };
  }

  /** A lost member's slot: explored params of the best member with a checkpoint, or a fresh start. */
  private refill(req: SuggestRequest, member: number, previous: Trial): Suggestion {
    // Donors are RUNNING members: a finished member's checkpoints are released (see onFinish).
    // A checkpoint a lost member failed to load is skipped (else its slot loops on it).
    const bad = unloadableCheckpoints(req.trials);
    const candidates = this.slots(req.trials)
      .filter((t): t is Trial => t !== undefined && t.state === "RUNNING" && usable(latestCheckpoint(t), bad))
      .sort((a, b) => this.rankKey(req.study.direction, a) - this.rankKey(req.study.direction, b) || a.number - b.number);
    const donor = candidates[0];
    if (!donor) return this.fresh(req, member, previous.number);
    const ck = latestCheckpoint(donor) as CheckpointRecord;
    const declared = donorParams(donor, ck.step, req.study.space);
    const at = { t: ageAt(donor, ck.step), r: valueAt(donor, ck.step) };
    const params = this.opts.explore
      ? this.explore(declared, req.study.space, { trials: req.trials, direction: req.study.direction, at, self: -1 }, req.rng)
      : declared;
    const origin: LineageEntry = { step: ck.step, donor: donor.number, donor_step: ck.step, age: ageAt(donor, ck.step), params, checkpoint: ck.path };
    return {
      params,
      systemAttrs: {
        pbt_member: member,
        pbt_generation: checkpointGeneration(donor, req.trials) + 1,
        pbt_lineage: [origin],
        pbt_restore: { trial: donor.number, checkpoint: ck.path, step: ck.step },
        pbt_ready_step: ck.step,
        pbt_refill_of: previous.number,
      },
    };
  }

  /** Re-runs the (cheap) suggestion on the history as it is at commit time. */
  revise(req: SuggestRequest, suggestion: Suggestion): Suggestion {
    const restore = suggestion.systemAttrs?.pbt_restore as { trial: number; checkpoint: string } | undefined;
    const member = suggestion.systemAttrs?.pbt_member;
    const slots = this.slots(req.trials);
    const slotStillFree =
      typeof member === "number" &&
      (slots[member] === undefined || (lostMember(slots[member]) && !this.givenUp(req.trials, slots).has(member)));
    const donor = restore ? req.trials[restore.trial] : undefined;
    const restoreStillThere =
      !restore ||
      (donor !== undefined &&
        checkpointsOf(donor).some((c) => c.path === restore.checkpoint) &&
        !releasedPaths(req.trials).has(restore.checkpoint) &&
        !unloadableCheckpoints(req.trials).has(restore.checkpoint));
    if (slotStillFree && restoreStillThere) return suggestion;
    return this.suggest(req);
  }

  private rankKey(direction: Direction, t: Trial): number {
    return key(direction, t.intermediate[t.intermediate.length - 1]?.value);
  }

  onReport(req: ReportRequest): DecisionResult | null {
    const t = req.trial;
    const attrs: Record<string, unknown> = {};
    let checkpoints = checkpointsOf(t);
    const path = req.data.checkpoint;
    if (path !== undefined && path !== null) {
      if (typeof path !== "string" || path.length === 0 || path.length > 4096)
        throw invalidArgument("data.checkpoint must be a non-empty string (a path of at most 4096 characters)");
      if (checkpoints[checkpoints.length - 1]?.path !== path)
        checkpoints = [...checkpoints.filter((c) => c.path !== path), { path, step: req.step }];
    }
    if (memberOf(t) === null) return outsiderReport(checkpoints, path !== undefined && path !== null);

    let decision: Decision = { action: "continue" };
    let lin = lineageOf(t);
    const last = lin[lin.length - 1];
    if (lin.length > 1 && last && last.step === req.step && last.decided_step === undefined) {
      // A repeated report of the step that was already decided: answer the same way. Not an entry
      // moved here by `pbt_loaded`: decided by an earlier report, its restore was never this step's answer.
      decision = this.updateFrom(last);
    } else {
      // An exploit loaded one report late (non-blocking reports): recorded where it was loaded, and
      // its interval counted from there, as the blocking path does (lineageLoadedLate).
      const late = lineageLoadedLate(lin, req.data.pbt_loaded, req.step);
      if (late) {
        lin = attrs.pbt_lineage = late.lineage;
        const ready = this.readyAfterLoad(t.systemAttrs.pbt_ready_step, late.to);
        if (ready !== null) attrs.pbt_ready_step = ready;
      }
      const prev = t.intermediate[t.intermediate.length - 1]?.step === req.step ? t.intermediate[t.intermediate.length - 2] : t.intermediate[t.intermediate.length - 1];
      const hold = blindHold(lin, req.data.pbt_blind, req.step, prev?.step ?? null, t.systemAttrs.pbt_unconfirmed);
      if (hold !== null) attrs.pbt_unconfirmed = hold;
      else if (typeof t.systemAttrs.pbt_unconfirmed === "string") attrs.pbt_unconfirmed = null;
      // No new decision for a member that is loading its last exploit only now (`late`), or that
      // has not confirmed loading it yet (`hold`): its values so far are those of the weights the
      // exploit replaces. A blocking report carrying the marker says it will load that exploit once
      // answered, and its client loads only the last restore: a second exploit in the answer left
      // the first recorded as loaded, a segment that never trained; two exploits decided before the
      // member heard of the first arrived together, and the first was recorded from its step on.
      const chosen = late || hold !== null ? null : this.decide(req, lin);
      if (chosen) {
        Object.assign(attrs, chosen.attrs);
        if (chosen.entry) {
          // Decided at a non-blocking report: its client loads it one report late, if at all (unappliedAtFinish).
          attrs.pbt_lineage = [...lin, req.data.pbt_nowait === true ? { ...chosen.entry, nowait: true } : chosen.entry];
          decision = this.updateFrom(chosen.entry);
        }
      }
    }

    // Retention: keep the latest checkpoint and every pinned one; release the rest, and the
    // checkpoints of finished members that nobody needs any more (recorded in pbt_released).
    const pinned = pinnedCheckpoints(req.trials.filter((x) => x.number !== t.number));
    const latest = checkpoints[checkpoints.length - 1];
    const release = checkpoints.filter((c) => c !== latest && !pinned.has(c.path));
    if (release.length > 0) checkpoints = checkpoints.filter((c) => !release.includes(c));
    if (path !== undefined || release.length > 0) attrs.pbt_checkpoints = checkpoints;
    const finished = releasableCheckpoints(req.trials);
    if (finished.length > 0) attrs.pbt_released = [...releasedBy(t), ...finished];
    const paths = [...release.map((c) => c.path), ...finished];
    if (paths.length > 0 && decision.action !== "prune") decision = { ...decision, delete_checkpoints: paths };
    return { decision, systemAttrs: attrs };
  }

  /**
   * A member finished: release its checkpoints and those of other finished members that nobody
   * is about to load (`pbt_released`, which the client deletes after `tell`; the last member
   * to finish thus releases everything left).
   */
  onFinish(req: FinishRequest): { systemAttrs?: Record<string, unknown>; params?: Params } | null {
    // An exploit decided too late to take effect is not recorded as one (unappliedAtFinish), also
    // for a lost member (told FAIL or PRUNED, or reaped: the service's reaper calls this too).
    const unapplied = unappliedAtFinish(req.trial, req.trials);
    // Only a COMPLETE member releases: the client of a FAIL (a raised training loop) or PRUNED one
    // does not act on `pbt_released` (pbt_complete does), and a path is released once, so what it
    // took was left on disk for good. A lost member's checkpoints go to the next live report or
    // completion instead, as a reaped member's do.
    if (req.trial.state !== "COMPLETE") return unapplied;
    // A trial outside the population (enqueued with every slot taken) releases its own only.
    const outsider = memberOf(req.trial) === null;
    const released = releasedPaths(req.trials);
    const paths = outsider ? checkpointsOf(req.trial).map((c) => c.path).filter((p) => !released.has(p)) : releasableCheckpoints(req.trials);
    if (paths.length === 0) return unapplied;
    return { ...unapplied, systemAttrs: { ...unapplied?.systemAttrs, pbt_released: [...releasedBy(req.trial), ...paths] } };
  }

  /** A lost member's checkpoints a live recipient has not confirmed loading: its refused worker's clean-up spares them. */
  neededFiles(req: FinishRequest): string[] {
    const pinned = pinnedCheckpoints(req.trials);
    return checkpointsOf(req.trial).map((c) => c.path).filter((p) => pinned.has(p));
  }

  /**
   * `pbt_ready_step` once a member loaded its last exploit after its report of `loadedAt`: its next
   * interval counts from there. Asynchronous: that step; synchronous: the last boundary at or
   * before it (the rounds whose values were the replaced weights' are skipped). Null to leave it.
   */
  private readyAfterLoad(current: unknown, loadedAt: number): number | null {
    const I = this.opts.perturbation_interval;
    const ready = this.opts.mode === "synchronous" ? Math.floor(loadedAt / I + 1e-9) * I : loadedAt;
    return typeof current === "number" && current >= ready ? null : ready;
  }

  private updateFrom(e: LineageEntry): Decision {
    if (e.donor === null || e.checkpoint === null || e.donor_step === null)
      return { action: "update", params: e.params, reason: "pbt explore" };
    return {
      action: "update",
      params: e.params,
      restore: { trial: e.donor, checkpoint: e.checkpoint, step: e.donor_step },
      reason: `pbt exploit of trial ${e.donor}`,
    };
  }

  /** The perturbation decision for a report, if the trial is ready: new attrs and lineage entry. */
  private decide(req: ReportRequest, lin: readonly LineageEntry[]): { attrs: Record<string, unknown>; entry: LineageEntry | null } | null {
    const t = req.trial;
    const I = this.opts.perturbation_interval;
    const readyAttr = t.systemAttrs.pbt_ready_step;
    const lastReady = typeof readyAttr === "number" ? readyAttr : (lin[0]?.step ?? 0);
    const sync = this.opts.mode === "synchronous";
    const burnIn = this.opts.burn_in_period;
    // Ray Tune's burn_in_period: no decision before it; in synchronous mode the boundaries below it are skipped.
    const boundary = sync ? Math.max((Math.floor(lastReady / I + 1e-9) + 1) * I, Math.ceil(burnIn / I - 1e-9) * I) : Math.max(lastReady + I, burnIn);
    if (req.step < boundary - 1e-9) return null;

    const live = this.live(req.trials);
    let value: (x: Trial) => number | undefined;
    if (sync) {
      // Wait (keep training) until every running member has reached the boundary; one that
      // has not reported yet counts as behind (a lost one leaves when the reaper fails it).
      const running = this.slots(req.trials).filter((x): x is Trial => x !== undefined && x.state === "RUNNING");
      if (running.some((x) => (lastStep(x) ?? -Infinity) < boundary - 1e-9)) return null;
      value = (x) => x.intermediate.find((iv) => iv.step >= boundary - 1e-9)?.value;
    } else {
      value = (x) => x.intermediate[x.intermediate.length - 1]?.value;
    }
    const attrs: Record<string, unknown> = { pbt_ready_step: sync ? boundary : req.step };
    const dir = req.study.direction;
    const ranked = [...live].sort((a, b) => key(dir, value(a)) - key(dir, value(b)) || a.number - b.number);
    const q = quantileCount(ranked.length, this.opts.quantile_fraction);
    const pos = ranked.findIndex((x) => x.number === t.number);
    if (q === 0 || pos < 0 || pos < ranked.length - q) return { attrs, entry: null };

    const dists = { ...t.distributions };
    const ctx = { trials: req.trials, direction: dir, self: t.number };
    if (!this.opts.exploit) {
      const params = this.explore(t.params, dists, { ...ctx, at: { t: ageAt(t, req.step), r: req.value } }, req.rng);
      const entry: LineageEntry = { step: req.step, donor: null, donor_step: null, age: ageAt(t, req.step), params, checkpoint: null };
      return { attrs, entry };
    }
    const bad = unloadableCheckpoints(req.trials);
    const donors = ranked.slice(0, q).filter((x) => x.number !== t.number && usable(latestCheckpoint(x), bad));
    if (donors.length === 0) return { attrs, entry: null };
    const donor = donors[req.rng.int(donors.length)] as Trial;
    const ck = latestCheckpoint(donor) as CheckpointRecord;
    const own = donorParams(donor, ck.step, dists);
    const at = { t: ageAt(donor, ck.step), r: valueAt(donor, ck.step) };
    const params = this.opts.explore ? this.explore(own, dists, { ...ctx, at }, req.rng) : own;
    const entry: LineageEntry = { step: req.step, donor: donor.number, donor_step: ck.step, age: ageAt(donor, ck.step), params, checkpoint: ck.path };
    attrs.pbt_generation = checkpointGeneration(donor, req.trials) + 1;
    return { attrs, entry };
  }
}

/**
 * PBT and PB2 need a declared space: members are made, explored and refilled in `suggest`, which
 * the service calls only for declared parameters, so the trials of a pure define-by-run study
 * were never members (no exploit, no population limit, nothing said).
 */
function needsDeclaredSpace(name: string): (space: SearchSpace) => string | null {
  return (space) =>
    Object.keys(space).length > 0
      ? null
      : `${name} needs a declared space: it makes population members and perturbs their params from the declared parameters, ` +
        "and this study declares none (define-by-run parameters would be drawn at random and never exploited or explored). " +
        "Declare the parameters in create_study's space";
}

/** PBT's and PB2's lineage read models: the schedule recorded in `pbt_lineage` up to a report, and the population's graph (lineage.ts). */

/**
 * PB2 (Parker-Holder et al., NeurIPS 2020): PBT whose explore step is a time-varying GP-UCB
 * bandit over the numeric hyperparameters (pb2-bandit.ts) instead of random perturbation.
 * Same options and defaults as `pbt`; `resample_probability` and `perturbation_factors` apply
 * only to categorical parameters and to the first intervals, before the bandit has data
 * (fewer than 3 observed intervals: PBT's perturbation, as Ray falls back to the donor's config).
 */
export const pb2StrategyFactory: StrategyFactory<PbtOptions> = {
  name: "pb2",
  description:
    "Population-based bandits (PB2): PBT whose explore step picks the next hyperparameters by a time-varying GP-UCB bandit fitted to how much each configuration improved its members, instead of random perturbation.",
  options: options as unknown as z.ZodType<PbtOptions>,
  incompatibleWith: (scheduler) =>
    `PB2 decides itself which members go on and when; a scheduler (${scheduler.name}) that prunes or budgets members would fight it`,
  readModels: PBT_READ_MODELS,
  refillsLostTrials: { instead: RETRY_INSTEAD("pb2") },
  spaceProblem: needsDeclaredSpace("pb2"),
  create: (o) => new PbtStrategy(o, "pb2"),
};

export const pbtStrategyFactory: StrategyFactory<PbtOptions> = {
  name: "pbt",
  description:
    "Population-based training: a population of running trials; every perturbation_interval steps the worst quantile loads a better member's checkpoint and continues with perturbed hyperparameters.",
  options: options as unknown as z.ZodType<PbtOptions>,
  incompatibleWith: (scheduler) =>
    `PBT decides itself which members go on and when; a scheduler (${scheduler.name}) that prunes or budgets members would fight it`,
  readModels: PBT_READ_MODELS,
  refillsLostTrials: { instead: RETRY_INSTEAD("pbt") },
  spaceProblem: needsDeclaredSpace("pbt"),
  create: (o) => new PbtStrategy(o),
};
