// Builds the dashboard's browser assets from web/dashboard/*.ts into dist/web/ with esbuild: ES
// module bundles (vega and vega-lite included, so the page needs no CDN) and the stylesheet.
// esbuild rather than tsc: the page needs one file with its npm dependencies bundled and minified,
// which tsc cannot do; type-checking is tsc's job (web/dashboard/tsconfig.json, `make typecheck`).
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "dist", "web");
mkdirSync(out, { recursive: true });
// Two parts: the page (dashboard.js, small: the table is interactive as soon as it ran) and
// vega + vega-lite in a chunk the page imports on its first chart (code splitting needs ESM).
for (const f of readdirSync(out)) if (/^chunk-.*\.js(\.LEGAL\.txt)?$/.test(f)) rmSync(join(out, f));
await build({
  entryPoints: { dashboard: join(here, "main.ts") },
  bundle: true,
  splitting: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox115", "safari16"],
  outdir: out,
  chunkNames: "chunk-[hash]",
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync(join(here, "dashboard.css"), join(out, "dashboard.css"));
for (const f of readdirSync(out).filter((f) => /\.(js|css)$/.test(f)).sort()) console.log(`dist/web/${f}: ${statSync(join(out, f)).size} bytes`);
