import { describe, expect, it } from "vitest";
import { schedulerConformance } from "../../testing/scheduler.case.js";
import { curveTrial, reportOf } from "../../testing/fixtures.js";
import { thresholdSchedulerFactory } from "./threshold-scheduler.js";

// The case curve is f + 0.5/(1+t), f ∈ [0, 0.74]: an upper bound of 0.5 catches the worse trials.
schedulerConformance(thresholdSchedulerFactory, {
  options: { upper: 0.5, n_warmup_steps: 2 },
  maximizeOptions: { lower: -0.5, n_warmup_steps: 2 },
  warmupSteps: 2,
});

const make = (o: Record<string, unknown>) => thresholdSchedulerFactory.create(thresholdSchedulerFactory.options.parse(o));
const at = (reports: [number, number][]) => reportOf(curveTrial(0, reports, "RUNNING"), []);

describe("threshold scheduler", () => {
  it("needs a bound, and lower <= upper", () => {
    expect(thresholdSchedulerFactory.options.safeParse({}).success).toBe(false);
    expect(thresholdSchedulerFactory.options.safeParse({ lower: 2, upper: 1 }).success).toBe(false);
    expect(thresholdSchedulerFactory.options.safeParse({ lower: 0 }).success).toBe(true);
  });

  it("prunes outside [lower, upper] on the latest value, keeps the bounds themselves", () => {
    const s = make({ lower: 0, upper: 1 });
    expect(s.onReport(at([[0, 1.5]]))?.decision.action).toBe("prune");
    expect(s.onReport(at([[0, -0.1]]))?.decision.action).toBe("prune");
    expect(s.onReport(at([[0, 1]]))).toBeNull();
    expect(s.onReport(at([[0, 0]]))).toBeNull();
    expect(s.onReport(at([[0, 5], [1, 0.5]]))).toBeNull();
  });

  it("prunes NaN and infinite values beyond a bound, but not during the warm-up", () => {
    expect(make({ upper: 1 }).onReport(at([[0, NaN]]))?.decision.action).toBe("prune");
    expect(make({ lower: 0 }).onReport(at([[0, NaN]]))?.decision.action).toBe("prune");
    expect(make({ upper: 1 }).onReport(at([[0, Infinity]]))?.decision.action).toBe("prune");
    expect(make({ upper: 1 }).onReport(at([[0, -Infinity]]))).toBeNull();
    expect(make({ upper: 1, n_warmup_steps: 3 }).onReport(at([[2, NaN]]))).toBeNull();
  });
});
