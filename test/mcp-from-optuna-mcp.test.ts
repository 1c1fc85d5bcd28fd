/**
 * An agent that knows optuna-mcp (github.com/optuna/optuna-mcp) works with what it knows: its
 * tool names are refused (tools/list holds no aliases: it is bounded) with the tool to call here
 * and how the arguments map; its distribution JSON is answered with the space entry it means; a
 * call without a study or a token says why. Then the session an optuna-mcp user runs (create, ask,
 * tell ×10, best, plot), with each next call taken from the previous refusal. Over stdio with the
 * SDK's real Client and a spawned `tuneport mcp` on a SQLite file.
 */
import { join } from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterEach, describe, expect, it } from "vitest";
import { OPTUNA_MCP_TOOLS } from "../src/transports/mcp/optuna-mcp.js";
import { call, connectStdio, sc, tempDir, textOf } from "./mcp-helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function session(): Promise<Client> {
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const { client } = await connectStdio(["--storage", join(tmp.dir, "t.db")]);
  cleanups.push(() => client.close());
  return client;
}

/** The message of the protocol error a call of an unknown tool gets. */
async function refusal(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const err = await client.callTool({ name, arguments: args }).then(
    () => null,
    (e: unknown) => e as { code?: number; message?: string },
  );
  expect(err?.code, name).toBe(-32602);
  return err?.message ?? "";
}

// optuna-mcp's tools, from optuna_mcp/server.py: those not listed in OPTUNA_MCP_TOOLS keep their name here.
const SAME_NAME = ["create_study", "best_trials", "add_trial"];

describe("optuna-mcp's tool names", () => {
  it("are refused naming the tool to call and its arguments; tools/list holds no alias and every tool named exists", async () => {
    const client = await session();
    const tools = (await client.listTools()).tools.map((t) => t.name);
    for (const name of SAME_NAME) expect(tools).toContain(name);
    for (const [name, m] of Object.entries(OPTUNA_MCP_TOOLS)) {
      expect(tools, "no alias in the bounded tools/list").not.toContain(name);
      if (!m.use.startsWith("tuneport ")) expect(tools, `${name} maps to a tool`).toContain(m.use);
      const msg = await refusal(client, name);
      expect(msg).toContain(`Unknown tool '${name}' (optuna-mcp's ${name}; here: ${m.use} ${m.args}. Every tool here names its study`);
    }
    expect(await refusal(client, "no_such_tool")).toMatch(/Unknown tool 'no_such_tool'\. Tools: list_studies, /);
    // The instructions an agent reads first say the same in short.
    expect(client.getInstructions()).toContain("Coming from optuna-mcp: there is no current study");
  }, 120_000);
});

describe("an optuna-mcp user's session", () => {
  it("create, ask, tell ×10, best, plot: each refusal says the next call, which then works", async () => {
    const client = await session();
    // optuna-mcp's create_study and its ask's search_space (Optuna's distribution JSON).
    const optunaSpace = {
      x: { name: "FloatDistribution", attributes: { step: null, low: -10, high: 10, log: false } },
      n: { name: "IntDistribution", attributes: { step: 1, low: 1, high: 9, log: false } },
      act: { name: "CategoricalDistribution", attributes: { choices: ["relu", "gelu"] } },
    };
    let r = await call(client, "create_study", { study_name: "sphere", directions: ["minimize"] });
    expect(textOf(r)).toContain("takes no argument 'study_name' (did you mean name?)");
    r = await call(client, "create_study", { name: "sphere", directions: ["minimize"], space: optunaSpace });
    expect(r.isError).toBe(true);
    const written = /a space entry here is written (\{.*\})\)/.exec(textOf(r))?.[1];
    expect(written, textOf(r)).toBeDefined();
    const space = JSON.parse(written as string) as Record<string, unknown>;
    expect(space).toEqual({
      x: { type: "float", low: -10, high: 10 },
      n: { type: "int", low: 1, high: 9 },
      act: { type: "categorical", choices: ["relu", "gelu"] },
    });
    r = await call(client, "create_study", { name: "sphere", directions: ["minimize"], space, strategy: "random", seed: 3 });
    expect(r.isError, textOf(r)).toBeFalsy();

    expect(await refusal(client, "ask", { search_space: optunaSpace })).toContain("here: ask_trial {study}");
    for (let i = 0; i < 10; i++) {
      const asked = await call(client, "ask_trial", { study: "sphere" });
      expect(asked.isError, textOf(asked)).toBeFalsy();
      const { trial, token } = sc(asked) as { trial: { number: number; params: { x: number; n: number; act: string } }; token: string };
      const value = (trial.params.x - 2) ** 2 + trial.params.n + (trial.params.act === "gelu" ? 0 : 1);
      if (i === 0) {
        // optuna-mcp's ask hands out no lease: this one says what keeps it.
        expect(textOf(asked)).toContain("(lease 30s: tell_trial within it, or keep it with renew_lease; ask_trial's lease_ttl_s asks for longer)");
        // optuna-mcp's tell: a trial number and `values` as one float, no token.
        expect(await refusal(client, "tell", { trial_number: trial.number, values: value })).toContain("here: tell_trial {study, trial: trial_number, token");
        const noToken = await call(client, "tell_trial", { study: "sphere", trial: trial.number, values: value });
        expect(textOf(noToken)).toContain("token is the one ask_trial answered with this trial; values is a list, one per objective: one number goes in value");
      }
      const told = await call(client, "tell_trial", { study: "sphere", trial, token, value });
      expect(told.isError, textOf(told)).toBeFalsy();
      expect(sc(told).trial).toMatchObject({ number: trial.number, state: "COMPLETE", value });
    }

    expect(await refusal(client, "best_trial")).toContain("here: best_trials {study, k: 1}");
    const noStudy = await call(client, "best_trials", {});
    expect(textOf(noStudy)).toContain("there is no current study; list_studies shows them");
    const best = await call(client, "best_trials", { study: "sphere", k: 1 });
    const listed = sc(await call(client, "list_trials", { study: "sphere", fields: ["value"], limit: 10 })).trials as { value: number }[];
    expect(sc(best).trials).toHaveLength(1);
    expect(sc(best).trials[0].value).toBe(Math.min(...listed.map((t) => t.value)));

    expect(await refusal(client, "plot_optimization_history")).toContain(`here: plot {study, kind: "history"}`);
    const plot = await call(client, "plot", { study: "sphere", kind: "history" });
    expect(plot.isError, textOf(plot)).toBeFalsy();
    expect(plot.content.some((c) => c.type === "image" && c.mimeType === "image/png")).toBe(true);

    // optuna-mcp's add_trial takes one TrialToAdd under `trial`.
    const add = await call(client, "add_trial", { study: "sphere", trial: { params: { x: 2, n: 1, act: "gelu" }, distributions: {}, values: [1], state: "COMPLETE" } });
    expect(textOf(add)).toContain("takes no argument 'trial' (optuna-mcp's TrialToAdd: give its params, values (or value) and state as add_trial's own arguments)");
    const added = await call(client, "add_trial", { study: "sphere", params: { x: 2, n: 1, act: "gelu" }, values: [1], state: "COMPLETE" });
    expect(added.isError, textOf(added)).toBeFalsy();
    expect(sc(await call(client, "best_trials", { study: "sphere", k: 1 })).trials[0]).toMatchObject({ value: 1, params: { x: 2, n: 1, act: "gelu" } });
  }, 120_000);

  it("suggest and add_trial's distributions in Optuna's distribution JSON are answered with the entry they mean", async () => {
    const client = await session();
    await call(client, "create_study", { name: "dbr", strategy: "random" });
    const { trial, token } = sc(await call(client, "ask_trial", { study: "dbr" })) as { trial: { number: number }; token: string };
    const optuna = { name: "FloatDistribution", attributes: { step: null, low: 1e-5, high: 0.1, log: true } };
    const r = await call(client, "suggest", { study: "dbr", trial: trial.number, token, name: "lr", distribution: optuna });
    expect(textOf(r)).toContain(`(that is Optuna's distribution JSON; here it is written {"type":"float","low":0.00001,"high":0.1,"log":true})`);
    const ok = await call(client, "suggest", { study: "dbr", trial: trial.number, token, name: "lr", distribution: { type: "float", low: 0.00001, high: 0.1, log: true } });
    expect(ok.isError, textOf(ok)).toBeFalsy();
    // A lease that ran out (the server's reaper failed the trial) says how a long evaluation keeps one.
    const short = sc(await call(client, "ask_trial", { study: "dbr", lease_ttl_s: 1 })) as { trial: { number: number }; token: string };
    while (sc(await call(client, "get_trial", { study: "dbr", trial: short.trial.number })).trial.state === "RUNNING") await new Promise((res) => setTimeout(res, 100));
    const lost = await call(client, "tell_trial", { study: "dbr", trial: short.trial.number, token: short.token, value: 1 });
    expect(textOf(lost)).toMatch(/^Error LEASE_LOST: [^]*An evaluation longer than the lease needs renew_lease during it, or ask_trial with a longer lease_ttl_s\.$/);
    const add = await call(client, "add_trial", { study: "dbr", params: { d: 0.2 }, value: 1, distributions: { d: { name: "FloatDistribution", attributes: { low: 0, high: 0.5, step: 0.1, log: false } } } });
    expect(textOf(add)).toContain(`here it is written {"type":"float","low":0,"high":0.5,"step":0.1}`);
  }, 120_000);
});
