/**
 * Steering a study from outside its workers (issue 14 §2): cancel a queued proposal, record a
 * result obtained elsewhere (as Optuna's `add_trial`). Like trial-ops.ts, each runs under the
 * study's write lock, re-validates the study there, and commits through the service's pipeline.
 * Neither counts against the study's trial budget (`countsAgainstBudget`): only asks do.
 */
import { type Distribution, type ParamValue, distributionsEqual, parseDistribution, whyNotContained } from "../domain/distributions.js";
import { failedPrecondition, invalidArgument } from "../domain/errors.js";
import { checkConstraints, constraintCount } from "../domain/objectives.js";
import { valueFields } from "../domain/trial.js";
import type { ServiceCore } from "./core.js";
import type * as S from "./ops/schemas.js";
import { type TrialRecord, checkNewParams, learnParam, setTrial } from "./study-state.js";
import { checkRoomForIntermediate } from "./study-limits.js";
import { checkAttrsSize, trialOf } from "./trial-ops.js";
import { type TrialView, trialView } from "./views.js";

/**
 * Cancels a queued (WAITING) trial: it becomes FAIL with `fail_reason` "cancelled: <reason>" and
 * `system_attrs.cancelled`, and no worker gets it. @throws FAILED_PRECONDITION for any other state
 * (a running trial belongs to its worker; stop_study stops new ones), NOT_FOUND.
 */
export async function cancelTrial(core: ServiceCore, a: S.CancelTrialArgs, requestId?: string): Promise<{ trial: TrialView }> {
  const s = core.state(a.study);
  return core.mutate(requestId, "cancel_trial", (rc) =>
    s.writeLock.run(async () => {
      core.live(s);
      const t = trialOf(s, a.trial);
      if (t.state !== "WAITING")
        throw failedPrecondition(
          `trial ${t.number} of '${s.study.name}' is ${t.state}: only a queued (WAITING) trial can be cancelled`,
          { study: s.study.name, trial: t.number, state: t.state },
        );
      const now = core.now();
      const next: TrialRecord = {
        ...t,
        state: "FAIL",
        finishedAt: now,
        systemAttrs: { ...t.systemAttrs, cancelled: true, fail_reason: a.reason ? `cancelled: ${a.reason}` : "cancelled" },
      };
      return core.commit([{ kind: "update-trial", trial: next }], { trial: trialView(next, now) }, () => {
        setTrial(s, next);
        const i = s.waiting.indexOf(t.number);
        if (i >= 0) s.waiting.splice(i, 1);
        core.bump(s);
      }, rc);
    }),
  );
}

/**
 * Records a finished trial evaluated elsewhere. Every declared parameter needs a value inside its
 * distribution; any other parameter needs a distribution (in `distributions`, or one the study has
 * seen). COMPLETE needs a finite value; intermediate steps must increase. @throws INVALID_ARGUMENT
 * naming the declared parameters, NOT_FOUND.
 */
export async function addTrial(core: ServiceCore, a: S.AddTrialArgs, requestId?: string): Promise<{ trial: TrialView }> {
  const s = core.state(a.study);
  const state = a.state ?? "COMPLETE";
  const nObjectives = s.study.config.directions.length;
  const values = resultValues(a, nObjectives, state);
  checkRoomForIntermediate(s.study.name, null, 0, a.intermediate?.length ?? 0, core.maxIntermediate);
  const intermediate = (a.intermediate ?? []).map(([step, v]) => ({ step, value: v }));
  for (let i = 1; i < intermediate.length; i++)
    if ((intermediate[i]?.step as number) <= (intermediate[i - 1]?.step as number)) throw invalidArgument("intermediate steps must increase");
  if (a.user_attrs) checkAttrsSize(a.user_attrs);
  const given: Record<string, Distribution> = {};
  for (const [k, raw] of Object.entries(a.distributions ?? {})) given[k] = parseDistribution(k, raw);
  return core.mutate(requestId, "add_trial", (rc) =>
    s.writeLock.run(async () => {
      core.live(s);
      const declared = Object.keys(s.study.config.space);
      const missing = declared.filter((k) => !(k in a.params));
      if (missing.length > 0) throw invalidArgument(`add_trial needs a value for every declared parameter; missing: ${missing.join(", ")}`, { declared });
      const distributions: Record<string, Distribution> = {};
      for (const [k, v] of Object.entries(a.params)) {
        // A declared parameter keeps its distribution; a define-by-run one may take another per
        // trial (as `suggest` allows), else the one it was first seen with.
        const declaredDist = s.study.config.space[k];
        const d = declaredDist ?? given[k] ?? s.paramDists.get(k);
        if (!d)
          throw invalidArgument(`parameter '${k}' is neither declared nor seen in '${s.study.name}': pass its distribution in distributions`, {
            param: k,
            declared,
          });
        if (declaredDist && given[k] && !distributionsEqual(declaredDist, given[k] as Distribution))
          throw invalidArgument(`parameter '${k}' has the distribution ${JSON.stringify(declaredDist)} in this study`, { param: k });
        const why = whyNotContained(d, v as ParamValue);
        if (why !== null) throw invalidArgument(`value ${JSON.stringify(v)} of '${k}' is ${why}: '${k}' is ${JSON.stringify(d)}`, { param: k });
        distributions[k] = d;
      }
      checkNewParams(s, distributions);
      // As tell: the first COMPLETE trial fixes the length of every later one's constraint vector (under the lock).
      const constraints = state === "COMPLETE" ? checkConstraints(a.constraints, constraintCount(s.trials)) : null;
      const now = core.now();
      // A copied trial keeps its times (Optuna's add_trial and copy_study do); else it happened now.
      const finishedAt = a.finished_at !== undefined ? Math.round(a.finished_at * 1000) : now;
      const startedAt = a.started_at !== undefined ? Math.round(a.started_at * 1000) : Math.min(now, finishedAt);
      if (startedAt > finishedAt) throw invalidArgument(`started_at (${a.started_at}) is after finished_at (${a.finished_at ?? "now"})`);
      const t: TrialRecord = {
        id: core.allocTrialId(),
        studyId: s.study.id,
        number: s.trials.length,
        state,
        params: { ...a.params },
        distributions,
        ...valueFields(nObjectives, values),
        constraints,
        intermediate,
        userAttrs: { ...(a.user_attrs ?? {}) },
        systemAttrs: { added: true, ...(a.rationale ? { rationale: a.rationale } : {}) },
        createdAt: startedAt,
        startedAt,
        finishedAt,
        lease: null,
      };
      return core.commit([{ kind: "insert-trial", trial: t }], { trial: trialView(t, now) }, () => {
        setTrial(s, t);
        for (const [k, d] of Object.entries(distributions)) learnParam(s, k, d);
        core.bump(s);
      }, rc);
    }),
  );
}

/**
 * The objective values of an added trial, as `tell` takes them: `values` (one per objective) or,
 * in a one-objective study, `value`. COMPLETE needs them finite; a PRUNED or FAIL trial may carry
 * none. Constraints come only with COMPLETE. @throws INVALID_ARGUMENT.
 */
function resultValues(a: S.AddTrialArgs, nObjectives: number, state: string): number[] | null {
  if (a.value !== undefined && a.value !== null && a.values !== undefined) throw invalidArgument("give value or values, not both");
  const values = a.values ?? (a.value === undefined || a.value === null ? null : [a.value]);
  if (values !== null && values.length !== nObjectives)
    throw invalidArgument(`the study has ${nObjectives} objective(s); got ${values.length} value(s)${nObjectives > 1 ? " (pass values, one per direction)" : ""}`);
  if (values !== null && !values.every(Number.isFinite)) throw invalidArgument("values must be finite");
  // As Optuna's create_trial: a failed trial has no result (a stored one would rank it by value).
  if (state === "FAIL" && values !== null) throw invalidArgument(`a FAIL trial has no value: leave ${a.values !== undefined ? "values" : "value"} out, or add it as COMPLETE`);
  if (state === "COMPLETE" && values === null)
    throw invalidArgument(nObjectives > 1 ? `a COMPLETE trial needs values, one per objective (${nObjectives})` : "a COMPLETE trial needs a finite value");
  if (a.constraints !== undefined && state !== "COMPLETE") throw invalidArgument("constraints come with a COMPLETE result only");
  return values;
}
