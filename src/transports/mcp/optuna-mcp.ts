/**
 * optuna-mcp's tools (github.com/optuna/optuna-mcp, `optuna_mcp/server.py`) and what an agent that
 * knows them calls here. They are not aliases in `tools/list`: that list is bounded (12,000
 * characters, docs/MCP.md) and holds 28 tools already, and optuna-mcp's tools act on a current
 * study set by its create_study, where every tool here names its study. A call of one of those
 * names is refused as any unknown tool is (JSON-RPC -32602), its message naming the tool to call
 * and how its arguments map, so an agent's next call is the right one. docs/MCP.md, "From
 * optuna-mcp", is the same table for people.
 */

/** What one optuna-mcp tool is here: the tool to call and its arguments in optuna-mcp's terms. */
export interface OptunaMcpMapping {
  readonly use: string;
  readonly args: string;
}

const plot = (kind: string, extra = ""): OptunaMcpMapping => ({ use: "plot", args: `{study, kind: "${kind}"${extra}}` });

/** optuna-mcp's tools that tuneport has under another name (create_study, best_trials, add_trial keep theirs). */
export const OPTUNA_MCP_TOOLS: Readonly<Record<string, OptunaMcpMapping>> = {
  get_all_study_names: { use: "list_studies", args: "{} (each study with its directions, strategy and best value)" },
  ask: {
    use: "ask_trial",
    args: "{study}; declare search_space once as create_study's space, e.g. {x: {type: \"float\", low: -10, high: 10}}, or draw a parameter with suggest after ask_trial; keep the token it answers",
  },
  tell: { use: "tell_trial", args: "{study, trial: trial_number, token: the one ask_trial answered, value (values: one per objective)}" },
  set_sampler: { use: "update_study", args: "{study, strategy: \"tpe\" | \"nsga2\" | \"random\" | \"gp\"} (TPESampler, NSGAIISampler, RandomSampler, GPSampler), or create_study's strategy" },
  set_trial_user_attr: { use: "set_user_attrs", args: "{study, trial: trial_number, attrs: {key: value}}" },
  get_trial_user_attrs: { use: "get_trial", args: "{study, trial: trial_number} (user_attrs among the rest)" },
  set_metric_names: { use: "set_user_attrs", args: "{study, attrs: {\"tuneport:metric_names\": metric_names}} (one name per objective)" },
  get_metric_names: { use: "describe_study", args: "{study} (user_attrs[\"tuneport:metric_names\"])" },
  get_directions: { use: "describe_study", args: "{study} (directions)" },
  get_trials: { use: "list_trials", args: "{study} (a page at a time: limit, cursor; fields picks the columns)" },
  best_trial: { use: "best_trials", args: "{study, k: 1}" },
  add_trials: { use: "add_trial", args: "one call per trial: {study, params, value or values, state}" },
  plot_optimization_history: plot("history"),
  plot_hypervolume_history: plot("hypervolume_history"),
  plot_pareto_front: plot("pareto_front"),
  plot_contour: plot("contour", ", params"),
  plot_parallel_coordinate: plot("parallel_coordinates", ", params"),
  plot_slice: plot("slice", ", params"),
  plot_param_importances: plot("importances"),
  plot_edf: plot("edf"),
  plot_timeline: { use: "list_trials", args: "{study, fields: [\"state\", \"duration_s\"]} (no timeline plot: each trial's state and duration)" },
  plot_rank: plot("slice", ", params (no rank plot: slice draws the objective against each parameter)"),
  launch_optuna_dashboard: { use: "tuneport serve --dashboard PORT", args: "a command to run, not a tool (the dashboard serves the same studies)" },
};

/**
 * The message of a call to a tool this server lacks: the tool to call instead when `name` is one
 * of optuna-mcp's, then every tool.
 */
export function unknownToolMessage(name: string, tools: readonly string[]): string {
  const m = Object.hasOwn(OPTUNA_MCP_TOOLS, name) ? OPTUNA_MCP_TOOLS[name] : undefined;
  const hint = m
    ? ` (optuna-mcp's ${name}; here: ${m.use} ${m.args}. Every tool here names its study: there is no current study)`
    : "";
  return `Unknown tool '${name}'${hint}. Tools: ${tools.join(", ")}`;
}

/**
 * What a refused call of one of our tools lacks in optuna-mcp's terms, as " (…)" to follow zod's
 * message, or "": its study (optuna-mcp's tools act on the study its create_study set), the lease
 * token that tell_trial needs (optuna-mcp's tell takes a trial number alone), or `values` given as
 * one number (optuna-mcp's tell takes a float or a list).
 */
export function missingArgumentHint(tool: string, takes: readonly string[], raw: Record<string, unknown>): string {
  const hints: string[] = [];
  if (takes.includes("study") && raw.study === undefined)
    hints.push("every tool names its study, as create_study named it: there is no current study; list_studies shows them");
  if (tool === "tell_trial" && raw.token === undefined) hints.push("token is the one ask_trial answered with this trial");
  if (takes.includes("values") && typeof raw.values === "number") hints.push("values is a list, one per objective: one number goes in value");
  return hints.length > 0 ? ` (${hints.join("; ")})` : "";
}

/** Why `arg` is not one of `tool`'s, in optuna-mcp's terms, or null. */
export function optunaMcpArgumentHint(tool: string, arg: string): string | null {
  if (tool === "add_trial" && arg === "trial") return "optuna-mcp's TrialToAdd: give its params, values (or value) and state as add_trial's own arguments";
  return null;
}
