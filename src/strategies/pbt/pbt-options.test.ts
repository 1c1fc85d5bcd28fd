import { describe, expect, it } from "vitest";
import { StudyService } from "../../service/study-service.js";
import { toyProblem } from "../../testing/pbt-problems.js";
import { clockedService } from "../../testing/clocked-service.js";

describe("pbt options through the service", () => {
  let svc: StudyService;
  clockedService((s) => (svc = s));

  const create = (name: string, strategy: string, retry?: Record<string, unknown>, options: Record<string, unknown> = {}) =>
    svc.createStudy({ name, space: toyProblem.space, direction: "maximize", strategy: { name: strategy, options: { population_size: 2, ...options } }, ...(retry ? { retry } : {}) });

  it("refuses a retry policy it would ignore (it refills lost members itself), naming max_failures", async () => {
    for (const strategy of ["pbt", "pb2"])
      for (const retry of [{ max_retries: 3 }, { retry_on_fail: true }, { keep_intermediate: true }]) {
        const key = Object.keys(retry)[0] as string;
        await expect(create(`r-${strategy}-${key}`, strategy, retry)).rejects.toMatchObject({
          code: "INVALID_ARGUMENT",
          message: expect.stringMatching(new RegExp(`strategy '${strategy}' replaces lost trials itself.*${key}=.*would be ignored.*max_failures`)),
        });
      }
    // Asking for nothing is not refused; other strategies keep their retries.
    await create("zero", "pbt", { max_retries: 0, retry_on_fail: false });
    await svc.createStudy({ name: "rnd", space: toyProblem.space, strategy: "random", retry: { max_retries: 3 } });
    await expect(svc.ask({ study: "zero", max_retries: 2 })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/ask's max_retries=2 would be ignored/) });
    expect((await svc.ask({ study: "zero", max_retries: 0 })).trial.system_attrs.pbt_member).toBe(0);
    expect((await svc.ask({ study: "rnd", max_retries: 2 })).trial.system_attrs.max_retries).toBe(2);
  });

  it("refuses a switch by update_study to it of a study whose retry policy it would ignore", async () => {
    await svc.createStudy({ name: "rnd-retry", space: toyProblem.space, strategy: "random", retry: { max_retries: 5, retry_on_fail: true } });
    for (const strategy of ["pbt", "pb2"])
      await expect(svc.updateStudy({ study: "rnd-retry", strategy: { name: strategy, options: { population_size: 2 } } })).rejects.toMatchObject({
        code: "INVALID_ARGUMENT",
        message: expect.stringMatching(new RegExp(`strategy '${strategy}' replaces lost trials itself.*the study's retry.*max_retries=5, retry_on_fail=true would be ignored`)),
      });
    // Without a retry policy (the default one, max_retries 2) the switch goes on.
    await svc.createStudy({ name: "rnd-plain", space: toyProblem.space, strategy: "random" });
    await expect(svc.updateStudy({ study: "rnd-plain", strategy: { name: "pbt", options: { population_size: 2 } } })).resolves.toBeDefined();
  });

  /** The steps at which member a (always worse than b) got a perturbation decision, over steps 1..8. */
  async function decisionSteps(name: string, options: Record<string, unknown>): Promise<number[]> {
    await svc.createStudy({ name, space: toyProblem.space, direction: "maximize", seed: 5, strategy: { name: "pbt", options: { population_size: 2, perturbation_interval: 2, resample_probability: 0, ...options } } });
    const a = await svc.ask({ study: name });
    const b = await svc.ask({ study: name });
    const out: number[] = [];
    for (let step = 1; step <= 8; step++) {
      await svc.report({ study: name, trial: b.trial.number, token: b.lease.token, step, value: 0.9, data: { checkpoint: `b/${step}` } });
      const d = await svc.report({ study: name, trial: a.trial.number, token: a.lease.token, step, value: 0.1, data: { checkpoint: `a/${step}` } });
      if (d.decision.action === "update") out.push(step);
    }
    return out;
  }

  it("burn_in_period (Ray Tune's, in steps): no perturbation before it; the default keeps the interval alone", async () => {
    expect(await decisionSteps("none", {})).toEqual([2, 4, 6, 8]);
    expect(await decisionSteps("async", { burn_in_period: 5 })).toEqual([5, 7]);
    expect(await decisionSteps("sync", { burn_in_period: 5, mode: "synchronous" })).toEqual([6, 8]);
    expect(await decisionSteps("sync-none", { mode: "synchronous" })).toEqual([2, 4, 6, 8]);
    const view = await svc.createStudy({ name: "defaults", space: toyProblem.space, strategy: "pbt" });
    expect(view.study.strategy.options).toMatchObject({ burn_in_period: 0, perturbation_interval: 5 });
    for (const bad of [-1, "5"])
      await expect(create(`bad-${String(bad)}`, "pbt", undefined, { burn_in_period: bad })).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: expect.stringMatching(/burn_in_period/) });
  });
});
