/** Every example runs in the test suite: examples/mcp_agent.mjs. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { Procs, ROOT, exited, requireBuild, tempDir } from "./mcp-helpers.js";

const procs = new Procs();
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await procs.killAll();
  for (const c of cleanups.splice(0)) c();
});

it("examples/mcp_agent.mjs runs a scripted agent session and saves a plot", async () => {
  requireBuild();
  const tmp = tempDir();
  cleanups.push(tmp.cleanup);
  const png = join(tmp.dir, "history.png");
  const p = procs.spawn([join(ROOT, "examples/mcp_agent.mjs"), join(tmp.dir, "ex.db"), png]);
  expect(await exited(p), p.out()).toBe(0);
  expect(p.out()).toContain("Best so far: trial 0");
  expect(p.out()).toContain("A common Adam learning rate");
  expect(existsSync(png)).toBe(true);
  expect(readFileSync(png).subarray(1, 4).toString()).toBe("PNG");
});

it("examples/mcp_agent.mjs --help prints its usage and starts nothing", async () => {
  // Before, "--help" was taken for the storage path, and the session failed.
  const p = procs.spawn([join(ROOT, "examples/mcp_agent.mjs"), "--help"]);
  expect(await exited(p), p.out()).toBe(0);
  expect(p.out()).toMatch(/^Usage: node examples\/mcp_agent\.mjs/);
});
