/**
 * Study plots rendered on the server as PNG: Vega-Lite specs compiled and rendered to SVG
 * by Vega (pure JavaScript, no browser, no canvas), rasterised by resvg (prebuilt binaries
 * shipped as npm optional dependencies). Text uses DejaVu Sans from the `dejavu-fonts-ttf`
 * package, loaded explicitly, so output does not depend on the host's fonts.
 *
 * The plot kinds follow Optuna's visualization module: optimization history, parallel
 * coordinates, parameter importances, intermediate values, slice, contour and the EDF; plus the
 * Pareto front and hypervolume history (plot-front.ts), and the PBT lineage tree and hypergradient
 * trajectories from the strategy's read models (plot-read-models.ts). The specs are
 * pure functions (`plot-trials.ts`, `plot-params.ts`) so that a browser dashboard can render
 * the very same Vega-Lite specs; MCP (`plot` tool), ZeroMQ (`plot` op) and the CLI
 * (`tuneport plot`) all render through `renderPlot`.
 *
 * A PNG is at most `MAX_PNG_WIDTH` × `MAX_PNG_HEIGHT` pixels: rendered at 1.5× unless that
 * would exceed the cap, then scaled down to fit. It is also at most `MAX_PNG_BYTES`: a denser
 * chart (hundreds of antialiased lines) is rendered again at a smaller zoom until it fits.
 *
 * Vega and resvg are imported lazily: commands that never plot do not pay for loading them.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { invalidArgument } from "../domain/errors.js";
import { clipText } from "../domain/input-limits.js";
import { type Importances, paramImportances } from "./importance.js";
import { contourSpec, importancesSpec, parallelSpec, sliceSpec } from "./plot-params.js";
import { hypervolumeHistorySpec, paretoFrontSpec } from "./plot-front.js";
import { lineageSpec, trajectoriesSpec } from "./plot-read-models.js";
import { FONT, type PlotOptions, baseSpec, type PlotSpec, type VlSpec } from "./plot-scales.js";
import { MAX_HISTORY_POINTS, edfSpec, historySpec, intermediateSpec } from "./plot-trials.js";
import type { StudyView, TrialView } from "./views.js";

export type { PlotOptions, PlotSpec, VlSpec } from "./plot-scales.js";

export const PLOT_KINDS = ["history", "parallel_coordinates", "importances", "intermediate_values", "slice", "contour", "edf", "pareto_front", "hypervolume_history", "lineage", "trajectories"] as const;
export type PlotKind = (typeof PLOT_KINDS)[number];
/** Short names accepted wherever a kind is (the CLI documents these). */
export const PLOT_KIND_ALIASES: Readonly<Record<string, PlotKind>> = { parallel: "parallel_coordinates", intermediate: "intermediate_values" };
/** Every accepted spelling of a kind. */
export const PLOT_KIND_NAMES: readonly string[] = [...PLOT_KINDS, ...Object.keys(PLOT_KIND_ALIASES)];

/** Largest PNG produced, in pixels. */
export const MAX_PNG_WIDTH = 1600;
export const MAX_PNG_HEIGHT = 1000;
/** Largest PNG produced, in bytes: under the image limits of common model APIs (about 5 MB) with room. */
export const MAX_PNG_BYTES = 1024 * 1024;
/** Rendering scale when the chart fits the cap at that scale. */
const SCALE = 1.5;

export interface RenderedPlot {
  png: Buffer;
  /** One paragraph describing what is drawn and what was left out (for a text channel beside the image). */
  caption: string;
  width: number;
  height: number;
}

/** Renders a chart somewhere (in process, or in a worker thread: plot-renderer.ts). */
export interface PlotRendering {
  render(kind: PlotKind, study: StudyView, trials: TrialView[], opts?: PlotOptions): Promise<RenderedPlot>;
}

/** The canonical kind for a name or alias. @throws INVALID_ARGUMENT listing the valid names. */
export function parsePlotKind(name: string): PlotKind {
  if ((PLOT_KINDS as readonly string[]).includes(name)) return name as PlotKind;
  const alias = PLOT_KIND_ALIASES[name];
  if (alias) return alias;
  throw invalidArgument(`unknown plot kind ${JSON.stringify(name)}; valid kinds: ${PLOT_KIND_NAMES.join(", ")}`);
}

/** Kinds that draw one value per trial: a study with several objectives has none to give them. */
const ONE_VALUE_KINDS: ReadonlySet<PlotKind> = new Set(["history", "parallel_coordinates", "slice", "contour", "edf", "importances"]);

/** Kinds whose axes are parameters, the ones `params` picks (plot-params.ts); the others draw none. */
export const PARAM_PLOT_KINDS: readonly PlotKind[] = ["parallel_coordinates", "slice", "contour"];

/** Kinds with an objective axis, the ones `log_y` puts on a log scale (plot-trials.ts, plot-params.ts). */
export const LOG_Y_PLOT_KINDS: readonly PlotKind[] = ["history", "intermediate_values", "edf", "parallel_coordinates", "slice", "contour"];

/**
 * Refuses a kind that draws one value per trial on a study with several objectives (Optuna asks
 * for a `target` there; the dashboard draws the front, the hypervolume and the learning curves),
 * and the hypervolume history of a study with one objective: Optuna's `plot_hypervolume_history`
 * refuses a single-objective study too, since one objective's "hypervolume" is only the distance
 * of the best value so far from a reference point, which the optimization history draws plainly.
 * And `params` on a kind that draws no parameter axes (only `PARAM_PLOT_KINDS` do), and `log_y`
 * on one that draws no objective axis to scale (only `LOG_Y_PLOT_KINDS` do).
 * Every surface (ZeroMQ and CLI `plot`, MCP, the dashboard's `plot_spec`) calls this first.
 * @throws INVALID_ARGUMENT naming the kinds that do draw it.
 */
export function checkKindFor(kind: PlotKind, study: Pick<StudyView, "name" | "directions">, params?: readonly string[], logY?: boolean): void {
  // `params` on a kind that draws no parameter (a Pareto front, the history) was dropped without a word.
  if (params !== undefined && params.length > 0 && !PARAM_PLOT_KINDS.includes(kind))
    throw invalidArgument(
      `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind} plot draws no parameter axes, so it takes no params (they pick the parameters of ${PARAM_PLOT_KINDS.join(", ")}): ` +
        `leave params out, or plot one of those kinds`,
      { kind, params },
    );
  // `log_y` on importances, a Pareto front, the hypervolume, the lineage or the trajectories was dropped without a word.
  if (logY === true && !LOG_Y_PLOT_KINDS.includes(kind))
    throw invalidArgument(
      `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind} plot has no objective axis that log_y could put on a log scale (${LOG_Y_PLOT_KINDS.join(", ")} have one): ` +
        `leave log_y out, or plot one of those kinds`,
      { kind, log_y: true },
    );
  if (study.directions.length > 1 && ONE_VALUE_KINDS.has(kind))
    throw invalidArgument(
      `study '${study.name}' has ${study.directions.length} objectives (${study.directions.join(", ")}): ${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind} plot draws one value per trial; ` +
        "plot pareto_front, hypervolume_history or intermediate_values",
    );
  if (study.directions.length === 1 && kind === "hypervolume_history")
    throw invalidArgument(
      `study '${study.name}' has one objective (${study.directions[0]}): a hypervolume history needs two or more objectives (as Optuna's plot_hypervolume_history); ` +
        "with one, the hypervolume is only the best value so far: plot history (the optimization history) instead",
    );
}

/**
 * Builds the Vega-Lite spec of a plot. Pure. `importances` may be passed when the caller has
 * them (else computed when needed). @throws INVALID_ARGUMENT for an unknown kind, an unknown
 * parameter, `logY` with non-positive values, or a study with nothing to draw yet (the message
 * says what is missing).
 */
export function plotSpec(kind: PlotKind, study: StudyView, trials: readonly TrialView[], opts: PlotOptions = {}, importances?: Importances): PlotSpec {
  checkKindFor(kind, study, opts.params, opts.logY);
  switch (kind) {
    case "history":
      return historySpec(study, trials, opts);
    case "intermediate_values":
      return intermediateSpec(study, trials, opts);
    case "importances":
      return importancesSpec(study, trials, importances ?? opts.importances ?? paramImportances(trials));
    case "parallel_coordinates":
      return parallelSpec(study, trials, opts);
    case "slice":
      return sliceSpec(study, trials, opts);
    case "contour":
      return contourSpec(study, trials, opts);
    case "edf":
      return edfSpec(study, trials, opts);
    case "pareto_front":
      return paretoFrontSpec(study, trials, opts);
    case "hypervolume_history":
      return hypervolumeHistorySpec(study, trials, opts);
    case "lineage":
      return lineageSpec(study, opts.readModels?.lineage);
    case "trajectories":
      return trajectoriesSpec(study, trials, opts.readModels?.trajectories);
    default:
      throw invalidArgument(`unknown plot kind ${JSON.stringify(kind)}; valid kinds: ${PLOT_KIND_NAMES.join(", ")}`);
  }
}

/** Renders a plot to PNG. @throws INVALID_ARGUMENT when there is nothing to draw (see `plotSpec`). */
export async function renderPlot(kind: PlotKind, study: StudyView, trials: readonly TrialView[], opts: PlotOptions = {}): Promise<RenderedPlot> {
  const { spec, caption } = plotSpec(kind, study, trials, opts);
  const key = `${study.name}\u0000${kind}`;
  const rendered = await renderVegaLite(spec, pngDensity.get(key));
  pngDensity.delete(key); // re-inserted last: the map drops its oldest entries
  pngDensity.set(key, rendered.png.length / (rendered.width * rendered.height));
  if (pngDensity.size > MAX_DENSITIES) pngDensity.delete(pngDensity.keys().next().value as string);
  return { ...rendered, caption };
}

/**
 * PNG bytes per pixel of the last rendering of each (study, kind) in this process. A plot whose
 * PNG at the default scale exceeds the byte cap (parallel coordinates: 200 translucent coloured
 * lines compress badly) would otherwise be rasterised twice on every request of a running study;
 * with this, the next one starts at the scale that fits. Per study, so that one study's dense
 * chart never shrinks another's.
 */
const pngDensity = new Map<string, number>();
const MAX_DENSITIES = 256;

/**
 * Loads Vega, Vega-Lite and resvg and renders a chart with the plot font, so that the code a
 * rendering runs is loaded and compiled before the first real chart (plot-renderer.ts `warm`). As
 * many points as a history plot draws (`MAX_HISTORY_POINTS`), so that its hot loops are optimised
 * too: in process at 100,000 trials the first history chart after a warm-up of 20 points took
 * 661–721 ms, after one of 2,000 points 408–577 ms (the warm-up itself +150–250 ms, once).
 */
export async function warmUpRendering(): Promise<void> {
  const values = Array.from({ length: MAX_HISTORY_POINTS }, (_, i) => ({ trial: i, value: Math.sin(i) }));
  await renderVegaLite({
    ...baseSpec("warm-up 0.5"),
    data: { values },
    layer: [
      { mark: { type: "point", filled: true }, encoding: { x: { field: "trial", type: "quantitative" }, y: { field: "value", type: "quantitative" } } },
      { mark: "line", encoding: { x: { field: "trial", type: "quantitative" }, y: { field: "value", type: "quantitative" } } },
    ],
  });
}

/** Where the build puts vega and vega-lite as one file (scripts/bundle-vega.mjs). */
const VEGA_BUNDLE = new URL("./vega-bundle.js", import.meta.url);

/**
 * Vega and Vega-Lite: from the build's bundle, which loads in ~70 ms against ~210 for the packages'
 * modules (a plot worker's first chart waits for it), or from the packages when running from
 * sources. The bundle, when present, is imported without a fallback: a broken build should fail.
 */
function loadVega(): Promise<[typeof import("vega"), typeof import("vega-lite")]> {
  vegaModules ??= (async () => {
    if (VEGA_BUNDLE.protocol === "file:" && existsSync(fileURLToPath(VEGA_BUNDLE))) {
      const b = (await import(VEGA_BUNDLE.href)) as { vega: typeof import("vega"); vl: typeof import("vega-lite") };
      return [b.vega, b.vl] as [typeof import("vega"), typeof import("vega-lite")];
    }
    return Promise.all([import("vega"), import("vega-lite")]);
  })();
  return vegaModules;
}
/** Looked up once per process (the file check is not repeated on every rendering). */
let vegaModules: Promise<[typeof import("vega"), typeof import("vega-lite")]> | undefined;

/**
 * The characters `assets/fonts/DejaVuSans-plots.ttf` has (the ranges its README's command kept).
 * Text made only of these renders with that file, which resvg parses in a fraction of the whole
 * font's time; anything else (or a character reference, which could be anything) gets the whole font.
 */
const SUBSET_TEXT = /^[\u0000-\u007e\u00a0-\u024f\u0370-\u03ff\u2000-\u206f\u20ac\u2190-\u21ff\u2200-\u22ff\u25a0-\u25ff]*$/;

/** Looked up once per process: [the subset, the whole DejaVu Sans], each null when missing. */
let fontFiles: { subset: string | null; whole: string | null } | undefined;

function bundledFonts(): { subset: string | null; whole: string | null } {
  if (fontFiles === undefined) {
    let whole: string | null = null;
    try {
      whole = createRequire(import.meta.url).resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf");
    } catch {
      whole = null;
    }
    const subset = fileURLToPath(new URL("../../assets/fonts/DejaVuSans-plots.ttf", import.meta.url));
    fontFiles = { subset: existsSync(subset) ? subset : null, whole };
  }
  return fontFiles;
}

/**
 * The font file to render `svg` with: the subset when its text fits it, else the whole DejaVu Sans,
 * or null when neither is installed (resvg then uses the system's fonts).
 */
export function plotFont(svg: string): string | null {
  const { subset, whole } = bundledFonts();
  if (subset && SUBSET_TEXT.test(svg) && !svg.includes("&#")) return subset;
  return whole;
}

/**
 * The spec without its tooltip encodings (`tooltip` keys outside the data): a PNG shows none, and
 * Vega evaluated them for every mark (a history chart of 2,000 points: 7–15 ms of its ~110–150 ms
 * of rendering). The data (`data`, `datasets`) is shared, not copied.
 */
export function withoutTooltips(spec: VlSpec): VlSpec {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v === null || typeof v !== "object") return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (k === "tooltip") continue;
      out[k] = k === "data" || k === "datasets" ? x : strip(x);
    }
    return out;
  };
  return strip(spec) as VlSpec;
}

/** The zoom that renders an SVG of `w` × `h` CSS pixels at 1.5× or, if larger, fits it in the PNG cap. */
export function renderScale(w: number, h: number): number {
  return Math.min(SCALE, MAX_PNG_WIDTH / Math.max(1, w), MAX_PNG_HEIGHT / Math.max(1, h));
}

/**
 * Compiles a Vega-Lite spec and renders it to a PNG within the size cap. `density` (PNG bytes
 * per pixel expected, from an earlier rendering of the same kind) lowers the first scale tried
 * so that the PNG fits the cap at the first rasterisation.
 */
export async function renderVegaLite(spec: VlSpec, density?: number): Promise<{ png: Buffer; width: number; height: number }> {
  const [[vega, vl], { Resvg }] = await Promise.all([loadVega(), import("@resvg/resvg-js")]);
  // Warnings would go to the console (stdout of a server whose stdout is its JSON log). Errors are
  // kept: Vega logs a failed step of its dataflow and goes on to write an SVG anyway.
  const errors: unknown[] = [];
  const logger = vega.logger(vega.Error, undefined, (_method: string, _level: string, input: readonly unknown[]) => errors.push(...input));
  // No ARIA attributes: a PNG has no use for them, and they were half of the SVG's bytes (a
  // label per point), which Vega writes and resvg parses: 5,000 points 263 -> 190 ms. The
  // specs served to browsers (plot_spec, the dashboard) keep them.
  const stripped = withoutTooltips(spec);
  const pngSpec = { ...stripped, config: { ...(stripped.config as object | undefined), aria: false } };
  const compiled = vl.compile(pngSpec as unknown as Parameters<typeof vl.compile>[0], { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: "none", logger });
  let svg: string;
  try {
    svg = await view.toSVG();
  } finally {
    view.finalize();
  }
  // That SVG is broken (a range too narrow to tick, 5e-324 to 1e-323, threw "Invalid array length"
  // and left a 16 × 16 chart with its marks outside), and resvg panicked on it: a Rust panic
  // aborts the whole server, not just the plot worker. Refused, never rasterised.
  if (errors.length > 0) {
    const first = errors[0];
    const why = first instanceof Error ? first.message : String(first);
    throw invalidArgument(
      `this chart cannot be drawn: laying it out failed (${clipText(why, 200)}); values too close together or too far apart to put on an axis (a range like 5e-324 to 1e-323) do this. plot_spec still returns its data`,
    );
  }
  const size = /<svg[^>]*?\swidth="([\d.]+)"[^>]*?\sheight="([\d.]+)"/.exec(svg);
  let zoom = size ? renderScale(Number(size[1]), Number(size[2])) : 1;
  if (size && density && density > 0) {
    // Only when the last rendering predicts this one over the cap; never above the pixel cap's zoom.
    const pixels = Number(size[1]) * Number(size[2]);
    if (density * pixels * zoom * zoom > MAX_PNG_BYTES) zoom = Math.min(zoom, Math.max(0.5, Math.sqrt((0.9 * MAX_PNG_BYTES) / (density * pixels))));
  }
  const font = plotFont(svg);
  for (let attempt = 0; ; attempt++) {
    const resvg = new Resvg(svg, {
      background: "white",
      fitTo: { mode: "zoom", value: zoom },
      font: font ? { loadSystemFonts: false, fontFiles: [font], defaultFontFamily: FONT } : { loadSystemFonts: true, defaultFontFamily: FONT },
    });
    const image = resvg.render();
    const png = image.asPng();
    if (png.length <= MAX_PNG_BYTES || attempt === 4) return { png, width: image.width, height: image.height };
    // PNG size grows about with the pixel count: shrink the area by the excess, with a margin.
    zoom *= Math.sqrt(MAX_PNG_BYTES / png.length) * 0.9;
  }
}
