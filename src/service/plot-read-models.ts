/**
 * Plots of what only a strategy's read models know (plugin.ts `StrategyReadModels`):
 *
 * - `lineage`: a PBT population's lineage as a tree (Jaderberg et al., "Population Based
 *   Training of Neural Networks", 2017, §3 and Fig. 4's phylogenetic trees): generation on the x
 *   axis, the member's population slot on the y axis, one node per stretch of training with one
 *   set of params, an edge from the donor stretch whose checkpoint a member loaded (exploit or
 *   refill; solid) or from a member's own previous stretch when only its params changed (dashed).
 * - `trajectories`: the hyperparameters of hypergradient trials per step (the params in force
 *   after each applied update; step-after lines, since an update holds until the next), one row
 *   per numeric hyperparameter, one line per trial.
 *
 * Pure functions on data the service asks the study's strategy for (reads.ts) and passes in
 * `PlotOptions.readModels`; the service never reads a plug-in's attributes itself.
 */
import { plural } from "../domain/format.js";
import { invalidArgument } from "../domain/errors.js";
import type { LineageGraph, TrajectoryEntry } from "../domain/plugin.js";
import { HEIGHT, type PlotSpec, WIDTH, baseSpec, drawableScale, shortNumber } from "./plot-scales.js";
import type { StudyView, TrialView } from "./views.js";
import { maxOf, minOf } from "../math/extremes.js";

/** Trials drawn at most in a trajectories chart (the most recent by number); the caption says how many were left out. */
export const MAX_TRAJECTORY_TRIALS = 200;
/** Lineage nodes drawn at most (the latest generations kept); the caption says how many were left out. */
export const MAX_LINEAGE_NODES = 4000;

/** A trial's trajectory as its strategy records it. */
export interface TrialTrajectory {
  readonly trial: number;
  readonly entries: readonly TrajectoryEntry[];
}

/** Where a node of one (generation, member) cell sits: nodes sharing a cell are spread over ±0.3. */
function spread(k: number, n: number): number {
  return n <= 1 ? 0 : -0.3 + (0.6 * k) / (n - 1);
}

function paramText(params: Record<string, unknown>): string {
  return Object.entries(params)
    .map(([k, v]) => `${k}=${typeof v === "number" ? shortNumber(v) : String(v)}`)
    .join(", ");
}

/**
 * The lineage tree of a PBT study from its strategy's `lineageGraph`. @throws INVALID_ARGUMENT
 * when the strategy records none (not PBT/PB2) or no member has started yet.
 */
export function lineageSpec(study: StudyView, graph: LineageGraph | undefined): PlotSpec {
  if (!graph) throw invalidArgument(`study '${study.name}' uses strategy '${study.strategy.name}', which records no population lineage (pbt and pb2 do)`);
  if (graph.nodes.length === 0) throw invalidArgument(`study '${study.name}' has no PBT member yet: no lineage to draw`);
  let nodes = graph.nodes;
  let left = 0;
  if (nodes.length > MAX_LINEAGE_NODES) {
    const cut = [...nodes].sort((a, b) => b.generation - a.generation)[MAX_LINEAGE_NODES - 1]?.generation ?? 0;
    nodes = nodes.filter((n) => n.generation >= cut).slice(-MAX_LINEAGE_NODES);
    left = graph.nodes.length - nodes.length;
  }
  const cells = new Map<string, string[]>();
  for (const n of nodes) {
    const cell = `${n.generation}/${n.member}`;
    const list = cells.get(cell) ?? [];
    list.push(n.id);
    cells.set(cell, list);
  }
  const at = new Map<string, { x: number; y: number }>();
  const rows = nodes.map((n) => {
    const cell = cells.get(`${n.generation}/${n.member}`) as string[];
    const y = n.member + spread(cell.indexOf(n.id), cell.length);
    at.set(n.id, { x: n.generation, y });
    return { id: n.id, trial: n.trial, member: n.member, generation: n.generation, step: n.step, y, params: paramText(n.params) };
  });
  const edges = graph.edges.flatMap((e) => {
    const a = at.get(e.from);
    const b = at.get(e.to);
    return a && b ? [{ x: a.x, y: a.y, x2: b.x, y2: b.y, kind: e.kind, from: e.from, to: e.to }] : [];
  });
  const maxGen = maxOf(rows.map((r) => r.generation));
  const members = new Set(rows.map((r) => r.member)).size;
  const x = { field: "x", type: "quantitative", title: "generation (exploits and refills since a fresh start)", scale: { domain: [-0.5, maxGen + 0.5], nice: false }, axis: { tickMinStep: 1, format: "d" } };
  const y = { field: "y", type: "quantitative", title: "population slot (member)", scale: { nice: false, padding: 8 }, axis: { tickMinStep: 1, format: "d" } };
  const spec = {
    ...baseSpec(`PBT lineage of ${study.name}`),
    width: WIDTH,
    height: Math.max(HEIGHT, Math.min(900, members * 28)),
    layer: [
      {
        data: { values: edges },
        mark: { type: "rule", strokeWidth: 1.2 },
        encoding: {
          x,
          y,
          x2: { field: "x2" },
          y2: { field: "y2" },
          color: { field: "kind", type: "nominal", title: "edge", scale: { domain: ["exploit", "explore"], range: ["#4c78a8", "#9d755d"] } },
          strokeDash: { field: "kind", type: "nominal", legend: null, scale: { domain: ["exploit", "explore"], range: [[1, 0], [4, 3]] } },
          tooltip: [{ field: "from", title: "from trial:stretch" }, { field: "to", title: "to trial:stretch" }, { field: "kind" }],
        },
      },
      {
        data: { values: rows },
        mark: { type: "point", filled: true, size: 60, color: "#e45756", opacity: 0.9 },
        encoding: {
          x: { ...x, field: "generation" },
          y,
          tooltip: [{ field: "trial" }, { field: "member" }, { field: "generation" }, { field: "step", title: "from its step" }, { field: "params" }],
        },
      },
    ],
  };
  const exploits = edges.filter((e) => e.kind === "exploit").length;
  const explores = edges.length - exploits;
  const caption =
    `PBT lineage of '${study.name}': ${plural(rows.length, "stretch", "stretches")} of training (dots; a stretch is one set of params) of ${plural(new Set(rows.map((r) => r.trial)).size, "trial")} in ${plural(members, "population slot")}, ` +
    `over ${maxGen + 1} generations; ${exploits} checkpoint loads (exploits and refills: solid lines from the donor)` +
    (explores > 0 ? `, ${explores} explore-only changes (dashed)` : "") +
    "." +
    (left > 0 ? ` ${left} stretches of the earliest generations are left out (at most ${MAX_LINEAGE_NODES} drawn).` : "");
  return { spec, caption };
}

/** Values whose spread (or, all equal, whose magnitude) is one `drawableScale` widens: a subnormal span. */
function tooNarrow(vs: readonly number[]): boolean {
  const lo = minOf(vs);
  const hi = maxOf(vs);
  return hi > lo ? drawableScale(lo, hi).domain[0] !== lo : hi !== 0 && drawableScale(0, Math.abs(hi)).domain[1] !== Math.abs(hi);
}

/**
 * The hyperparameter trajectories of a hypergradient study's trials. @throws INVALID_ARGUMENT
 * when the strategy records none, or no trial has a numeric hyperparameter update yet.
 */
export function trajectoriesSpec(study: StudyView, trials: readonly TrialView[], trajectories: readonly TrialTrajectory[] | undefined): PlotSpec {
  if (!trajectories) throw invalidArgument(`study '${study.name}' uses strategy '${study.strategy.name}', which records no hyperparameter trajectories (hypergradient does)`);
  const withUpdates = trajectories.filter((t) => t.entries.some((e) => e.step !== null));
  if (withUpdates.length === 0) throw invalidArgument(`study '${study.name}' has no trial with a hyperparameter update yet: no trajectory to draw`);
  const drawn = [...withUpdates].sort((a, b) => a.trial - b.trial).slice(-MAX_TRAJECTORY_TRIALS);
  const dists = new Map<string, TrialView["distributions"][string]>();
  for (const t of trials) for (const [k, d] of Object.entries(t.distributions)) if (!dists.has(k)) dists.set(k, d);
  const rows: { trial: number; param: string; step: number; value: number; y: number }[] = [];
  const params = new Set<string>();
  for (const t of drawn) {
    const first = t.entries.find((e) => e.step !== null)?.step ?? 0;
    for (const e of t.entries) {
      for (const [param, v] of Object.entries(e.params)) {
        if (typeof v !== "number" || !Number.isFinite(v)) continue;
        params.add(param);
        // The starting point holds from the trial's first step (a trajectory starts at step null).
        rows.push({ trial: t.trial, param, step: e.step ?? Math.min(0, first), value: v, y: v });
      }
    }
  }
  if (rows.length === 0) throw invalidArgument(`study '${study.name}' has no numeric hyperparameter in its trajectories: nothing to draw`);
  const names = [...params];
  // A parameter whose values spread over less than ~1e-290 (declared over a subnormal span) is drawn
  // as one value on a linear axis: vega's ticks threw on it, and the chart failed INTERNAL.
  const flat = new Set(names.filter((p) => tooNarrow(rows.filter((r) => r.param === p).map((r) => r.value))));
  for (const r of rows) r.y = flat.has(r.param) ? 0 : r.value;
  const allLog = flat.size === 0 && names.every((p) => {
    const d = dists.get(p);
    return d !== undefined && "log" in d && d.log === true && rows.every((r) => r.param !== p || r.value > 0);
  });
  const spec = {
    ...baseSpec(`Hyperparameter trajectories of ${study.name}`),
    data: { values: rows },
    facet: { row: { field: "param", type: "nominal", title: null, sort: names } },
    resolve: { scale: { y: "independent" } },
    spec: {
      width: WIDTH,
      height: Math.max(120, Math.round(HEIGHT / Math.min(names.length, 3))),
      mark: { type: "line", interpolate: "step-after", strokeWidth: 1.2, point: { size: 12, filled: true } },
      encoding: {
        x: { field: "step", type: "quantitative", title: "step" },
        y: { field: "y", type: "quantitative", title: "value", scale: { type: allLog ? "log" : "linear", zero: false } },
        color: { field: "trial", type: "quantitative", title: "trial", scale: { scheme: "viridis" }, legend: { format: "d", tickMinStep: 1 } },
        detail: { field: "trial", type: "nominal" },
        tooltip: [{ field: "trial" }, { field: "param" }, { field: "step" }, { field: "value" }],
      },
    },
  };
  const caption =
    `Hyperparameter trajectories of '${study.name}': ${names.join(", ")} per step for ${plural(drawn.length, "trial")} (the params in force after each applied update, the starting point at step 0)` +
    (withUpdates.length > drawn.length ? `; the ${drawn.length} latest of ${withUpdates.length} trials with updates are drawn` : "") +
    (allLog ? "; log scale" : "") +
    (trajectories.length > withUpdates.length ? `; ${plural(trajectories.length - withUpdates.length, "trial")} without an update yet ${trajectories.length - withUpdates.length === 1 ? "is" : "are"} left out` : "") +
    ".";
  return { spec, caption };
}
