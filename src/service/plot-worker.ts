/** Worker-thread side of `PlotRenderer`: renders one plot per message (or warms up, see `PlotRenderer.warm`). */
import { parentPort } from "node:worker_threads";
import type { PlotJob, PlotJobResult, WarmJob } from "./plot-renderer.js";
import { renderPlot, warmUpRendering } from "./plots.js";

parentPort?.on("message", (job: PlotJob | WarmJob) => {
  if ("warm" in job) {
    void warmUpRendering().then(
      () => parentPort?.postMessage({ id: job.id, ok: true, warmed: true }),
      (err: unknown) => parentPort?.postMessage({ id: job.id, ok: false, error: { name: "Error", message: String((err as Error)?.message ?? err) } }),
    );
    return;
  }
  renderPlot(job.kind, job.study, job.trials, job.opts).then(
    (p) => {
      const png = new Uint8Array(p.png.buffer, p.png.byteOffset, p.png.byteLength);
      parentPort?.postMessage({ id: job.id, ok: true, png, caption: p.caption, width: p.width, height: p.height } satisfies PlotJobResult);
    },
    (err: unknown) => {
      const e = err as { code?: string; message?: string; data?: Record<string, unknown> };
      const error = { name: (err as Error)?.name ?? "Error", code: e.code, message: e.message ?? String(err), data: e.data };
      parentPort?.postMessage({ id: job.id, ok: false, error } satisfies PlotJobResult);
    },
  );
});
