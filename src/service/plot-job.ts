/**
 * What a chart's trials cost to send to the chart renderer (plot-renderer.ts). Since the renderer
 * is a child process (f39f37b), a job crosses `fork`'s IPC channel through V8's serialiser, and
 * the child's deserialisation of a history chart's 2,000 trial views took longer than the
 * worker thread's structured clone of them (docs/BENCHMARKS.md, "Reads on big studies"). Most of
 * those objects were each view's own copy of the same distributions: `trialView` copies them per
 * trial, and trials loaded from storage do not share them. The serialiser writes an object it has
 * already written as a reference, so views that share one distributions object send it once:
 * 1.2 MB → 0.75 MB for that chart, and a fraction of the objects to build on both sides.
 */
import type { TrialView } from "./views.js";

/** Distinct distribution lists kept to compare against (a define-by-run study may have more; the rest go as they are). */
const MAX_DISTINCT = 8;

/**
 * `trials` with equal `distributions` (same keys, same values: `Object.is`, so 0 and -0 differ)
 * sharing one object, the first of them. Views are not changed: one whose distributions are
 * replaced is a shallow copy. Only for views nobody mutates afterwards (a chart's).
 */
export function shareDistributions(trials: readonly TrialView[]): TrialView[] {
  const seen: TrialView["distributions"][] = [];
  return trials.map((t) => {
    const d = t.distributions;
    const same = seen.find((s) => s === d || sameValue(s, d));
    if (same === undefined) {
      if (seen.length < MAX_DISTINCT) seen.unshift(d);
      return t;
    }
    return same === d ? t : { ...t, distributions: same };
  });
}

/** Structural equality of JSON-like values (plain objects, arrays, scalars; `Object.is` for scalars). */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (!Object.hasOwn(b, k) || !sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  return true;
}
