#!/usr/bin/env node
/** The `tuneport` command. */
import { TuneportError } from "../domain/errors.js";
import { VERSION } from "../version.js";
import { type Command, UsageError, closestName, fileProblem, runCommand } from "./command.js";
import { terminalSafe } from "./terminal.js";
import { maxOf } from "../math/extremes.js";

/**
 * The commands, each loaded only when run: a short command such as `studies list` does not pay
 * for importing the server, MCP and the plots, and the command list needs none of them.
 */
const COMMANDS: readonly (readonly [name: string, summary: string, load: () => Promise<Command>])[] = [
  ["serve", "run the server (ZeroMQ for workers) on a SQLite file or a PostgreSQL database", async () => (await import("./serve.js")).serveCommand],
  ["mcp", "serve MCP (for LLM agents) over stdio", async () => (await import("./mcp.js")).mcpCommand],
  ["studies", "list studies, show one, list its trials, or show a trial's PBT lineage", async () => (await import("./studies.js")).studiesCommand],
  ["plot", "render a study's chart (history, parallel, importances, pareto_front, ...) as PNG", async () => (await import("./plot.js")).plotCommand],
  ["dashboard", "serve the dashboard read-only from a database file, beside a running server", async () => (await import("./dashboard.js")).dashboardCommand],
  ["export", "write a study with every trial as JSON Lines (backup, transfer) or as an Optuna journal", async () => (await import("./export-import.js")).exportCommand],
  ["import", "recreate a study from a 'tuneport export' file", async () => (await import("./export-import.js")).importCommand],
  ["keygen", "generate a CURVE key pair (server or client) for encrypted ZeroMQ", async () => (await import("./keygen.js")).keygenCommand],
];

/**
 * "unknown command 'serv'; did you mean 'serve'?" (a near command name), or '--version' for
 * `tuneport version`: the bare "unknown command" and the command list left the typo to be found.
 */
function unknownCommand(name: string): string {
  const near = closestName(COMMANDS.map(([n]) => n), name);
  const hint = near !== null ? `; did you mean '${near}'?` : name === "version" ? "; did you mean '--version'?" : "";
  return `tuneport: unknown command '${terminalSafe(name, true)}'${hint}\n\n${usage()}`;
}

function usage(): string {
  const width = maxOf(COMMANDS.map(([name]) => name.length));
  return `Usage: tuneport <command> [options]

Hyperparameter optimization as a service: ZeroMQ for training workers, MCP for agents.

Commands:
${COMMANDS.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`).join("\n")}

Run 'tuneport <command> --help' (or 'tuneport help <command>') for a command's options;
'tuneport --version' prints the version. tuneport ${VERSION}
`;
}

/** Commands that run to an end and write their answer to stdout (servers keep serving if it closes). */
const ONE_SHOT = new Set(["studies", "plot", "export", "import", "keygen"]);

/**
 * A one-shot command's stdout failing: a reader that went away (`| head -1`, EPIPE) ends the
 * command quietly, as it would a shell tool; anything else (a full disk, ENOSPC) is one line. An
 * unhandled stream error printed a stack trace.
 */
function guardStdout(): void {
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(typeof process.exitCode === "number" ? process.exitCode : 0);
    process.stderr.write(`tuneport: cannot write to stdout: ${terminalSafe(err.message, true)}${err.code ? ` (${err.code})` : ""}\n`);
    process.exit(1);
  });
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || ONE_SHOT.has(name) || !COMMANDS.some(([n]) => n === name) || rest.includes("--help") || rest.includes("-h")) guardStdout();
  if (!name) {
    // A missing command is an error: the usage goes to stderr, as for an unknown one, so that
    // `tuneport > out` with a forgotten word leaves no usage text in the file.
    process.stderr.write(usage());
    return 2;
  }
  if (name === "--help" || name === "-h" || name === "help") {
    // `tuneport help serve` is `tuneport serve --help`, as git and npm read it (it printed the
    // command list, which says to run that).
    const topic = name === "help" ? rest[0] : undefined;
    const loadTopic = COMMANDS.find(([n]) => n === topic)?.[2];
    if (topic !== undefined && !loadTopic) {
      process.stderr.write(unknownCommand(topic));
      return 2;
    }
    if (loadTopic) return runCommand(await loadTopic(), ["--help"]);
    process.stdout.write(usage());
    return 0;
  }
  if (name === "--version" || name === "-v") {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const load = COMMANDS.find(([n]) => n === name)?.[2];
  if (!load) {
    process.stderr.write(unknownCommand(name));
    return 2;
  }
  return runCommand(await load(), rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // An error that escaped a command may have left what it started open (serve failing after its
    // ZeroMQ socket was up: the socket, worker threads): the process stayed alive, serving, after
    // printing the error. End it once stderr has had a moment to drain.
    setTimeout(() => process.exit(), 1000).unref();
    if (err instanceof UsageError) {
      process.stderr.write(`tuneport: ${terminalSafe(err.message, true)}\n`);
      process.exitCode = 2;
    } else if (err instanceof TuneportError) {
      process.stderr.write(`tuneport: ${terminalSafe(err.message, true)} (${err.code})\n`);
      process.exitCode = 1;
    } else if (fileProblem(err) !== null) {
      // A file that cannot be read or written (a missing input, an unwritable folder): one line, no stack.
      process.stderr.write(`tuneport: ${terminalSafe(fileProblem(err) as string, true)}\n`);
      process.exitCode = 1;
    } else if (typeof (err as { code?: unknown } | null)?.code === "string" && /^SQLITE_/.test((err as { code: string }).code)) {
      // SQLite failing mid-command (a damaged page past the header check): one line, no stack.
      const e = err as { code: string; message: string };
      const hint = /CORRUPT|NOTADB/.test(e.code) ? "; the database file is damaged: restore a backup (or try sqlite3's .recover)" : "";
      process.stderr.write(`tuneport: the SQLite database failed: ${terminalSafe(e.message, true)} (${e.code})${hint}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`tuneport: ${terminalSafe((err as Error)?.stack ?? String(err), true)}\n`);
      process.exitCode = 1;
    }
  },
);
