/** Tiny DOM helpers: elements from tag, attributes and children; text is always text (no innerHTML). */

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | EventListener | undefined | null>;

/** An element `tag` with attributes (`on*` are listeners, `false`/null/undefined are left out) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(typeof c === "number" ? String(c) : c);
  return el;
}

/** A number for a table cell: 6 significant digits, or an em dash for none. */
export function fmt(v: unknown): string {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** An epoch-seconds time as local date-time, or an em dash. */
export function when(s: number | null | undefined): string {
  return s === null || s === undefined ? "—" : new Date(s * 1000).toLocaleString();
}

/** "3 s ago" style, for last activity. */
export function ago(s: number | null | undefined): string {
  if (s === null || s === undefined) return "—";
  const d = Math.max(0, Date.now() / 1000 - s);
  if (d < 60) return `${Math.round(d)} s ago`;
  if (d < 3600) return `${Math.round(d / 60)} min ago`;
  if (d < 86400) return `${Math.round(d / 3600)} h ago`;
  return `${Math.round(d / 86400)} d ago`;
}

/** True on the read-only dashboard (`tuneport dashboard --storage`): no action controls. */
export const READ_ONLY = document.body.dataset.readOnly === "true";

/** Replaces `el`'s children with the given ones, leaving out null/false. */
export function fill(el: HTMLElement, ...children: (Node | string | null | false)[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== false));
}

/**
 * Calls `fn` at most once per `ms` and never while its last run is still going, the last call
 * winning: a call made meanwhile runs once the window is over and the run has settled. So a live
 * refresh always starts after the last change that asked for it, and two refreshes are never in
 * flight together (their reads may answer out of order: the older answer, drawn last, would stay
 * on screen until the next change). A run that fails is dropped; the next call runs again.
 */
export function throttle(fn: () => Promise<unknown> | void, ms: number): () => void {
  let busy = false;
  let again = false;
  const run = () => {
    busy = true;
    let windowOver = false;
    let settled = false;
    const next = () => {
      if (!windowOver || !settled) return;
      busy = false;
      if (again) {
        again = false;
        run();
      }
    };
    window.setTimeout(() => {
      windowOver = true;
      next();
    }, ms);
    let running: Promise<unknown>;
    try {
      running = Promise.resolve(fn());
    } catch (err) {
      running = Promise.reject(err);
    }
    running.catch(() => undefined).finally(() => {
      settled = true;
      next();
    });
  };
  return () => {
    if (busy) again = true;
    else run();
  };
}
