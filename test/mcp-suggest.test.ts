/**
 * The `suggest` tool as an agent uses it, over stdio with the SDK's real Client: a parameter
 * suggested again in the same trial returns its first value only under Optuna's rule (the same
 * kind, the same log scale, the same categorical choices; another range is fine). It used to
 * return the first value whatever the repeat named, so a float suggest of a categorical parameter
 * answered "relu".
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { call, connectStdio, sc, tempDir, textOf } from "./mcp-helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe("suggest, the same name again in one trial", () => {
  it("returns the first value under Optuna's compatibility rule and refuses another kind, log scale or choices", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const { client } = await connectStdio(["--storage", join(tmp.dir, "t.db")]);
    cleanups.push(() => client.close());
    await call(client, "create_study", { name: "d", seed: 1 });
    const { trial: { number: trial }, token } = sc(await call(client, "ask_trial", { study: "d" }));
    const suggest = (name: string, distribution: Record<string, unknown>) => call(client, "suggest", { study: "d", trial, token, name, distribution });

    const act = sc(await suggest("act", { type: "categorical", choices: ["relu", "tanh"] })).value;
    const lr = sc(await suggest("lr", { type: "float", low: 1e-5, high: 1e-1, log: true })).value;
    const n = sc(await suggest("n", { type: "int", low: 1, high: 8 })).value;
    // Optuna allows another range: the first value is returned.
    expect(sc(await suggest("lr", { type: "float", low: 1e-4, high: 1, log: true })).value).toBe(lr);
    expect(sc(await suggest("n", { type: "int", low: 0, high: 100 })).value).toBe(n);
    expect(sc(await suggest("act", { type: "categorical", choices: ["relu", "tanh"] })).value).toBe(act);

    const refused: [string, Record<string, unknown>, RegExp][] = [
      ["act", { type: "float", low: 0, high: 1 }, /different distribution kind.*'act' was suggested as .*categorical/],
      ["act", { type: "categorical", choices: ["relu", "gelu"] }, /does not support dynamic value space/],
      ["lr", { type: "float", low: 1e-5, high: 1e-1 }, /different log configuration/],
      ["n", { type: "float", low: 1, high: 8 }, /different distribution kind/],
    ];
    for (const [name, distribution, why] of refused) {
      const r = await suggest(name, distribution);
      expect(r.isError, `${name} ${JSON.stringify(distribution)}: ${textOf(r)}`).toBe(true);
      expect(textOf(r)).toMatch(/^Error INVALID_ARGUMENT: /);
      expect(textOf(r)).toMatch(why);
      expect(textOf(r)).toMatch(/\nNext step: /);
    }
    // Nothing changed: the trial still holds its first values, and tells as usual.
    const t = sc(await call(client, "get_trial", { study: "d", trial })).trial;
    expect(t.params).toEqual({ act, lr, n });
    expect(t.distributions.act).toEqual({ type: "categorical", choices: ["relu", "tanh"] });
    expect((await call(client, "tell_trial", { study: "d", trial, token, value: 1 })).isError).toBeFalsy();
  }, 120_000);
});
