/**
 * The study page: header with stop/resume, notes, enqueue form, the charts (the server's specs)
 * and the trial table (op `query_trials`: filter by state and parameter ranges, sort by any
 * column, pages of 50). A change to the study refreshes the header and table at once and the
 * charts at most once a second.
 */
import { type Change, OpError, op } from "./api.js";
import { chartsFor, drawChart, noChart } from "./charts.js";
import { READ_ONLY, fill, fmt, h, throttle, when } from "./dom.js";
import type { Live, View } from "./main.js";
import { type ParamDist, objectiveLabels, paramText } from "./text.js";

const STATES = ["WAITING", "RUNNING", "COMPLETE", "PRUNED", "FAIL"];
const PAGE = 50;

interface TablePage {
  rows: any[];
  total: number;
  matched: number;
  params: string[];
  /** Whether the study's trials carry constraints (then the table has a Feasible column). */
  constrained?: boolean;
}

interface TableState {
  sort: string;
  descending: boolean;
  offset: number;
  states: Set<string>;
  ranges: Record<string, { min?: number; max?: number }>;
  /** Categorical parameters: the choices kept (absent: no filter on that parameter). */
  choices: Record<string, Set<string>>;
}

/**
 * Builds the study page into `main`; returns what to do on changes. When the user has moved on
 * before the study was read (`live` false), `main` is left alone and the view does nothing.
 * `replaced` runs when the study this page was built for is gone: deleted, or deleted and created
 * again under its name (another space, other objectives: the page must be built anew).
 */
export async function studyPage(main: HTMLElement, study: string, live: Live, replaced: () => void = () => undefined): Promise<View> {
  // The first page of the table is asked at once, beside the study (it does not depend on it).
  const firstPage = op<TablePage>("query_trials", { study, sort: "number", descending: true, offset: 0, limit: PAGE });
  firstPage.catch(() => undefined); // a failure shows through refreshTable's own call
  const { study: s } = await op<{ study: any }>("get_study", { study });
  if (!live()) return { onChange: () => undefined };
  const space = s.space as Record<string, { type: string; choices?: unknown[]; low?: number; high?: number }>;
  /** How each parameter's values are shown (declared and define-by-run; the latter grow). */
  let shown: Record<string, (v: unknown) => string> = {};
  const learn = (v: any) => {
    const dists = { ...(v.define_by_run as Record<string, ParamDist> | undefined), ...(v.space as Record<string, ParamDist>) };
    shown = Object.fromEntries(Object.entries(dists).map(([k, d]) => [k, paramText(d)]));
  };
  learn(s);
  const show = (p: string, v: unknown) => (shown[p] ?? paramText(undefined))(v);
  const header = h("div", { class: "study-head" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const table: TableState = { sort: "number", descending: true, offset: 0, states: new Set(), ranges: {}, choices: {} };
  const tableBox = h("div", { class: "table-box" });
  const pager = h("div", { class: "pager" });
  const directions = (s.directions as string[] | undefined) ?? [s.direction as string];
  const multi = directions.length > 1;
  /** The objectives' column headings: `Value`, or one per objective, named by `set_metric_names` when it was called. */
  let labels = objectiveLabels(directions, s.user_attrs);
  const charts = chartsFor(multi, s.strategy.name as string).map((c) => ({ ...c, box: h("div", { class: "chart", "data-kind": c.kind, tabindex: 0, role: "group", "aria-label": c.title }), caption: h("p", { class: "caption" }) }));
  const logY = h("input", { type: "checkbox", id: "log-y" });
  const numeric = Object.keys(space).filter((k) => space[k]?.type !== "categorical");
  const pairA = h("select", { id: "pair-a" }, ...Object.keys(space).map((k, i) => h("option", { value: k, selected: i === 0 }, k)));
  const pairB = h("select", { id: "pair-b" }, ...Object.keys(space).map((k, i) => h("option", { value: k, selected: i === 1 }, k)));

  const renderHeader = (v: any) => {
    learn(v);
    labels = objectiveLabels(directions, v.user_attrs);
    showNotes(v.notes ?? null);
    const counts = Object.entries(v.counts as Record<string, number>).filter(([, n]) => n > 0).map(([k, n]) => `${k.toLowerCase()} ${n}`).join(", ");
    fill(
      header,
      h("h1", {}, v.name, v.stopped ? h("span", { class: "badge" }, "stopped") : null),
      h("p", { class: "meta" }, `${(v.directions as string[] | undefined)?.join(", ") ?? v.direction} · ${v.strategy.name}${v.scheduler ? ` / ${v.scheduler.name}` : ""} · ${v.n_trials} trials (${counts || "none"}) · best ${v.best_trial ? `${fmt(v.best_trial.value)} (#${v.best_trial.number})` : "—"}`),
      READ_ONLY
        ? null
        : h("button", { type: "button", id: "stop-resume", onclick: () => void act(v.stopped ? "resume_study" : "stop_study", { study }, v.stopped ? "Resumed." : "Stopped: asks now get STUDY_STOPPED.") }, v.stopped ? "Resume study" : "Stop study"),
    );
  };

  const act = async (name: string, args: Record<string, unknown>, done: string) => {
    try {
      await op(name, args);
      status.textContent = done;
      await refreshHeader();
    } catch (err) {
      status.textContent = `${err instanceof OpError ? err.code : "ERROR"}: ${(err as Error).message}`;
    }
  };

  /** Whether `status` says the study moved to another server (`gone`); cleared by the next read this server answers. */
  let moved = false;
  let headerAsked = 0;
  const refreshHeader = async () => {
    // A button's refresh and a live one can cross: only the latest read is drawn (a later read
    // never answers with an older state), as for the table below.
    const mine = ++headerAsked;
    const v = (await op<{ study: any }>("get_study", { study })).study;
    if (mine !== headerAsked) return;
    // Created again (a change of the gap after a reconnect, or one this page missed): its space,
    // objectives and charts may differ from the ones this page was built with.
    if (v.created_at !== s.created_at) return replaced();
    renderHeader(v);
    // Served here again (it came back from the other server, which announces it): the "moved" line no longer holds.
    if (moved) (moved = false), (status.textContent = "");
  };
  /** A live refresh: a study that is gone rebuilds the page (which then says so) instead of failing unseen. */
  const gone = (err: unknown) => {
    if (err instanceof OpError && err.code === "NOT_FOUND" && live()) replaced();
    // Given up to another server sharing its database (it announces that): say where it is now.
    else if (err instanceof OpError && err.data?.reason === "moved" && typeof err.data.endpoint === "string" && err.data.endpoint && live())
      (moved = true), (status.textContent = `This study moved to the server at ${err.data.endpoint}: this server no longer serves it (what is shown is as it last was here). Open that server's dashboard.`);
  };

  let asked = 0;
  /** The first page, asked before the study came back (the table's default query). */
  let pending: Promise<TablePage> | null = firstPage;
  const refreshTable = async () => {
    const mine = ++asked;
    const args: Record<string, unknown> = { study, sort: table.sort, descending: table.descending, offset: table.offset, limit: PAGE };
    if (table.states.size > 0) args.states = [...table.states];
    const ranges = Object.fromEntries(Object.entries(table.ranges).filter(([, r]) => r.min !== undefined || r.max !== undefined));
    if (Object.keys(ranges).length > 0) args.ranges = ranges;
    // The checked choices as the parameter's own values (JSON in the option value keeps numbers numbers).
    const choices = Object.fromEntries(Object.entries(table.choices).map(([p, set]) => [p, [...set].map((v) => JSON.parse(v) as unknown)]));
    if (Object.keys(choices).length > 0) args.choices = choices;
    // A range whose from is above its to matches nothing: say so, or "0 matching" is a puzzle.
    const empty = Object.entries(ranges).filter(([, r]) => r.min !== undefined && r.max !== undefined && r.min > r.max);
    filterNote.textContent = empty.length === 0 ? "" : `No trial can match: ${empty.map(([p, r]) => `${p} from ${fmt(r.min)} is above its to ${fmt(r.max)}`).join("; ")}.`;
    const early = pending;
    pending = null;
    const page = await (early ?? op<TablePage>("query_trials", args));
    const objectives: [string, string][] = multi ? labels.map((l, i): [string, string] => [`values.${i}`, l]) : [["value", labels[0] as string]];
    if (mine !== asked) return; // a later query is on its way: never show an older answer over it
    const constrained = page.constrained === true;
    const cols: [string, string][] = [["number", "#"], ["state", "State"], ...objectives, ...(constrained ? [["feasible", "Feasible"] as [string, string]] : []), ...page.params.map((p): [string, string] => [`params.${p}`, p]), ["duration", "Duration (s)"], ["finished_at", "Finished"], ["worker", "Worker"]];
    const head = h("tr", {}, ...cols.map(([key, label]) => {
      // Feasibility is not a sort key of query_trials: a plain heading, not a sort button.
      if (key === "feasible") return h("th", { scope: "col", title: "COMPLETE trials: every constraint c ≤ 0 holds (yes) or one is violated (no)" }, label);
      const sorted = table.sort === key;
      return h("th", { scope: "col", "aria-sort": sorted ? (table.descending ? "descending" : "ascending") : "none" },
        h("button", { type: "button", class: "sort", "data-sort": key, onclick: () => {
          table.descending = sorted ? !table.descending : key !== "number" ? false : true;
          table.sort = key;
          table.offset = 0;
          void refreshTable();
        } }, label, sorted ? (table.descending ? " ▼" : " ▲") : ""));
    }));
    const rows = page.rows.map((r) =>
      h("tr", { "data-trial": r.number },
        h("td", { class: "num" }, h("a", { href: `#/study/${encodeURIComponent(study)}/trial/${r.number}` }, r.number), r.enqueued ? h("span", { class: "badge", title: "enqueued" }, "q") : null),
        h("td", {}, h("span", { class: `state ${r.state}` }, r.state)),
        ...(multi ? directions.map((_, i) => h("td", { class: "num" }, fmt(r.values?.[i]))) : [h("td", { class: "num" }, fmt(r.value))]),
        constrained ? h("td", { class: `feasible${r.feasible === false ? " infeasible" : ""}` }, r.feasible === true ? "yes" : r.feasible === false ? "no" : "—") : null,
        ...page.params.map((p) => h("td", { class: "num" }, show(p, r.params[p]))),
        h("td", { class: "num" }, fmt(r.duration_s)),
        h("td", {}, when(r.finished_at)),
        h("td", { class: "worker" }, r.worker ?? "—"),
      ));
    tableBox.replaceChildren(h("table", { class: "trials", id: "trials" }, h("caption", {}, `Trials ${page.matched === 0 ? 0 : table.offset + 1}–${table.offset + page.rows.length} of ${page.matched} matching (${page.total} in all)`), h("thead", {}, head), h("tbody", {}, ...rows)));
    pager.replaceChildren(
      h("button", { type: "button", id: "prev", disabled: table.offset === 0, onclick: () => { table.offset = Math.max(0, table.offset - PAGE); void refreshTable(); } }, "Previous page"),
      h("button", { type: "button", id: "next", disabled: table.offset + PAGE >= page.matched, onclick: () => { table.offset += PAGE; void refreshTable(); } }, "Next page"),
    );
  };

  // Only charts on screen are redrawn on a change; the others when they scroll into view, so a
  // live study does not keep the page busy drawing what nobody looks at.
  const onScreen = new Set<HTMLElement>();
  const stale = new Set<HTMLElement>();
  // One chart at a time, in the order asked (page order as they scroll in): charts drawn together
  // share the page's one thread, so the first one on screen would wait for all of them.
  let drawing: Promise<void> = Promise.resolve();
  const drawOne = (c: (typeof charts)[number]): Promise<void> => {
    stale.delete(c.box);
    drawing = drawing.then(() => {
      const args: Record<string, unknown> = { study, kind: c.kind };
      if (c.kind === "history" && logY.checked) args.log_y = true;
      if (c.kind === "contour") {
        // One parameter twice is no pair: say so rather than let the server pick another pair.
        if (pairA.value === pairB.value) return noChart(c.box, c.caption, `The contour of ${pairA.value} against itself: choose two different parameters.`);
        args.params = [pairA.value, pairB.value];
      }
      return drawChart(c.box, c.caption, args);
    }).catch(() => undefined);
    return drawing;
  };
  const refreshCharts = async () => {
    for (const c of charts) {
      if (onScreen.has(c.box)) await drawOne(c);
      else stale.add(c.box);
    }
  };
  const seen = new IntersectionObserver((entries) => {
    for (const e of entries) {
      const box = e.target as HTMLElement;
      if (!e.isIntersecting) {
        onScreen.delete(box);
        continue;
      }
      onScreen.add(box);
      const c = charts.find((x) => x.box === box);
      if (c && stale.has(box)) void drawOne(c);
    }
  }, { rootMargin: "200px" });

  // Filters: states and numeric ranges.
  const filterNote = h("p", { id: "filter-note", class: "filter-note", role: "status" });
  const filters = h("fieldset", { class: "filters" }, h("legend", {}, "Filter trials"),
    h("div", { class: "states" }, ...STATES.map((st) => h("label", {}, h("input", { type: "checkbox", value: st, onchange: (e: Event) => {
      const box = e.target as HTMLInputElement;
      if (box.checked) table.states.add(st);
      else table.states.delete(st);
      table.offset = 0;
      void refreshTable();
    } }), ` ${st.toLowerCase()}`))),
    ...numeric.map((p) => {
      const bound = (which: "min" | "max") => h("input", { type: "number", step: "any", id: `range-${p}-${which}`, class: "range", oninput: (e: Event) => {
        const raw = (e.target as HTMLInputElement).value;
        const r = (table.ranges[p] ??= {});
        if (raw === "") delete r[which];
        else r[which] = Number(raw);
        table.offset = 0;
        void refreshTable();
      } });
      return h("div", { class: "range-row" }, h("label", { for: `range-${p}-min` }, h("bdi", {}, p), " from"), bound("min"), h("label", { for: `range-${p}-max` }, "to"), bound("max"));
    }),
    ...Object.keys(space).filter((k) => space[k]?.type === "categorical").map((p) =>
      // One checkbox per choice; none checked means no filter on p (as for the states).
      h("fieldset", { class: "choices", "data-param": p }, h("legend", {}, p),
        ...(space[p]?.choices ?? []).map((c) => h("label", {}, h("input", { type: "checkbox", value: JSON.stringify(c), onchange: (e: Event) => {
          const box = e.target as HTMLInputElement;
          const set = (table.choices[p] ??= new Set());
          if (box.checked) set.add(box.value);
          else set.delete(box.value);
          if (set.size === 0) delete table.choices[p];
          table.offset = 0;
          void refreshTable();
        } }), ` ${show(p, c)}`))),
    ),
    filterNote,
  );

  // Notes: the study's own field (Python's set_notes, MCP's set_user_attrs/update_study with notes),
  // as text on a read-only dashboard, else in the form that saves them.
  const notes = h("textarea", { id: "notes", rows: 3 });
  const notesText = h("p", { id: "study-notes", class: "notes" });
  /** What the form last showed from the server: a newer server value replaces it unless the user has typed. */
  let notesShown: string | null = null;
  function showNotes(v: string | null) {
    const text = v ?? "";
    notesText.textContent = text === "" ? "No notes." : text;
    if (notesShown === null || notes.value === notesShown) notes.value = text;
    notesShown = text;
  }
  const paramInputs = Object.entries(space).map(([name, d]) =>
    d.type === "categorical"
      ? h("select", { id: `enq-${name}`, name }, ...(d.choices ?? []).map((c) => h("option", { value: JSON.stringify(c) }, show(name, c))))
      : h("input", { id: `enq-${name}`, name, type: "number", step: "any", required: true, min: d.low, max: d.high }),
  );
  const note = h("textarea", { id: "enq-note", rows: 2 });
  const actions = READ_ONLY
    ? h("div", { class: "actions" },
        h("section", { "aria-labelledby": "h-notes", class: "notes-box" }, h("h2", { id: "h-notes" }, "Study notes"), notesText),
        h("p", { class: "read-only" }, "Read-only dashboard: actions need tuneport serve --dashboard."))
    : h("div", { class: "actions" },
        h("form", { id: "notes-form", onsubmit: (e: Event) => {
          e.preventDefault();
          const text = notes.value;
          void act("set_user_attrs", { study, notes: text }, "Notes saved.");
        } }, h("label", { for: "notes" }, "Study notes"), notes, h("button", { type: "submit" }, "Save notes")),
        h("form", { id: "enqueue-form", onsubmit: (e: Event) => {
          e.preventDefault();
          const params: Record<string, unknown> = {};
          for (const el of paramInputs) params[el.name] = el instanceof HTMLSelectElement ? JSON.parse(el.value) : Number(el.value);
          const args: Record<string, unknown> = { study, params };
          if (note.value.trim() !== "") args.rationale = note.value.trim();
          void op<{ trial: { number: number } }>("enqueue", args).then(
            (r) => { status.textContent = `Trial ${r.trial.number} queued; the next worker to ask gets it.`; },
            (err: Error) => { status.textContent = `${err instanceof OpError ? err.code : "ERROR"}: ${err.message}`; },
          );
        } }, h("fieldset", {}, h("legend", {}, "Enqueue a trial"),
          ...Object.keys(space).flatMap((name, i) => [h("label", { for: `enq-${name}` }, name), paramInputs[i] as HTMLElement]),
          h("label", { for: "enq-note" }, "Note (the rationale)"), note,
          h("button", { type: "submit" }, "Enqueue"))),
      );

  document.title = `${study} — tuneport`;
  main.replaceChildren(
    h("nav", { "aria-label": "Breadcrumb" }, h("a", { href: "#/" }, "Studies"), ` › ${study}`),
    header, status, actions,
    h("section", { "aria-labelledby": "h-trials" }, h("h2", { id: "h-trials" }, "Trials"), filters, tableBox, pager),
    h("section", { "aria-labelledby": "h-charts", class: "charts" }, h("h2", { id: "h-charts" }, "Charts"),
      multi
        ? null
        : h("div", { class: "chart-options" },
            h("label", {}, logY, " log-scale objective (history)"),
            h("label", { for: "pair-a" }, "Contour of"), pairA, h("label", { for: "pair-b" }, "and"), pairB),
      ...charts.map((c) => h("figure", {}, h("figcaption", {}, h("h3", {}, c.title)), c.box, c.caption))),
  );
  renderHeader(s);
  await refreshTable();
  if (!live()) {
    seen.disconnect();
    return { onChange: () => undefined };
  }
  for (const c of charts) {
    stale.add(c.box);
    seen.observe(c.box);
  }
  const chartsLater = throttle(refreshCharts, 1000);
  for (const el of [logY, pairA, pairB]) el.addEventListener("change", () => void refreshCharts());
  const now = throttle(
    () =>
      Promise.all([
        refreshHeader().catch(gone),
        refreshTable().catch(() => undefined), // a study that is gone shows through the header's read
      ]),
    150,
  );
  return {
    dispose: () => seen.disconnect(),
    onChange: (c) => {
      if (c.study !== study || !live()) return;
      now();
      chartsLater();
    },
  };
}
