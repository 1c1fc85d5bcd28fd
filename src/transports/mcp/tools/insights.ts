/** MCP tools that analyse a study: importances, a summary, waiting for progress, plots. */
import { z } from "zod";
import { TuneportError } from "../../../domain/errors.js";
import { finishHow } from "../../../domain/trial.js";
import { PLOT_KIND_NAMES, parsePlotKind } from "../../../service/plots.js";
import { fmt, fmtHypervolume } from "../../../service/summary.js";
import { plural } from "../../../domain/format.js";
import type { Finishes } from "../../../service/aggregates.js";
import type { StudyView, TrialView } from "../../../service/views.js";
import { type McpBackend, askedOverMcp } from "../backend.js";
import { fitPrefix, resultChars } from "../budget.js";
import { compactTrial, isTuneportError, paramsField, trialLine, withoutDescriptions } from "../format.js";
import { stoppingResult } from "../tool-calls.js";
import { studyArg } from "./studies.js";
import { type McpTool, defineTool, hypervolumeFields, text } from "./tool.js";

const importancesTool = defineTool({
  name: "param_importances",
  meta: {
    title: "Parameter importances",
    description: "Parameter importances (shares of 1).",
    readOnly: true,
    sized: true,
  },
  input: z.object({ study: studyArg, objective: z.number().int().min(0).optional().describe("several objectives: which one (0-based); none: reaching the front") }),
  output: z.looseObject({ n_trials: z.number().int(), importances: z.array(z.looseObject({ param: z.string(), importance: z.number() })), params_total: z.number().int().optional() }),
  ops: ["param_importances"],
  async run(a, { backend, budget }) {
    // Computed by the server (embedded or --connect alike), on a bounded sample of a big study.
    const imp = await backend.call("param_importances", a.objective === undefined ? { study: a.study } : { study: a.study, objective: a.objective });
    if (imp.importances.length === 0) return text(`No importances for '${a.study}': ${imp.note ?? "no parameters"}.`, imp as unknown as Record<string, unknown>);
    // A wide study's list (one line and one entry per parameter) outgrows the budget: the most
    // important come first, so the first k are the answer, and the rest are counted, not dropped.
    const build = (k: number) => {
      const shown = imp.importances.slice(0, k);
      const rest = imp.importances.slice(k);
      const restShare = rest.reduce((s, i) => s + i.importance, 0);
      const lines = [
        `Importances${a.objective === undefined ? "" : ` of objective ${a.objective}`} from ${imp.n_trials} complete trials${imp.sampled ? ` (an evenly spaced sample of ${imp.n_complete})` : ""} (${imp.method}):`,
        ...shown.map((i) => `- ${i.param}: ${Math.round(i.importance * 100)}%`),
        ...(rest.length > 0
          ? [`… ${rest.length} less important parameters not shown (${Math.round(restShare * 100)}% together, at most ${Math.round((rest[0]?.importance ?? 0) * 100)}% each): call param_importances with a larger max_chars for them all.`]
          : []),
        ...imp.caveats.map((c) => `Caveat: ${c}.`),
      ];
      return text(lines.join("\n"), { ...imp, importances: shown, params_total: imp.importances.length } as unknown as Record<string, unknown>);
    };
    return fitPrefix(imp.importances.length, build, budget).result;
  },
});

const summaryTool = defineTool({
  name: "study_summary",
  meta: {
    title: "Study summary",
    description: "Briefing: progress, best, trend, queue, top params.",
    readOnly: true,
    sized: true,
  },
  input: z.object({ study: studyArg }),
  output: z.looseObject({ study: z.string(), counts: z.looseObject({}), best: z.looseObject({}).nullable(), queued_total: z.number().int() }),
  ops: ["study_summary"],
  async run(a, { backend }) {
    // Computed by the server: a big study's trials never travel to this process.
    const { text: t, ...facts } = await backend.call("study_summary", { study: a.study });
    // Params cut as the text cuts them (a wide space's best trial alone filled the budget).
    const within = <T extends { params: Record<string, unknown> }>(x: T) => ({ ...x, ...paramsField(x.params) });
    // A hypervolume past a float's range is Infinity, which JSON carries as null: flag it (as pareto_front does).
    const front = facts.front && { ...facts.front, ...hypervolumeFields(facts.front.hypervolume) };
    const bounded = { ...facts, best: facts.best && within(facts.best), queued: facts.queued.map(within), front };
    // How long ago, by this process's clock: an agent may not know the time, and a rate of finishes
    // reads the same long after the workers stopped.
    const ago = facts.last_finished_at === null ? "" : `\nThe latest trial finished ${agoText(Date.now() / 1000 - facts.last_finished_at)} ago.`;
    return text(t + ago, withoutDescriptions(bounded) as unknown as Record<string, unknown>);
  },
});

/** A duration in seconds as "45 s", "12 min" or "3.5 h" (never negative: clocks of two machines differ). */
export function agoText(s: number): string {
  const x = Math.max(0, s);
  if (x < 120) return `${Math.round(x)} s`;
  if (x < 2 * 3600) return `${Math.round(x / 60)} min`;
  return `${Math.round(x / 360) / 10} h`;
}

const plotTool = defineTool({
  name: "plot",
  meta: {
    title: "Plot a study",
    description: "PNG ≤1600x1000 px, ≤1 MB; params default to the most important.",
    readOnly: true,
  },
  input: z.object({
    study: studyArg,
    // The short names too (parallel, intermediate), as the CLI, the ZeroMQ op and study.plot take them.
    kind: z.enum(PLOT_KIND_NAMES as [string, ...string[]]).default("history"),
    params: z.array(z.string().min(1).max(256)).max(16).optional(),
    log_y: z.boolean().optional(),
  }),
  output: z.looseObject({ kind: z.string(), caption: z.string(), bytes: z.number().int() }),
  ops: ["plot"],
  async run(a, { backend }) {
    const kind = parsePlotKind(a.kind);
    const plot = await backend.call("plot", { study: a.study, kind, params: a.params, log_y: a.log_y });
    return {
      content: [
        { type: "image", data: Buffer.from(plot.png).toString("base64"), mimeType: "image/png" },
        { type: "text", text: plot.caption },
      ],
      structuredContent: { study: a.study, kind, caption: plot.caption, mime_type: "image/png", bytes: plot.png.length },
    };
  },
});

/** The insight tools; `maxWaitS` bounds `wait_for_progress` (keep it below the client's request timeout). */
export function insightTools(maxWaitS: number): McpTool[] {
  return [importancesTool, summaryTool, waitTool(maxWaitS), plotTool];
}

/**
 * Most `wait_for_progress` calls this process runs at once, over every MCP session. Each change
 * wakes every waiter to read the study, and each finishing one reads up to 1,000 trials: a probe's
 * 1,000 concurrent waits stalled the server 27 s when they ended together. More are refused
 * (UNAVAILABLE, retry). Counted per process, not per MCP server: over HTTP each session has its
 * own, and 100 sessions × 32 waits stalled another client 13.7 s and took 1.7 GB.
 */
export const MAX_CONCURRENT_WAITS = 32;
let waiting = 0;

/** `wait_for_progress`: blocks until trials finish, for at most `maxWaitS` seconds. */
function waitTool(maxWaitS: number): McpTool {
  return defineTool({
    name: "wait_for_progress",
    meta: {
      title: "Wait for progress",
      description: `Wait (default ${Math.min(20, maxWaitS)} s) for min_finished more finishes; never poll.`,
      readOnly: true,
      sized: true,
    },
    input: z.object({
      study: studyArg,
      timeout_s: z.number().min(0).max(maxWaitS).default(Math.min(20, maxWaitS)),
      min_finished: z.number().int().min(1).max(1000).default(1),
    }),
    output: z.looseObject({
      timed_out: z.boolean().optional(),
      finished: z.number().int().optional(),
      new_trials: z.array(z.looseObject({ number: z.number().int() })).optional(),
      deleted: z.boolean().optional(),
    }),
    ops: ["get_study", "trials", "best_trials", "study_summary"],
    async run(a, ctx) {
      if (waiting >= MAX_CONCURRENT_WAITS)
        throw new TuneportError("UNAVAILABLE", `${MAX_CONCURRENT_WAITS} wait_for_progress calls are already waiting on this server; retry when one returns`);
      waiting++;
      try {
        return await waitRun(a, ctx);
      } finally {
        waiting--;
      }
    },
  });
}

/** One wait (see `waitTool`). */
async function waitRun(
  a: { study: string; timeout_s: number; min_finished: number },
  { backend, extra, calls, log, budget }: Parameters<McpTool["run"]>[1],
): Promise<ReturnType<typeof text>> {
  const started = Date.now();
  const deadline = started + a.timeout_s * 1000;
  // The version first: a change between the two reads then wakes the wait at once (read the
  // other way round, a trial finishing in between went unseen until the next change or timeout).
  let version = await backend.version(a.study);
  // Evaluations only: another agent's cancel_trial or add_trial is counted apart. The service
  // counts the study's finishes by how (service/aggregates.ts `Finishes`), exactly, in the same
  // read as the study: the wait counts the change since its start.
  const { study: first, finishes: start, now: serverNow } = await backend.call("get_study", { study: a.study });
  // mcp --connect to a server from before get_study counted them: say so, not a TypeError.
  if ((start as Finishes | undefined) === undefined)
    throw new TuneportError("FAILED_PRECONDITION", "wait_for_progress needs a tuneport server whose get_study answers finishes: upgrade the server this MCP process connects to");
  // When the wait began on the server's clock, which stamps finished_at: under mcp --connect this
  // process's clock may differ (minutes, hours), and trials that finished during the wait went
  // unlisted, or older ones were listed as new. This process's clock only for a server whose
  // get_study does not say (older than its `now`).
  const from = serverNow ?? started / 1000;
  let tally: Finishes = { evaluated: 0, cancelled: 0, added: 0 };
  let current = first;
  // A study that can finish no more trials (nothing running or queued, and every ask refused)
  // ends the wait at once instead of holding the agent's turn until the timeout.
  let stuck = await stuckCause(backend, current);
  let deleted = false;
  let recreated = false;
  const progressToken = extra._meta?.progressToken;
  let reported = 0;
  log.debug({ study: a.study, timeout_s: a.timeout_s }, "wait_for_progress waiting");
  while (!extra.signal.aborted && stuck === null) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    // The wait ends early when the server stops, so the caller still gets an answer. A study
    // deleted since the last look is NOT_FOUND here already: deleted, as below.
    const changed = backend.waitForChange(a.study, version, remaining, extra.signal).catch((err: unknown) => {
      if (isTuneportError(err) && err.code === "NOT_FOUND") return (deleted = true), version;
      throw err;
    });
    version = await Promise.race([changed, calls.stopped.then(() => version)]);
    if (deleted) break;
    if (calls.stopping) return stoppingResult();
    // Cancelled by the client (notifications/cancelled): its answer is never sent, so end here and
    // free this call's place among the MAX_CONCURRENT_WAITS at once.
    if (extra.signal.aborted) {
      log.debug({ study: a.study }, "wait_for_progress cancelled");
      return text("Cancelled.", { cancelled: true });
    }
    try {
      const now = await backend.call("get_study", { study: a.study });
      // Deleted and created again under its name between two looks: the new study's counts less
      // the old's are no progress (a negative "finished", and its trials listed as the old's).
      if (!sameStudy(first, start, now)) {
        deleted = recreated = true;
        break;
      }
      current = now.study;
      tally = since(start, now.finishes);
    } catch (err) {
      if (isTuneportError(err) && err.code === "NOT_FOUND") {
        deleted = true;
        break;
      }
      throw err;
    }
    const done = tally.evaluated;
    // Progress notifications only when progress increases, with a message (MCP 2025-11-25).
    if (progressToken !== undefined && done > reported) {
      reported = done;
      // Several trials can finish between two looks: progress never passes its total.
      const count = done > a.min_finished ? `${plural(done, "trial")} finished (waited for ${a.min_finished})` : `${done} of ${plural(a.min_finished, "trial")} finished`;
      // A multi-objective study has no best trial: "best none yet" over a front of ten trials misled.
      const message = current.directions.length > 1
        ? `${count}; ${current.directions.length} objectives, so no single best: pareto_front gives the front`
        : `${count}; best ${current.best_trial ? fmt(current.best_trial.value) : "none yet"}`;
      await extra
        .sendNotification({ method: "notifications/progress", params: { progressToken, progress: Math.min(done, a.min_finished), total: a.min_finished, message } })
        .catch(() => undefined);
    }
    if (done >= a.min_finished) break;
    stuck = await stuckCause(backend, current);
  }
  if (deleted) return goneResult(a.study, recreated);
  // The answer's own reads (the listing, the front, why nothing runs) can meet the study deleted too.
  return waitAnswer(a, backend, budget, { started, from, tally, current, stuck, first, start }).catch((err: unknown) => {
    if (isTuneportError(err) && err.code === "NOT_FOUND") return goneResult(a.study, false);
    throw err;
  });
}

/** wait_for_progress's answer when the study it watched is gone: deleted, or deleted and another created under its name. */
function goneResult(study: string, recreated: boolean): ReturnType<typeof text> {
  return recreated
    ? text(`Study '${study}' was deleted while waiting, and another study was created under its name: its trials are not the ones this wait watched (describe_study shows the new one).`, { deleted: true, recreated: true })
    : text(`Study '${study}' was deleted while waiting.`, { deleted: true });
}

/** Where the wait began and what it saw (`waitRun`): `started` on this process's clock (ms), `from` on the server's (s). */
type WaitEnd = { started: number; from: number; tally: Finishes; current: StudyView; stuck: string | null; first: StudyView; start: Finishes };

/** The `trials` op's arguments of the wait's listing: finished trials, newest first (list_trials with the same continues it). */
const finished = () => ({ states: ["COMPLETE" as const, "PRUNED" as const, "FAIL" as const], order_by: "number" as const, descending: true });

/** wait_for_progress's answer once the wait ended: `tally` finished since `from`, the study as `current` shows it. */
async function waitAnswer(
  a: { study: string; min_finished: number },
  backend: McpBackend,
  budget: Parameters<McpTool["run"]>[1]["budget"],
  { started, from, tally, current, stuck, first, start }: WaitEnd,
): Promise<ReturnType<typeof text>> {
  const n = tally.evaluated;
  // Only the trials that can be shown are read (not the whole study: through --connect that
  // would ship every trial): the highest-numbered finished ones, which include the newly
  // finished trials unless older trials finished in between; those are counted, and the answer's
  // cursor continues the listing with list_trials.
  const page = await backend.call("trials", { study: a.study, ...finished(), limit: Math.min(1000, Math.max(50, 2 * n)) });
  const newly = (page.trials as TrialView[])
    .filter((t) => finishHow(t.state, t.system_attrs) === "evaluated" && t.finished_at !== null && t.finished_at >= from)
    .sort((x, y) => x.number - y.number);
  const timedOut = n < a.min_finished;
  const waited = (Date.now() - started) / 1000;
  const head = timedOut
    ? `No ${n === 0 ? "" : "further "}progress ${stuck ? `possible (waited ${fmt(waited)}s)` : `within ${fmt(waited)}s`}: ${plural(n, "trial")} finished (wanted ${a.min_finished}). ${current.counts.RUNNING} running, ${current.counts.WAITING} queued.`
    : `${plural(n, "trial")} finished in ${fmt(waited)}s.`;
  const apart = notCounted(tally);
  // Queued trials that nobody asked for are idle too: workers' loops have ended (a stop or a spent
  // budget since lifted) or none is connected; without this line the wait said nothing about why.
  const idle = timedOut && current.counts.RUNNING === 0;
  const idleStuck = idle ? (stuck ?? (await stuckCause(backend, current))) : null;
  const requeued = idle && idleStuck === null ? await requeuedRetries(backend, current) : null;
  const idleHint = requeued
    ? requeuedReason(requeued)
    : idle
    ? idleReason(idleStuck, current.counts.WAITING)
    : timedOut && current.counts.RUNNING > 0
    ? await heldOverMcp(backend, a.study)
    : "";
  // A multi-objective study has a front, not a best trial: its hypervolume says how it moved.
  const front = current.directions.length > 1 ? await backend.call("best_trials", { study: a.study }) : null;
  // The reads above went by name: a study deleted and created again under it since the loop's last
  // look answered them with the new study's trials, listed as this one's. Study creation times only
  // grow, so the study still being the one the wait began on now means it was during those reads.
  if (!sameStudy(first, start, await backend.call("get_study", { study: a.study }))) return goneResult(a.study, true);
  // The rest of the listing, when some finished trials are not shown: a list_trials cursor right
  // after the last one shown, from the same query (a page of as many rows, its next_cursor).
  // Trials that finish meanwhile join the listing above the last one shown (it stays finished): a
  // page of as many rows as the listing's then ended above it, and the cursor listed it again. The
  // page is read again, as much longer, until it ends at that trial (a few tries; else no cursor).
  const cursorAfter = async (shown: readonly TrialView[]): Promise<string | null> => {
    if (shown.length === 0 || shown.length >= n) return null;
    const last = (shown[0] as TrialView).number;
    let limit = page.trials.findIndex((t) => t.number === last) + 1;
    for (let tries = 0; tries < 5; tries++) {
      const rows = await backend.call("trials", { study: a.study, ...finished(), limit, fields: ["state"] });
      const at = rows.trials.findIndex((t) => t.number === last);
      if (at === limit - 1) return rows.next_cursor;
      limit = at < 0 ? 2 * limit : at + 1;
    }
    return null;
  };
  const build = (k: number, cursor: string | null) => {
    const shown = newly.slice(newly.length - k);
    const lines = [head + apart, ...shown.map((t) => trialLine(t))];
    if (shown.length < n) {
      const rest = `${n - shown.length} earlier ${n - shown.length === 1 ? "one" : "ones"} not shown`;
      lines.push(
        cursor === null
          ? `(${rest}, use list_trials with states ["COMPLETE", "PRUNED", "FAIL"], sort "number" and descending true)`
          : `(${rest}: list_trials with states ["COMPLETE", "PRUNED", "FAIL"], sort "number", descending true and cursor "${cursor}" goes on from the last one shown; those with finished_at ≥ ${from.toFixed(3)} (${new Date(from * 1000).toISOString()} on the server's clock) finished during this wait)`,
      );
    }
    lines.push(front ? frontLine(front) : current.best_trial ? `Best so far: ${trialLine(current.best_trial)}` : "No complete trial yet.");
    if (idleHint) lines.push(idleHint);
    return text(lines.join("\n"), {
      // Ended early because no trial can finish (stuck): not a timeout.
      timed_out: timedOut && stuck === null,
      ...(stuck !== null ? { stuck: true } : {}),
      ...(requeued ? { requeued: requeued.retries.map((r) => r.number) } : {}),
      waited_s: waited,
      finished: n,
      ...(tally.cancelled > 0 ? { cancelled: tally.cancelled } : {}),
      ...(tally.added > 0 ? { added: tally.added } : {}),
      new_trials: shown.map((t) => compactTrial(t)),
      ...(shown.length < n ? { next_cursor: cursor, finished_since: from } : {}),
      counts: current.counts,
      best_value: current.best_trial?.value ?? null,
      best_trial: current.best_trial?.number ?? null,
      ...(front ? { front_size: front.n_front, ...hypervolumeFields(front.hypervolume), reference_point: front.reference_point, reference_point_source: front.reference_point_source } : {}),
    });
  };
  // Fitted with room for a cursor, then with the real one (whose length follows the study's name),
  // one trial fewer while it does not fit.
  let { k } = fitPrefix(Math.min(20, newly.length), (m) => build(m, "x".repeat(120)), budget);
  for (;;) {
    const result = build(k, await cursorAfter(newly.slice(newly.length - k)));
    if (k === 0 || resultChars(result) <= budget) return result;
    k--;
  }
}

/**
 * Whether `now` is still the study the wait began on (`first`, `start`): a study's trials are never
 * removed nor a finished one turned back, so fewer trials or finishes, or another creation time,
 * mean it was deleted and another was created under its name.
 */
function sameStudy(first: StudyView, start: Finishes, now: { study: StudyView; finishes: Finishes }): boolean {
  const f = now.finishes;
  return (
    now.study.created_at === first.created_at &&
    now.study.n_trials >= first.n_trials &&
    f.evaluated >= start.evaluated &&
    f.cancelled >= start.cancelled &&
    f.added >= start.added
  );
}

/** The finishes since `start`, by how. */
function since(start: Finishes, now: Finishes): Finishes {
  return { evaluated: now.evaluated - start.evaluated, cancelled: now.cancelled - start.cancelled, added: now.added - start.added };
}

/** The head's note on finishes that are not evaluations (aggregates.ts `Finishes`), or "". */
function notCounted(t: Finishes): string {
  const parts = [
    ...(t.cancelled > 0 ? [`${plural(t.cancelled, "queued trial")} cancelled (cancel_trial)`] : []),
    ...(t.added > 0 ? [`${plural(t.added, "result")} recorded with add_trial`] : []),
  ];
  return parts.length === 0 ? "" : ` Not counted as finished: ${parts.join(", ")}.`;
}

/**
 * Why a study can finish no more trials: nothing is running, and it is stopped or its trial
 * budget is spent (both refuse every ask, queued trials included, so workers' loops have ended).
 * Null otherwise.
 */
async function stuckCause(backend: McpBackend, s: StudyView): Promise<string | null> {
  if (s.counts.RUNNING > 0) return null;
  if (s.stopped) return "because the study is stopped (stop_study): call resume_study to hand out trials again";
  if (s.max_trials === null) return null;
  const { budget } = await backend.call("study_summary", { study: s.name });
  return budget && budget.used >= budget.max_trials
    ? `because the study's budget is spent (${budget.used} of max_trials ${plural(budget.max_trials, "trial")} asked): raise it with update_study to go on`
    : null;
}

/**
 * wait_for_progress's line when it timed out with trials running that were asked over MCP: an
 * agent's own trial finishes only when it tells it, and waiting does not renew its lease.
 */
async function heldOverMcp(backend: McpBackend, study: string): Promise<string> {
  const page = await backend.call("trials", { study, states: ["RUNNING"], fields: ["system_attrs"], limit: 20 });
  const held = backend.heldByAgent?.bind(backend) ?? askedOverMcp;
  const mine = page.trials.filter((t) => held(t.system_attrs?.worker)).map((t) => t.number);
  if (mine.length === 0) return "";
  return `Running ${mine.length === 1 ? "trial" : "trials"} ${mine.join(", ")} ${mine.length === 1 ? "was" : "were"} asked with ask_trial: ${mine.length === 1 ? "it finishes" : "they finish"} only when tell_trial reports ${mine.length === 1 ? "it" : "them"} (waiting does not renew ${mine.length === 1 ? "its lease" : "their leases"}).`;
}

/** Queued retries of lost leases on a study with a max_trials budget (`requeuedReason`), with the budget; null when none. */
type Requeued = { retries: { number: number; of: number }[]; used: number; max: number };

/**
 * The queued trials of an idle study that re-run trials whose lease expired, when the study has a
 * max_trials budget (null otherwise): see `requeuedReason`.
 */
async function requeuedRetries(backend: McpBackend, s: StudyView): Promise<Requeued | null> {
  if (s.max_trials === null || s.counts.WAITING === 0) return null;
  const page = await backend.call("trials", { study: s.name, states: ["WAITING"], fields: ["system_attrs"], limit: 20 });
  const retries = page.trials.flatMap((t) => (typeof t.system_attrs?.retry_of === "number" ? [{ number: t.number, of: t.system_attrs.retry_of }] : []));
  if (retries.length === 0) return null;
  const { budget } = await backend.call("study_summary", { study: s.name });
  return budget ? { retries, used: budget.used, max: budget.max_trials } : null;
}

/**
 * wait_for_progress's idle line for queued retries under a max_trials budget. The reaper re-queues
 * a trial whose lease expired (max_retries) and gives its place in the budget back (the retry
 * counts when asked), often after the budget was spent, when the workers' loops had ended on an
 * ask refused for it: nobody comes back for the retry, and "are workers connected?" did not say
 * why. (Workers cannot wait for such a slot while trials run elsewhere: that is a design change.)
 * Retries whose given-back places do not fill the budget were never refused for it: then the line
 * names them and asks whether workers are connected.
 */
function requeuedReason({ retries, used, max }: Requeued): string {
  const one = retries.length === 1;
  const list = (ns: number[]) => ns.join(", ");
  const lost = `Nothing is running, and queued ${one ? "trial" : "trials"} ${list(retries.map((r) => r.number))} ${one ? "re-runs trial" : "re-run trials"} ${list(retries.map((r) => r.of))}, whose ${one ? "lease" : "leases"} expired (${one ? "its worker" : "their workers"} stopped answering).`;
  // The budget was spent before the re-queues gave their places back only if those places fill it:
  // otherwise no ask was refused for it, and the budget is not why nobody asks.
  if (used + retries.length < max)
    return `${lost} No worker asked for ${one ? "it" : "them"} since: are workers connected? You can evaluate ${one ? "it" : "them"} yourself with ask_trial/tell_trial, or cancel_trial ${one ? "it" : "them"}.`;
  return `${lost} The re-queue gave ${one ? "its place" : "their places"} in the max_trials budget back (${used} of ${max} asked), but a worker whose ask was refused while the budget was spent has ended its loop and does not come back: start a worker, evaluate ${one ? "it" : "them"} yourself with ask_trial/tell_trial, or cancel_trial ${one ? "it" : "them"} to end the study as it is.`;
}

/** The idle line of wait_for_progress: the stuck cause, else no worker asking. */
function idleReason(stuck: string | null, queued: number): string {
  return stuck !== null
    ? queued > 0
      ? `Nothing is running, and the ${plural(queued, "queued trial")} ${queued === 1 ? "is" : "are"} not handed out ${stuck}.`
      : `Nothing is running or queued ${stuck}.`
    : queued > 0
      ? `Nothing is running, and no worker asked for the ${plural(queued, "queued trial")}: are workers connected? A worker's loop ends when the study is stopped or its budget is spent, and must be started again after resume_study or update_study. You can evaluate them yourself with ask_trial/tell_trial.`
      : "Nothing is running or queued: are workers connected? You can evaluate trials yourself with ask_trial/tell_trial.";
}

/** wait_for_progress's line about a multi-objective study's front. */
function frontLine(f: { n_front: number; n_complete: number; hypervolume: number | null; reference_point: number[] | null; reference_point_source: string | null }): string {
  // No front, no hypervolume (it was printed as 0, as if the front had no volume).
  if (f.n_front === 0) return `No feasible trial has completed yet, so there is no Pareto front (${f.n_complete} complete).`;
  const at = f.reference_point ? ` at [${f.reference_point.map(fmt).join(", ")}]` : "";
  // A derived point moves with the front: an earlier call's hypervolume was at another point
  // (a front that grew read as a smaller number), so name the point and the comparable series.
  const source =
    f.reference_point_source === "derived"
      ? "derived from the current front, so not comparable with earlier calls' values; pareto_front with history: true compares them"
      : (f.reference_point_source ?? "no reference point yet");
  return `Pareto front: ${plural(f.n_front, "trial")}, hypervolume ${fmtHypervolume(f.hypervolume)}${at} (${source}); read it with pareto_front.`;
}
