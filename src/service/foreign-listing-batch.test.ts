/**
 * A listing across servers (list_studies, studies_overview) of many studies another server serves, on
 * the shared test PostgreSQL: their summaries are read together (views.ts `storedViews` through the
 * store's `studySummaries`, one statement) and give exactly the lines the per-study reads give
 * (`summaryView`: `studySummary` and `distinctDistributions`), for studies of both directions, ties,
 * every state, constraints, define-by-run parameters and none. Before, each foreign study took two
 * statements one after another: 1,000 of them took 770-990 ms to list.
 */
import { describe, expect, inject, it } from "vitest";
import { closers, ownedServer } from "../testing/shared-ownership-server.js";
import { postgresBackend } from "../testing/storage-backends.js";
import { overviewOfView } from "./reads.js";
import { type StudyView, type SummarySource, summaryView } from "./views.js";

const SPACE = { x: { type: "float", low: 0, high: 1 } };
/** Long: no timer renews or scans during a test. */
const TTL_MS = 60_000;
const N = 36;

const cleanup = closers();

/** A server on the real store, counting its summary reads by kind (and the studies each batch asked for). */
async function server(url: string, id: string) {
  const calls = { single: 0, batches: [] as number[] };
  let base!: SummarySource;
  const counted = (real: SummarySource): SummarySource => {
    base = real;
    return {
      studySummary: (studyId, direction) => (calls.single++, real.studySummary(studyId, direction)),
      distinctDistributions: (studyId) => (calls.single++, real.distinctDistributions(studyId)),
      studySummaries: (studies) => (calls.batches.push(studies.length), real.studySummaries(studies)),
    };
  };
  const { svc, storage, fatal } = await ownedServer(cleanup, url, id, { ttlMs: TTL_MS, summaries: counted });
  return { svc, storage, base, calls, fatal };
}

type Svc = Awaited<ReturnType<typeof server>>["svc"];

/** Study i: its direction, trials in every state with ties, a define-by-run parameter in some, constraints in some, none in others. */
async function fill(svc: Svc, i: number): Promise<void> {
  const name = `b-${String(i).padStart(3, "0")}`;
  await svc.execute("create_study", { name, space: SPACE, direction: i % 2 === 0 ? "minimize" : "maximize", seed: i });
  if (i % 6 === 5) return; // no trial
  const plan: (number | "FAIL" | "PRUNED" | "RUNNING")[] = [0.5, (i % 7) / 10, "FAIL", (i % 7) / 10, "PRUNED", 0.9 - (i % 5) / 10, "RUNNING"];
  for (const [k, v] of plan.slice(0, 2 + (i % plan.length)).entries()) {
    const a = await svc.execute("ask", { study: name });
    const token = a.lease.token;
    if (i % 3 === 0 && k >= 1) await svc.execute("suggest", { study: name, trial: a.trial.number, token, name: `p${k % 2}`, distribution: { type: "int", low: 0, high: i + k } });
    if (i % 4 === 1 && k === 2) await svc.execute("suggest", { study: name, trial: a.trial.number, token, name: "act", distribution: { type: "categorical", choices: ["a", "b"] } });
    await svc.execute("report", { study: name, trial: a.trial.number, token, step: 0, value: i + k });
    if (v === "RUNNING") continue;
    const constraints = i % 5 === 2 && typeof v === "number" ? { constraints: [k === 1 ? 1 : -1] } : {};
    await svc.execute("tell", {
      study: name, trial: a.trial.number, token,
      state: typeof v === "number" ? "COMPLETE" : v, value: typeof v === "number" ? v : undefined, ...constraints,
    });
  }
}

describe("listing many studies another server serves", () => {
  const backend = postgresBackend(inject("pgUrl"));

  it("reads their summaries in one batch, giving exactly the per-study reads' lines (list_studies and studies_overview)", async () => {
    const url = backend.location();
    const a = await server(url, "a");
    await a.svc.execute("create_study", { name: "a-mine", space: SPACE, seed: 1 });
    const b = await server(url, "b");
    for (let i = 0; i < N; i++) await fill(b.svc, i);

    const { studies } = await a.svc.execute("list_studies", {});
    expect(a.calls).toEqual({ single: 0, batches: [N] }); // one batch for all of b's studies, none one at a time
    const foreign = studies.filter((s) => s.name !== "a-mine");
    expect(foreign.map((s) => s.name)).toEqual(Array.from({ length: N }, (_, i) => `b-${String(i).padStart(3, "0")}`));
    // The lines the per-study reads give, and b's own (from memory).
    const perStudy: StudyView[] = [];
    for (const study of await b.storage.listStudies()) if (study.name !== "a-mine") perStudy.push(await summaryView(a.base, study));
    expect(foreign).toEqual(perStudy);
    expect(JSON.stringify(foreign)).toBe(JSON.stringify(perStudy)); // key order too (define-by-run: first use first), as the wire has it
    expect(foreign).toEqual((await b.svc.execute("list_studies", {})).studies.filter((s) => s.name !== "a-mine"));
    // What the fill made: define-by-run parameters, a best trial, an empty study, both directions.
    expect(foreign.some((s) => Object.keys(s.define_by_run).length === 3)).toBe(true);
    expect(foreign.filter((s) => s.best_trial === null).length).toBeGreaterThan(0);
    expect(foreign.filter((s) => s.best_trial !== null).length).toBeGreaterThan(N / 2);
    expect(new Set(foreign.map((s) => s.direction))).toEqual(new Set(["minimize", "maximize"]));

    a.calls.batches = [];
    const overview = await a.svc.execute("studies_overview", {});
    expect(a.calls).toEqual({ single: 0, batches: [N] });
    expect(overview.studies.filter((l) => l.name !== "a-mine")).toEqual(perStudy.map(overviewOfView));
    expect([...a.fatal, ...b.fatal]).toEqual([]);
  });
});
