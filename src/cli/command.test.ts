import { describe, expect, it } from "vitest";
import { type Command, UsageError, intOption, optionHelp, runCommand } from "./command.js";
import { dashboardCommand } from "./dashboard.js";
import { exportCommand, importCommand } from "./export-import.js";
import { keygenCommand } from "./keygen.js";
import { mcpCommand } from "./mcp.js";
import { plotCommand } from "./plot.js";
import { serveCommand } from "./serve.js";
import { studiesCommand } from "./studies.js";

describe("intOption", () => {
  it("reads integers within the range and leaves an absent option undefined", () => {
    expect(intOption("port", "8080", 0, 65535)).toBe(8080);
    expect(intOption("port", "0", 0, 65535)).toBe(0);
    expect(intOption("port", undefined, 0, 65535)).toBeUndefined();
  });

  it.each(["", " ", "1.5", "x", "70000", "-1", "0x10", "1e3", "0b11", "Infinity"])("refuses %j, naming the option (an empty value was read as 0, hex and exponents as numbers)", (v) => {
    expect(() => intOption("port", v, 0, 65535)).toThrow(UsageError);
    expect(() => intOption("port", v, 0, 65535)).toThrow(/--port must be an integer in \[0, 65535\]/);
  });
});

describe("an empty option value", () => {
  const commands: Command[] = [serveCommand, mcpCommand, studiesCommand, plotCommand, dashboardCommand, exportCommand, importCommand, keygenCommand];
  const cases = commands.flatMap((cmd) =>
    Object.entries(cmd.options)
      .filter(([, o]) => o.type === "string")
      .map(([name]) => [cmd.name, name, cmd] as const),
  );

  it.each(cases)("%s --%s '' is refused naming the option and what it takes, before the command runs", async (_, name, cmd) => {
    // serve --storage '' said "cannot open the database : ENOENT", --lease-ttl '' "…, got ".
    for (const argv of [[`--${name}`, ""], [`--${name}= `]]) {
      const refused = runCommand({ ...cmd, run: async () => 0 }, argv);
      await expect(refused).rejects.toThrow(UsageError);
      await expect(refused).rejects.toThrow(new RegExp(`^--${name} is empty; it takes \\S+: \\S`));
    }
  });

  it("reads what an option takes from its help line, continuation lines and all, up to its first sentence", () => {
    const help = `Options:
  --storage PATH|URL      SQLite database file [./tuneport.db], or
                          postgresql://user@host/db
  --ownership-ttl SECONDS PostgreSQL: a lease [10]. The --mcp-* options are
                          refused without --mcp-http
  --json                  machine-readable
  --trusted-proxy ADDR[,ADDR...]
                          proxies' addresses; repeatable. More here
`;
    expect(optionHelp(help, "storage")).toBe("PATH|URL: SQLite database file [./tuneport.db], or postgresql://user@host/db");
    expect(optionHelp(help, "ownership-ttl")).toBe("SECONDS: PostgreSQL: a lease [10]");
    expect(optionHelp(help, "json")).toBeNull();
    // An option too long for its column: the description starts on the next line.
    expect(optionHelp(help, "trusted-proxy")).toBe("ADDR[,ADDR...]: proxies' addresses; repeatable");
    expect(optionHelp(help, "missing")).toBeNull();
  });
});

describe("an unknown option", () => {
  it("is one line naming it, with the closest option when one is near (Node's text ended in an unbalanced quote)", async () => {
    const typo = runCommand({ ...serveCommand, run: async () => 0 }, ["--storag", "x.db"]);
    await expect(typo).rejects.toThrow(UsageError);
    await expect(typo).rejects.toThrow(/^unknown option '--storag'; did you mean --storage\?\nRun 'tuneport serve --help' for usage\.$/);
    const far = runCommand({ ...studiesCommand, run: async () => 0 }, ["show", "-weird-name"]);
    await expect(far).rejects.toThrow(/^unknown option '-weird-name'; an argument starting with '-' goes after '--' \(-- -weird-name\)\nRun 'tuneport studies --help' for usage\.$/);
  });

  it("missing its value is one line saying what it takes (Node's 'is ambiguous' answer took three)", async () => {
    for (const argv of [["list", "--storage"], ["list", "--storage", "--json"]]) {
      const p = runCommand({ ...studiesCommand, run: async () => 0 }, argv);
      await expect(p).rejects.toThrow(/^--storage needs a value; it takes PATH: SQLite database file \[\.\/tuneport\.db\], or a postgresql:\/\/ URL( \(a value starting with '-' goes as --storage=-VALUE\))?\nRun 'tuneport studies --help' for usage\.$/);
    }
  });
});
