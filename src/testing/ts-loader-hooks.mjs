/**
 * Module hooks (Node's `module.register`) for `ts-loader.mjs`: `.js` specifiers of a `.ts`
 * module fall back to the `.ts` file when no `.js` exists, and `.ts` files are transpiled one
 * at a time (`ts.transpileModule`, no type check: `tsc --noEmit` does that). Output is cached
 * under node_modules/.cache/tuneport-ts-loader by a hash of the source, so a worker thread
 * loads the compiler only when a file changed.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CACHE = fileURLToPath(new URL("../../node_modules/.cache/tuneport-ts-loader/", import.meta.url));
/** Bump when the options below change. */
const CACHE_VERSION = "1";
let compiler = null;

async function transpile(source, fileName) {
  const key = createHash("sha256").update(CACHE_VERSION).update("\0").update(fileName).update("\0").update(source).digest("hex");
  const cached = join(CACHE, `${key}.js`);
  if (existsSync(cached)) return readFileSync(cached, "utf8");
  compiler ??= (await import("typescript")).default;
  const { outputText } = compiler.transpileModule(source, {
    fileName,
    compilerOptions: { module: compiler.ModuleKind.ESNext, target: compiler.ScriptTarget.ES2022, inlineSourceMap: true, inlineSources: true },
  });
  mkdirSync(CACHE, { recursive: true });
  // Write then rename: concurrent test workers never read a half-written file.
  const tmp = `${cached}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  writeFileSync(tmp, outputText);
  renameSync(tmp, cached);
  return outputText;
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    const parent = context.parentURL;
    if (parent?.endsWith(".ts") && specifier.endsWith(".js") && (specifier.startsWith(".") || specifier.startsWith("file:"))) {
      const url = new URL(`${specifier.slice(0, -3)}.ts`, parent);
      if (existsSync(fileURLToPath(url))) return { url: url.href, format: "module", shortCircuit: true };
    }
    throw err;
  }
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const fileName = fileURLToPath(url);
  return { format: "module", source: await transpile(readFileSync(fileName, "utf8"), fileName), shortCircuit: true };
}
