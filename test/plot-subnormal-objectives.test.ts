/**
 * A study with three or more objectives whose values span only subnormal doubles (5e-324 .. 2e-323)
 * plots its Pareto front through every door that draws one: the ZeroMQ `plot` op, the MCP `plot`
 * tool (over HTTP, the SDK's real client) and the dashboard's `plot_spec` op, all on one real
 * `tuneport serve`. The scatter matrix shared one scale definition across its cells, Vega's tick code
 * threw "Invalid array length" on such an axis and the chart could not be drawn (the two-objective
 * chart was fixed by 6860d5b0; service/plot-front.ts `objectiveScale`). Huge (±1e308) and signed-zero
 * objectives and the hypervolume history of each are drawn too.
 */
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, TestClient, startHttpDoors, stopServers, tempDir } from "./helpers.js";

const TOKEN = "plot-subnormal-token-0123456789";
let server: ServerProcess;
let zmq: TestClient;
let mcp: Client | undefined;
let dashUrl = "";

const VALUES: Record<string, number[][]> = {
  subnormal: [[5e-324, 1e-323, 1.5e-323, 2e-323], [1e-323, 5e-324, 2e-323, 1.5e-323], [1.5e-323, 2e-323, 5e-324, 1e-323], [2e-323, 1.5e-323, 1e-323, 5e-324]],
  huge: [[1e308, -1e308, 1e308, 0], [-1e308, 1e308, 0, 1e308], [1.7e308, -1.7e308, 1e307, -1e308], [0, 0, -1e308, 1e307]],
  zeros: [[0, -0, 0, -0], [-0, 0, -0, 0], [0, 0, 0, 5e-324], [-0, -0, 5e-324, 0]],
};

beforeAll(async () => {
  let mcpUrl = "";
  ({ server, mcpUrl, dashUrl } = await startHttpDoors(join(tempDir(), "p.db"), TOKEN));
  zmq = new TestClient(server.endpoint);
  mcp = new Client({ name: "plot-subnormal", version: "1" });
  await mcp.connect(new StreamableHTTPClientTransport(new URL(mcpUrl), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
}, 120_000);

afterAll(async () => {
  await mcp?.close().catch(() => undefined);
  await zmq?.close();
  await stopServers();
});

async function study(name: string, m: number, values: number[][]): Promise<void> {
  const directions = Array.from({ length: m }, (_, i) => (i % 2 === 0 ? "minimize" : "maximize"));
  await zmq.call("create_study", { name, space: { x: { type: "float", low: 0, high: 1 } }, directions, strategy: "random", seed: 1 });
  for (const v of values) {
    const a = await zmq.call("ask", { study: name });
    await zmq.call("tell", { study: name, trial: a.trial.number, token: a.lease.token, state: "COMPLETE", values: v.slice(0, m) });
  }
}

describe("the Pareto front of 3 or more objectives at the edges of a double", () => {
  for (const [tag, values] of Object.entries(VALUES))
    for (const m of [3, 4]) {
      it(`draws ${m} ${tag} objectives through ZeroMQ, MCP and the dashboard's spec`, async () => {
        const name = `${tag}-${m}`;
        await study(name, m, values);
        for (const kind of ["pareto_front", "hypervolume_history"]) {
          const r = await zmq.request("plot", { study: name, kind });
          expect(r.ok, `${kind}: ${r.error?.message}`).toBe(true);
          expect(r.result.width).toBeGreaterThan(300);
          const tool = (await mcp?.callTool({ name: "plot", arguments: { study: name, kind } })) as { isError?: boolean; content: { type: string; text?: string }[] };
          expect(tool.isError ?? false, `${kind}: ${JSON.stringify(tool.content.filter((c) => c.type === "text"))}`).toBe(false);
          expect(tool.content.some((c) => c.type === "image")).toBe(true);
        }
        const dash = await fetch(`${dashUrl}/api/op/plot_spec`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ study: name, kind: "pareto_front" }) });
        expect(dash.status).toBe(200);
        const text = await dash.text();
        // Each objective's axis in the matrix spans more than the subnormal doubles do (Vega's ticks threw below that).
        if (tag === "subnormal") for (const [, lo, hi] of text.matchAll(/"domain":\[(-?[\d.e+-]+),(-?[\d.e+-]+)\]/g)) expect(Number(hi) - Number(lo)).toBeGreaterThan(1e-300);
        expect(server.proc.exitCode).toBeNull();
      }, 120_000);
    }
});
