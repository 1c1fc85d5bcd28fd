/**
 * The `ehvi` strategy's acquisition on the `gp` strategy's mixed-space search (../gp/gp-acquisition.ts):
 * log EHVI over one independent GP per objective (ehvi.ts), plus Σ_k log PoF of the constraint
 * models, which `MixedSearch` adds. Candidates are all scored exactly: unlike LogEI, log EHVI is
 * not monotone in each σ (a side [l, u] around μ shrinks in expectation as σ grows), so the
 * variance-bound pruning of `AcquisitionSearch.topCandidates` does not apply.
 */
import { type AcquisitionOptions, MixedSearch, type SearchBox, VAR_FLOOR } from "../gp/gp-acquisition.js";
import type { ConstraintModel } from "../gp/gp-constraints.js";
import type { Dim } from "../gp/gp-dims.js";
import type { GpPosterior } from "../gp/gp-model.js";

/** What the search maximises from the objectives' posteriors: LogEhvi (ehvi.ts) or LogChebyshevEi (chebyshev-ei.ts). */
export interface ObjectivesAcquisition {
  /** The acquisition at posterior means and standard deviations; with `gradient`, fills dMu/dSigma. */
  evaluate(mu: ArrayLike<number>, sigma: ArrayLike<number>, gradient?: boolean): number;
  readonly dMu: Float64Array;
  readonly dSigma: Float64Array;
}

/** Candidates predicted per `predictBatch` call. */
const BLOCK = 64;

export class EhviSearch extends MixedSearch {
  private readonly mu: Float64Array;
  private readonly sigma: Float64Array;
  private readonly dMean: Float64Array[];
  private readonly dVar: Float64Array[];
  /** Per objective: whether its variance was floored at the last `negAt` (its σ then has no gradient). */
  private readonly floored: Uint8Array;

  constructor(
    private readonly objectives: readonly GpPosterior[],
    private readonly ehvi: ObjectivesAcquisition,
    dims: Dim[],
    opts: AcquisitionOptions,
    box: SearchBox | null = null,
    constraints: readonly ConstraintModel[] = [],
  ) {
    super(dims, opts, box, constraints);
    this.mu = new Float64Array(objectives.length);
    this.sigma = new Float64Array(objectives.length);
    this.dMean = objectives.map(() => new Float64Array(dims.length));
    this.dVar = objectives.map(() => new Float64Array(dims.length));
    this.floored = new Uint8Array(objectives.length);
  }

  protected objectiveRows(): number {
    let rows = 0;
    for (const gp of this.objectives) rows += gp.n;
    return rows;
  }

  value(x: Float64Array): number {
    this.objectives.forEach((gp, j) => {
      gp.predict(x);
      this.mu[j] = gp.mean;
      this.sigma[j] = Math.sqrt(gp.variance > VAR_FLOOR ? gp.variance : VAR_FLOOR);
    });
    return this.ehvi.evaluate(this.mu, this.sigma) + this.constraintValue(x);
  }

  protected negAt(g: Float64Array): number {
    const { full, contMask, contIdx, floored } = this;
    this.objectives.forEach((gp, j) => {
      gp.predictWithGradient(full, contMask, this.dMean[j]!, this.dVar[j]!);
      floored[j] = gp.variance > VAR_FLOOR ? 0 : 1;
      this.mu[j] = gp.mean;
      this.sigma[j] = Math.sqrt(floored[j] ? VAR_FLOOR : gp.variance);
    });
    const v = this.ehvi.evaluate(this.mu, this.sigma, true);
    g.fill(0);
    if (!Number.isFinite(v)) return -v;
    for (let j = 0; j < this.objectives.length; j++) {
      const dMu = this.ehvi.dMu[j]!;
      const dSigma = this.ehvi.dSigma[j]!;
      const dMean = this.dMean[j]!;
      const dVar = this.dVar[j]!;
      const s = this.sigma[j]!;
      for (let k = 0; k < contIdx.length; k++) {
        const m = contIdx[k]!;
        const dS = floored[j] ? 0 : dVar[m]! / (2 * s);
        g[k] = g[k]! - (dMu * dMean[m]! + dSigma * dS);
      }
    }
    return -v;
  }

  protected topCandidates(cands: Float64Array, nc: number, k: number): number[] {
    const { d } = this;
    const mj = this.objectives.map(() => new Float64Array(BLOCK));
    const vj = this.objectives.map(() => new Float64Array(BLOCK));
    const cm = new Float64Array(BLOCK);
    const cv = new Float64Array(BLOCK);
    this.exact = new Float64Array(nc).fill(NaN);
    for (let start = 0; start < nc; start += BLOCK) {
      const count = Math.min(BLOCK, nc - start);
      const xs = cands.subarray(start * d, (start + count) * d);
      this.objectives.forEach((gp, j) => gp.predictBatch(xs, count, mj[j]!, vj[j]!));
      for (let i = 0; i < count; i++) {
        for (let j = 0; j < this.objectives.length; j++) {
          this.mu[j] = mj[j]![i]!;
          const v = vj[j]![i]!;
          this.sigma[j] = Math.sqrt(v > VAR_FLOOR ? v : VAR_FLOOR);
        }
        this.exact[start + i] = this.ehvi.evaluate(this.mu, this.sigma);
      }
      for (const con of this.constraints) {
        con.gp.predictBatch(xs, count, cm, cv);
        for (let i = 0; i < count; i++) this.exact[start + i] = this.exact[start + i]! + MixedSearch.pof(con, cm[i]!, cv[i]!);
      }
    }
    const order = Array.from({ length: nc }, (_, c) => c).filter((c) => Number.isFinite(this.exact[c]!));
    order.sort((a, b) => this.exact[b]! - this.exact[a]! || a - b);
    return order.slice(0, k);
  }
}
