/** Worker-thread side of `PlotRenderer`: renders one plot per message. */
import { parentPort } from "node:worker_threads";
import type { PlotJob, PlotJobResult } from "./plot-renderer.js";
import { renderPlot } from "./plots.js";

parentPort?.on("message", (job: PlotJob) => {
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
