// Bundles vega and vega-lite for the server's PNG plots into dist/service/vega-bundle.js (part of
// `npm run build`). Node resolves and compiles the packages' several hundred modules on every
// start of the plot worker, ~210 ms here; one bundled file loads in ~70 ms, and the worker starts
// on a server's first plot and again after each idle minute (plot-renderer.ts), so that is what a
// first chart waits for. plots.ts imports the packages themselves when the bundle is absent
// (running from sources, as the unit tests do).
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(root, "dist", "service", "vega-bundle.js");
mkdirSync(dirname(outfile), { recursive: true });
await build({
  stdin: { contents: 'export * as vega from "vega";\nexport * as vl from "vega-lite";\n', resolveDir: root, loader: "js" },
  bundle: true,
  minify: true,
  format: "esm",
  platform: "node",
  target: "node20",
  outfile,
  legalComments: "linked",
  logLevel: "warning",
});
