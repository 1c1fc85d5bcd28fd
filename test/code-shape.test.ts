/**
 * The size limits issue 12 set for the sources (docs/ARCHITECTURE.md): no file in src/ over 600
 * lines (generated data aside) and no function over 150 lines. Parsed with the TypeScript
 * compiler, so arrow functions, methods and nested functions all count.
 */
import { readFileSync, readdirSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const MAX_FILE_LINES = 600;
const MAX_FUNCTION_LINES = 150;
/** Generated tables, not code. */
const GENERATED = new Set(["src/math/sobol-directions.ts"]);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [p] : [];
  });
}

/** Every function-like node with a body longer than `max` lines, as "file:line name (n lines)". */
export function longFunctions(file: string, text: string, max: number): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && "body" in node && node.body) {
      const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const last = sf.getLineAndCharacterOfPosition(node.end).line;
      const name = "name" in node && node.name ? (node.name as ts.Node).getText(sf) : "<anonymous>";
      if (last - first + 1 > max) found.push(`${file}:${first + 1} ${name} (${last - first + 1} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

/** Calls of Math.max or Math.min with a spread argument, as "file:line". */
function spreadExtremes(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node) && /^Math\.(max|min)$/.test(node.expression.getText(sf)) && node.arguments.some(ts.isSpreadElement))
      found.push(`${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}

describe("code shape", () => {
  const files = sources(join(ROOT, "src")).map((p) => ({ rel: relative(ROOT, p), text: readFileSync(p, "utf8") }));

  it("finds the sources", () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it(`has no source file over ${MAX_FILE_LINES} lines`, () => {
    const long = files.filter((f) => !GENERATED.has(f.rel) && f.text.split("\n").length > MAX_FILE_LINES + 1);
    expect(long.map((f) => `${f.rel} (${f.text.split("\n").length - 1} lines)`)).toEqual([]);
  });

  it(`has no function over ${MAX_FUNCTION_LINES} lines`, () => {
    expect(files.flatMap((f) => longFunctions(f.rel, f.text, MAX_FUNCTION_LINES))).toEqual([]);
  });

  // Math.max(...xs) passes each element as an argument: RangeError past about 120,000 of them, so a
  // study that large (trials, a Pareto front) answered INTERNAL. src/math/extremes.ts folds instead.
  it("spreads no array into Math.max or Math.min (maxOf, minOf)", () => {
    expect(files.flatMap((f) => spreadExtremes(f.rel, f.text))).toEqual([]);
    expect(spreadExtremes("t.ts", "const a = Math.max(1, ...xs);\nconst b = Math.min(x, y);\n")).toEqual(["t.ts:1"]);
  });

  it("measures functions (a long one is found)", () => {
    const body = Array.from({ length: 160 }, (_, i) => `  x += ${i};`).join("\n");
    expect(longFunctions("t.ts", `const f = () => {\n  let x = 0;\n${body}\n  return x;\n};\n`, MAX_FUNCTION_LINES)).toHaveLength(1);
    expect(longFunctions("t.ts", "function g() { return 1; }\n", MAX_FUNCTION_LINES)).toEqual([]);
  });
});
