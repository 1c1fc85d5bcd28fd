/** `tuneport studies list|show|trials`: read a database, also while a server runs on it. */
import { invalidArgument, noSuchStudy, notFound } from "../domain/errors.js";
import { formatNumber } from "../domain/format.js";
import { type Study, TRIAL_STATES, type TrialState } from "../domain/trial.js";
import { type TrialsPage, trialCursor } from "../service/paging.js";
import { type ParetoFrontView, paretoFrontView } from "../service/pareto.js";
import { type LineageView, type StudyView, type TrialView, metricNamesOf, summaryView, summaryViews, trialView } from "../service/views.js";
import { type Command, UsageError, closestName, intOption } from "./command.js";
import type { BestReportRow, StoredTrial, SummaryReader } from "../storage/storage.js";
import { lineageAnswer, noFiniteResult, reportedAt, trialNeededFor } from "../service/lineage.js";
import { LINEAGE_READ_MODELS } from "../strategies/lineage-models.js";
import { openStorage } from "./open-storage.js";
import { terminalSafe } from "./terminal.js";
import { maxOf } from "../math/extremes.js";

export const studiesCommand: Command = {
  name: "studies",
  help: `
Usage: tuneport studies list [--storage PATH] [--json]
       tuneport studies show NAME [--storage PATH] [--json]
       tuneport studies trials NAME [--storage PATH] [--json] [--state S]... [--sort KEY] [--limit N]
       tuneport studies lineage NAME [TRIAL] [--storage PATH] [--json]

'lineage' prints the hyperparameter schedule that produced TRIAL's model at its best report
(default: the trial with the best report), following PBT donors back to generation 0: replay
it as a fixed schedule for 'model trained for' steps.

Reads the database read-only; safe beside a running server.

Options:
  --storage PATH   SQLite database file [./tuneport.db], or a postgresql:// URL
  --json           machine-readable output (one JSON document)
  --state STATE    only trials in this state (WAITING, RUNNING, COMPLETE, PRUNED, FAIL); repeatable
  --limit N        at most N trials, the first in the --sort order [all, up to 100,000]
  --sort KEY       number or value (best first) [number]
  -h, --help       show this help
`,
  options: {
    storage: { type: "string", default: "./tuneport.db" },
    json: { type: "boolean", default: false },
    state: { type: "string", multiple: true },
    limit: { type: "string" },
    sort: { type: "string", default: "number" },
  },
  async run(v, pos) {
    const [sub, name, trialArg] = pos;
    const subs = ["list", "show", "trials", "lineage"];
    if (!sub || !subs.includes(sub)) {
      const near = sub ? closestName(subs, sub) : null;
      throw new UsageError(`${sub ? `unknown 'studies ${sub}'${near !== null ? ` (did you mean 'studies ${near}'?)` : ""}: ` : ""}expected list, show NAME, trials NAME or lineage NAME [TRIAL]; see --help`);
    }
    // A word too many (a name with a space not quoted, say) was ignored and another study shown.
    const most = sub === "list" ? 1 : sub === "lineage" ? 3 : 2;
    if (pos.length > most)
      throw new UsageError(`'studies ${sub}' takes ${sub === "list" ? "no NAME" : sub === "lineage" ? "a NAME and a TRIAL number" : "one NAME"}; unexpected ${pos.slice(most).map((p) => JSON.stringify(p)).join(" ")} (quote a name with spaces)`);
    if (sub === "lineage" && trialArg !== undefined && !/^\d+$/.test(trialArg)) throw new UsageError(`TRIAL must be a trial number (0, 1, ...), got ${JSON.stringify(trialArg)}`);
    const trialNo = sub === "lineage" ? intOption("TRIAL", trialArg, 0, Number.MAX_SAFE_INTEGER) : undefined;
    if (sub !== "list" && !name) throw new UsageError(`'studies ${sub}' needs a study NAME`);
    // Options of 'trials' given to another subcommand were ignored silently.
    if (sub !== "trials") {
      const given = [v.state !== undefined ? "--state" : "", v.limit !== undefined ? "--limit" : "", v.sort !== "number" ? "--sort" : ""].filter((o) => o !== "");
      if (given.length > 0) throw new UsageError(`${given.join(", ")} ${given.length === 1 ? "applies" : "apply"} to 'studies trials' only`);
    }
    const storage = await openStorage(v.storage as string, { readonly: true });
    const out = (s: string) => process.stdout.write(s.endsWith("\n") ? s : `${s}\n`);
    // Read from SQL (storage.ts `SummaryReader`), on SQLite and PostgreSQL alike: summaries, a study's view,
    // its front's trials, a page of trials or the trials a lineage follows, never the whole study (at
    // 100,000 trials that took seconds). The storage is closed on every path: an open PostgreSQL pool
    // would keep the process alive.
    try {
      if (sub === "list") {
        const studies = await studySummaries(storage);
        out(v.json ? JSON.stringify(studies, null, 2) : formatStudyTable(studies));
      } else if (sub === "show") {
        const study = await studyNamed(storage, name as string);
        const s = await summaryView(storage, study);
        if (s.directions.length === 1) out(v.json ? JSON.stringify(s, null, 2) : formatStudy(s));
        else {
          const front = await paretoFrontOf(storage, study, s);
          out(v.json ? JSON.stringify({ ...s, pareto_front: front }, null, 2) : `${formatStudy(s)}\n${formatFront(front, metricNamesOf(s.user_attrs, s.directions.length))}`);
        }
      } else if (sub === "lineage") {
        const l = await lineageFromSql(storage, await studyNamed(storage, name as string), trialNo);
        out(v.json ? JSON.stringify(l, null, 2) : formatLineage(l));
      } else {
        const sort = v.sort as string;
        if (sort !== "number" && sort !== "value") throw new UsageError("--sort must be number or value");
        const limit = intOption("limit", v.limit, 1, MAX_LISTED);
        const args = { states: statesOption(v.state as string[] | undefined), order_by: sort, limit: limit ?? MAX_LISTED } as const;
        const page = await trialsPageOf(storage, name as string, args);
        const study = await studyNamed(storage, name as string);
        // A value order lists the trials that have a value: the others are counted (by the page), not hidden.
        out(v.json ? JSON.stringify(page, null, 2) : [formatTrialTable(page.trials, metricNamesOf(study.userAttrs, study.config.directions.length)), ...trialTableNotes(page, page.without_value ?? 0)].join("\n"));
      }
    } finally {
      await storage.close();
    }
    return 0;
  },
};

/** `--state` values, upper-cased (`complete` means COMPLETE). @throws UsageError naming the states. */
export function statesOption(values: readonly string[] | undefined): TrialState[] | undefined {
  if (values === undefined) return undefined;
  return values.map((raw) => {
    const st = raw.toUpperCase();
    if (!(TRIAL_STATES as readonly string[]).includes(st)) throw new UsageError(`--state ${JSON.stringify(raw)}: expected one of ${TRIAL_STATES.join(", ")}`);
    return st as TrialState;
  });
}

/** Left-aligned text table. */
export function table(header: string[], rows: string[][]): string {
  // Cells hold names and values from the database: no control characters reach the terminal.
  header = header.map((c) => terminalSafe(c));
  rows = rows.map((r) => r.map((c) => terminalSafe(c)));
  const widths = header.map((h, i) => Math.max(h.length, maxOf(rows.map((r) => (r[i] ?? "").length))));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] as number)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/**
 * Every study's view (config, counts, best trial) as `list_studies` answers it, from SQL
 * summaries (storage.ts `SummaryReader`, SQLite or PostgreSQL): the trials are not loaded.
 */
export async function studySummaries(storage: SummaryReader): Promise<StudyView[]> {
  return summaryViews(storage, await storage.listStudies());
}

/** The study of that name. @throws NOT_FOUND (the service's message). */
export async function studyNamed(storage: SummaryReader, name: string): Promise<Study> {
  const studies = await storage.listStudies();
  const study = studies.find((s) => s.name === name);
  if (study === undefined) throw noSuchStudy(name, studies.map((s) => s.name));
  return study;
}

/**
 * The `best_trials` answer (pareto.ts) from SQL. Where the storage reads the front cheaply
 * (`quickFront`: SQLite keeps it on write, PostgreSQL computes a two-objective one in SQL), only its
 * trials are read, with the study's counts (the front of the front is itself, so the view's
 * hypervolume and reference point are the same); otherwise the front is computed from the COMPLETE
 * trials' objectives alone, then only its trials are read whole.
 */
export async function paretoFrontOf(storage: SummaryReader, study: Study, s: StudyView): Promise<ParetoFrontView & { n_front: number; next_cursor: null }> {
  const now = Date.now();
  const quick = await storage.quickFront(study.id, study.config.directions);
  // The whole front on one page (a local read: no server thread to hold), as best_trials' fields say.
  const whole = <V extends ParetoFrontView>(v: V) => ({ ...v, n_front: v.trials.length, next_cursor: null });
  if (quick !== null)
    return whole(paretoFrontView(s, quick.trials.map((t) => trialView(t, now)), { counts: { complete: quick.complete, feasible: quick.complete - quick.infeasible } }));
  const front = paretoFrontView(s, await storage.completeObjectives(study.id));
  const trials = await storage.trialsByNumber(study.id, front.trials.map((t) => t.number));
  return whole({ ...front, trials: trials.map((t) => trialView(t, now)) });
}

/**
 * The `lineage` answer (service/lineage.ts `lineageAnswer`) from SQL: the study's best report from
 * `bestReported` (or the trial asked for), then only the trials the lineage follows — the trial and,
 * for a strategy that moves models between trials (PBT), the chain of donors its model came from,
 * one query per hop (`StrategyReadModels.lineageNext`). @throws NOT_FOUND.
 */
export async function lineageFromSql(storage: SummaryReader, study: Study, trial: number | undefined): Promise<LineageView> {
  const direction = study.config.direction;
  const models = LINEAGE_READ_MODELS[study.config.strategy.name];
  const trials: StoredTrial[] = [];
  const load = async (numbers: number[]) => {
    if (numbers.length > 0) for (const t of await storage.trialsByNumber(study.id, numbers)) trials[t.number] = t;
  };
  const several = trial === undefined ? trialNeededFor(study.name, study.config.directions) : null;
  if (several) throw several;
  const best = trial === undefined ? await storage.bestReported(study.id, direction) : null;
  if (trial === undefined && best === null) throw noFiniteResult(study.name);
  const number = trial ?? (best as BestReportRow).number;
  await load([number]);
  const start = trials[number];
  if (start === undefined)
    // Without `trial`: the study was deleted between the two reads.
    throw trial === undefined ? noFiniteResult(study.name) : notFound(`study '${study.name}' has no trial ${number}`, { study: study.name, trial: number });
  const at = best === null ? reportedAt(direction, start) : { step: best.step, value: best.value };
  // The chain `lineage` follows, one trial per hop (a donor already read is not read again; a missing
  // one ends the walk, and `lineage` then reports the inconsistency as the service does).
  let t: StoredTrial | undefined = start;
  let hop: { uptoStep?: number } | { donorStep: number } = at.step === null ? {} : { uptoStep: at.step };
  for (let hops = 0; t !== undefined && hops < 100_000; hops++) {
    const next: { trial: number; donorStep: number } | null = models?.lineageNext?.(t, hop) ?? null;
    if (next === null) break;
    if (trials[next.trial] === undefined) await load([next.trial]);
    t = trials[next.trial];
    hop = { donorStep: next.donorStep };
  }
  return lineageAnswer(study.name, models, trials, start, at);
}

/**
 * The first page of a study's trials as the `trials` op answers it (same order, filter, total,
 * next_cursor and, by value, without_value), from SQL: only the page's trials are read. @throws NOT_FOUND.
 */
export async function trialsPageOf(
  storage: SummaryReader,
  name: string,
  a: { states?: readonly TrialState[]; order_by: "number" | "value"; limit: number },
): Promise<TrialsPage<TrialView>> {
  const study = await studyNamed(storage, name);
  const dirs = study.config.directions;
  if (a.order_by === "value" && dirs.length > 1)
    throw invalidArgument(
      `study '${name}' has ${dirs.length} objectives (${dirs.join(", ")}), so no trial has one value to sort by: 'tuneport studies show ${name}' prints its Pareto front; sort by number to list its trials`,
    );
  const { trials, total, withoutValue } = await storage.trialPage(study.id, { states: a.states, orderBy: a.order_by, direction: study.config.direction, limit: a.limit });
  const now = Date.now();
  const last = trials[trials.length - 1];
  return {
    trials: trials.map((t) => trialView(t, now)),
    total,
    next_cursor: trials.length < total && last ? trialCursor(study, { order_by: a.order_by, states: a.states ? [...a.states] : undefined }, last) : null,
    ...(withoutValue !== undefined ? { without_value: withoutValue } : {}),
  };
}

/** `tuneport studies list`: one row per study; a multi-objective study lists its directions and no best (see `studies show`). */
export function formatStudyTable(studies: StudyView[]): string {
  if (studies.length === 0) return "no studies";
  return table(
    ["name", "direction", "strategy", "scheduler", "trials", "complete", "running", "best"],
    studies.map((s) => [
      s.name, s.directions.join(","), s.strategy.name, s.scheduler?.name ?? "-", String(s.n_trials), String(s.counts.COMPLETE),
      String(s.counts.RUNNING), formatNumber(s.best_trial?.value),
    ]),
  );
}

export function formatStudy(s: StudyView): string {
  const lines = [
    `study      ${s.name}`,
    s.directions.length > 1 ? `directions ${s.directions.join(", ")}` : `direction  ${s.direction}`,
    `strategy   ${s.strategy.name} ${JSON.stringify(s.strategy.options)}`,
    `scheduler  ${s.scheduler ? `${s.scheduler.name} ${JSON.stringify(s.scheduler.options)}` : "-"}`,
    `seed       ${s.seed}`,
    `trials     ${s.n_trials} (${Object.entries(s.counts).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k.toLowerCase()}`).join(", ") || "none"})`,
    ...(s.max_trials !== null ? [`max_trials ${s.max_trials}`] : []),
    ...(s.stopped ? ["status     stopped: hands out no trials until resumed"] : []),
    // Define-by-run parameters too (an Optuna-style objective declares none: the space was blank).
    Object.keys(s.space).length + Object.keys(s.define_by_run).length > 0 ? "space:" : "space:     none declared, no define-by-run parameter drawn yet",
    ...Object.entries(s.space).map(([k, d]) => `  ${k}: ${JSON.stringify(d)}`),
    ...Object.entries(s.define_by_run).map(([k, d]) => `  ${k}: ${JSON.stringify(d)} (define-by-run)`),
  ];
  if (s.best_trial) {
    lines.push(`best       trial ${s.best_trial.number}, value ${formatNumber(s.best_trial.value)}`);
    for (const [k, v] of Object.entries(s.best_trial.params)) lines.push(`  ${k} = ${formatNumber(v)}`);
  }
  // Names, choices and options come from the database: no control characters reach the terminal.
  return lines.map((l) => terminalSafe(l)).join("\n");
}

/** A value column's head, as Optuna's trials_dataframe: `values_<metric name>`, else `values_<i>`. */
const valuesHead = (names: readonly string[] | null, i: number) => `values_${names?.[i] ?? i}`;

/**
 * The Pareto front of `studies show` for a multi-objective study: its hypervolume and one row per
 * trial, a column per objective named after its metric name (`set_metric_names`) where it has one.
 */
export function formatFront(f: ParetoFrontView, metricNames: readonly string[] | null = null): string {
  if (f.trials.length === 0) return `pareto front: no feasible COMPLETE trial yet (${f.n_complete} complete)`;
  const names = [...new Set(f.trials.flatMap((t) => Object.keys(t.params)))];
  const head =
    `pareto front: ${f.trials.length} trials (${f.n_feasible} feasible of ${f.n_complete} complete), hypervolume ${formatNumber(f.hypervolume)}${f.hypervolume_exact ? "" : " (Monte Carlo estimate)"} ` +
    `at [${(f.reference_point ?? []).map((x) => formatNumber(x)).join(", ")}] (${f.reference_point_source})`;
  return `${head}\n${table(
    ["#", ...f.directions.map((d, i) => `${valuesHead(metricNames, i)} (${d.slice(0, 3)})`), ...names],
    f.trials.map((t) => [String(t.number), ...(t.values ?? []).map((x) => formatNumber(x)), ...names.map((n) => formatNumber(t.params[n]))]),
  )}`;
}

/**
 * Trials as a table: one value column per objective (values_0, values_1, ... with several, or
 * values_<name> with metric names, as Optuna's trials_dataframe), a
 * `feasible` column when any trial told constraints, a column per parameter ("-" where a trial does
 * not use it, null for a categorical None).
 */
export function formatTrialTable(trials: TrialView[], metricNames: readonly string[] | null = null): string {
  if (trials.length === 0) return "no trials";
  const names = [...new Set(trials.flatMap((t) => Object.keys(t.params)))];
  const objectives = Math.max(1, maxOf(trials.map((t) => t.values?.length ?? 0)));
  const valueHeads = objectives === 1 ? ["value"] : Array.from({ length: objectives }, (_, i) => valuesHead(metricNames, i));
  const constrained = trials.some((t) => t.constraints !== null);
  const param = (t: TrialView, n: string) => (!(n in t.params) ? "-" : t.params[n] === null ? "null" : formatNumber(t.params[n]));
  return table(
    ["#", "state", ...valueHeads, ...(constrained ? ["feasible"] : []), ...names, "duration_s"],
    trials.map((t) => [
      String(t.number),
      t.state,
      ...(objectives === 1 ? [formatNumber(t.value)] : valueHeads.map((_, i) => formatNumber(t.values?.[i] ?? null))),
      ...(constrained ? [t.feasible === null ? "-" : t.feasible ? "yes" : "no"] : []),
      ...names.map((n) => param(t, n)),
      formatNumber(t.duration_s),
    ]),
  );
}

/** The lines under a trial table: how many it leaves out, and why. */
export function trialTableNotes(page: { trials: readonly TrialView[]; total: number }, unranked: number): string[] {
  const notes: string[] = [];
  if (page.trials.length < page.total) notes.push(`(${page.trials.length} of ${page.total} trials shown; --limit N shows more, up to ${MAX_LISTED.toLocaleString("en")})`);
  if (unranked > 0) notes.push(`(${unranked} trial(s) without a value are not listed when sorted by value; --sort number lists them)`);
  return notes;
}

/** The most trials one `studies trials` lists. */
export const MAX_LISTED = 100_000;

export function formatLineage(l: LineageView): string {
  const names = [...new Set(l.schedule.flatMap((s) => Object.keys(s.params)))];
  const head = `trial ${l.trial} (${l.state.toLowerCase()}), best report ${formatNumber(l.value)} at its step ${formatNumber(l.step)}, model trained for ${formatNumber(l.until_step)} steps`;
  return `${head}\n${table(
    ["from_step", ...names, "trained_by", "its_step"],
    l.schedule.map((s) => [formatNumber(s.from_step), ...names.map((n) => formatNumber(s.params[n])), String(s.trial), formatNumber(s.trial_step)]),
  )}`;
}
