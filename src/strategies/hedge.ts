/**
 * What the two hedges share — `auto`'s GP/TPE portfolio (auto/auto-strategy.ts `hedgeShare`) and
 * `ehvi`'s Chebyshev/EHVI acquisition (ehvi/ehvi-strategy.ts `ehviShare`): each scores the latest
 * proposals of two arms, recorded in a system attribute, and turns the difference of their scores
 * into the first arm's share of the next suggestion. The constants were set once for the
 * single-objective hedge before its first run, and reused for the second, whose floor is half
 * `HEDGE_FLOOR` since run 12 (ehvi/ehvi-strategy.ts `EHVI_HEDGE_FLOOR`).
 */
import type { Trial } from "../domain/trial.js";

/** How many of each arm's latest scored proposals score it. */
export const HEDGE_WINDOW = 8;
/** The smallest share either arm keeps, so a lagging arm can come back. */
export const HEDGE_FLOOR = 0.2;
/** Temperature of the logistic map from the score difference to the first arm's share. */
export const HEDGE_TEMPERATURE = 0.1;

/**
 * Positions in `trials` of each arm's latest `window` proposals (newest first): trials whose
 * system attribute `attr` names the arm and for which `scored(i)` holds.
 */
export function latestProposals<A extends string>(
  trials: readonly Trial[], attr: string, arms: readonly [A, A], window: number, scored: (i: number) => boolean,
): Record<A, number[]> {
  const picked = { [arms[0]]: [] as number[], [arms[1]]: [] as number[] } as Record<A, number[]>;
  for (let i = trials.length - 1; i >= 0 && (picked[arms[0]].length < window || picked[arms[1]].length < window); i--) {
    const arm = trials[i]!.systemAttrs[attr];
    if ((arm === arms[0] || arm === arms[1]) && picked[arm as A].length < window && scored(i)) picked[arm as A].push(i);
  }
  return picked;
}

/** The first arm's share: the logistic of `advantage` (its score minus the other's) over `temperature`, within [floor, 1 − floor]. */
export function hedgeSplit(advantage: number, temperature: number, floor: number): number {
  const share = 1 / (1 + Math.exp(-advantage / temperature));
  return Math.min(1 - floor, Math.max(floor, share));
}
