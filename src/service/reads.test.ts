import { describe, expect, it } from "vitest";
import { TRIAL_STATES, type TrialState } from "../domain/trial.js";
import { Rng } from "../math/rng.js";
import type * as S from "./ops/schemas.js";
import { MAX_PAGE_BYTES, MAX_PAGE_INTERMEDIATES, MAX_PAGE_TRIALS, firstK, frontPage, pageStudyKeys, studiesCursorKey, studiesPageOf, trialsPage } from "./paging.js";
import type { StudyState, TrialRecord } from "./study-state.js";
import type { StudyView } from "./views.js";

/** A page of `all` as list_studies cuts one (reads.ts `listingPage`: the keys first, then the views' byte budget). */
function studiesPage(all: StudyView[], a: S.ListStudiesArgs): { studies: StudyView[]; next_cursor: string | null } {
  const { names, more } = pageStudyKeys(new Map(all.map((s) => [s.name, s.created_at])), a.cursor === undefined ? null : studiesCursorKey(a.cursor), a.limit);
  const byName = new Map(all.map((s) => [s.name, s]));
  return studiesPageOf(names.map((n) => byName.get(n) as StudyView), more);
}

function study(seed: number, n: number, direction: "minimize" | "maximize"): StudyState {
  const rng = new Rng(seed, "reads");
  const trials: TrialRecord[] = Array.from({ length: n }, (_, number) => {
    const state = TRIAL_STATES[Math.floor(rng.random() * TRIAL_STATES.length)] as TrialState;
    const value = state === "COMPLETE" || (state === "PRUNED" && rng.random() < 0.5) ? Math.round(rng.random() * 20) / 4 : null;
    return {
      id: number + 1, studyId: 1, number, state, params: {}, distributions: {}, value, values: value === null ? null : [value], constraints: null, intermediate: [],
      userAttrs: {}, systemAttrs: {}, createdAt: 0, startedAt: null, finishedAt: null, lease: null,
    };
  });
  return { trials, study: { name: "s", createdAt: 1, config: { direction } } } as unknown as StudyState;
}

/** The page as the op defines it: filter, sort every trial, reverse, slice. */
function naive(s: StudyState, a: S.TrialsArgs): { numbers: number[]; total: number } {
  let list = s.trials;
  if (a.states && a.states.length > 0) list = list.filter((t) => (a.states as string[]).includes(t.state));
  if (a.order_by === "value") {
    const sign = s.study.config.direction === "minimize" ? 1 : -1;
    list = list.filter((t) => t.value !== null).sort((x, y) => sign * ((x.value as number) - (y.value as number)) || x.number - y.number);
  }
  if (a.descending) list = [...list].reverse();
  const offset = a.offset ?? 0;
  return { numbers: list.slice(offset, offset + (a.limit ?? 1000)).map((t) => t.number), total: list.length };
}

/** Every page of `trials` with `a`, following next_cursor: the numbers seen and each page's size (`check` sees each page). */
function walkPages(s: StudyState, a: Omit<S.TrialsArgs, "study">, check: (page: ReturnType<typeof trialsPage>) => void = () => {}): { seen: number[]; sizes: number[] } {
  const seen: number[] = [];
  const sizes: number[] = [];
  let cursor: string | undefined;
  for (let guard = 0; guard < 1000; guard++) {
    const page = trialsPage(s, { study: "s", ...a, ...(cursor ? { cursor } : {}) }, 0);
    check(page);
    sizes.push(page.trials.length);
    seen.push(...page.trials.map((t) => t.number));
    if (page.next_cursor === null) break;
    cursor = page.next_cursor;
  }
  return { seen, sizes };
}

describe("trial pages (the trials op)", () => {
  it("end before the trial that would pass MAX_PAGE_INTERMEDIATES intermediate values, one trial at least, and cursors walk every trial", () => {
    const s = study(5, 40, "minimize");
    const each = Math.floor(MAX_PAGE_INTERMEDIATES / 3) + 1; // three trials pass the budget
    const heavy = (s.trials.filter((t) => t.value !== null)[3] as TrialRecord).number; // listed in both orders
    for (const t of s.trials) t.intermediate = Array.from({ length: t.number === heavy ? 2 * MAX_PAGE_INTERMEDIATES : each }, (_, step) => ({ step, value: step }));
    for (const order_by of ["number", "value"] as const) {
      const { seen, sizes } = walkPages(s, { order_by, limit: 20 }, (page) => {
        for (const t of page.trials) expect(t.intermediate?.length).toBe(t.number === heavy ? 2 * MAX_PAGE_INTERMEDIATES : each);
      });
      expect(seen).toEqual(naive(s, { study: "s", order_by, limit: 1000 }).numbers);
      expect(Math.max(...sizes)).toBe(2);
      expect(sizes).toContain(1); // the heavy trial alone
    }
    // A projection without the values is not cut.
    expect(trialsPage(s, { study: "s", limit: 20, fields: ["value"] }, 0).trials).toHaveLength(20);
  });

  it("end at MAX_PAGE_TRIALS whatever the limit, and cursors walk every trial in both orders", () => {
    const n = 2 * MAX_PAGE_TRIALS + 7;
    const s = study(6, n, "maximize");
    for (const order_by of ["number", "value"] as const) {
      const { seen, sizes } = walkPages(s, { order_by, limit: 100_000 });
      const all = naive(s, { study: "s", order_by, limit: n });
      expect(seen).toEqual(all.numbers);
      expect(sizes.slice(0, -1).every((k) => k === MAX_PAGE_TRIALS)).toBe(true);
      expect(sizes.length).toBe(Math.ceil(all.total / MAX_PAGE_TRIALS));
    }
    // An offset page is cut too, and says where to go on.
    const page = trialsPage(s, { study: "s", offset: 3, limit: 100_000 }, 0);
    expect(page.trials.map((t) => t.number)).toEqual(naive(s, { study: "s", offset: 3, limit: MAX_PAGE_TRIALS }).numbers);
    expect(page.next_cursor).not.toBeNull();
  });

  it("end before MAX_PAGE_BYTES of user attributes or distributions, and cursors walk every trial", () => {
    const s = study(8, 600, "minimize");
    const blob = "u".repeat(60_000);
    const choices = Array.from({ length: 2_000 }, (_, i) => `choice-${i}-${"c".repeat(40)}`);
    const dist = { type: "categorical", choices } as const; // one object shared by every trial, as the space's is
    for (const t of s.trials) {
      if (t.number % 2 === 0) t.userAttrs = { blob };
      else t.distributions = { c: dist } as unknown as TrialRecord["distributions"];
    }
    const walk = (a: Omit<S.TrialsArgs, "study">) =>
      walkPages(s, a, (page) => {
        const bytes = page.trials.reduce((n, t) => n + JSON.stringify(t).length, 0);
        if (page.trials.length > 1) expect(bytes).toBeLessThan(1.2 * MAX_PAGE_BYTES);
      });
    const all = walk({ limit: 5_000 });
    expect(all.seen).toEqual(s.trials.map((t) => t.number));
    expect(all.sizes.length).toBeGreaterThan(5); // 600 trials of ~60-100 KB: several pages
    // Projected to fields that leave the heavy ones out, nothing is cut.
    expect(walk({ limit: 5_000, fields: ["value", "state"] }).sizes).toEqual([600]);
  });

  it("of a Pareto front end before MAX_PAGE_BYTES, and cursors walk the whole front", () => {
    const blob = "u".repeat(60_000);
    const F = { name: "f", createdAt: 1 };
    const front = study(9, 600, "minimize").trials;
    for (const t of front) if (t.number % 3 === 0) t.userAttrs = { blob };
    const seen: number[] = [];
    let cursor: string | undefined;
    let pages = 0;
    for (let guard = 0; guard < 100; guard++) {
      const page = frontPage(F, front, cursor);
      pages++;
      expect(page.n_front).toBe(600);
      if (page.trials.length > 1) expect(JSON.stringify(page.trials).length).toBeLessThan(1.2 * MAX_PAGE_BYTES);
      seen.push(...page.trials.map((t) => t.number));
      if (page.next_cursor === null) break;
      cursor = page.next_cursor;
    }
    expect(seen).toEqual(front.map((t) => t.number));
    expect(pages).toBe(2); // 200 blobs of 60 KB: 12 MB
    expect(frontPage(F, front.slice(0, 10), undefined).next_cursor).toBeNull();
    expect(() => frontPage(F, front, studiesPage([{ name: "a", created_at: 1, space: {}, define_by_run: {}, user_attrs: {}, notes: null } as unknown as StudyView, { name: "b", created_at: 2 } as unknown as StudyView], { limit: 1 }).next_cursor as string)).toThrow(/not a best_trials cursor/);
  });

  it("of studies end before MAX_PAGE_BYTES of search spaces, and cursors walk every study", () => {
    const choices = Array.from({ length: 5_000 }, (_, i) => `option-${i}-${"o".repeat(90)}`);
    const views = Array.from({ length: 40 }, (_, i) => ({
      name: `s${String(i).padStart(2, "0")}`, created_at: i, user_attrs: {}, notes: null, define_by_run: {},
      space: { x: { type: "categorical", choices } },
    })) as unknown as StudyView[];
    const names: string[] = [];
    let pages = 0;
    let cursor: string | undefined;
    for (let guard = 0; guard < 100; guard++) {
      const page = studiesPage(views, cursor ? { cursor } : {});
      pages++;
      names.push(...page.studies.map((v) => v.name));
      if (page.studies.length > 1) expect(JSON.stringify(page.studies).length).toBeLessThan(1.2 * MAX_PAGE_BYTES);
      if (page.next_cursor === null) break;
      cursor = page.next_cursor;
    }
    expect(names).toEqual(views.map((v) => v.name));
    expect(pages).toBe(3); // 40 spaces of ~0.5 MB, 16 to a page
    expect(studiesPage(views.slice(0, 3), {}).next_cursor).toBeNull();
  });

  it("equal the filter-sort-slice definition on random studies (4 seeds x 2 directions x 40 pages)", () => {
    for (const seed of [1, 2, 3, 4]) {
      for (const direction of ["minimize", "maximize"] as const) {
        const s = study(seed, 300, direction);
        const rng = new Rng(seed, "pages");
        for (let i = 0; i < 40; i++) {
          const a: S.TrialsArgs = {
            study: "s",
            order_by: rng.random() < 0.6 ? "value" : "number",
            descending: rng.random() < 0.4,
            offset: Math.floor(rng.random() * 50),
            limit: Math.floor(rng.random() * 60),
            ...(rng.random() < 0.5 ? { states: ["COMPLETE", "PRUNED"].slice(0, 1 + Math.floor(rng.random() * 2)) as TrialState[] } : {}),
          } as S.TrialsArgs;
          const page = trialsPage(s, a, 0);
          if (page.trials.length > 0) expect(page.next_cursor === null).toBe((a.offset ?? 0) + page.trials.length >= page.total);
          expect({ numbers: page.trials.map((t) => t.number as number), total: page.total }).toEqual(naive(s, a));
        }
      }
    }
  });

  it("cursor pages, walked to the end, list exactly the definition's trials, with the same total (4 seeds x 2 directions x 8 shapes)", () => {
    for (const seed of [1, 2, 3, 4]) {
      for (const direction of ["minimize", "maximize"] as const) {
        const s = study(seed, 400, direction);
        for (const order_by of ["value", "number"] as const)
          for (const descending of [false, true])
            for (const states of [undefined, ["COMPLETE", "PRUNED"] as TrialState[]]) {
              const base = { study: "s", order_by, descending, ...(states ? { states } : {}) } as S.TrialsArgs;
              const want = naive(s, { ...base, limit: 10_000 });
              const got: number[] = [];
              let cursor: string | undefined;
              for (let guard = 0; guard < 100; guard++) {
                const page = trialsPage(s, { ...base, limit: 7, ...(cursor ? { cursor } : {}) }, 0);
                expect(page.total).toBe(want.total);
                got.push(...page.trials.map((t) => t.number as number));
                if (page.next_cursor === null) break;
                cursor = page.next_cursor;
              }
              expect(got).toEqual(want.numbers);
            }
      }
    }
  });

  it("firstK keeps the k smallest in order, with ties in input order", () => {
    const xs = [5, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    const { first, total } = firstK(xs, 4, (x) => x !== 9, (a, b) => a - b);
    expect(first).toEqual([1, 1, 2, 3]);
    expect(total).toBe(9);
    expect(firstK(xs, 0, () => true, (a, b) => a - b)).toEqual({ first: [], total: 10 });
  });

  it("firstK is a stable sort's first k, for any k, across its buffer's cuts (improving, worsening, tied, random values)", () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
    const shapes: Record<string, (i: number) => number> = { improving: (i) => 1000 - i, worsening: (i) => i, tied: (i) => i % 3, random: () => Math.floor(rand() * 50) };
    const byValue = (a: { v: number }, b: { v: number }) => a.v - b.v; // ties: input order, as a stable sort keeps them
    for (const [shape, value] of Object.entries(shapes)) {
      const items = Array.from({ length: 300 }, (_, i) => ({ i, v: value(i) }));
      const keep = (x: { i: number }) => x.i % 7 !== 3;
      const want = items.filter(keep).sort(byValue);
      for (const k of [0, 1, 2, 5, 64, 128, 129, 256, 257, 300, 1000, 2 ** 52]) {
        const { first, total } = firstK(items, k, keep, byValue);
        expect(total, `${shape} k=${k}`).toBe(want.length);
        expect(first.map((x) => x.i), `${shape} k=${k}`).toEqual(want.slice(0, k).map((x) => x.i));
      }
    }
  });

  it("params keeps the trial's own parameters: a name every JavaScript object answers to (toString, __proto__) is none", () => {
    // `k in params` projected {toString: Object.prototype.toString} (None on the wire) into every trial.
    const s = study(1, 3, "minimize");
    for (const t of s.trials) Object.assign(t, { params: { x: 0.5 }, distributions: { x: { type: "float", low: 0, high: 1 } } });
    const page = trialsPage(s, { study: "s", params: ["x", "toString", "constructor", "__proto__"] }, 0);
    for (const t of page.trials) {
      expect(Object.keys(t.params ?? {})).toEqual(["x"]);
      expect(Object.keys(t.distributions ?? {})).toEqual(["x"]);
    }
  });
});
