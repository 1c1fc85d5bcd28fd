/**
 * MCP prompts (issue 14 §4): "tune a training script", the steps an agent takes with these tools
 * to run a campaign beside training workers — written once here so that hosts can offer it as a
 * slash command.
 */
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";

/** The campaign recipe for a training script at `script` (a path or a short description). */
export function tuneScriptText(script: string, goal: string): string {
  return `Tune the hyperparameters of ${script} (goal: ${goal}) with the tuneport tools.

1. Read the script and pick the hyperparameters worth tuning and their ranges (log scale for
   learning rates and weight decay). Call list_strategies if a strategy or pruner matters.
2. create_study with a name, direction and space; set max_trials for a budget and
   load_if_exists: true if the study may already exist.
3. Have the script become a worker: with the Python client, study.optimize(objective) over the
   study (tp.connect(endpoint).load_study(name)); it reports epochs with trial.report so a
   scheduler can prune. Start one worker per GPU. Without workers, evaluate trials yourself:
   ask_trial (lease_ttl_s as long as one evaluation), renew_lease while it runs, tell_trial.
4. Seed the search with enqueue_trial: known-good settings, each with a rationale.
5. Loop: wait_for_progress (never poll), then study_summary; param_importances and
   best_trials (with params to keep results small) tell you where to look next; plot when a
   picture helps. Propose trials in promising or unexplored regions with enqueue_trial, withdraw
   stale proposals with cancel_trial, and record results you already have with add_trial.
   When the pruner prunes too early (many trials pruned at their first reports) or the best
   trials sit at a bound, update_study: relax the scheduler's options, widen the space, or
   switch strategy (the history is kept); note why in notes.
6. When the trend is a plateau or the budget is spent, stop_study: workers finish their running
   trials and exit cleanly. Report the best trial's params and value, and how sure you are
   (how many trials, how much the top ones differ).

Results are paged: follow next_cursor, or ask for fields and params instead of raising max_chars.`;
}

/** Registers the prompts on `server`. */
export function registerPrompts(server: McpServer): void {
  server.registerPrompt(
    "tune_training_script",
    {
      title: "Tune a training script",
      description: "The steps to tune a training script's hyperparameters with tuneport: study, workers, proposals, steering, stop.",
      argsSchema: {
        script: z.string().describe("The training script (path or short description)."),
        goal: z.string().optional().describe("What to optimize, e.g. 'minimize validation loss'."),
      },
    },
    ({ script, goal }) => ({
      messages: [{ role: "user", content: { type: "text", text: tuneScriptText(script, goal ?? "the best validation metric") } }],
    }),
  );
}
