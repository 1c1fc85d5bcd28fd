/**
 * Study plots rendered on the server as PNG: Vega-Lite specs compiled and rendered to SVG
 * by Vega (pure JavaScript, no browser, no canvas), rasterised by resvg (prebuilt binaries
 * shipped as npm optional dependencies). Text uses DejaVu Sans from the `dejavu-fonts-ttf`
 * package, loaded explicitly, so output does not depend on the host's fonts.
 *
 * The plot kinds follow Optuna's visualization module: optimization history, parallel
 * coordinates, parameter importances and intermediate values.
 *
 * Vega and resvg are imported lazily: commands that never plot do not pay for loading them.
 */
import { createRequire } from "node:module";
import { encode as encodeUnit } from "../domain/distributions.js";
import type { Distribution } from "../domain/distributions.js";
import { invalidArgument } from "../domain/errors.js";
import type { Importances } from "./importance.js";
import type { StudyView, TrialView } from "./views.js";

export const PLOT_KINDS = ["history", "parallel_coordinates", "importances", "intermediate_values"] as const;
export type PlotKind = (typeof PLOT_KINDS)[number];

/** Most trials drawn by line plots (the most recent ones); more would be unreadable anyway. */
export const MAX_LINES = 200;
const WIDTH = 640;
const HEIGHT = 320;
const FONT = "DejaVu Sans";

export interface RenderedPlot {
  png: Buffer;
  /** One sentence describing what is drawn (for a text channel beside the image). */
  caption: string;
}

/** A Vega-Lite spec (kept loose: vega-lite's own types would leak into every caller). */
type VlSpec = Record<string, unknown>;

/**
 * Builds the Vega-Lite spec of a plot. Pure. @throws INVALID_ARGUMENT for an unknown kind or
 * FAILED_PRECONDITION-like INVALID_ARGUMENT when the study has nothing to draw yet.
 */
export function plotSpec(kind: PlotKind, study: StudyView, trials: readonly TrialView[], importances?: Importances): { spec: VlSpec; caption: string } {
  const done = trials.filter((t) => t.state === "COMPLETE" && typeof t.value === "number" && Number.isFinite(t.value));
  const base = { $schema: "https://vega.github.io/schema/vega-lite/v6.json", width: WIDTH, height: HEIGHT, background: "white", config: { font: FONT } };
  switch (kind) {
    case "history": {
      if (done.length === 0) throw invalidArgument(`study '${study.name}' has no COMPLETE trial to plot yet; wait for results first`);
      const sorted = [...done].sort((a, b) => a.number - b.number);
      let best: number | null = null;
      const rows = sorted.map((t) => {
        const v = t.value as number;
        best = best === null || (study.direction === "minimize" ? v < best : v > best) ? v : best;
        return { trial: t.number, value: v, best, enqueued: t.system_attrs.enqueued === true ? "enqueued" : "strategy" };
      });
      return {
        caption: `Optimization history of '${study.name}': objective of ${rows.length} complete trials by trial number (dots; orange = enqueued proposals) and the best value so far (line).`,
        spec: {
          ...base,
          title: `Optimization history — ${study.name} (${study.direction})`,
          data: { values: rows },
          layer: [
            {
              mark: { type: "point", filled: true, size: 40, opacity: 0.8 },
              encoding: {
                x: { field: "trial", type: "quantitative", title: "trial number" },
                y: { field: "value", type: "quantitative", title: "objective", scale: { zero: false } },
                color: { field: "enqueued", type: "nominal", title: "source", scale: { domain: ["strategy", "enqueued"], range: ["#4c78a8", "#f58518"] } },
              },
            },
            {
              mark: { type: "line", interpolate: "step-after", color: "#e45756", strokeWidth: 2 },
              encoding: { x: { field: "trial", type: "quantitative" }, y: { field: "best", type: "quantitative" } },
            },
          ],
        },
      };
    }
    case "parallel_coordinates": {
      if (done.length === 0) throw invalidArgument(`study '${study.name}' has no COMPLETE trial to plot yet; wait for results first`);
      const recent = [...done].sort((a, b) => a.number - b.number).slice(-MAX_LINES);
      const dists = new Map<string, Distribution>();
      for (const t of recent) for (const [k, d] of Object.entries(t.distributions)) if (!dists.has(k)) dists.set(k, d);
      const axes = [...dists.keys()];
      const label = (k: string, d: Distribution) =>
        d.type === "categorical" ? `${k} [${d.choices.map(String).join("|")}]` : `${k} [${short(d.low)}..${short(d.high)}${d.log ? " log" : ""}]`;
      const values = recent.map((t) => t.value as number);
      const lo = Math.min(...values);
      const hi = Math.max(...values);
      const rows: Record<string, unknown>[] = [];
      for (const t of recent) {
        for (const k of axes) {
          const d = dists.get(k) as Distribution;
          const v = t.params[k];
          if (v === undefined) continue;
          let u = encodeUnit(d, v);
          if (d.type === "categorical") u = d.choices.length > 1 ? u / (d.choices.length - 1) : 0.5;
          rows.push({ trial: t.number, axis: label(k, d), u, objective: t.value });
        }
        rows.push({ trial: t.number, axis: "objective", u: hi > lo ? ((t.value as number) - lo) / (hi - lo) : 0.5, objective: t.value });
      }
      const order = [...axes.map((k) => label(k, dists.get(k) as Distribution)), "objective"];
      return {
        caption: `Parallel coordinates of '${study.name}': ${recent.length} complete trials, each a line across the parameters (scaled to their ranges) and the objective; colour = objective.`,
        spec: {
          ...base,
          width: Math.max(WIDTH, 120 * order.length),
          title: `Parallel coordinates — ${study.name}`,
          data: { values: rows },
          mark: { type: "line", opacity: 0.6 },
          encoding: {
            x: { field: "axis", type: "nominal", sort: order, title: null, axis: { labelAngle: 0, labelLimit: 160 } },
            y: { field: "u", type: "quantitative", title: "position in range (low → high)", scale: { domain: [0, 1] } },
            detail: { field: "trial", type: "nominal" },
            color: {
              field: "objective",
              type: "quantitative",
              scale: { scheme: "viridis", reverse: study.direction === "maximize" },
              title: "objective",
            },
          },
        },
      };
    }
    case "importances": {
      const imp = importances;
      if (!imp || imp.importances.length === 0)
        throw invalidArgument(`no importances for '${study.name}' yet: ${imp?.note ?? "not enough complete trials"}`);
      const rows = imp.importances.map((i) => ({ param: i.param, importance: i.importance }));
      const order = rows.map((r) => r.param);
      return {
        caption: `Parameter importances of '${study.name}' from ${imp.n_trials} complete trials (${imp.method}).`,
        spec: {
          ...base,
          height: Math.max(80, 28 * rows.length),
          title: `Parameter importances — ${study.name}`,
          data: { values: rows },
          layer: [
            {
              mark: { type: "bar", color: "#4c78a8" },
              encoding: {
                y: { field: "param", type: "nominal", sort: order, title: null },
                x: { field: "importance", type: "quantitative", title: "share of explained variance", axis: { format: ".0%" }, scale: { domain: [0, 1] } },
              },
            },
            {
              mark: { type: "text", align: "left", dx: 4 },
              encoding: {
                y: { field: "param", type: "nominal", sort: order },
                x: { field: "importance", type: "quantitative" },
                text: { field: "importance", type: "quantitative", format: ".0%" },
              },
            },
          ],
        },
      };
    }
    case "intermediate_values": {
      const withCurves = trials.filter((t) => t.intermediate.length > 0).sort((a, b) => a.number - b.number).slice(-MAX_LINES);
      if (withCurves.length === 0)
        throw invalidArgument(`study '${study.name}' has no intermediate values; they appear once trials report(step, value) during training`);
      const rows = withCurves.flatMap((t) => t.intermediate.filter(([, v]) => Number.isFinite(v)).map(([step, value]) => ({ trial: t.number, step, value, state: t.state })));
      return {
        caption: `Learning curves of '${study.name}': intermediate values by step for ${withCurves.length} trials; colour = final state.`,
        spec: {
          ...base,
          title: `Intermediate values — ${study.name}`,
          data: { values: rows },
          mark: { type: "line", opacity: 0.7, point: { size: 12 } },
          encoding: {
            x: { field: "step", type: "quantitative", title: "step" },
            y: { field: "value", type: "quantitative", title: "intermediate value", scale: { zero: false } },
            detail: { field: "trial", type: "nominal" },
            color: {
              field: "state",
              type: "nominal",
              title: "state",
              scale: { domain: ["COMPLETE", "PRUNED", "RUNNING", "FAIL"], range: ["#4c78a8", "#bab0ac", "#54a24b", "#e45756"] },
            },
          },
        },
      };
    }
    default:
      throw invalidArgument(`unknown plot kind ${JSON.stringify(kind)}; valid kinds: ${PLOT_KINDS.join(", ")}`);
  }
}

/** Renders a plot to PNG. @throws INVALID_ARGUMENT when there is nothing to draw (see `plotSpec`). */
export async function renderPlot(kind: PlotKind, study: StudyView, trials: readonly TrialView[], importances?: Importances): Promise<RenderedPlot> {
  const { spec, caption } = plotSpec(kind, study, trials, importances);
  return { png: await renderVegaLite(spec), caption };
}

let fontFile: string | null | undefined;

/** The bundled DejaVu Sans, or null when the package is missing (resvg then uses system fonts). */
function bundledFont(): string | null {
  if (fontFile === undefined) {
    try {
      fontFile = createRequire(import.meta.url).resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf");
    } catch {
      fontFile = null;
    }
  }
  return fontFile;
}

/** Compiles a Vega-Lite spec and renders it to a PNG at 1.5× scale. */
export async function renderVegaLite(spec: VlSpec): Promise<Buffer> {
  const [vega, vl, { Resvg }] = await Promise.all([import("vega"), import("vega-lite"), import("@resvg/resvg-js")]);
  const compiled = vl.compile(spec as unknown as Parameters<typeof vl.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none" });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  const font = bundledFont();
  const resvg = new Resvg(svg, {
    background: "white",
    fitTo: { mode: "zoom", value: 1.5 },
    font: font ? { loadSystemFonts: false, fontFiles: [font], defaultFontFamily: FONT } : { loadSystemFonts: true, defaultFontFamily: FONT },
  });
  return resvg.render().asPng();
}

function short(v: number): string {
  if (v !== 0 && (Math.abs(v) < 1e-2 || Math.abs(v) >= 1e4)) return v.toExponential(0);
  return String(Number(v.toPrecision(3)));
}
