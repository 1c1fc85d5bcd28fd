/**
 * PBT bookkeeping kept in trial `systemAttrs` (the strategy is a function of history):
 *
 * - `pbt_member` (int): the population slot the trial fills.
 * - `pbt_generation` (int): 0 for a fresh random member, donor's generation + 1 after an exploit.
 * - `pbt_lineage`: list of entries `{step, donor, donor_step, age, params, checkpoint}`, oldest
 *   first. Entry 0 is the trial's origin: a fresh start (`donor` null, `step` 0) or a refill
 *   that loads `checkpoint` of trial `donor` saved at `donor_step`. Later entries are exploits
 *   at the trial's own `step` (`donor` set: weights replaced by the donor's) or, in the
 *   explore-only ablation, a change of params that keeps the trial's own weights (`donor` null).
 *   `age` is the model's training age (in step units) at which `params` start to apply: the
 *   number of steps the weights have been trained, across donors. An exploit loaded late
 *   (`data.pbt_loaded`) is moved to the step it was loaded after, `decided_step` keeping the
 *   step of the report that decided it.
 * - `pbt_checkpoints`: `[{path, step}]`, the trial's own checkpoints not yet released for
 *   deletion; the last one is the latest.
 * - `pbt_restore`: `{trial, checkpoint, step}` on a refill: load this before training.
 * - `pbt_ready_step`: the step of the trial's last perturbation decision.
 * - `pbt_not_loaded`: on a finished member (COMPLETE, FAIL or PRUNED), its last exploit (a lineage
 *   entry) that took effect on nothing it reported or was told with, taken out of `pbt_lineage` when
 *   it finished (`unappliedAtFinish`).
 * - `pbt_released`: checkpoint paths of *finished* members (this one or others) that this
 *   trial's reports or its own completion released for deletion; a path is released once, by
 *   whichever trial reported or finished first after nobody needed it any more.
 * - `diverged`: set by the service when a member was completed with a NaN/infinite value.
 */
import { z } from "zod";
import { type Distribution, type ParamValue, type Params, choiceIndex, contains, snap } from "../../domain/distributions.js";
import type { LineageGraph, LineageNode } from "../../domain/plugin.js";
import type { Trial } from "../../domain/trial.js";
import { invalidArgument } from "../../domain/errors.js";

export interface LineageEntry {
  readonly step: number;
  readonly donor: number | null;
  readonly donor_step: number | null;
  readonly age: number;
  readonly params: Params;
  readonly checkpoint: string | null;
  /** Set on an exploit entry moved by `data.pbt_loaded` (`lineageLoadedLate`): the step of the report that decided it. */
  readonly decided_step?: number;
  /**
   * Set on an entry decided at a non-blocking report (`data.pbt_nowait`, the Python client's
   * `wait=False`): its client learns of it only with a later call, and says where it loaded it
   * (`pbt_loaded`, which moves the entry); unmoved at the member's completion, it was never loaded.
   */
  readonly nowait?: boolean;
}

export interface CheckpointRecord {
  readonly path: string;
  readonly step: number;
}

/** One segment of a replayable schedule: `params` apply from model age `from_step` on. */
export interface ScheduleSegment {
  from_step: number;
  params: Params;
  /** The trial that trained the model during this segment, and its own step when it began. */
  trial: number;
  trial_step: number;
}

const finite = z.number();
const trialNo = z.number().int().min(0);
/**
 * The shapes of the bookkeeping above, for system attributes the server did not write itself (an
 * imported study). The readers below trust them: an imported `pbt_checkpoints: [null]` made every
 * later report and tell of the study INTERNAL, `pbt_lineage: [null]` every lineage read. Other keys
 * pass. The trial numbers named (`donor`, `pbt_restore.trial`, `pbt_refill_of`) must exist: see
 * `pbtTrialRefs`.
 */
export const pbtSystemAttrsSchema = z.object({
  pbt_member: trialNo.optional(),
  pbt_generation: trialNo.optional(),
  pbt_lineage: z
    .array(z.object({ step: finite, donor: trialNo.nullable(), donor_step: finite.nullable(), age: finite, params: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])), checkpoint: z.string().nullable(), decided_step: finite.optional(), nowait: z.boolean().optional() }))
    .optional(),
  pbt_checkpoints: z.array(z.object({ path: z.string(), step: finite })).optional(),
  pbt_restore: z.object({ trial: trialNo, checkpoint: z.string(), step: finite.nullable().optional() }).optional(),
  pbt_ready_step: finite.optional(),
  pbt_released: z.array(z.string()).optional(),
  pbt_refill_of: trialNo.optional(),
});

/** The trial numbers PBT bookkeeping (already of `pbtSystemAttrsSchema`'s shapes) names. */
export function pbtTrialRefs(systemAttrs: Record<string, unknown>): number[] {
  const a = systemAttrs as z.infer<typeof pbtSystemAttrsSchema>;
  const refs = (a.pbt_lineage ?? []).flatMap((e) => (e.donor === null ? [] : [e.donor]));
  if (a.pbt_restore) refs.push(a.pbt_restore.trial);
  if (a.pbt_refill_of !== undefined) refs.push(a.pbt_refill_of);
  return refs;
}

export function memberOf(t: Trial): number | null {
  const m = t.systemAttrs.pbt_member;
  return typeof m === "number" && Number.isInteger(m) ? m : null;
}

export function generationOf(t: Trial): number {
  const g = t.systemAttrs.pbt_generation;
  return typeof g === "number" ? g : 0;
}

export function lineageOf(t: Trial): LineageEntry[] {
  const l = t.systemAttrs.pbt_lineage;
  return Array.isArray(l) ? (l as LineageEntry[]) : [];
}

export function checkpointsOf(t: Trial): CheckpointRecord[] {
  const c = t.systemAttrs.pbt_checkpoints;
  return Array.isArray(c) ? (c as CheckpointRecord[]) : [];
}

export function latestCheckpoint(t: Trial): CheckpointRecord | null {
  const c = checkpointsOf(t);
  return c[c.length - 1] ?? null;
}

export function lastStep(t: Trial): number | null {
  return t.intermediate[t.intermediate.length - 1]?.step ?? null;
}

/**
 * Whether the trial's latest exploit is still held unconfirmed by its blind reports (`blindHold`:
 * `pbt_unconfirmed` names its donor checkpoint). Its client had not loaded that checkpoint when it
 * saved the checkpoints of those reports (the report whose `pbt_loaded` says where it loaded it
 * ends the hold, moving the entry there): they are its old weights, trained with the params in force
 * before the exploit.
 */
export function heldExploit(t: Trial): boolean {
  const lin = lineageOf(t);
  const last = lin[lin.length - 1];
  return lin.length > 1 && last !== undefined && last.checkpoint !== null && t.systemAttrs.pbt_unconfirmed === last.checkpoint;
}

/**
 * The lineage entries that trained what the trial reported: all but a latest exploit still held by
 * blind reports (`heldExploit`), which trained nothing yet. A member under such a hold can be a
 * donor (ranked by its old weights' values): its checkpoint's params, age and schedule were the
 * exploit's, params the recipient then trained the old weights with.
 */
function trainedLineage(t: Trial): LineageEntry[] {
  const lin = lineageOf(t);
  return heldExploit(t) ? lin.slice(0, -1) : lin;
}

/**
 * The generation of the weights in the trial's checkpoints (for a recipient's `pbt_generation`):
 * its `pbt_generation`, or, under a held exploit (`heldExploit`), that of the stretch before it as
 * `lineageGraph` counts it (as `unappliedAtFinish` puts it back).
 */
export function checkpointGeneration(t: Trial, trials: readonly Trial[]): number {
  if (!heldExploit(t)) return generationOf(t);
  const kept = lineageOf(t).slice(0, -1);
  const replaced = trials.map((x) => (x.number === t.number ? { ...x, systemAttrs: { ...x.systemAttrs, pbt_lineage: kept, pbt_unconfirmed: null } } : x));
  return lineageGraph(replaced).nodes.find((n) => n.id === `${t.number}:${kept.length - 1}`)?.generation ?? generationOf(t);
}

/**
 * The lineage entry in force when the trial saved a checkpoint at `step`: the origin, or the
 * last change strictly before `step` (a change at `step` itself comes after that step's
 * checkpoint, which the client saves before it reports), not one held unconfirmed (`trainedLineage`).
 */
export function entryForCheckpoint(t: Trial, step: number): LineageEntry | null {
  const lin = trainedLineage(t);
  let found: LineageEntry | null = lin[0] ?? null;
  for (let i = 1; i < lin.length; i++) if ((lin[i] as LineageEntry).step < step) found = lin[i] as LineageEntry;
  return found;
}

/** The model's training age at the trial's `step` (see `LineageEntry.age`). */
export function ageAt(t: Trial, step: number): number {
  const e = entryForCheckpoint(t, step);
  if (!e) return step;
  return e.age + Math.max(0, step - e.step);
}

/** The params the trial trained with when it saved its checkpoint at `step`. */
export function paramsAtCheckpoint(t: Trial, step: number): Params {
  const e = entryForCheckpoint(t, step);
  return { ...t.params, ...(e?.params ?? {}) };
}

/**
 * The params of donor `t` at its checkpoint of `step` (`paramsAtCheckpoint`) that a trial with
 * distributions `dists` can take: only the parameters it has, each inside its own distribution.
 * The donor's may differ: a define-by-run range that depends on an earlier choice (Optuna's dynamic
 * spaces) or a space `update_study` changed. A number is moved to its nearest value in the
 * recipient's range and grid (`snap`); a categorical takes
 * the recipient's own choice that equals it; a value it cannot hold at all (a choice it lacks, a string for a
 * number) is left out, and the recipient keeps its own. Before, the donor's value was proposed as it
 * was, and the service refused it with an error in its log (hostile sweep, seed 27).
 */
export function donorParams(t: Trial, step: number, dists: Readonly<Record<string, Distribution>>): Params {
  const out: Params = {};
  for (const [k, v] of Object.entries(paramsAtCheckpoint(t, step))) {
    const d = dists[k];
    if (!d) continue;
    // A number is always snapped: a stepped float's value within `contains`' grid noise lands on the grid point.
    const i = d.type === "categorical" ? choiceIndex(d, v) : -1;
    const fit = d.type === "categorical" ? (i >= 0 ? d.choices[i] : undefined) : typeof v === "number" && !Number.isNaN(v) ? snap(d, v) : undefined;
    if (fit !== undefined && contains(d, fit)) out[k] = fit as ParamValue;
  }
  return out;
}

/**
 * A report's `data.pbt_loaded: {checkpoint, after_step}`: the client loaded the donor checkpoint of
 * its latest exploit only after its report of `after_step`, not right after the report that got
 * the exploit (a non-blocking report's decision arrives with a later report; the Python client
 * says so). The lineage entry is moved to `after_step`, which is what the blocking path records
 * (the exploit at the step after whose report the weights were replaced): the trial's checkpoints
 * and values up to it are its own weights with its old params. Null when there is nothing to move
 * (absent; not the latest entry's checkpoint; already at or after `after_step`). The moved entry
 * keeps the step that decided it as `decided_step`: a repeat of `after_step`'s report is not the
 * report that decided the exploit (it was answered by its own decision, `continue` or a new exploit).
 * @throws INVALID_ARGUMENT for a malformed marker or an `after_step` past the report's step.
 */
export function lineageLoadedLate(lin: readonly LineageEntry[], loaded: unknown, reportStep: number): { lineage: LineageEntry[]; from: number; to: number } | null {
  if (loaded === undefined || loaded === null) return null;
  const m = z.object({ checkpoint: z.string().min(1).max(4096), after_step: z.number().finite() }).strict().safeParse(loaded);
  if (!m.success || m.data.after_step > reportStep)
    throw invalidArgument(
      "data.pbt_loaded must be {checkpoint, after_step}: the donor checkpoint of the trial's latest exploit and the step after whose report it was loaded (at most this report's step)",
    );
  const last = lin[lin.length - 1];
  if (lin.length < 2 || !last || last.donor === null || last.checkpoint !== m.data.checkpoint || last.step >= m.data.after_step) return null;
  const moved = { ...last, step: m.data.after_step, decided_step: last.decided_step ?? last.step };
  return { lineage: [...lin.slice(0, -1), moved], from: last.step, to: m.data.after_step };
}

/**
 * The donor checkpoint that a report made blind (`data.pbt_blind: true`: its client had not seen
 * the answers to its earlier reports yet, the Python client's non-blocking reports) must keep
 * pinned: the latest exploit's, decided at an earlier step, which that client may not have been
 * told yet. Such a report is no sign that the exploit was loaded: without this, the donor's next
 * report released the checkpoint before the recipient's next report returned the exploit to load
 * it. Null when there is none (kept: `pbt_unconfirmed`, until a report that is not blind), and
 * when the load was confirmed already: the exploit was moved by `pbt_loaded` (`decided_step`: the
 * client said where it loaded it), or a report after its step and before this one was not blind
 * (`prevStep`, the trial's previous report, is past the exploit's step while `held`, the trial's
 * `pbt_unconfirmed`, is not its checkpoint: a blind one would have set it, only a report that is
 * not blind clears it). Holding it then kept one donor checkpoint per member pinned for as long as
 * its client reported without waiting, which may be the whole run.
 */
export function blindHold(lin: readonly LineageEntry[], blind: unknown, reportStep: number, prevStep: number | null = null, held: unknown = undefined): string | null {
  if (blind !== true) return null;
  const last = lin[lin.length - 1];
  if (!(lin.length > 1 && last && last.donor !== null && last.checkpoint !== null && last.step < reportStep)) return null;
  if (last.decided_step !== undefined) return null;
  if (prevStep !== null && prevStep > last.step && held !== last.checkpoint) return null;
  return last.checkpoint;
}

/**
 * At a member's finish (COMPLETE, or lost: FAIL or PRUNED, told or reaped): its latest exploit (or
 * explore) if it never took effect on anything the trial reported or was told with, which the record
 * must then not claim (`onFinish`). That is the case when it was never loaded: blind reports after it
 * left it unconfirmed (`pbt_unconfirmed`: a non-blocking client got it with its last answers and never
 * loaded it). And when no report came after it (decided by the last report: the loop ended right after
 * loading the donor's checkpoint, or never loaded it; or moved by `pbt_loaded` to the last step), unless
 * the trial completed with a value other than that last report's (`toldAfterLoad`): a measurement taken
 * after that report, on the weights it loaded (a blocking report loads them before it returns; a
 * non-blocking one, `nowait`, only once its client said so by `pbt_loaded`), so the exploit took
 * effect on the told value, which ranks the member as its latest measured performance (Ray Tune's
 * last result); not an explore-only change (`donor` null), which loads nothing: the value told
 * after it measured the old weights. A lost member is told no value: its exploit trained nothing
 * it measured. The value told (or left) is then the old weights', trained with the params in force
 * before it: the entry moves to `pbt_not_loaded`, the trial's params and `pbt_generation` go back to
 * those of the stretch that trained (generation as `lineageGraph` counts it). Null when the latest
 * change took effect (or there is none).
 */
export function unappliedAtFinish(t: Trial, trials: readonly Trial[]): { systemAttrs: Record<string, unknown>; params: Params } | null {
  const lin = lineageOf(t);
  const last = lin[lin.length - 1];
  const prev = lin[lin.length - 2];
  const step = lastStep(t);
  if (!last || !prev || step === null) return null;
  const held = last.checkpoint !== null && t.systemAttrs.pbt_unconfirmed === last.checkpoint;
  // Decided at a non-blocking last report and never said loaded: the value told was not measured on it.
  const unseen = last.nowait === true && last.decided_step === undefined;
  // An explore-only change (`exploit: false`, no donor) loads no weights: a value told after it measured
  // the same weights as the last report, trained with the params before it.
  const loads = last.donor !== null;
  if (!held && (last.step < step - 1e-9 || (loads && toldAfterLoad(t) && !unseen))) return null;
  const kept = lin.slice(0, -1);
  const replaced = trials.map((x) => (x.number === t.number ? { ...x, systemAttrs: { ...x.systemAttrs, pbt_lineage: kept, pbt_unconfirmed: null } } : x));
  const node = lineageGraph(replaced).nodes.find((n) => n.id === `${t.number}:${kept.length - 1}`);
  const systemAttrs: Record<string, unknown> = { pbt_lineage: kept, pbt_not_loaded: last };
  if (node) systemAttrs.pbt_generation = node.generation;
  if (held) systemAttrs.pbt_unconfirmed = null;
  return { systemAttrs, params: { ...prev.params } };
}

/**
 * A COMPLETE trial's told value is not the value of its last report (NaN and infinities as the
 * `diverged` value told): it was measured after that report, not copied from it.
 */
function toldAfterLoad(t: Trial): boolean {
  if (t.state !== "COMPLETE") return false;
  const told = typeof t.systemAttrs.diverged === "string" ? Number(t.systemAttrs.diverged) : t.value;
  const reported = t.intermediate[t.intermediate.length - 1]?.value;
  if (told === null || told === undefined || reported === undefined) return false;
  return !(Object.is(told, reported) || told === reported);
}

/**
 * Checkpoint paths that someone is about to load and so must not be deleted: the restore of
 * every exploit whose recipient has not yet reported a later step (or has, but only blind:
 * `blindHold`), and the `pbt_restore` of every refill that has not reported at all — while the
 * recipient is WAITING or RUNNING.
 */
export function pinnedCheckpoints(trials: readonly Trial[]): Set<string> {
  const out = unconfirmedLoads(trials, new Set(["RUNNING", "WAITING"]));
  for (const t of trials) {
    const held = t.systemAttrs.pbt_unconfirmed;
    if ((t.state === "RUNNING" || t.state === "WAITING") && typeof held === "string") out.add(held);
  }
  return out;
}

/**
 * Donor checkpoints that a member was told to load and that it never confirmed loading (by a later
 * report) before it was lost (FAIL or PRUNED: a load that raised, a torn file, a disk the worker
 * cannot read, or a worker that died first). Refills and exploits avoid them: a refill pointed at
 * one again failed the same way, and its slot was refilled from it again, for as long as the donor
 * kept that checkpoint as its latest (forever with a checkpoint_dir not every worker can read).
 */
export function unloadableCheckpoints(trials: readonly Trial[]): Set<string> {
  const out = unconfirmedLoads(trials, new Set(["FAIL", "PRUNED"]));
  // Also one its blind reports still held (`blindHold`): reports after the exploit's step that
  // were made before its client knew of it confirm nothing.
  for (const t of trials) {
    if (t.state !== "FAIL" && t.state !== "PRUNED") continue;
    const held = t.systemAttrs.pbt_unconfirmed;
    if (typeof held === "string") out.add(held);
    // And the exploit its finish took out of its lineage (`unappliedAtFinish`): never confirmed either.
    const notLoaded = t.systemAttrs.pbt_not_loaded as Partial<LineageEntry> | undefined;
    if (notLoaded && typeof notLoaded.checkpoint === "string" && notLoaded.donor !== null) out.add(notLoaded.checkpoint);
  }
  return out;
}

/** The checkpoints that trials in `states` were told to load and have not reported a step after. */
function unconfirmedLoads(trials: readonly Trial[], states: ReadonlySet<string>): Set<string> {
  const out = new Set<string>();
  for (const t of trials) {
    if (!states.has(t.state)) continue;
    const lin = lineageOf(t);
    const last = lastStep(t);
    lin.forEach((e, i) => {
      if (e.donor === null || e.checkpoint === null) return;
      const loaded = i === 0 ? last !== null : last !== null && last > e.step;
      if (!loaded) out.add(e.checkpoint);
    });
  }
  return out;
}

const FINISHED = new Set(["COMPLETE", "FAIL", "PRUNED"]);

/** Every path some trial has released already (`pbt_released`). */
export function releasedPaths(trials: readonly Trial[]): Set<string> {
  const out = new Set<string>();
  for (const t of trials) {
    const r = t.systemAttrs.pbt_released;
    if (Array.isArray(r)) for (const p of r) if (typeof p === "string") out.add(p);
  }
  return out;
}

/**
 * Checkpoints of finished members (COMPLETE, FAIL, PRUNED; also of trials outside the population,
 * whose checkpoints nobody loads) that nobody will load any more and
 * that no trial has released yet: a finished member trains no further, is never a donor (exploit
 * and refill donors are RUNNING members), so only a pin (a recipient that has not loaded it yet)
 * keeps one of its checkpoints alive. Sorted for determinism.
 */
export function releasableCheckpoints(trials: readonly Trial[]): string[] {
  const released = releasedPaths(trials);
  const pinned = pinnedCheckpoints(trials);
  const out: string[] = [];
  for (const t of trials) {
    // Also a finished trial outside the population (an enqueued one): nobody loads its checkpoints.
    if (!FINISHED.has(t.state)) continue;
    for (const c of checkpointsOf(t)) if (!released.has(c.path) && !pinned.has(c.path)) out.push(c.path);
  }
  return out.sort();
}

/**
 * The hyperparameter schedule that produced trial `number`'s model up to its own `step`
 * (default: its latest step), following donors back to a fresh start. Consecutive segments
 * with equal params are merged. The result replays as a fixed schedule: train from scratch
 * with `params` of each segment from model age `from_step` on.
 * @throws Error when the chain names a trial that is missing (corrupt history).
 */
export function scheduleOf(trials: readonly Trial[], number: number, step?: number): { schedule: ScheduleSegment[]; until_step: number } {
  const start = trials[number];
  if (!start) throw new Error(`no trial ${number}`);
  const segments: ScheduleSegment[] = [];
  let t: Trial = start;
  let upTo = step ?? lastStep(start) ?? lineageOf(start)[0]?.step ?? 0;
  // With an explicit step the report at `step` came before any change made at that step.
  const inForce = [...trainedLineage(start)].reverse().find((e, i, all) => i === all.length - 1 || (step === undefined ? e.step <= upTo : e.step < upTo));
  const untilStep = inForce ? inForce.age + Math.max(0, upTo - inForce.step) : upTo;
  // Each hop goes to a donor checkpoint saved strictly earlier in wall time; the guard only
  // protects against corrupt attributes.
  for (let hops = 0; hops < 100_000; hops++) {
    if (lineageOf(t).length === 0) {
      segments.push({ from_step: 0, params: { ...t.params }, trial: t.number, trial_step: 0 });
      break;
    }
    const own = entriesInForce(t, upTo, t === start && step === undefined);
    for (const e of own) segments.push({ from_step: e.age, params: { ...e.params }, trial: t.number, trial_step: e.step });
    const root = own[own.length - 1] as LineageEntry;
    if (root.donor === null || root.donor_step === null) break;
    const donor = trials[root.donor];
    if (!donor) throw new Error(`lineage of trial ${t.number} names missing trial ${root.donor}`);
    t = donor;
    upTo = root.donor_step;
  }
  // Collected newest first (recipient, then its donor, ...): reverse into age order. Where two
  // segments start at the same age the later one (the recipient's) is the one in force.
  const out: ScheduleSegment[] = [];
  for (const s of segments.reverse()) {
    while (out.length > 0 && (out[out.length - 1] as ScheduleSegment).from_step >= s.from_step) out.pop();
    const prev = out[out.length - 1];
    if (prev && JSON.stringify(prev.params) === JSON.stringify(s.params)) continue;
    out.push(s);
  }
  return { schedule: out, until_step: untilStep };
}

/**
 * The entries of `t`'s lineage in force at its step `upTo`, newest first, down to the one that
 * started its model (a donor load, or its origin): for the starting trial of a schedule every change
 * up to its latest step counts (`inclusive`); for donors, only those before the checkpoint's step
 * (see entryForCheckpoint). Empty when `t` has no lineage.
 */
function entriesInForce(t: Trial, upTo: number, inclusive: boolean): LineageEntry[] {
  const lin = trainedLineage(t);
  const own: LineageEntry[] = [];
  for (let i = lin.length - 1; i >= 0; i--) {
    const e = lin[i] as LineageEntry;
    if (!(i === 0 || (inclusive ? e.step <= upTo : e.step < upTo))) continue;
    own.push(e);
    if (e.donor !== null || i === 0) break;
  }
  return own;
}

/**
 * The donor `scheduleOf` goes to after `t`, and the checkpoint step it reads there: for the trial
 * asked about at its `uptoStep` (as `scheduleOf`'s `step`), for a donor at the `donorStep` its
 * checkpoint was loaded from; null where the model started fresh.
 */
export function nextDonor(t: Trial, at: { uptoStep?: number } | { donorStep: number }): { trial: number; donorStep: number } | null {
  const first = !("donorStep" in at);
  const upTo = "donorStep" in at ? at.donorStep : (at.uptoStep ?? lastStep(t) ?? lineageOf(t)[0]?.step ?? 0);
  const own = entriesInForce(t, upTo, first && (at as { uptoStep?: number }).uptoStep === undefined);
  const root = own[own.length - 1];
  return root && root.donor !== null && root.donor_step !== null ? { trial: root.donor, donorStep: root.donor_step } : null;
}

/** Index in `t`'s lineage of the entry in force at its checkpoint of `step` (see entryForCheckpoint). */
function entryIndexAt(t: Trial, step: number): number {
  const lin = trainedLineage(t);
  let found = 0;
  for (let i = 1; i < lin.length; i++) if ((lin[i] as LineageEntry).step < step) found = i;
  return found;
}

/**
 * The population's lineage as a graph (the dashboard's tree): one node per lineage entry of
 * every member trial (a stretch of training with one set of params), an `exploit` edge from the
 * donor's stretch whose checkpoint was loaded (exploits and refills), an `explore` edge from the
 * trial's previous stretch where params changed on its own weights (the explore-only ablation).
 * Generation: 0 for a fresh start, the donor stretch's + 1 after a load, unchanged by an explore.
 * Trials without PBT bookkeeping are left out; an edge to a missing donor is dropped.
 */
export function lineageGraph(trials: readonly Trial[]): LineageGraph {
  const stretches: { id: string; t: Trial; member: number; i: number; e: LineageEntry; from: string | null }[] = [];
  const edges: LineageGraph["edges"][number][] = [];
  for (const t of trials) {
    const member = memberOf(t);
    const lin = lineageOf(t);
    if (member === null || lin.length === 0) continue;
    lin.forEach((e, i) => {
      const id = `${t.number}:${i}`;
      let from: string | null = null;
      if (e.donor !== null && e.donor_step !== null) {
        const donor = trials[e.donor];
        if (donor && lineageOf(donor).length > 0 && memberOf(donor) !== null) {
          from = `${donor.number}:${entryIndexAt(donor, e.donor_step)}`;
          edges.push({ from, to: id, kind: "exploit" });
        }
      } else if (i > 0) edges.push({ from: `${t.number}:${i - 1}`, to: id, kind: "explore" });
      stretches.push({ id, t, member, i, e, from });
    });
  }
  const byId = new Map(stretches.map((s) => [s.id, s]));
  const memo = new Map<string, number>();
  // A donor's checkpoint was saved before it was loaded, so following donors and earlier entries
  // always ends at a fresh start; `seen` only guards against corrupt attributes (a cycle).
  const generationOf = (id: string, seen: Set<string>): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const s = byId.get(id);
    if (!s || seen.has(id)) return 0;
    seen.add(id);
    const g = s.from !== null ? generationOf(s.from, seen) + 1 : s.i > 0 ? generationOf(`${s.t.number}:${s.i - 1}`, seen) : 0;
    memo.set(id, g);
    return g;
  };
  const nodes: LineageNode[] = stretches.map((s) => ({ id: s.id, trial: s.t.number, member: s.member, generation: generationOf(s.id, new Set()), step: s.e.step, params: { ...s.e.params } }));
  return { nodes, edges };
}
