/** The strategy catalogue: every strategy a study can name. */
import { autoStrategyFactory } from "./auto/auto-strategy.js";
import { cmaesStrategyFactory } from "./cmaes/cmaes-strategy.js";
import { ehviStrategyFactory } from "./ehvi/ehvi-strategy.js";
import { gpStrategyFactory } from "./gp/gp-strategy.js";
import { gridStrategyFactory } from "./grid/grid-strategy.js";
import { nsga2StrategyFactory } from "./nsga2/nsga2-strategy.js";
import { paregoStrategyFactory } from "./parego/parego-strategy.js";
import { makeHypergradientFactory } from "./hypergradient/hypergradient-strategy.js";
import { pb2StrategyFactory, pbtStrategyFactory } from "./pbt/pbt-strategy.js";
import { qmcStrategyFactory } from "./qmc/qmc-strategy.js";
import { randomStrategyFactory } from "./random/random-strategy.js";
import { tpeStrategyFactory } from "./tpe/tpe-strategy.js";
import type { StrategyFactory } from "../domain/plugin.js";

const catalogue = new Map<string, StrategyFactory<any>>(
  [
    autoStrategyFactory,
    randomStrategyFactory,
    gridStrategyFactory,
    qmcStrategyFactory,
    tpeStrategyFactory,
    gpStrategyFactory,
    cmaesStrategyFactory,
    pbtStrategyFactory,
    nsga2StrategyFactory,
    paregoStrategyFactory,
    ehviStrategyFactory,
    pb2StrategyFactory,
  ].map((f) => [f.name, f]),
);
// hypergradient delegates starting points to another entry of this same catalogue.
const hypergradientStrategyFactory = makeHypergradientFactory(() => catalogue);
catalogue.set(hypergradientStrategyFactory.name, hypergradientStrategyFactory);

export const STRATEGIES: ReadonlyMap<string, StrategyFactory<any>> = catalogue;

/** What a study gets when it names no strategy (see auto-strategy.ts for the evidence). */
export const DEFAULT_STRATEGY = "auto";
