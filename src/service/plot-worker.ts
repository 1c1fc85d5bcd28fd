/**
 * Child-process side of `PlotRenderer`: renders one plot per IPC message (or warms up, see
 * `PlotRenderer.warm`). A process, not a thread, because resvg is native code whose panic aborts
 * the process it runs in. It exits when the server goes (the IPC channel closes), however it went.
 */
import type { PlotJob, PlotJobResult, WarmJob } from "./plot-renderer.js";
import { renderPlot, warmUpRendering } from "./plots.js";

/** Answers job `id` with what `work` resolves to, or with its error (name, code, message, data). */
function reply(id: number, work: Promise<PlotJobResult>): void {
  work.then(
    (result) => process.send?.(result),
    (err: unknown) => {
      const e = err as { code?: string; message?: string; data?: Record<string, unknown> };
      const error = { name: (err as Error)?.name ?? "Error", code: e.code, message: e.message ?? String(err), data: e.data };
      process.send?.({ id, ok: false, error } satisfies PlotJobResult);
    },
  );
}

process.on("disconnect", () => process.exit(0));

process.on("message", (job: PlotJob | WarmJob) => {
  if ("warm" in job) {
    reply(job.id, warmUpRendering().then(() => ({ id: job.id, ok: true, warmed: true })));
    return;
  }
  reply(
    job.id,
    renderPlot(job.kind, job.study, job.trials, job.opts).then((p) => {
      const png = new Uint8Array(p.png.buffer, p.png.byteOffset, p.png.byteLength);
      return { id: job.id, ok: true, png, caption: p.caption, width: p.width, height: p.height };
    }),
  );
});
