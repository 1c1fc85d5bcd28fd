/**
 * The server as a package: `npm pack` gives a tarball that installs globally into a temporary
 * prefix and whose `tuneport` command serves (and plots) from outside the checkout, with the
 * dependency versions of package-lock.json (shipped as npm-shrinkwrap.json).
 *
 * To stay fast the install skips install scripts (--ignore-scripts) and uses the npm cache
 * (--prefer-offline). The only script that matters is better-sqlite3's: where no prebuilt
 * binary can be downloaded (as on the build machines) it compiles SQLite from source, about
 * 2 CPU-minutes; the test copies in the binary that the checkout's own `npm ci` built instead.
 * zeromq, resvg and msgpackr-extract ship their binaries inside their npm packages.
 * A full install with scripts is measured in docs/PACKAGING.md.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { decodePng, inkShare } from "../src/testing/png.js";
import { encode } from "../src/transports/zmq/codec.js";
import { TestClient, tempDir } from "./helpers.js";

const REPO = join(import.meta.dirname, "..");
const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function sh(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 300_000, env: { ...process.env, npm_config_update_notifier: "false" } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Starts the installed `tuneport serve` and resolves with its endpoint. */
function serve(bin: string, cwd: string, db: string): Promise<{ proc: ChildProcess; endpoint: string }> {
  const proc = spawn(bin, ["serve", "--storage", db, "--bind", "tcp://127.0.0.1:0"], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`installed server did not start: ${err}`)), 30_000);
    proc.stdout?.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /"endpoints":\["(tcp:\/\/[^"]+)"\]/.exec(buf);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve({ proc, endpoint: m[1] });
      }
    });
    proc.once("exit", (code) => reject(new Error(`installed server exited with ${code}: ${err}`)));
  });
}

it("npm pack gives a tarball that installs globally and serves outside the checkout", async () => {
  const tmp = tempDir("tuneport-pack-");
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  sh("npm", ["pack", "--pack-destination", tmp], REPO);
  expect(existsSync(join(REPO, "npm-shrinkwrap.json"))).toBe(false); // postpack cleaned up
  const tgz = readdirSync(tmp).find((f) => /^tuneport-.*\.tgz$/.test(f)) as string;
  const listing = sh("tar", ["tzf", join(tmp, tgz)], tmp).split("\n");
  for (const f of ["package/dist/cli/main.js", "package/dist/service/plot-worker.js", "package/npm-shrinkwrap.json", "package/protocol/PROTOCOL.md", "package/README.md", "package/assets/fonts/DejaVuSans-plots.ttf"])
    expect(listing, f).toContain(f);
  expect(listing.filter((f) => /\.test\.|\.stamp$|^package\/src\//.test(f))).toEqual([]);

  const prefix = join(tmp, "prefix");
  sh("npm", ["install", "-g", "--prefix", prefix, "--prefer-offline", "--ignore-scripts", "--no-audit", "--no-fund", join(tmp, tgz)], tmp);
  const pkg = join(prefix, "lib", "node_modules", "tuneport");
  const lock = JSON.parse(readFileSync(join(REPO, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string }> };
  const installed = JSON.parse(readFileSync(join(pkg, "node_modules", "vega-lite", "package.json"), "utf8")) as { version: string };
  expect(installed.version).toBe(lock.packages["node_modules/vega-lite"]?.version);
  expect(existsSync(join(pkg, "node_modules", "vitest"))).toBe(false); // no dev dependencies
  // What better-sqlite3's install script would have compiled (see the file comment).
  const release = join(pkg, "node_modules", "better-sqlite3", "build", "Release");
  mkdirSync(release, { recursive: true });
  copyFileSync(join(REPO, "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node"), join(release, "better_sqlite3.node"));

  const bin = join(prefix, "bin", "tuneport");
  const work = join(tmp, "elsewhere");
  mkdirSync(work);
  expect(sh(bin, ["--version"], work).trim()).toBe(JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).version);
  const { proc, endpoint } = await serve(bin, work, join(work, "t.db"));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once("exit", () => resolve());
        proc.kill("SIGTERM");
      }),
  );
  const c = new TestClient(endpoint);
  cleanups.push(() => c.close());
  await c.call("create_study", { name: "pkg", strategy: "random", space: { x: { type: "float", low: 0, high: 1 } }, seed: 1 });
  for (let i = 0; i < 3; i++) {
    const a = await c.call("ask", { study: "pkg" });
    await c.call("tell", { study: "pkg", trial: a.trial.number, token: a.lease.token, state: "COMPLETE", value: i });
  }
  // Plotting loads Vega, resvg and the bundled font from the installed package, in its worker thread.
  // The first plot starts the worker and loads Vega: allow it far more than the 5 s of other calls.
  const reply = await c.raw(encode({ v: 1, id: "plot-1", op: "plot", study: "pkg", kind: "history" }), "plot-1", 120_000);
  expect(reply.ok, JSON.stringify(reply.error)).toBe(true);
  expect(inkShare(decodePng(reply.result.png as Uint8Array))).toBeGreaterThan(0.01);
}, 360_000);
