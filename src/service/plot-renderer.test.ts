/**
 * The chart renderer's deadline: a renderer that never answers (stuck in Vega or resvg) fails its
 * chart with a clear error instead of holding the caller forever, and is killed, so that the next
 * chart gets a new renderer. A stand-in worker script that never answers a chart plays the stuck
 * renderer; each is warmed up first, so that the short deadline here counts from a running one
 * (a busy machine may take longer than it to start Node). Nothing asserts on how long anything took.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logger.js";
import { PlotRenderer } from "./plot-renderer.js";
import type { StudyView } from "./views.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A worker that records its pid, answers a warm-up (so that a test knows it has started) and never draws a chart. */
function stuckWorker(): { file: string; pids: () => number[] } {
  const dir = mkdtempSync(join(tmpdir(), "tuneport-stuck-renderer-"));
  dirs.push(dir);
  const pidFile = join(dir, "pids");
  writeFileSync(pidFile, "");
  const file = join(dir, "stuck-worker.mjs");
  writeFileSync(
    file,
    `import { appendFileSync } from "node:fs";\nappendFileSync(${JSON.stringify(pidFile)}, process.pid + "\\n");\nprocess.on("message", (m) => { if (m.warm) process.send({ id: m.id, ok: true, warmed: true }); });\nprocess.on("disconnect", () => process.exit(0));\n`,
  );
  return { file, pids: () => readFileSync(pidFile, "utf8").split("\n").filter(Boolean).map(Number) };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

describe("PlotRenderer's deadline", () => {
  it("fails a chart its renderer never answers, kills that renderer and starts another for the next chart", async () => {
    const worker = stuckWorker();
    const renderer = new PlotRenderer(silentLogger(), { renderTimeoutMs: 400, workerFile: worker.file });
    const study = { name: "s" } as unknown as StudyView;
    try {
      expect(await renderer.warm()).toBe(true);
      await expect(renderer.render("history", study, [])).rejects.toMatchObject({ code: "INTERNAL", message: expect.stringContaining("was not drawn within") });
      const [first] = worker.pids();
      expect(first).toBeGreaterThan(0);
      await until(() => !alive(first as number));

      // The next chart goes to a new renderer (this one is stuck too, so it fails the same way).
      expect(await renderer.warm()).toBe(true);
      await expect(renderer.render("history", study, [])).rejects.toMatchObject({ code: "INTERNAL" });
      const pids = worker.pids();
      expect(pids).toHaveLength(2);
      expect(pids[1]).not.toBe(first);
      await until(() => !alive(pids[1] as number));
    } finally {
      await renderer.close();
    }
  }, 60_000);

  it("draws a chart that was queued behind the stuck one: it goes to the new renderer with a deadline of its own", async () => {
    // This renderer draws "ok" charts at once and spins forever on a "stuck" one, holding the charts sent after it.
    const dir = mkdtempSync(join(tmpdir(), "tuneport-stuck-renderer-"));
    dirs.push(dir);
    const file = join(dir, "spinning-worker.mjs");
    writeFileSync(
      file,
      `process.on("message", (m) => {\n  if (m.warm) return process.send({ id: m.id, ok: true, warmed: true });\n  if (m.study.name === "stuck") for (;;);\n  process.send({ id: m.id, ok: true, png: new Uint8Array([1]), caption: m.study.name, width: 1, height: 1 });\n});\nprocess.on("disconnect", () => process.exit(0));\n`,
    );
    // Long enough for a loaded machine to start the second renderer within it.
    const renderer = new PlotRenderer(silentLogger(), { renderTimeoutMs: 3_000, workerFile: file });
    try {
      expect(await renderer.warm()).toBe(true);
      const stuck = renderer.render("history", { name: "stuck" } as unknown as StudyView, []);
      const queued = renderer.render("history", { name: "ok" } as unknown as StudyView, []);
      await expect(stuck).rejects.toMatchObject({ code: "INTERNAL", message: expect.stringContaining("was not drawn within") });
      await expect(queued).resolves.toMatchObject({ caption: "ok" });
    } finally {
      await renderer.close();
    }
  }, 60_000);
});

/** A worker that answers a warm-up and draws every chart at once, and dies (exit 1) on a chart of study "crash". */
function drawingWorker(): string {
  const dir = mkdtempSync(join(tmpdir(), "tuneport-renderer-"));
  dirs.push(dir);
  const file = join(dir, "drawing-worker.mjs");
  writeFileSync(
    file,
    `process.on("message", (m) => {\n  if (m.warm) return process.send({ id: m.id, ok: true, warmed: true });\n  if (m.study.name === "crash") process.exit(1);\n  process.send({ id: m.id, ok: true, png: new Uint8Array([1]), caption: m.study.name, width: 1, height: 1 });\n});\nprocess.on("disconnect", () => process.exit(0));\n`,
  );
  return file;
}

/**
 * A path for the renderer's Node executable that `point` turns into a link to another file: a real
 * `fork` then meets the kernel's refusal (EACCES for a file without execute permission, ENOTDIR for
 * a path through /dev/null), and works again once the link points at Node.
 */
function nodeLink(): { path: string; point: (to: string) => void } {
  const dir = mkdtempSync(join(tmpdir(), "tuneport-renderer-node-"));
  dirs.push(dir);
  const path = join(dir, "node");
  return {
    path,
    point: (to) => {
      rmSync(path, { force: true });
      symlinkSync(to, path);
    },
  };
}

const view = (name: string) => ({ name }) as unknown as StudyView;
const notStarted = (errno: string) => ({
  code: "UNAVAILABLE",
  message: expect.stringContaining("the chart renderer could not be started"),
  data: { reason: "renderer_unavailable", errno },
});

describe("PlotRenderer when its renderer cannot be started", () => {
  it("refuses the chart UNAVAILABLE (EACCES: an 'error' event after fork), and starts a renderer for a later chart", async () => {
    const node = nodeLink();
    const noExec = join(dirname(node.path), "not-executable");
    writeFileSync(noExec, "");
    chmodSync(noExec, 0o644);
    node.point(noExec);
    const renderer = new PlotRenderer(silentLogger(), { workerFile: drawingWorker(), execPath: node.path });
    try {
      await expect(renderer.render("history", view("a"), [])).rejects.toMatchObject(notStarted("EACCES"));
      expect(await renderer.warm()).toBe(false); // a warm-up that cannot start one says so, and throws nothing
      node.point(process.execPath);
      await expect(renderer.render("history", view("b"), [])).resolves.toMatchObject({ caption: "b" });
    } finally {
      await renderer.close();
    }
  }, 60_000);

  it("refuses the chart UNAVAILABLE when its renderer dies and the resend's fork throws (ENOTDIR), without an uncaught exception", async () => {
    const node = nodeLink();
    node.point(process.execPath);
    const renderer = new PlotRenderer(silentLogger(), { workerFile: drawingWorker(), execPath: node.path });
    try {
      expect(await renderer.warm()).toBe(true);
      node.point("/dev/null/node");
      // The worker exits on this chart; the exit handler resends it to a new worker, whose fork throws.
      await expect(renderer.render("history", view("crash"), [])).rejects.toMatchObject(notStarted("ENOTDIR"));
      await expect(renderer.render("history", view("c"), [])).rejects.toMatchObject(notStarted("ENOTDIR"));
      node.point(process.execPath);
      await expect(renderer.render("history", view("d"), [])).resolves.toMatchObject({ caption: "d" });
    } finally {
      await renderer.close();
    }
  }, 60_000);
});
