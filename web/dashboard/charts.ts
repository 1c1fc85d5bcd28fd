/**
 * Charts: the server's Vega-Lite specs (op `plot_spec`, built by the same functions that `plot`
 * renders to PNG), compiled with vega-lite and drawn as SVG with vega in the page.
 */
import type { View } from "vega";
import { h } from "./dom.js";
import { op } from "./api.js";

/** The chart kinds of the study page, with their headings. */
export const CHARTS: { kind: string; title: string }[] = [
  { kind: "history", title: "Optimisation history" },
  { kind: "parallel_coordinates", title: "Parallel coordinates" },
  { kind: "slice", title: "Slice" },
  { kind: "contour", title: "Contour" },
  { kind: "importances", title: "Parameter importances" },
  { kind: "intermediate_values", title: "Intermediate values" },
  { kind: "edf", title: "Empirical distribution (EDF)" },
];

/** Charts of a study with several objectives: the front and its hypervolume first. */
const MULTI_OBJECTIVE: { kind: string; title: string }[] = [
  { kind: "pareto_front", title: "Pareto front" },
  { kind: "hypervolume_history", title: "Hypervolume history" },
];

/** Charts drawn from a strategy's own read models, by the strategies that record them. */
const READ_MODEL_CHARTS: Record<string, { kind: string; title: string }> = {
  pbt: { kind: "lineage", title: "PBT lineage" },
  pb2: { kind: "lineage", title: "PBT lineage" },
  hypergradient: { kind: "trajectories", title: "Hyperparameter trajectories" },
};

/**
 * The charts of a study page. With several objectives: the Pareto front, the hypervolume history
 * and the learning curves (the other specs rank trials by one value and have nothing to draw).
 * PBT/PB2 studies add the lineage tree, hypergradient studies the trajectories, after the history.
 */
export function chartsFor(multiObjective: boolean, strategy: string): { kind: string; title: string }[] {
  const base = multiObjective ? [...MULTI_OBJECTIVE, ...CHARTS.filter((c) => c.kind === "intermediate_values")] : CHARTS;
  const own = READ_MODEL_CHARTS[strategy];
  return own ? [base[0] as { kind: string; title: string }, own, ...base.slice(1)] : base;
}

const views = new WeakMap<HTMLElement, View>();

/** Above this many data rows a chart is drawn on a canvas rather than as SVG. */
export const CANVAS_ROWS = 2500;

/** Data rows of a Vega-Lite spec: its top-level inline data and each layer's. */
function rowsOf(spec: Record<string, unknown>): number {
  const count = (d: unknown) => (Array.isArray((d as { values?: unknown } | undefined)?.values) ? ((d as { values: unknown[] }).values.length) : 0);
  const layers = Array.isArray(spec.layer) ? (spec.layer as { data?: unknown }[]) : [];
  return count(spec.data) + layers.reduce((n, l) => n + count(l.data), 0);
}

/**
 * vega and vega-lite (nearly all of the page's bytes) in their own chunk, loaded on the first
 * chart: the trial table does not wait for them.
 */
let vegaLibs: Promise<[typeof import("vega"), typeof import("vega-lite")]> | null = null;
const libs = () =>
  (vegaLibs ??= Promise.all([import("vega"), import("vega-lite")]).catch((err: unknown) => {
    vegaLibs = null; // a later chart tries again
    throw err;
  }));

/** Shows `reason` in `box` instead of a chart (the one drawn there before is dropped). */
export function noChart(box: HTMLElement, caption: HTMLElement, reason: string): void {
  views.get(box)?.finalize();
  views.delete(box);
  box.replaceChildren(h("p", { class: "empty" }, reason));
  box.dataset.state = "empty";
  caption.textContent = "";
}

/**
 * Draws chart `kind` of `study` into `box` (replacing what was there) and its caption into
 * `caption`; a chart with nothing to draw yet shows the server's reason instead.
 */
export async function drawChart(box: HTMLElement, caption: HTMLElement, args: Record<string, unknown>): Promise<void> {
  const loading = libs(); // the chunk downloads while the server builds the spec
  loading.catch(() => undefined); // a failure shows through the await below
  let spec: { spec: Record<string, unknown>; caption: string };
  try {
    spec = await op("plot_spec", args);
  } catch (err) {
    noChart(box, caption, (err as Error).message);
    return;
  }
  const [vega, vl] = await loading;
  const vg = vl.compile(spec.spec as any).spec;
  const target = h("div", { class: "vega" });
  // SVG (one DOM node per mark: inspectable, crisp) unless the chart has thousands of rows, where
  // building that many nodes is most of the drawing time: then canvas.
  const renderer = rowsOf(spec.spec) > CANVAS_ROWS ? "canvas" : "svg";
  const view = new vega.View(vega.parse(vg), { renderer, container: target, hover: true });
  await view.runAsync();
  views.get(box)?.finalize();
  views.set(box, view);
  box.replaceChildren(target);
  box.dataset.state = "drawn";
  const drawn = target.querySelector("svg, canvas");
  drawn?.setAttribute("role", "img");
  drawn?.setAttribute("aria-label", spec.caption);
  box.dataset.renderer = renderer;
  caption.textContent = spec.caption;
}
