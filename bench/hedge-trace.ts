/**
 * What `auto`'s GP/TPE hedge does over a run: a sequential loop (as src/testing/fixtures.ts
 * `runOnProblem`) on 6-D Hartmann, where the GP leads, and a shifted 5-D Rosenbrock, where TPE leads,
 * printing per seed GP's mean share of the suggestions in trials 10–29, 30–59 and 60–99 and, for
 * each arm's proposals from trial 40 on, how many it made, the mean share of the earlier trials they
 * beat, and how many were a new best. docs/BENCHMARKS.md, issue 17, "The hedge's credit".
 * Usage: npx tsc -p tsconfig.bench.json && node dist-bench/bench/hedge-trace.js ['{"portfolio_credit":"elite"}'] [seeds=4]
 */
import type { Trial } from "../src/domain/trial.js";
import { AutoStrategy, autoStrategyFactory } from "../src/strategies/auto/auto-strategy.js";
import { hartmann6, shiftedRosenbrock } from "../src/testing/benchmark-functions.js";
import { makeStudy, makeTrial, suggestRequest } from "../src/testing/fixtures.js";

const options = autoStrategyFactory.options.parse(JSON.parse(process.argv[2] ?? "{}"));
const seeds = Number(process.argv[3] ?? 4);
const bins = [[10, 30], [30, 60], [60, 100]] as const;
const LATE = 40;

for (const problem of [hartmann6, shiftedRosenbrock(5, 1)]) {
  for (let seed = 0; seed < seeds; seed++) {
    const auto = new AutoStrategy(options);
    const study = makeStudy(problem.space, { seed });
    const trials: Trial[] = [];
    const shares: number[][] = bins.map(() => []);
    const arms = { gp: { n: 0, beat: 0, best: 0 }, tpe: { n: 0, beat: 0, best: 0 } };
    let best = Infinity;
    for (let i = 0; i < 100; i++) {
      const req = suggestRequest(study, trials);
      if (i >= 10) bins.forEach(([a, b], k) => i >= a && i < b && shares[k]!.push(auto.hedgeShare(req)));
      const s = auto.suggest(req);
      const value = problem.evaluate(s.params);
      const arm = s.systemAttrs?.auto_arm;
      if ((arm === "gp" || arm === "tpe") && i >= LATE) {
        arms[arm].n++;
        arms[arm].beat += trials.filter((t) => (t.value as number) > value).length / trials.length;
        if (value < best) arms[arm].best++;
      }
      best = Math.min(best, value);
      trials.push(makeTrial(i, s.params, problem.space, { value, systemAttrs: s.systemAttrs ?? {} }));
    }
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    const arm = (a: "gp" | "tpe") => `${a} ${arms[a].n} proposals, beat ${(arms[a].beat / arms[a].n).toFixed(2)}, ${arms[a].best} new bests`;
    console.log(
      `${problem.name} seed ${seed}: best ${best.toPrecision(6)}; GP share ` +
        bins.map(([a, b], k) => `${a}-${b - 1} ${mean(shares[k]!).toFixed(2)}`).join(", ") +
        `; from trial ${LATE}: ${arm("gp")}; ${arm("tpe")}`,
    );
  }
}
