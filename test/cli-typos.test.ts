/**
 * A mistyped command, subcommand or option, as a new user meets it: the real `tuneport` process
 * names what was probably meant. `tuneport serv` and `studies lst` printed only "unknown command";
 * `dashboard --host 0.0.0.0` answered "did you mean --port?" (two edits of four letters), and
 * `serve --port 5555` told the user to write `-- --port`, which serve then refused as an argument.
 */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CLI } from "./helpers.js";

/** The CLI's exit status and its first stderr line; it never gets as far as opening a database. */
function run(...args: string[]): { status: number | null; first: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, first: r.stderr.split("\n")[0] ?? "" };
}

describe.concurrent("a mistyped word on the command line", () => {
  it.each([
    [["serv", "--storage", "x.db"], "tuneport: unknown command 'serv'; did you mean 'serve'?"],
    [["studie", "list"], "tuneport: unknown command 'studie'; did you mean 'studies'?"],
    [["help", "dashbaord"], "tuneport: unknown command 'dashbaord'; did you mean 'dashboard'?"],
    [["version"], "tuneport: unknown command 'version'; did you mean '--version'?"],
    [["frobnicate"], "tuneport: unknown command 'frobnicate'"],
  ])("tuneport %j names the command meant", (args, line) => {
    expect(run(...args)).toEqual({ status: 2, first: line });
  });

  it.each([
    [["lst"], "tuneport: unknown 'studies lst' (did you mean 'studies list'?): expected list, show NAME, trials NAME or lineage NAME [TRIAL]; see --help"],
    [["shwo", "s"], "tuneport: unknown 'studies shwo' (did you mean 'studies show'?): expected list, show NAME, trials NAME or lineage NAME [TRIAL]; see --help"],
    [["foo"], "tuneport: unknown 'studies foo': expected list, show NAME, trials NAME or lineage NAME [TRIAL]; see --help"],
  ])("tuneport studies %j names the subcommand meant", (args, line) => {
    expect(run("studies", ...args)).toEqual({ status: 2, first: line });
  });

  it.each([
    [["dashboard", "--host", "0.0.0.0"], "tuneport: unknown option '--host'; the options for a HOST: --dashboard-host HOST"],
    [["dashboard", "--token", "t"], "tuneport: unknown option '--token'; the options for a TOKEN: --dashboard-token TOKEN"],
    [["serve", "--port", "5555"], "tuneport: unknown option '--port'; the options for a PORT: --bind ENDPOINT (tcp://HOST:PORT), --mcp-http PORT, --dashboard PORT"],
    [["serve", "--foo"], "tuneport: unknown option '--foo'"],
    [["mcp", "--port", "3"], "tuneport: unknown option '--port'"],
    // A typo is still a typo, a swap of two letters included; a command taking names keeps the '--' hint.
    [["dashboard", "--storag", "x.db"], "tuneport: unknown option '--storag'; did you mean --storage?"],
    [["studies", "list", "--jsno"], "tuneport: unknown option '--jsno'; did you mean --json?"],
    [["studies", "show", "-weird-name"], "tuneport: unknown option '-weird-name'; an argument starting with '-' goes after '--' (-- -weird-name)"],
    // A word that only names what some option takes may be an argument: a file or study called so.
    [["import", "-path"], "tuneport: unknown option '-path'; the options for a PATH: --storage PATH; an argument starting with '-' goes after '--' (-- -path)"],
    [["export", "-file"], "tuneport: unknown option '-file'; the options for a FILE: --out FILE; an argument starting with '-' goes after '--' (-- -file)"],
  ])("tuneport %j names the options meant, never a '--' a server does not take", (args, line) => {
    expect(run(...args)).toEqual({ status: 2, first: line });
  });
});
