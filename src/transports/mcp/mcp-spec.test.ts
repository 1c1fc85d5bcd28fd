/**
 * The spec's rules of MCP 2025-11-25 that issue 14 §4 lists, through the SDK's real client:
 * progress notifications only when progress increases, each with a message; every tool has an
 * outputSchema its structured results match (the client validates them); resources/subscribe on
 * an unknown URI is an error; resources/list pages with nextCursor; the "tune a training script"
 * prompt.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { type CallToolResult, McpError, type Progress } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { StudyService } from "../../service/study-service.js";
import { type MemoryMcp, memoryMcp } from "../../testing/mcp-memory.js";
import type { McpBackend } from "./backend.js";
import { RESOURCES_PAGE } from "./resources.js";

let rig: MemoryMcp;
let service: StudyService;
let backend: McpBackend;
let client: Client;

beforeEach(async () => {
  rig = await memoryMcp();
  ({ service, backend, client } = rig);
});

afterEach(() => rig.close());

const SPACE = { x: { type: "float", low: 0, high: 1 } };

describe("MCP 2025-11-25 rules", () => {
  it("sends progress only when it increases, each with a message", async () => {
    await service.execute("create_study", { name: "p", space: SPACE, strategy: "random" });
    const t1 = await service.execute("ask", { study: "p" });
    const t2 = await service.execute("ask", { study: "p" });
    // Each time the tool waits, the study changes once: a report (no progress), a tell, a report, a tell.
    const steps = [
      () => service.execute("report", { study: "p", trial: t1.trial.number, token: t1.lease.token, step: 1, value: 0.5 }),
      () => service.execute("tell", { study: "p", trial: t1.trial.number, token: t1.lease.token, state: "COMPLETE", value: 0.4 }),
      () => service.execute("report", { study: "p", trial: t2.trial.number, token: t2.lease.token, step: 1, value: 0.6 }),
      () => service.execute("tell", { study: "p", trial: t2.trial.number, token: t2.lease.token, state: "COMPLETE", value: 0.3 }),
    ];
    const wait = backend.waitForChange.bind(backend);
    backend.waitForChange = (...args) => {
      const waiting = wait(...args);
      void steps.shift()?.();
      return waiting;
    };
    const seen: Progress[] = [];
    const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "p", timeout_s: 50, min_finished: 2 } }, undefined, {
      onprogress: (p) => void seen.push(p),
    })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(steps).toEqual([]);
    expect(seen.map((p) => p.progress)).toEqual([1, 2]);
    for (const p of seen) {
      expect(p.total).toBe(2);
      expect(p.message).toMatch(/ trials? finished; best /);
    }
  });

  it("never sends progress past its total when several trials finish between two looks", async () => {
    await service.execute("create_study", { name: "q", space: SPACE, strategy: "random" });
    const t1 = await service.execute("ask", { study: "q" });
    const t2 = await service.execute("ask", { study: "q" });
    const wait = backend.waitForChange.bind(backend);
    let once = true;
    backend.waitForChange = (...args) => {
      const waiting = wait(...args);
      if (once) {
        once = false;
        // Both tells in one turn: one commit, seen together.
        void service.execute("tell", { study: "q", trial: t1.trial.number, token: t1.lease.token, state: "COMPLETE", value: 0.4 });
        void service.execute("tell", { study: "q", trial: t2.trial.number, token: t2.lease.token, state: "COMPLETE", value: 0.3 });
      }
      return waiting;
    };
    const seen: Progress[] = [];
    const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "q", timeout_s: 50, min_finished: 1 } }, undefined, {
      onprogress: (p) => void seen.push(p),
    })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    expect(seen.map((p) => [p.progress, p.total])).toEqual([[1, 1]]);
    expect(seen[0]?.message).toMatch(/^2 trials finished \(waited for 1\); best 0\.3/);
  });

  it("a multi-objective study's progress message points at pareto_front, not at a best that never comes", async () => {
    await service.execute("create_study", { name: "mo", directions: ["minimize", "maximize"], space: SPACE, strategy: "random" });
    const t = await service.execute("ask", { study: "mo" });
    const wait = backend.waitForChange.bind(backend);
    let once = true;
    backend.waitForChange = (...args) => {
      const waiting = wait(...args);
      if (once) {
        once = false;
        void service.execute("tell", { study: "mo", trial: t.trial.number, token: t.lease.token, state: "COMPLETE", values: [0.4, 0.9] });
      }
      return waiting;
    };
    const seen: Progress[] = [];
    const r = (await client.callTool({ name: "wait_for_progress", arguments: { study: "mo", timeout_s: 50, min_finished: 1 } }, undefined, {
      onprogress: (p) => void seen.push(p),
    })) as CallToolResult;
    expect(r.isError).toBeFalsy();
    // Before: "1 of 1 trial(s) finished; best none yet", with the trial on the front.
    expect(seen.map((p) => p.message)).toEqual(["1 of 1 trial finished; 2 objectives, so no single best: pareto_front gives the front"]);
  });

  it("gives every tool an outputSchema", async () => {
    const { tools } = await client.listTools();
    for (const t of tools) expect(t.outputSchema?.type, t.name).toBe("object");
  });

  it("refuses a subscription to an unknown URI and accepts a study's", async () => {
    await service.execute("create_study", { name: "known one", space: SPACE });
    for (const uri of ["tuneport://studies/nope", "tuneport://studies/%E0%A4%A", "file:///etc/passwd"])
      await expect(client.subscribeResource({ uri })).rejects.toSatisfy(
        // The code once in the message, as the client's McpError adds it (the server's McpError had it twice).
        (e: unknown) => e instanceof McpError && e.code === -32002 && e.message.split("-32002").length === 2 && /Resource not found/.test(e.message),
      );
    const read = await client.readResource({ uri: "tuneport://studies/nope" }).catch((e: unknown) => e);
    expect((read as McpError).message).toBe("MCP error -32002: Resource not found: no study named 'nope'");
    await expect(client.subscribeResource({ uri: "tuneport://studies/known%20one" })).resolves.toEqual({});
  });

  it("pages resources/list with nextCursor", async () => {
    const n = RESOURCES_PAGE + 7;
    for (let i = 0; i < n; i++) await service.execute("create_study", { name: `s${i}`, space: SPACE });
    const first = await client.listResources();
    expect(first.resources.length).toBe(RESOURCES_PAGE);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await client.listResources({ cursor: first.nextCursor });
    expect(second.nextCursor).toBeUndefined();
    // Every study once across the pages (creation order; studies created in the same millisecond
    // are ordered by name, so compare as sorted lists).
    const names = [...first.resources, ...second.resources].map((r) => r.name);
    expect([...names].sort()).toEqual(Array.from({ length: n }, (_, i) => `s${i}`).sort());
  });

  it("offers a 'tune a training script' prompt that walks through the tools", async () => {
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toContain("tune_training_script");
    const p = await client.getPrompt({ name: "tune_training_script", arguments: { script: "train.py" } });
    const text = p.messages.map((m) => (m.content.type === "text" ? m.content.text : "")).join("\n");
    expect(text).toContain("train.py");
    const { tools } = await client.listTools();
    const named = tools.map((t) => t.name).filter((name) => text.includes(name));
    for (const must of ["create_study", "enqueue_trial", "wait_for_progress", "stop_study", "ask_trial", "tell_trial"]) expect(named).toContain(must);
  });
});
