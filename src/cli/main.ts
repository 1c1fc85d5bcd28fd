#!/usr/bin/env node
/** The `tuneport` command. */
import { TuneportError } from "../domain/errors.js";
import { VERSION } from "../version.js";
import { type Command, UsageError, runCommand } from "./command.js";
import { exportCommand, importCommand } from "./export-import.js";
import { dashboardCommand } from "./dashboard.js";
import { keygenCommand } from "./keygen.js";
import { mcpCommand } from "./mcp.js";
import { plotCommand } from "./plot.js";
import { serveCommand } from "./serve.js";
import { studiesCommand } from "./studies.js";

const COMMANDS: Command[] = [serveCommand, mcpCommand, studiesCommand, plotCommand, dashboardCommand, exportCommand, importCommand, keygenCommand];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: tuneport <command> [options]

Hyperparameter optimization as a service: ZeroMQ for training workers, MCP for agents.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Run 'tuneport <command> --help' for a command's options. tuneport ${VERSION}
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd) {
    process.stderr.write(`tuneport: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  return runCommand(cmd, rest);
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
