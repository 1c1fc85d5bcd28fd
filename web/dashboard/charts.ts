/**
 * Charts: the server's Vega-Lite specs (op `plot_spec`, built by the same functions that `plot`
 * renders to PNG), compiled with vega-lite and drawn as SVG with vega in the page.
 */
import { View, parse } from "vega";
import { compile } from "vega-lite";
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

const views = new WeakMap<HTMLElement, View>();

/**
 * Draws chart `kind` of `study` into `box` (replacing what was there) and its caption into
 * `caption`; a chart with nothing to draw yet shows the server's reason instead.
 */
export async function drawChart(box: HTMLElement, caption: HTMLElement, args: Record<string, unknown>): Promise<void> {
  let spec: { spec: Record<string, unknown>; caption: string };
  try {
    spec = await op("plot_spec", args);
  } catch (err) {
    views.get(box)?.finalize();
    views.delete(box);
    box.replaceChildren(h("p", { class: "empty" }, (err as Error).message));
    box.dataset.state = "empty";
    caption.textContent = "";
    return;
  }
  const vg = compile(spec.spec as any).spec;
  const target = h("div", { class: "vega" });
  const view = new View(parse(vg), { renderer: "svg", container: target, hover: true });
  await view.runAsync();
  views.get(box)?.finalize();
  views.set(box, view);
  box.replaceChildren(target);
  box.dataset.state = "drawn";
  const svg = target.querySelector("svg");
  svg?.setAttribute("role", "img");
  svg?.setAttribute("aria-label", spec.caption);
  caption.textContent = spec.caption;
}
