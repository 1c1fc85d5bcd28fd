// Builds the dashboard's browser assets from web/dashboard/*.ts into dist/web/ with esbuild: one
// ES module bundle (vega and vega-lite included, so the page needs no CDN) and the stylesheet.
// esbuild rather than tsc: the page needs one file with its npm dependencies bundled and minified,
// which tsc cannot do; type-checking is tsc's job (web/dashboard/tsconfig.json, `make typecheck`).
import { copyFileSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "dist", "web");
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "main.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox115", "safari16"],
  outfile: join(out, "dashboard.js"),
  legalComments: "linked",
  logLevel: "warning",
});
copyFileSync(join(here, "dashboard.css"), join(out, "dashboard.css"));
for (const f of ["dashboard.js", "dashboard.css"]) console.log(`dist/web/${f}: ${statSync(join(out, f)).size} bytes`);
