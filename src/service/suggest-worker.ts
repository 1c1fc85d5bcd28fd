/**
 * Worker-thread side of `WorkerRunner`: runs offloaded strategies' `suggest` off the
 * server's event loop. Strategy instances are kept per main-thread instance (one per study state),
 * so in-memory caches (a GP's warm-start hyperparameters) carry over between asks; at most
 * `workerData.keep` of them, least recently asked dropped first.
 *
 * Strategies are built by name from a catalogue: the built-ins, or the `plugins` export of the
 * module named in `workerData.catalogue` (see `WorkerRunnerOptions.catalogue`).
 */
import { parentPort, workerData } from "node:worker_threads";
import type { Strategy, SuggestRequest } from "../domain/plugin.js";
import { Rng } from "../math/rng.js";
import { BUILTIN_PLUGINS, type PluginCatalogue } from "./plugins.js";
import type { WorkerRequest, WorkerResponse } from "./worker-runner.js";

const data = workerData as { catalogue?: string; keep?: number } | null;
const source = data?.catalogue;
const keep = Math.max(1, data?.keep ?? 256);
const catalogue: Promise<PluginCatalogue> =
  source === undefined ? Promise.resolve(BUILTIN_PLUGINS)
  : import(source).then((m: { plugins?: PluginCatalogue }) => {
      if (typeof m.plugins?.createStrategy !== "function") throw new Error(`${source} exports no 'plugins' catalogue`);
      return m.plugins;
    });
// Reported per request below; keeps an import failure from being an unhandled rejection.
catalogue.catch(() => undefined);

/** By `WorkerRequest.strategy`, in order of last use (a Map iterates in insertion order). */
const strategies = new Map<number, Strategy>();

async function answer(msg: WorkerRequest): Promise<WorkerResponse> {
  try {
    const plugins = await catalogue;
    let strategy = strategies.get(msg.strategy);
    if (strategy === undefined) {
      strategy = plugins.createStrategy(msg.req.study.strategy).strategy;
      for (const oldest of strategies.keys()) {
        if (strategies.size < keep) break;
        strategies.delete(oldest);
      }
    } else strategies.delete(msg.strategy);
    strategies.set(msg.strategy, strategy);
    const req: SuggestRequest = { ...msg.req, rng: Rng.derive(msg.req.study.seed, msg.req.trialNumber, "suggest") };
    return { id: msg.id, ok: true, suggestion: strategy.suggest(req) };
  } catch (err) {
    const e = err as { code?: string; message?: string; data?: Record<string, unknown> };
    return { id: msg.id, ok: false, error: { name: (err as Error)?.name ?? "Error", code: e.code, message: e.message ?? String(err), data: e.data } };
  }
}

parentPort?.on("message", (msg: WorkerRequest) => {
  void answer(msg).then((reply) => parentPort?.postMessage(reply));
});
