/**
 * The acquisition's candidate ranking (`topCandidates`) skips exact variances it can prove
 * useless: first by a one-point variance bound, then part-way through a candidate's triangular
 * solve (gp-model.ts `predictBatch`). Both must leave the top k exactly what scoring every
 * candidate exactly gives, with and without a constraint model.
 */
import { describe, expect, it } from "vitest";
import type { Params, SearchSpace } from "../../domain/distributions.js";
import { sampleUniform } from "../../domain/sampling.js";
import type { Trial } from "../../domain/trial.js";
import { Rng } from "../../math/rng.js";
import { makeStudy, makeTrial, suggestRequest } from "../../testing/fixtures.js";
import { AcquisitionSearch } from "./gp-acquisition.js";
import { classify } from "./gp-dims.js";
import { GpObjective, GpPosterior, type GpInputs } from "./gp-model.js";
import { gpStrategyFactory } from "./gp-strategy.js";

class Probe extends AcquisitionSearch {
  top(cands: Float64Array, nc: number, k: number): number[] {
    return this.topCandidates(cands, nc, k);
  }
  scored(): Float64Array {
    return this.exact;
  }
}

const d = 4;
const dims = Array.from({ length: d }, (_, m) => classify(`x${m}`, { type: "float", low: 0, high: 1 }));
const opts = { nCandidates: 0, nLocalSearches: 0, maxAcqIterations: 0 };

/** A posterior fitted to n points of a smooth function (or `g` when given) at a fixed θ. */
function posterior(n: number, seed: number, g?: (x: Float64Array, i: number) => number): GpPosterior {
  const rng = new Rng(seed);
  const X = Float64Array.from({ length: n * d }, () => rng.random());
  const f = g ?? ((x: Float64Array, i: number) => Math.sin(5 * x[i * d]!) + (x[i * d + 1]! - 0.4) ** 2 - 0.5 * x[i * d + 2]! * x[i * d + 3]!);
  const y = Float64Array.from({ length: n }, (_, i) => f(X, i));
  const inputs: GpInputs = { n, d, X, isCat: new Uint8Array(d) };
  // Long lengthscales, as fitted on smooth problems: every point correlates with many, so the
  // one-point bound is loose and the part-way pruning does the work.
  const theta = Float64Array.from([-1.5, -1.8, -2, -1.2, 1, -6]);
  const obj = new GpObjective(inputs, y);
  obj.factor(theta);
  return new GpPosterior(inputs, theta, obj.L, obj.alpha, obj.jitter);
}

/** Every candidate's acquisition, one by one; the top k by it (ties by index). */
function bruteForce(probe: Probe, cands: Float64Array, nc: number, k: number): { order: number[]; value: Float64Array } {
  const value = Float64Array.from({ length: nc }, (_, c) => probe.value(cands.slice(c * d, c * d + d)));
  const order = Array.from({ length: nc }, (_, c) => c)
    .filter((c) => Number.isFinite(value[c]!))
    .sort((a, b) => value[b]! - value[a]! || a - b)
    .slice(0, k);
  return { order, value };
}

describe("topCandidates", () => {
  it.each([
    { n: 150, k: 9, seed: 1 },
    { n: 150, k: 1, seed: 2 },
    { n: 150, k: 100, seed: 3 },
    { n: 300, k: 60, seed: 4 },
    { n: 40, k: 30, seed: 5 },
  ])("is the brute-force top k (n = $n, k = $k)", ({ n, k, seed }) => {
    const gp = posterior(n, seed);
    const probe = new Probe(gp, dims, -0.9, opts);
    const rng = new Rng(seed, "cands");
    const nc = 1024;
    const cands = Float64Array.from({ length: nc * d }, () => rng.random());
    const top = probe.top(cands, nc, k);
    const brute = bruteForce(probe, cands, nc, k);
    expect(top).toEqual(brute.order);
    for (const c of top) expect(probe.scored()[c]).toBeCloseTo(brute.value[c]!, 9);
    // Pruning happened: not every candidate was scored exactly.
    expect(probe.scored().filter((v) => !Number.isNaN(v)).length).toBeLessThan(nc);
  });

  it("is the brute-force top k when there are too many candidates to keep their kernel rows", () => {
    // 30,000 candidates × 150 rows: above the 4 Mi doubles kept, so the rows are recomputed.
    const gp = posterior(150, 9);
    const probe = new Probe(gp, dims, -0.9, opts);
    const rng = new Rng(10, "cands");
    const nc = 30_000;
    const cands = Float64Array.from({ length: nc * d }, () => rng.random());
    expect(probe.top(cands, nc, 9)).toEqual(bruteForce(probe, cands, nc, 9).order);
  });

  it("is the brute-force top k with a constraint's probability of feasibility", () => {
    const gp = posterior(150, 5);
    const con = { gp: posterior(150, 6, (X, i) => X[i * d]! + X[i * d + 1]! - 1), threshold: 0 };
    const probe = new Probe(gp, dims, -0.9, opts, null, [con]);
    const rng = new Rng(7, "cands");
    const nc = 1024;
    const cands = Float64Array.from({ length: nc * d }, () => rng.random());
    const top = probe.top(cands, nc, 60);
    expect(top).toEqual(bruteForce(probe, cands, nc, 60).order);
  });

  it("is the brute-force top k inside real suggestions, where most candidates are given up part-way", () => {
    // A smooth 6-D objective with 200 random trials: the fitted lengthscales are long, every
    // candidate correlates with many trials, and the one-point bound alone prunes little.
    const space: SearchSpace = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`x${i}`, { type: "float" as const, low: 0, high: 1 }]));
    const f = (p: Params) => Object.values(p).reduce<number>((a, v, i) => a + ((v as number) - 0.3 - 0.04 * i) ** 2 + 0.05 * Math.sin(12 * ((v as number) - 0.3 - 0.04 * i)), 0);
    const rng = new Rng(8, "history");
    const trials: Trial[] = [];
    for (let i = 0; i < 200; i++) {
      const p = Object.fromEntries(Object.entries(space).map(([k, dist]) => [k, sampleUniform(dist, rng)]));
      trials.push(makeTrial(i, p, space, { value: f(p) }));
    }
    type Top = (this: AcquisitionSearch, cands: Float64Array, nc: number, k: number) => number[];
    const proto = AcquisitionSearch.prototype as unknown as { topCandidates: Top };
    const realTop = proto.topCandidates;
    const realBatch = GpPosterior.prototype.predictBatch;
    const calls: { search: AcquisitionSearch; cands: Float64Array; nc: number; k: number; top: number[] }[] = [];
    let offered = 0;
    let givenUp = 0;
    proto.topCandidates = function (cands, nc, k) {
      const top = realTop.call(this, cands, nc, k);
      calls.push({ search: this, cands: cands.slice(), nc, k, top: [...top] });
      return top;
    };
    GpPosterior.prototype.predictBatch = function (xs, count, means, variances, prune, rows) {
      realBatch.call(this, xs, count, means, variances, prune, rows);
      offered += count;
      for (let j = 0; j < count; j++) if (Number.isNaN(variances[j]!)) givenUp++;
    };
    try {
      const strategy = gpStrategyFactory.create(gpStrategyFactory.options.parse({}));
      strategy.suggest(suggestRequest(makeStudy(space, { seed: 3, strategy: { name: "gp", options: {} } }), trials));
    } finally {
      proto.topCandidates = realTop;
      GpPosterior.prototype.predictBatch = realBatch;
    }
    expect(calls.length).toBeGreaterThan(0);
    const { search, cands, nc } = calls[0]!;
    const value = Float64Array.from({ length: nc }, (_, c) => search.value(cands.slice(c * 6, c * 6 + 6)));
    const ranked = Array.from({ length: nc }, (_, c) => c)
      .filter((c) => Number.isFinite(value[c]!))
      .sort((a, b) => value[b]! - value[a]! || a - b);
    for (const { k, top } of calls) expect(top).toEqual(ranked.slice(0, k));
    // Deeper ranks (as Optuna's roulette start selection reads) put the k-th score among
    // candidates given up part-way, where a wrong bound would drop or admit one.
    for (const k of [50, 200, 600]) expect(realTop.call(search, cands, nc, k)).toEqual(ranked.slice(0, k));
    expect(givenUp).toBeGreaterThan(offered / 2);
  });
});
