#!/usr/bin/env node
/** The `tuneport` command. */
import { TuneportError } from "../domain/errors.js";
import { VERSION } from "../version.js";
import { type Command, UsageError, runCommand } from "./command.js";

/**
 * The commands, each loaded only when run (or listed): a short command such as `studies list`
 * does not pay for importing the server, MCP and the plots.
 */
const COMMANDS: readonly (readonly [string, () => Promise<Command>])[] = [
  ["serve", async () => (await import("./serve.js")).serveCommand],
  ["mcp", async () => (await import("./mcp.js")).mcpCommand],
  ["studies", async () => (await import("./studies.js")).studiesCommand],
  ["plot", async () => (await import("./plot.js")).plotCommand],
  ["dashboard", async () => (await import("./dashboard.js")).dashboardCommand],
  ["export", async () => (await import("./export-import.js")).exportCommand],
  ["import", async () => (await import("./export-import.js")).importCommand],
  ["keygen", async () => (await import("./keygen.js")).keygenCommand],
];

async function usage(): Promise<string> {
  const all = await Promise.all(COMMANDS.map(([, load]) => load()));
  const width = Math.max(...all.map((c) => c.name.length));
  return `Usage: tuneport <command> [options]

Hyperparameter optimization as a service: ZeroMQ for training workers, MCP for agents.

Commands:
${all.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Run 'tuneport <command> --help' for a command's options. tuneport ${VERSION}
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(await usage());
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = COMMANDS.find(([n]) => n === name)?.[1];
  if (!load) {
    process.stderr.write(`tuneport: unknown command '${name}'\n\n${await usage()}`);
    return 2;
  }
  return runCommand(await load(), rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`tuneport: ${err.message}\n`);
      process.exitCode = 2;
    } else if (err instanceof TuneportError) {
      process.stderr.write(`tuneport: ${err.message} (${err.code})\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`tuneport: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
