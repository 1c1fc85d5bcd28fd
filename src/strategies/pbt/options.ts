/**
 * PBT's and PB2's options (pbt-strategy.ts says what each does), with where Ray Tune's names went.
 */
import { z } from "zod";
import { foreignOptionNames } from "../../domain/plugin-options.js";

export const RETRY_INSTEAD = (name: string) =>
  `A lost member's slot is refilled from a donor's checkpoint on a later ask, up to the strategy option max_failures (default 3; Ray Tune's FailureConfig max_failures): strategy {name: '${name}', options: {max_failures: N}}`;
const RAY_MODE =
  "mode here is 'asynchronous' (the default) or 'synchronous' (Ray Tune's synch); Ray Tune's mode 'min'/'max' is the study's direction (create_study direction='minimize'/'maximize')";

export const options = z
  .object({
    population_size: z.number().int().min(2).max(10_000).default(4),
    perturbation_interval: z.number().positive().finite().default(5),
    quantile_fraction: z.number().gt(0).max(0.5).default(0.25),
    resample_probability: z.number().min(0).max(1).default(0.25),
    perturbation_factors: z.tuple([z.number().positive().finite(), z.number().positive().finite()]).default([0.8, 1.2]),
    mode: z
      .enum(["asynchronous", "synchronous"], {
        // Ray Tune's PBT `mode` is the metric's direction; here it is what Ray calls `synch`.
        error: (i) => (i.input === "min" || i.input === "max" ? RAY_MODE : undefined),
      })
      .default("asynchronous"),
    burn_in_period: z
      .number()
      .min(0)
      .finite()
      .default(0)
      .describe(
        "Ray Tune's burn_in_period, in the trial's own steps: no perturbation decision (exploit or explore) for a member before it reported a step at or beyond it; " +
          "it still ranks and can be a donor. Asynchronous: the first decision comes at the first report at or past max(perturbation_interval, burn_in_period); " +
          "synchronous: at the first boundary (a multiple of perturbation_interval) at or past it. 0 (the default): none",
      ),
    exploit: z.boolean().default(true),
    explore: z.boolean().default(true),
    max_failures: z
      .number()
      .int()
      .min(-1)
      .max(1_000_000)
      .default(3)
      .describe(
        "How often a member slot is refilled after its trials failed (told FAIL: the training script raised), as Ray Tune's max_failures: " +
          "the slot is given up at its (max_failures + 1)th FAIL. A lost lease or an interrupted FAIL (Ctrl-C) counts only when the trial reported no step beyond the slot's highest " +
          "(a script that dies hard: segfault, CUDA OOM, SIGKILL; one that exits at once), and only in a consecutive run; a preempted worker that trained further never counts. " +
          "When no slot is left to refill, ask answers SEARCH_SPACE_EXHAUSTED with data.reason 'max_failures'. -1: no limit; 0: never refill a failed member",
      ),
  })
  .strict()
  .refine((o) => o.exploit || o.explore, { message: "at least one of exploit and explore must be on" });
foreignOptionNames(options, {
  hyperparam_mutations: "Ray Tune's name; here the study's declared space is what PBT mutates (create_study space=...)",
  hyperparam_bounds: "Ray Tune's PB2 name; here the study's declared space gives the bounds (create_study space=...)",
  synch: "Ray Tune's name; here mode: 'synchronous' (or 'asynchronous', the default)",
  metric: "Ray Tune's name; here the value each report carries is the metric",
  time_attr: "Ray Tune's name; here the step each report carries counts toward perturbation_interval",
});
export type PbtOptions = z.infer<typeof options>;
