/** A tiny sub-command framework on node:util parseArgs: every command has help text. */
import { type ParseArgsConfig, parseArgs } from "node:util";

export interface Command {
  readonly name: string;
  /** Full help: usage line, description, options. */
  readonly help: string;
  readonly options: NonNullable<ParseArgsConfig["options"]>;
  run(values: Record<string, unknown>, positionals: string[]): Promise<number>;
}

/** Thrown for bad command-line input: printed without a stack, exit code 2. */
export class UsageError extends Error {}

export async function runCommand(cmd: Command, argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${cmd.help.trim()}\n`);
    return 0;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: cmd.options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun 'tuneport ${cmd.name} --help' for usage.`);
  }
  return cmd.run(parsed.values as Record<string, unknown>, parsed.positionals);
}

/** Parses an integer option. @throws UsageError */
export function intOption(name: string, v: unknown, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  return n;
}

/**
 * For a server command that has closed everything it opened: exits on the next turn of the
 * event loop (with `process.exitCode`) even if a timer is still pending, e.g. the timeout of a
 * wait that shutdown answered early. Logs are written synchronously, so nothing is lost.
 */
export function exitWhenIdle(): void {
  setImmediate(() => process.exit()).unref();
}
