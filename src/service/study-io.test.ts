import { afterEach, beforeEach, describe, expect, it, inject } from "vitest";
import { TuneportError } from "../domain/errors.js";
import { silentLogger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { type StorageBackend, storageBackends } from "../testing/storage-backends.js";
import { optunaJournal } from "./optuna-journal.js";
import { parseStudyLines } from "./study-io.js";
import { StudyService } from "./study-service.js";

const SPACE = {
  lr: { type: "float", low: 1e-4, high: 1, log: true },
  layers: { type: "int", low: 1, high: 9, step: 2 },
  act: { type: "categorical", choices: ["relu", "gelu", null, 3] },
};

async function code(p: Promise<unknown> | (() => unknown)): Promise<TuneportError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(TuneportError);
    return e as TuneportError;
  }
  throw new Error("expected a TuneportError");
}

describe.each(storageBackends(inject("pgUrl")))("export / import of a study as JSON Lines on %s", (backend: StorageBackend) => {
  let now = 1_700_000_000_123;
  const open: { svc: StudyService; st: Storage }[] = [];
  async function service(): Promise<StudyService> {
    const st = await backend.open(backend.location());
    const svc = await StudyService.open({ storage: st, logger: silentLogger(), clock: () => now, reapIntervalMs: 0 });
    open.push({ svc, st });
    return svc;
  }
  beforeEach(() => {
    now = 1_700_000_000_123;
  });
  afterEach(async () => {
    for (const { svc, st } of open.splice(0)) {
      await svc.close();
      await st.close();
    }
  });

  /** A study with a trial in every state, define-by-run params, NaN/inf intermediates, retries, attrs. */
  async function busyStudy(svc: StudyService, name = "src"): Promise<void> {
    await svc.createStudy({
      name,
      space: SPACE,
      seed: 7,
      strategy: { name: "random", options: {} },
      user_attrs: { owner: "me", nested: { a: [1, 2.5, "x"] } },
      lease_ttl_s: 5,
      retry: { max_retries: 1, keep_intermediate: true },
      max_resource: 81,
    });
    const a = await svc.ask({ study: name });
    await svc.suggest({ study: name, trial: a.trial.number, token: a.lease.token, name: "dropout", distribution: { type: "float", low: 0, high: 0.5 } });
    await svc.report({ study: name, trial: a.trial.number, token: a.lease.token, step: 0, value: Number.NaN });
    await svc.report({ study: name, trial: a.trial.number, token: a.lease.token, step: 1.5, value: Number.POSITIVE_INFINITY });
    await svc.report({ study: name, trial: a.trial.number, token: a.lease.token, step: 2, value: 0.25 });
    now += 1234;
    await svc.tell({ study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 0.1 + 0.2, user_attrs: { note: "ünïcode ✓" } });
    const b = await svc.ask({ study: name });
    await svc.tell({ study: name, trial: b.trial.number, token: b.lease.token, state: "PRUNED", value: undefined });
    const c = await svc.ask({ study: name });
    await svc.report({ study: name, trial: c.trial.number, token: c.lease.token, step: 3, value: -1e-300 });
    now += 6000;
    await svc.reap(); // c fails with lease_expired and is re-queued with its intermediates
    const d = await svc.ask({ study: name }); // the retry, RUNNING with a lease
    expect(d.trial.system_attrs.retry_of).toBe(c.trial.number);
    await svc.enqueue({ study: name, params: { lr: 0.01 }, rationale: "agent guess" });
  }

  it("round-trips byte for byte, also under a new name", async () => {
    const one = await service();
    await busyStudy(one);
    const first = [...one.exportStudy("src")];
    expect(first).toHaveLength(1 + 5);
    expect(first.join("\n")).toContain('"NaN"');
    expect(first.join("\n")).toContain('"Infinity"');

    const two = await service();
    now += 99_999; // the import keeps the file's timestamps, not the clock's
    const view = await two.importStudy(`${first.join("\n")}\n`, "copy");
    expect(view.name).toBe("copy");
    expect(view.counts).toEqual({ WAITING: 1, RUNNING: 1, COMPLETE: 1, PRUNED: 1, FAIL: 1 });
    const second = [...two.exportStudy("copy")];
    expect(second.slice(1)).toEqual(first.slice(1));
    expect(second[0]).toBe((first[0] as string).replace('"name":"src"', '"name":"copy"'));

    // and through a third database with the original name: identical bytes
    const three = await service();
    await three.importStudy(second.join("\n"), "src");
    expect([...three.exportStudy("src")]).toEqual(first);

    // the imported study works: the RUNNING trial's lease is honoured, new trials get the next number
    const running = (await two.listTrials({ study: "copy", states: ["RUNNING"] })).trials[0];
    expect(running).toBeDefined();
    const waiting = await two.ask({ study: "copy" });
    expect(waiting.trial.number).toBe(4);
    const fresh = await two.ask({ study: "copy" });
    expect(fresh.trial.number).toBe(5);
  });

  it("round-trips a PBT member that diverged (COMPLETE without a value), and gives Optuna's journal its NaN", async () => {
    const one = await service();
    await one.createStudy({ name: "pbt", space: { lr: SPACE.lr }, strategy: "pbt" });
    const a = await one.ask({ study: "pbt" });
    await one.tell({ study: "pbt", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: Number.NaN });
    const exported = [...one.exportStudy("pbt")];
    expect(exported[1]).toContain('"diverged":"NaN"');
    const two = await service();
    await two.importStudy(exported.join("\n"), "pbt");
    expect([...two.exportStudy("pbt")]).toEqual(exported);
    // COMPLETE (state 1) with the value it was told, as Python's json writes it.
    const created = optunaJournal(parseStudyLines(exported.join("\n"))).lines.filter((l) => /"state": ?1\b/.test(l));
    expect(created).toHaveLength(1);
    expect(created[0]).toMatch(/"value": ?NaN\b/);
  });

  it("refuses a non-finite value on a COMPLETE trial (an edited file), which tell never stores", async () => {
    const one = await service();
    await busyStudy(one);
    const lines = [...one.exportStudy("src")];
    const complete = lines.findIndex((l) => l.includes('"state":"COMPLETE"'));
    for (const bad of ['"NaN"', '"Infinity"', '"-Infinity"']) {
      const edited = lines.map((l, k) => (k === complete ? l.replace(/"value":[0-9.e-]+/, `"value":${bad}`) : l));
      expect(edited[complete], bad).not.toBe(lines[complete]);
      // Imported, it made best_trials INTERNAL ("hypervolume needs finite coordinates").
      const err = await code(() => parseStudyLines(edited.join("\n")));
      expect(err.message, bad).toMatch(new RegExp(`line ${complete + 1}: a COMPLETE trial's values must be finite`));
    }
  });

  it("refuses PBT bookkeeping in system_attrs of the wrong shape or naming a trial the file lacks", async () => {
    const one = await service();
    await one.createStudy({ name: "pbt", space: { lr: SPACE.lr }, strategy: { name: "pbt", options: { population_size: 4, perturbation_interval: 1 } } });
    for (let k = 0; k < 3; k++) {
      const a = await one.ask({ study: "pbt" });
      await one.report({ study: "pbt", trial: a.trial.number, token: a.lease.token, step: 1, value: k, data: { checkpoint: `/ck/${k}` } });
      await one.tell({ study: "pbt", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: k });
    }
    const lines = [...one.exportStudy("pbt")];
    expect(lines[1]).toContain('"pbt_checkpoints":[{');
    expect(parseStudyLines(lines.join("\n")).trials).toHaveLength(3); // as exported, it reads
    const edits: [RegExp, string, RegExp][] = [
      // Imported, these made every later report and tell (checkpoints) or lineage read INTERNAL.
      [/"pbt_checkpoints":\[[^\]]*\]/, '"pbt_checkpoints":[null]', /system_attrs: pbt_checkpoints\.0/],
      [/"pbt_lineage":\[.*?\}\]/, '"pbt_lineage":[null]', /system_attrs: pbt_lineage\.0/],
      [/"donor":null/, '"donor":999', /system_attrs name trial 999, which the file does not hold/],
    ];
    for (const [edit, bad, msg] of edits) {
      const edited = lines.map((l, k) => (k === 1 ? l.replace(edit, bad) : l));
      expect(edited[1], bad).not.toBe(lines[1]);
      const err = await code(() => parseStudyLines(edited.join("\n")));
      expect(err.message, bad).toMatch(msg);
      expect(err.message, bad).toMatch(/^line 2: /);
    }
  });

  it("refuses a trial whose parameter its distribution cannot produce (an edited file), naming the line", async () => {
    const one = await service();
    await busyStudy(one);
    const lines = [...one.exportStudy("src")];
    const complete = lines.findIndex((l) => l.includes('"state":"COMPLETE"'));
    for (const edit of [/"lr":[0-9.e-]+/, /"layers":[0-9]+/]) {
      for (const bad of edit.source.includes("lr") ? ['"lr":50', '"lr":"notanumber"'] : ['"layers":4', '"layers":11']) {
        const edited = lines.map((l, k) => (k === complete ? l.replace(edit, bad) : l));
        expect(edited[complete], bad).not.toBe(lines[complete]);
        const err = await code(() => parseStudyLines(edited.join("\n")));
        expect(err.message, bad).toMatch(new RegExp(`line ${complete + 1}: parameter '(lr|layers)' is .* cannot produce`));
      }
    }
    expect(parseStudyLines(lines.join("\n")).trials).toHaveLength(5); // the file as exported still reads
  });

  it("imports a grid study a server before exact bounds exported (its axis ends a hair past low and high), onto the bounds", async () => {
    const one = await service();
    const space = { x: { type: "float", low: 1e-5, high: 0.1, log: true } };
    await one.createStudy({ name: "g", space, strategy: { name: "grid", options: { points_per_dim: 3, ordered: true } } });
    for (let k = 0; k < 3; k++) {
      const a = await one.ask({ study: "g" });
      await one.tell({ study: "g", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: k });
    }
    // As that server stored the ends: exp(log(1e-5)) and exp(log(0.1)).
    const old = [...one.exportStudy("g")].map((l) => l.replace('"x":0.00001}', '"x":0.000009999999999999999}').replace('"x":0.1}', '"x":0.10000000000000006}'));
    expect(old.filter((l) => l.includes("0.000009999999999999999") || l.includes("0.10000000000000006"))).toHaveLength(2);
    expect(parseStudyLines(old.join("\n")).trials.map((t) => t.params.x)).toEqual([1e-5, expect.any(Number), 0.1]);
    const two = await service();
    await two.importStudy(old.join("\n"), "g");
    expect((await code(two.ask({ study: "g" }))).code).toBe("SEARCH_SPACE_EXHAUSTED");
    // Farther out than rounding (what the old tolerance let a client enqueue) is still refused.
    const far = old.map((l) => l.replace('"x":0.10000000000000006}', '"x":0.1000000005}'));
    expect((await code(() => parseStudyLines(far.join("\n")))).message).toMatch(/parameter 'x' is 0.1000000005, which its distribution .* cannot produce/);
  });

  it("refuses parameter names and distributions the ops refuse (an edited file), naming the line", async () => {
    const one = await service();
    await busyStudy(one);
    const lines = [...one.exportStudy("src")];
    const complete = lines.findIndex((l) => l.includes('"state":"COMPLETE"'));
    const edits: [string, string, RegExp][] = [
      ['"act":', '"toString":', /toString|member every JavaScript object has/], // params and distributions
      ['"relu"', '"re\\u0000lu"', /categorical choice may not contain U\+0000/],
      ['"lr":', '"l\\u0000r":', /parameter name may not contain U\+0000/],
      ['"choices":["relu","gelu",null,3]', '"choices":[]', /at least one choice/],
    ];
    for (const [from, to, message] of edits) {
      const edited = lines.map((l, k) => (k === complete ? l.replaceAll(from, to) : l));
      expect(edited[complete], to).not.toBe(lines[complete]);
      const err = await code(() => parseStudyLines(edited.join("\n")));
      expect(err.message, to).toMatch(new RegExp(`line ${complete + 1}: `));
      expect(err.message, to).toMatch(message);
    }
    const running = lines.findIndex((l) => l.includes('"token":'));
    expect(running).toBeGreaterThan(0);
    const badToken = lines.map((l, k) => (k === running ? l.replace(/"token":"/, '"token":"\\u0000') : l));
    expect((await code(() => parseStudyLines(badToken.join("\n")))).message).toMatch(new RegExp(`line ${running + 1}: .*lease token may not contain U\\+0000`));
  });

  it("keeps the settings a steered study was created with, so that its workers' load_if_exists and suggest still agree after a move", async () => {
    const one = await service();
    const created = {
      name: "steered",
      space: { x: { type: "float", low: 0, high: 1 }, c: { type: "categorical", choices: ["a", "b"] } },
      seed: 5,
      strategy: { name: "random", options: {} },
      scheduler: { name: "median", options: {} },
      max_trials: 20,
    } as const;
    await one.createStudy(created);
    await one.updateStudy({
      study: "steered",
      space: { x: { type: "float", low: -1, high: 2 }, c: { type: "categorical", choices: ["a", "b", "z"] } },
      strategy: "tpe",
      scheduler: null,
      max_trials: 30,
    });
    const first = [...one.exportStudy("steered")];
    expect(JSON.parse(first[0] as string).as_created).toMatchObject({
      space: created.space,
      strategy: { name: "random" },
      scheduler: { name: "median" },
      max_trials: 20,
    });
    const two = await service();
    await two.importStudy(first.join("\n"));
    expect([...two.exportStudy("steered")]).toEqual(first);
    // The workers' script still names the settings as created.
    expect((await two.createStudy({ ...created, load_if_exists: true })).study.strategy.name).toBe("tpe");
    const a = await two.ask({ study: "steered" });
    const s = await two.suggest({ study: "steered", trial: a.trial.number, token: a.lease.token, name: "x", distribution: created.space.x });
    expect(typeof s.value).toBe("number");
    // A study never steered writes no as_created (its export's bytes are as before).
    await two.createStudy({ ...created, name: "plain" });
    expect(JSON.parse([...two.exportStudy("plain")][0] as string)).not.toHaveProperty("as_created");
  });

  it("holds an export's options_given to the plug-ins' own option names, once each (an edited file's hundreds of others weighed on every view)", async () => {
    const svc = await service();
    await svc.createStudy({ name: "given", space: SPACE, strategy: { name: "tpe", options: { n_startup_trials: 10 } } });
    const [head, ...rest] = [...svc.exportStudy("given")] as string[];
    const h = JSON.parse(head as string);
    expect(h.config.options_given).toEqual({ strategy: ["n_startup_trials"], scheduler: null });
    const junk = Array.from({ length: 499 }, (_, i) => `${i}`.padEnd(200, "z"));
    h.config.options_given = { strategy: [...junk, "n_startup_trials"], scheduler: ["min_resource"] };
    const imported = await svc.importStudy([JSON.stringify(h), ...rest].join("\n"), "edited");
    expect(imported.options_given).toEqual({ strategy: ["n_startup_trials"], scheduler: null });
    h.config.options_given = { strategy: Array(500).fill("n_startup_trials"), scheduler: null };
    expect((await svc.importStudy([JSON.stringify(h), ...rest].join("\n"), "dup")).options_given).toEqual({ strategy: ["n_startup_trials"], scheduler: null });
  });

  it("refuses a name that exists and leaves the database unchanged", async () => {
    const svc = await service();
    await busyStudy(svc);
    const text = [...svc.exportStudy("src")].join("\n");
    expect((await code(svc.importStudy(text))).code).toBe("ALREADY_EXISTS");
    expect((await svc.listStudies()).map((s) => s.name)).toEqual(["src"]);
  });

  it("refuses a file cut short, at a line's end or inside a line; reads one written before the header counted its trials", async () => {
    const svc = await service();
    await busyStudy(svc);
    const lines = [...svc.exportStudy("src")];
    expect(JSON.parse(lines[0] as string).trials).toBe(lines.length - 1);
    const cut = await code(svc.importStudy(lines.slice(0, 3).join("\n"), "cut"));
    expect(cut.code).toBe("INVALID_ARGUMENT");
    expect(cut.message).toMatch(/ends after 2 of the 5 trials its header announces/);
    expect(cut.data).toEqual({ trials: 2, announced: 5 });
    expect((await svc.listStudies()).map((s) => s.name)).toEqual(["src"]);
    // Cut inside a line: said so, not only "not valid JSON".
    const inside = await code(svc.importStudy(`${lines.slice(0, 3).join("\n")}\n${(lines[3] as string).slice(0, 60)}`, "cut"));
    expect(inside.message).toMatch(/^line 4: not valid JSON .*; the file ends inside this line: it was cut short/);
    expect((await svc.listStudies()).map((s) => s.name)).toEqual(["src"]);
    // An older export (no count in its header) is read as it was, cut or not.
    const { trials: _, ...older } = JSON.parse(lines[0] as string) as Record<string, unknown>;
    const view = await svc.importStudy([JSON.stringify(older), ...lines.slice(1, 3)].join("\n"), "old");
    expect(view.counts.COMPLETE + view.counts.PRUNED).toBe(2);
  });

  it.each([
    ["", 1, /empty/],
    ["{not json", 1, /line 1: not valid JSON/],
    ['{"format":"other","version":1}', 1, /line 1: not a tuneport-study v1 header/],
    ['{"format":"tuneport-study","version":2}', 1, /line 1: the file is tuneport-study version 2; this tuneport reads version 1 \(a newer tuneport wrote it/],
    // refused before JSON.parse, which took 18 s over a 50 MB line of these
    [`HEADER\n{"number":0,"user_attrs":${"[".repeat(100_000)}`, 2, /line 2: nests deeper than 32 levels/],
    ["HEADER\n{}", 2, /line 2: not a trial/],
    ['HEADER\n\n{"number":1}', 3, /line 3: not a trial/],
    ["HEADER\nTRIAL0\nTRIAL0", 3, /line 3: trial number 0 out of order/],
    ["HEADER\nTRIAL0_RUNNING_NO_LEASE", 2, /line 2: a RUNNING trial needs a lease/],
  ])("refuses malformed input %#, naming line %i", async (template, line, msg) => {
    const src = await service();
    await src.createStudy({ name: "m", space: SPACE, seed: 1 });
    const a = await src.ask({ study: "m" });
    await src.tell({ study: "m", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: 1 });
    const [header, trial0] = [...src.exportStudy("m")] as [string, string];
    const running = JSON.stringify({ ...JSON.parse(trial0), state: "RUNNING" });
    const text = template.replace("HEADER", header).replaceAll("TRIAL0_RUNNING_NO_LEASE", running).replaceAll("TRIAL0", trial0);
    const dst = await service();
    const err = await code(dst.importStudy(text, "n"));
    expect(err.code).toBe("INVALID_ARGUMENT");
    expect(err.message).toMatch(msg);
    expect(err.data).toEqual({ line });
    expect(await dst.listStudies()).toEqual([]);
  });
});
