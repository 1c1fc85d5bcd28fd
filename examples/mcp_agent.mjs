#!/usr/bin/env node
// A scripted "agent" session against tuneport's MCP server, the way an assistant would use it:
// spawn `tuneport mcp`, create a study, propose a configuration with a rationale, act as the
// evaluator for a few trials, read the summary, and save a plot.
//
// Usage: node examples/mcp_agent.mjs [STORAGE.db] [PLOT.png]
// (run `npm run build` first; it uses dist/cli/main.js from this checkout)
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

if (process.argv.includes("--help") || process.argv.includes("-h")) {
  console.log("Usage: node examples/mcp_agent.mjs [STORAGE.db] [PLOT.png]\n\nA scripted agent session against `tuneport mcp` (run `npm run build` first).");
  process.exit(0);
}
const storage = process.argv[2] ?? join(tmpdir(), `tuneport-example-${process.pid}.db`);
const plotPath = process.argv[3] ?? join(tmpdir(), `tuneport-example-${process.pid}.png`);
const cli = fileURLToPath(new URL("../dist/cli/main.js", import.meta.url));

const client = new Client({ name: "scripted-agent", version: "1.0.0" });
await client.connect(new StdioClientTransport({ command: process.execPath, args: [cli, "mcp", "--storage", storage], stderr: "ignore" }));

async function tool(name, args = {}) {
  const r = await client.callTool({ name, arguments: args });
  const text = r.content.filter((c) => c.type === "text").map((c) => c.text).join("\n");
  console.log(`\n> ${name} ${JSON.stringify(args)}\n${text}`);
  if (r.isError) throw new Error(`${name} failed`);
  return r;
}

// The "model" we tune: a made-up validation loss with its optimum near lr=3e-3, dropout=0.2.
const loss = ({ lr, dropout, act }) => (Math.log10(lr) + 2.5) ** 2 + 4 * (dropout - 0.2) ** 2 + (act === "gelu" ? 0 : 0.1);

await tool("create_study", {
  name: "example-mlp",
  direction: "minimize",
  space: {
    lr: { type: "float", low: 1e-5, high: 1e-1, log: true },
    dropout: { type: "float", low: 0, high: 0.5 },
    act: { type: "categorical", choices: ["relu", "gelu"] },
  },
  seed: 42,
  load_if_exists: true,
});
await tool("enqueue_trial", {
  study: "example-mlp",
  params: { lr: 3e-3, dropout: 0.1, act: "gelu" },
  rationale: "A common Adam learning rate with light dropout; a strong first guess for an MLP.",
});
for (let i = 0; i < 8; i++) {
  const { structuredContent: t } = await tool("ask_trial", { study: "example-mlp" });
  await tool("tell_trial", { study: "example-mlp", trial: t.trial.number, token: t.token, value: loss(t.trial.params) });
}
await tool("study_summary", { study: "example-mlp" });
const plot = await client.callTool({ name: "plot", arguments: { study: "example-mlp", kind: "history" } });
const image = plot.content.find((c) => c.type === "image");
writeFileSync(plotPath, Buffer.from(image.data, "base64"));
console.log(`\nSaved the optimization history plot to ${plotPath}`);
await client.close();
