// `--help` (or `-h`) for every benchmark script: imported first by each one, it prints the comment
// at the top of the script that was run (its usage) and exits 0 before the script does any work, so
// that `node bench/X.mjs --help` never starts a benchmark.
import { readFileSync } from "node:fs";

/** The leading comment of a script: `//` lines or one `/** … *\/` block, after an optional `#!` line. */
export function leadingComment(source) {
  const lines = source.split("\n");
  let i = lines[0]?.startsWith("#!") ? 1 : 0;
  const out = [];
  if (lines[i]?.trimStart().startsWith("/*")) {
    for (; i < lines.length; i++) {
      const line = lines[i];
      const end = line.includes("*/");
      const text = line.replace(/^\s*\/\*\*?/, "").replace(/\*\/.*$/, "").replace(/^\s*\* ?/, "");
      out.push(text);
      if (end) break;
    }
  } else {
    for (; i < lines.length && lines[i].startsWith("//"); i++) out.push(lines[i].replace(/^\/\/ ?/, ""));
  }
  while (out.length > 0 && out[0].trim() === "") out.shift();
  while (out.length > 0 && out[out.length - 1].trim() === "") out.pop();
  return out.join("\n");
}

const argv = process.argv.slice(2);
if (argv.includes("--help") || argv.includes("-h")) {
  const script = process.argv[1];
  const text = script ? leadingComment(readFileSync(script, "utf8")) : "";
  process.stdout.write(`${text || "(no description at the top of this script)"}\n`);
  process.exit(0);
}
