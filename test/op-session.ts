/**
 * One scripted session that calls every op of the table once, through any `call` function (a raw
 * ZeroMQ client, the typed ZmqClient behind the MCP `--connect` backend, or the in-process
 * backend). The drift tests run it on each path and check that every op was reached.
 */
import type { OpName } from "../src/service/ops/ops.js";

export type Call = (op: OpName, args: Record<string, unknown>) => Promise<any>;

export interface Exchange {
  readonly op: OpName;
  readonly args: Record<string, unknown>;
  readonly result: unknown;
}

/** Calls every op (hello only where `withHello`), on a study named `study`; returns what was sent and answered. */
export async function runEveryOp(call: Call, study: string, withHello = true): Promise<Exchange[]> {
  const log: Exchange[] = [];
  const go = async (op: OpName, args: Record<string, unknown>) => {
    const result = await call(op, args);
    log.push({ op, args, result });
    return result;
  };
  if (withHello) await go("hello", { versions: [1], client: { name: "op-session" } });
  await go("catalogue", {});
  await go("create_study", {
    name: study,
    space: { lr: { type: "float", low: 1e-4, high: 0.1, log: true }, act: { type: "categorical", choices: ["relu", "gelu"] } },
    strategy: "random",
    seed: 7,
    user_attrs: { owner: "op-session" },
  });
  await go("get_study", { study });
  await go("list_studies", {});
  await go("enqueue", { study, params: { lr: 0.01, act: "gelu" }, rationale: "a known good point" });
  const queued = await go("enqueue", { study, params: { lr: 0.05, act: "relu" }, rationale: "withdrawn below" });
  await go("cancel_trial", { study, trial: queued.trial.number, reason: "not worth it" });
  await go("add_trial", { study, params: { lr: 0.02, act: "relu" }, value: 0.3, rationale: "measured elsewhere" });
  const a = await go("ask", { study, lease_ttl_s: 60, max_retries: 1 });
  const tok = a.lease.token as string;
  const trial = a.trial.number as number;
  await go("suggest", { study, trial, token: tok, name: "dropout", distribution: { type: "float", low: 0, high: 0.5 } });
  await go("heartbeat", { leases: [{ study, trial, token: tok }] });
  await go("report", { study, trial, token: tok, step: 1, value: 0.5 });
  await go("tell", { study, trial, token: tok, state: "COMPLETE", value: 0.25, user_attrs: { epochs: 1 } });
  await go("set_user_attrs", { study, trial, attrs: { note: "first" }, notes: "why this trial was run" });
  await go("update_study", {
    study,
    strategy: { name: "tpe", options: { n_startup_trials: 2 } },
    scheduler: { name: "median", options: { n_warmup_steps: 1 } },
    space: { lr: { type: "float", low: 1e-5, high: 0.1, log: true }, act: { type: "categorical", choices: ["relu", "gelu", "silu"] } },
    max_trials: 50,
    notes: "switched to TPE once the random start was done",
  });
  await go("export_study", { study, max_chars: 1000 });
  await go("trials", { study, states: ["COMPLETE"], order_by: "value" });
  await go("trial", { study, trial });
  await go("trajectory", { study, trial });
  await go("best", { study });
  await go("best_trials", { study, history: true });
  await go("lineage", { study });
  await go("study_summary", { study });
  await go("param_importances", { study });
  // Its arguments travel every path too: values of the caller's (Python's target=) for some parameters.
  await go("param_importances", { study, params: ["lr"], target_values: [[trial, 0.75]] });
  await go("plot", { study, kind: "history" });
  await go("plot_spec", { study, kind: "history", trials: [trial] });
  await go("query_trials", { study, states: ["COMPLETE"], ranges: { lr: { min: 1e-4 } }, sort: "params.lr", descending: true, limit: 10 });
  await go("studies_overview", {});
  await go("stop_study", { study });
  await go("resume_study", { study });
  await go("delete_study", { study });
  return log;
}
