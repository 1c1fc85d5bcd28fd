/**
 * The dashboard page: a hash router over three views (studies list, study, trial), every datum
 * read through ops, kept live by the change feed (SSE). No framework: views rebuild their own
 * parts from op results.
 */
import { BUSY_MOST_MS, type Change, OpError, liveChanges, op } from "./api.js";
import { ago, fmt, h, throttle, when } from "./dom.js";
import { drawChart } from "./charts.js";
import { fill } from "./dom.js";
import { studyPage } from "./study.js";
import { constraintsText, objectiveLabels, paramText, parseAddress } from "./text.js";

/** What the current view does when a change arrives; replaced on navigation. */
export type OnChange = (c: Change) => void;
export interface View {
  onChange: OnChange;
  dispose?: () => void;
}
/**
 * True while the navigation that built a view is still the page's: a view whose reads answer
 * after the user moved on (a slow study, then another) must not draw over the page now on screen.
 */
export type Live = () => boolean;
let current: View = { onChange: () => undefined };
/** Counts navigations: a view's `live` compares its own number with it. */
let generation = 0;

const main = document.getElementById("main") as HTMLElement;
const conn = document.getElementById("conn") as HTMLElement;

/** Studies the list reads per page (`studies_overview`'s limit). */
const STUDIES_PAGE = 100;

/**
 * Most studies the list shows ("Show more studies" stops there, and the page says so). Each change
 * heard (at most every 0.5 s) and each 5 s poll reads again as many as are shown and draws every row:
 * uncapped, 100 clicks at 10,000 studies read and drew all 10,000 each time (a 3 MiB reply,
 * docs/BENCHMARKS.md "studies_overview among 10,000 studies").
 */
const MAX_STUDIES_SHOWN = 1000;

async function studiesList(live: Live): Promise<View> {
  const body = h("tbody");
  const table = h(
    "table",
    { class: "studies" },
    h("caption", {}, "Studies"),
    h(
      "thead",
      {},
      h("tr", {}, ...["Study", "Direction", "Strategy / scheduler", "Trials by state", "Best", "Last activity", "Live workers"].map((t) => h("th", { scope: "col" }, t))),
    ),
    body,
  );
  /** Whether the list shows a line of a study another server serves (`from_storage`). */
  let others = false;
  // The list shows the first `wanted` studies (one page, then a page more per "Show more studies"),
  // read again as one page of that many on each change and poll: the whole overview, read every
  // 5 s and on every change, summed up every study (1.1 s and a 3 MiB reply at 10,000 studies
  // served by another server, docs/BENCHMARKS.md "studies_overview among 10,000 studies").
  let wanted = STUDIES_PAGE;
  /** Counts reads: a read that answers after a later one started is not drawn (a "more" crossing a live refresh). */
  let reads = 0;
  const more = h("button", { type: "button", id: "more-studies", hidden: true, onclick: () => ((wanted = Math.min(wanted + STUDIES_PAGE, MAX_STUDIES_SHOWN)), void refresh().catch(() => undefined).finally(schedule)) }, "Show more studies");
  const capped = h("p", { id: "studies-capped", role: "status", hidden: true },
    `The list shows the first ${MAX_STUDIES_SHOWN.toLocaleString("en")} studies (in creation order); more follow. Open one by its address (#/study/NAME), or list them all with 'tuneport studies list' or the list_studies tool.`);
  const refresh = async () => {
    const mine = ++reads;
    const { studies, next_cursor } = await op<{ studies: any[]; next_cursor: string | null }>("studies_overview", { limit: wanted });
    if (!live() || mine !== reads) return;
    const shownBefore = body.querySelectorAll("tr[data-study]").length;
    const focused = document.activeElement === more;
    /** The study whose link has the keyboard's focus: the rows drawn again, it is focused again. */
    const focusedStudy = body.contains(document.activeElement) ? document.activeElement?.closest("tr")?.getAttribute("data-study") : undefined;
    more.hidden = !next_cursor || wanted >= MAX_STUDIES_SHOWN;
    capped.hidden = !next_cursor || wanted < MAX_STUDIES_SHOWN;
    others = studies.some((s) => s.from_storage === true);
    body.replaceChildren(
      ...studies.map((s) =>
        h(
          "tr",
          { "data-study": s.name },
          h("th", { scope: "row" }, h("a", { href: `#/study/${encodeURIComponent(s.name)}` }, s.name), s.stopped ? h("span", { class: "badge" }, "stopped") : null,
            // Served by another server sharing the database: its line is as last committed there.
            s.from_storage ? h("span", { class: "badge", title: "served by another server: as last committed to the database" }, "other server") : null),
          h("td", {}, ((s.directions as string[] | undefined) ?? [s.direction]).join(", ")),
          h("td", {}, s.scheduler ? `${s.strategy} / ${s.scheduler}` : s.strategy),
          h("td", { class: "counts" }, Object.entries(s.counts as Record<string, number>).filter(([, n]) => n > 0).map(([k, n]) => `${k.toLowerCase()} ${n}`).join(", ") || "none"),
          h("td", { class: "num" }, s.best ? `${fmt(s.best.value)} (#${s.best.number})` : "—"),
          h("td", {}, ago(s.last_activity_at)),
          // Another server's workers are not read (its line is as last committed): "—", not "0".
          s.from_storage
            ? h("td", { class: "workers", title: "not known here: another server serves this study" }, "—")
            : h("td", { class: "workers" }, String(s.live_workers), ...(s.workers as string[]).map((w) => h("span", { class: "worker" }, w))),
        ),
      ),
    );
    if (studies.length === 0) body.replaceChildren(h("tr", {}, h("td", { colspan: 7 }, "No studies yet.")));
    // The button hidden under the keyboard's focus (its last page read) dropped the focus to the
    // page's top: the next Tab went to "Skip to content", past every study read. It goes to the
    // first study the page added (the last one when none was added) instead.
    if (focused && more.hidden) body.querySelectorAll<HTMLElement>("tr[data-study] a")[Math.min(shownBefore, studies.length - 1)]?.focus();
    // Each change and 5 s poll draws the rows anew: a focused study's link was dropped with its row,
    // and the focus fell to the page's top (a keyboard user among the studies sent back every 5 s
    // while another server's line was shown).
    if (focusedStudy) [...body.querySelectorAll<HTMLElement>("tr[data-study]")].find((tr) => tr.getAttribute("data-study") === focusedStudy)?.querySelector<HTMLElement>("a")?.focus();
  };
  // Lines of studies another server serves change with no change heard here: while any is shown,
  // the list is read again every 5 s while the page is visible (a hidden page reads on its return).
  let poll: number | undefined;
  const schedule = () => {
    window.clearTimeout(poll);
    poll = others && live() ? window.setTimeout(() => ((poll = undefined), document.hidden || again()), 5000) : undefined;
  };
  const again = throttle(() => refresh().finally(schedule), 500);
  const onVisible = () => !document.hidden && others && poll === undefined && live() && again();
  await refresh();
  // Drawn once read: a read refused (a page retrying, below) leaves the page on screen as it was.
  if (live()) {
    document.title = "Studies — tuneport";
    main.replaceChildren(h("h1", {}, "Studies"), table, more, capped);
  }
  schedule();
  document.addEventListener("visibilitychange", onVisible);
  return {
    onChange: () => again(),
    dispose: () => {
      window.clearTimeout(poll);
      document.removeEventListener("visibilitychange", onVisible);
    },
  };
}

/** A trial's `worker` system attribute in words: where, which client, which transport or MCP session. */
function workerText(w: unknown): string {
  if (typeof w !== "object" || w === null) return "not recorded";
  const x = w as { transport?: string; name?: string; version?: string; host?: string; pid?: number; session?: string };
  const parts = [
    x.host !== undefined ? `host ${x.host}` : null,
    x.pid !== undefined ? `pid ${x.pid}` : null,
    x.name !== undefined ? `${x.name}${x.version !== undefined ? ` ${x.version}` : ""}` : null,
    x.session !== undefined ? `session ${x.session}` : null,
    `over ${x.transport ?? "an unknown transport"}`,
  ];
  return parts.filter((p) => p !== null).join(", ");
}

function kv(rows: [string, unknown][]): HTMLElement {
  return h("dl", { class: "kv" }, ...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "string" ? v : fmt(v))]));
}

async function trialPage(study: string, number: number, live: Live): Promise<View> {
  const render = async () => {
    // One round trip for all four: the study for its objectives' names and directions.
    const [{ trial: t, lease }, { study: st }, trajectory, lineage] = await Promise.all([
      op<{ trial: any; lease: { expires_at: number; ttl_s: number } | null }>("trial", { study, trial: number }),
      op<{ study: any }>("get_study", { study }),
      op<{ trajectory: { step: number | null; value: number | null; params: Record<string, unknown> }[] }>("trajectory", { study, trial: number }),
      op<{ lineage: { schedule: { from_step: number; params: Record<string, unknown>; trial: number; trial_step: number }[] } }>("lineage", { study, trial: number }),
    ]);
    if (!live()) return; // the user moved on while it was read
    document.title = `Trial ${number} of ${study} — tuneport`;
    const sys = t.system_attrs as Record<string, unknown>;
    const curve = h("div", { class: "chart", "aria-live": "off" });
    const caption = h("p", { class: "caption" });
    const trajBox = h("div", { class: "chart", "data-kind": "trajectories", "aria-live": "off" });
    const trajCaption = h("p", { class: "caption" });
    // One row per objective (named when the study has names), then the constraints when told.
    const directions = (st.directions as string[] | undefined) ?? [st.direction as string];
    const labels = objectiveLabels(directions, st.user_attrs);
    const values: [string, unknown][] = directions.length > 1 ? labels.map((l, i) => [l, t.values?.[i] ?? null]) : [[labels[0] as string, t.value]];
    const constraints: [string, unknown][] =
      Array.isArray(t.constraints) && t.constraints.length > 0
        ? [["Constraints", constraintsText(t.constraints as number[])], ["Feasible", t.feasible === null ? "—" : t.feasible ? "yes" : "no"]]
        : [];
    fill(
      main,
      h("nav", { "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Studies"), " › ", h("a", { href: `#/study/${encodeURIComponent(study)}` }, study), ` › trial ${number}`),
      h("h1", {}, `Trial ${number} `, h("span", { class: `state ${t.state}` }, t.state)),
      h("section", { "aria-labelledby": "t-sum" }, h("h2", { id: "t-sum" }, "Summary"),
        kv([
          ...values,
          ...constraints,
          ["Created", when(t.created_at)],
          ["Started", when(t.started_at)],
          ["Finished", when(t.finished_at)],
          ["Duration", t.duration_s === null ? "—" : `${fmt(t.duration_s)} s`],
          ["Lease", lease ? `expires ${when(lease.expires_at)} (TTL ${lease.ttl_s} s)` : "none"],
          [t.state === "RUNNING" ? "Worker (holds it)" : "Worker (held it)", workerText(sys.worker)],
          ["Attempt", typeof sys.retry_count === "number" ? `retry ${sys.retry_count}` : "first"],
          ["Retry of", sys.retry_of ?? "—"],
          ["Retried as", sys.retried_as ?? "—"],
          ["Rationale", typeof sys.rationale === "string" ? sys.rationale : "—"],
        ])),
      h("section", { "aria-labelledby": "t-params" }, h("h2", { id: "t-params" }, "Parameters"),
        kv(Object.entries(t.params).map(([k, v]) => [k, paramText(t.distributions?.[k])(v)]))),
      h("section", { "aria-labelledby": "t-curve" }, h("h2", { id: "t-curve" }, "Intermediate values"), curve, caption),
      h("section", { "aria-labelledby": "t-ua" }, h("h2", { id: "t-ua" }, "User attributes"), h("pre", {}, JSON.stringify(t.user_attrs, null, 2))),
      h("section", { "aria-labelledby": "t-sa" }, h("h2", { id: "t-sa" }, "System attributes"), h("pre", {}, JSON.stringify(sys, null, 2))),
      trajectory.trajectory.length > 0
        ? h("section", { "aria-labelledby": "t-traj" }, h("h2", { id: "t-traj" }, "Hyperparameter trajectory"), trajBox, trajCaption)
        : null,
      lineage.lineage.schedule.length > 1
        ? h("section", { "aria-labelledby": "t-lin" }, h("h2", { id: "t-lin" }, "Lineage (PBT)"),
            h("ol", { class: "lineage" }, ...lineage.lineage.schedule.map((s) => h("li", {}, `from model step ${s.from_step}: trial `, h("a", { href: `#/study/${encodeURIComponent(study)}/trial/${s.trial}` }, `#${s.trial}`), ` (its step ${s.trial_step}) ${JSON.stringify(s.params)}`))))
        : null,
    );
    if (t.intermediate.length > 0) await drawChart(curve, caption, { study, kind: "intermediate_values", trials: [number] });
    else curve.replaceChildren(h("p", { class: "empty" }, "No intermediate values reported."));
    if (trajectory.trajectory.length > 0) await drawChart(trajBox, trajCaption, { study, kind: "trajectories", trials: [number] });
  };
  await render();
  const again = throttle(render, 1000);
  return { onChange: (c) => c.study === study && again() };
}

/** The study of the page on screen ("" on the studies list and on an address that is not a page). */
function studyOnScreen(): string {
  try {
    const at = parseAddress(location.hash);
    return at.kind === "studies" ? "" : at.study;
  } catch {
    return "";
  }
}

/** The waits before the reads of a page the server answered UNAVAILABLE are tried again: 1 s, doubling to 10 s. */
const RETRY_FIRST_MS = 1000;
const RETRY_MOST_MS = 10_000;

/** Builds the page of the address; `tries`: reads of it the server has answered UNAVAILABLE in a row. */
async function route(tries = 0): Promise<void> {
  const mine = ++generation;
  const live: Live = () => mine === generation;
  const rebuild = () => {
    if (live()) void route();
  };
  current.dispose?.();
  // Changes that arrive while the view is read are kept (the last per study) and given to the view
  // once it is built: a change committed after the view's first read would otherwise be dropped,
  // and the page would show what it read until the next change (a study created again and told at
  // once showed no trial).
  const missed = new Map<string, Change>();
  let reopened = false; // kept apart: a later change of the same study replaces its resync in `missed`
  current = {
    onChange: (c) => {
      if (c.version === -1) reopened = true;
      missed.set(c.study, c);
    },
  };
  try {
    const at = parseAddress(location.hash);
    const view = at.kind === "trial" ? await trialPage(at.study, at.trial, live) : at.kind === "study" ? await studyPage(main, at.study, live, rebuild) : await studiesList(live);
    if (!live()) {
      view.dispose?.();
      return;
    }
    current = view;
    for (const c of missed.values()) view.onChange(c);
  } catch (err) {
    if (!live()) return; // a failure of a page the user has left: the page on screen stays
    document.title = "Not available — tuneport";
    // UNAVAILABLE (503 without Retry-After: the database is slow or unreachable from the server, or
    // its hold on its studies is unsure): read again by itself, 1 s later, then twice as long each
    // time up to 10 s, until it answers or the user moves on. Before, the page said "Not available"
    // until its live stream reconnected, which a stalled database never makes it do. A study that
    // moved to another server (`reason: "moved"` naming its endpoint) is not retried: this server
    // will not serve it. One with no endpoint has no live owner (a takeover in progress, an import
    // writing it) and is served once that ends: read again (before, "Not available" for good).
    const movedAway = err instanceof OpError && err.data?.reason === "moved" && typeof err.data.endpoint === "string" && err.data.endpoint !== "";
    const retry = err instanceof OpError && err.code === "UNAVAILABLE" && !movedAway;
    // Too busy to take it (Retry-After): `op` already sent it again, its waits grown to 16 s; the
    // page goes on at that pace (spread as `op` spreads them), not back at 1 s.
    const wait = err instanceof OpError && err.busy ? Math.round(BUSY_MOST_MS * (1 + Math.random() / 2)) : Math.min(RETRY_FIRST_MS * 2 ** tries, RETRY_MOST_MS);
    const note = `The server cannot answer now: retrying in ${Math.round(wait / 1000)} s…`;
    // Refused again on a retry: the page on screen is updated in place, so that a keyboard user's
    // focus (on its link) stays where it is and its alert is not announced again, unchanged.
    const shown = tries > 0 ? main.querySelector<HTMLElement>("p.retrying") : null;
    const alert = main.querySelector<HTMLElement>("p.unavailable");
    if (shown && alert && retry) {
      if (alert.textContent !== (err as Error).message) alert.textContent = (err as Error).message;
      shown.textContent = note;
    } else
      main.replaceChildren(
        h("h1", {}, "Not available"),
        h("p", { role: "alert", class: "unavailable" }, (err as Error).message),
        ...(retry ? [h("p", { role: "status", class: "retrying" }, note)] : []),
        h("p", {}, h("a", { href: "#/" }, "Back to the studies")),
      );
    // A read that failed while the server was away, or a study deleted and created again in the
    // gap: read again when the stream comes back (a study created while it is live: see liveChanges).
    const timer = retry ? window.setTimeout(() => {
      if (live()) void route(tries + 1);
    }, wait) : undefined;
    current = { onChange: (c) => c.version === -1 && rebuild(), dispose: () => window.clearTimeout(timer) };
    if (reopened) rebuild(); // the stream (re)opened during the read
  }
  // A retry is not the user's navigation: it moves no focus the user put somewhere (the page's
  // link, the header's); focus lost with the page it was on goes to the page's main region.
  const at = document.activeElement;
  if (tries === 0 || at === null || at === document.body) main.focus({ preventScroll: true });
}

liveChanges(
  (c) => {
    // The study on screen deleted, or created again under its name (another space, other
    // objectives): the page is built anew, and says "Not available" while the study is gone.
    if ((c.kind === "deleted" || c.kind === "created") && c.study !== "" && c.study === studyOnScreen()) return void route();
    current.onChange(c);
  },
  (ok) => {
    conn.textContent = ok ? "live" : "reconnecting…";
    conn.dataset.live = String(ok);
  },
  // Each time the stream opens (see liveChanges): as if the current view's study changed (the
  // studies list reads on any change); version -1: a resync.
  () => current.onChange({ study: studyOnScreen(), kind: "updated", version: -1 }),
);
window.addEventListener("hashchange", () => void route());
void route();
