/**
 * Resolving a study's strategy and scheduler by name, with their options validated.
 * The catalogue (`describePlugins`) feeds `--help`, MCP and error messages alike.
 */
import { z } from "zod";
import { formatZodError } from "../domain/distributions.js";
import { invalidArgument } from "../domain/errors.js";
import type { PluginConfig } from "../domain/trial.js";
import { SCHEDULERS } from "../schedulers/index.js";
import type { Scheduler, SchedulerFactory } from "../schedulers/scheduler.js";
import { STRATEGIES } from "../strategies/index.js";
import type { Strategy, StrategyFactory } from "../strategies/strategy.js";

/** A plug-in named on the wire: a bare name or `{name, options}`. */
export const pluginRefSchema = z.union([
  z.string().min(1),
  z.object({ name: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).strict(),
]);
export type PluginRef = z.infer<typeof pluginRefSchema>;

function normalise(ref: PluginRef): { name: string; options: Record<string, unknown> } {
  return typeof ref === "string" ? { name: ref, options: {} } : { name: ref.name, options: ref.options ?? {} };
}

function parseOptions(kind: string, factory: { name: string; options: z.ZodType<unknown> }, raw: Record<string, unknown>) {
  const parsed = factory.options.safeParse(raw);
  if (!parsed.success)
    throw invalidArgument(`bad options for ${kind} '${factory.name}': ${formatZodError(parsed.error)}`, {
      options_schema: z.toJSONSchema(factory.options, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
    });
  return parsed.data as Record<string, unknown>;
}

/** Validates a strategy reference and fills in option defaults. @throws INVALID_ARGUMENT listing valid names. */
export function resolveStrategyConfig(ref: PluginRef): PluginConfig {
  const { name, options } = normalise(ref);
  const factory = STRATEGIES.get(name);
  if (!factory)
    throw invalidArgument(`unknown strategy '${name}'; valid strategies: ${[...STRATEGIES.keys()].join(", ")}`, {
      valid: [...STRATEGIES.keys()],
    });
  return { name, options: parseOptions("strategy", factory, options) };
}

/**
 * Validates a scheduler reference and fills in option defaults, the study's budget
 * (`maxResource`, create_study `max_resource`) included where the scheduler takes one
 * (`SchedulerFactory.withStudyBudget`). @throws INVALID_ARGUMENT listing valid names.
 */
export function resolveSchedulerConfig(ref: PluginRef, maxResource?: number): PluginConfig {
  const { name, options } = normalise(ref);
  const factory = SCHEDULERS.get(name);
  if (!factory)
    throw invalidArgument(
      `unknown scheduler '${name}'; valid schedulers: ${[...SCHEDULERS.keys()].join(", ") || "(none)"}`,
      { valid: [...SCHEDULERS.keys()] },
    );
  const raw = maxResource !== undefined && factory.withStudyBudget ? factory.withStudyBudget(options, maxResource) : options;
  return { name, options: parseOptions("scheduler", factory, raw) };
}

/** Refuses strategy/scheduler pairs that make no sense. @throws INVALID_ARGUMENT with the reason. */
export function checkCompatible(strategy: PluginConfig, scheduler: PluginConfig | null): void {
  if (!scheduler) return;
  const sf = STRATEGIES.get(strategy.name) as StrategyFactory<unknown>;
  const cf = SCHEDULERS.get(scheduler.name) as SchedulerFactory<unknown>;
  const reason = sf.incompatibleWith?.(scheduler, strategy.options) ?? cf.incompatibleWith?.(strategy, scheduler.options) ?? null;
  if (reason) throw invalidArgument(`strategy '${strategy.name}' cannot be combined with scheduler '${scheduler.name}': ${reason}`);
}

export function createStrategy(cfg: PluginConfig): { strategy: Strategy; factory: StrategyFactory<unknown> } {
  const factory = STRATEGIES.get(cfg.name) as StrategyFactory<unknown> | undefined;
  if (!factory) throw invalidArgument(`unknown strategy '${cfg.name}'`);
  return { strategy: factory.create(cfg.options), factory };
}

export function createScheduler(cfg: PluginConfig | null): Scheduler | null {
  if (!cfg) return null;
  const factory = SCHEDULERS.get(cfg.name) as SchedulerFactory<unknown> | undefined;
  if (!factory) throw invalidArgument(`unknown scheduler '${cfg.name}'`);
  return factory.create(cfg.options);
}

export interface PluginDescription {
  kind: "strategy" | "scheduler";
  name: string;
  description: string;
  /** JSON Schema of the options (defaults included). */
  options: Record<string, unknown>;
}

/** The whole catalogue, for `tuneport strategies`, MCP and docs. */
export function describePlugins(): PluginDescription[] {
  const out: PluginDescription[] = [];
  for (const f of STRATEGIES.values())
    out.push({ kind: "strategy", name: f.name, description: f.description, options: jsonSchemaOf(f.options) });
  for (const f of SCHEDULERS.values())
    out.push({ kind: "scheduler", name: f.name, description: f.description, options: jsonSchemaOf(f.options) });
  return out;
}

function jsonSchemaOf(schema: z.ZodType<unknown>): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
}
