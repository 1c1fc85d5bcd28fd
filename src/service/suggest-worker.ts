/**
 * Worker-thread side of `WorkerRunner`: runs offloaded strategies' `suggest` off the
 * server's event loop. Strategy instances are kept per study so in-memory caches (a GP's
 * warm-start hyperparameters) carry over between asks.
 */
import { parentPort } from "node:worker_threads";
import { Rng } from "../math/rng.js";
import type { Strategy, SuggestRequest } from "../strategies/strategy.js";
import type { WorkerRequest, WorkerResponse } from "./worker-runner.js";
import { createStrategy } from "./plugins.js";

const strategies = new Map<string, Strategy>();

parentPort?.on("message", (msg: WorkerRequest) => {
  let reply: WorkerResponse;
  try {
    const key = `${msg.req.study.name}\u0000${JSON.stringify(msg.req.study.strategy)}`;
    let strategy = strategies.get(key);
    if (!strategy) {
      strategy = createStrategy(msg.req.study.strategy).strategy;
      strategies.set(key, strategy);
    }
    const req: SuggestRequest = { ...msg.req, rng: Rng.derive(msg.req.study.seed, msg.req.trialNumber, "suggest") };
    reply = { id: msg.id, ok: true, suggestion: strategy.suggest(req) };
  } catch (err) {
    const e = err as { code?: string; message?: string; data?: Record<string, unknown> };
    reply = { id: msg.id, ok: false, error: { name: (err as Error)?.name ?? "Error", code: e.code, message: e.message ?? String(err), data: e.data } };
  }
  parentPort?.postMessage(reply);
});
