/**
 * Box-constrained limited-memory BFGS: projected L-BFGS with an Armijo backtracking line
 * search (safeguarded quadratic interpolation) along the projection arc.
 *
 * Sources: Nocedal & Wright, "Numerical Optimization" (2nd ed.), Alg. 7.4 (two-loop
 * recursion) and §3.1 (Armijo condition, c1 = 1e-4); Bertsekas, "Projected Newton
 * methods" (SIAM J. Control Optim. 1982) for the active set: a variable at a bound whose
 * gradient pushes outward is held fixed for the step. This is simpler than Byrd, Lu,
 * Nocedal & Zhu's L-BFGS-B (no generalised Cauchy point) but has the same fixed points
 * and is what the GP fit and the acquisition search need: a few dozen dimensions,
 * smooth objectives, iteration caps.
 *
 * Defaults: memory m = 10, projected-gradient tolerance 1e-5 (∞-norm), relative
 * function tolerance 1e-12 (scipy's L-BFGS-B uses factr·eps ≈ 2.2e-9 with factr = 1e7;
 * callers pass their own), at most 20 backtracking steps.
 */

/** f(x), writing ∇f(x) into `g`. Non-finite values are treated as "step too long". */
export type ObjectiveWithGradient = (x: Float64Array, g: Float64Array) => number;

export interface LbfgsOptions {
  readonly lower?: ArrayLike<number>;
  readonly upper?: ArrayLike<number>;
  /** Iteration cap. Default 200. */
  readonly maxIter?: number;
  /** History pairs kept. Default 10. */
  readonly memory?: number;
  /** Stop when ‖P(x − ∇f) − x‖∞ ≤ pgtol. Default 1e-5. */
  readonly pgtol?: number;
  /** Stop when the relative decrease of f over an iteration is ≤ ftol. Default 1e-12. */
  readonly ftol?: number;
  /**
   * Length (2-norm) of the first, steepest-descent trial step, before any curvature is
   * known. Default 1. A warm start near the optimum wants a shorter one.
   */
  readonly initialStep?: number;
  /**
   * Called after every accepted step with the new iterate and value; returning true stops
   * the search there (reported as converged). Lets a caller abandon a search that is
   * heading somewhere already explored.
   */
  readonly stop?: (x: Float64Array, f: number) => boolean;
  /**
   * f alone, for the trial points of the last iteration allowed by `maxIter`, whose
   * gradients would go unused. Worth passing when the gradient costs much more than f.
   */
  readonly value?: (x: Float64Array) => number;
}

export interface LbfgsResult {
  readonly x: Float64Array;
  readonly f: number;
  readonly iterations: number;
  readonly evaluations: number;
  /** True when a tolerance (not the iteration cap or a line-search failure) stopped it. */
  readonly converged: boolean;
}

/**
 * Minimises `fg` from `x0` (not modified) within the box [lower, upper] (either may be
 * omitted for ±∞). The starting point is projected into the box first. Never throws on
 * bad numerics: if f(x0) is not finite it returns x0 projected with f = NaN.
 */
export function minimizeLbfgs(fg: ObjectiveWithGradient, x0: ArrayLike<number>, opts: LbfgsOptions = {}): LbfgsResult {
  const n = x0.length;
  const m = opts.memory ?? 10;
  const maxIter = opts.maxIter ?? 200;
  const pgtol = opts.pgtol ?? 1e-5;
  const ftol = opts.ftol ?? 1e-12;
  const initialStep = opts.initialStep ?? 1;
  const lo = opts.lower;
  const hi = opts.upper;
  const proj = (v: number, i: number): number => {
    let r = v;
    if (lo !== undefined && r < lo[i]!) r = lo[i]!;
    if (hi !== undefined && r > hi[i]!) r = hi[i]!;
    return r;
  };

  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = proj(x0[i]!, i);
  const g = new Float64Array(n);
  const xn = new Float64Array(n);
  const gn = new Float64Array(n);
  const d = new Float64Array(n);
  const q = new Float64Array(n);
  const free = new Uint8Array(n);
  const S = new Float64Array(m * n);
  const Y = new Float64Array(m * n);
  const rho = new Float64Array(m);
  const alpha = new Float64Array(m);
  let head = 0;
  let count = 0;

  let evaluations = 1;
  let f = fg(x, g);
  if (!Number.isFinite(f) || !allFinite(g)) return { x, f: NaN, iterations: 0, evaluations, converged: false };

  let iterations = 0;
  let converged = false;
  while (iterations < maxIter) {
    // Projected gradient and active set.
    let pg = 0;
    for (let i = 0; i < n; i++) {
      const step = Math.abs(proj(x[i]! - g[i]!, i) - x[i]!);
      if (step > pg) pg = step;
      const atLo = lo !== undefined && x[i]! <= lo[i]! && g[i]! > 0;
      const atHi = hi !== undefined && x[i]! >= hi[i]! && g[i]! < 0;
      free[i] = atLo || atHi ? 0 : 1;
    }
    if (pg <= pgtol) {
      converged = true;
      break;
    }
    iterations++;

    // Two-loop recursion on the free variables.
    for (let i = 0; i < n; i++) q[i] = free[i] ? g[i]! : 0;
    for (let c = 0; c < count; c++) {
      const j = (head - 1 - c + m) % m;
      let a = 0;
      for (let i = 0; i < n; i++) a += free[i] ? S[j * n + i]! * q[i]! : 0;
      a *= rho[j]!;
      alpha[j] = a;
      for (let i = 0; i < n; i++) if (free[i]) q[i] = q[i]! - a * Y[j * n + i]!;
    }
    let gamma = 1;
    if (count > 0) {
      const j = (head - 1 + m) % m;
      let sy = 0;
      let yy = 0;
      for (let i = 0; i < n; i++) {
        sy += S[j * n + i]! * Y[j * n + i]!;
        yy += Y[j * n + i]! * Y[j * n + i]!;
      }
      gamma = sy / yy;
    } else {
      let gg = 0;
      for (let i = 0; i < n; i++) gg += q[i]! * q[i]!;
      // First step: a move of length `initialStep` in the steepest direction, capped at the gradient step.
      gamma = Math.min(1, initialStep / Math.sqrt(gg));
    }
    for (let i = 0; i < n; i++) q[i] = q[i]! * gamma;
    for (let c = count - 1; c >= 0; c--) {
      const j = (head - 1 - c + m) % m;
      let b = 0;
      for (let i = 0; i < n; i++) b += free[i] ? Y[j * n + i]! * q[i]! : 0;
      b *= rho[j]!;
      for (let i = 0; i < n; i++) if (free[i]) q[i] = q[i]! + (alpha[j]! - b) * S[j * n + i]!;
    }
    let dg = 0;
    for (let i = 0; i < n; i++) {
      d[i] = free[i] ? -q[i]! : 0;
      dg += d[i]! * g[i]!;
    }
    if (!(dg < 0)) {
      // Not a descent direction (stale curvature): restart from steepest descent.
      count = 0;
      let gg = 0;
      for (let i = 0; i < n; i++) gg += free[i] ? g[i]! * g[i]! : 0;
      const s = Math.min(1, initialStep / Math.sqrt(gg));
      dg = 0;
      for (let i = 0; i < n; i++) {
        d[i] = free[i] ? -g[i]! * s : 0;
        dg += d[i]! * g[i]!;
      }
    }

    // Armijo backtracking along the projection arc.
    const valueOnly = iterations === maxIter && opts.value !== undefined;
    let t = 1;
    let fnew = NaN;
    let accepted = false;
    for (let ls = 0; ls < 20; ls++) {
      let decrease = 0;
      for (let i = 0; i < n; i++) {
        xn[i] = proj(x[i]! + t * d[i]!, i);
        decrease += g[i]! * (xn[i]! - x[i]!);
      }
      fnew = valueOnly ? opts.value!(xn) : fg(xn, gn);
      evaluations++;
      if (Number.isFinite(fnew) && (valueOnly || allFinite(gn)) && fnew <= f + 1e-4 * decrease) {
        accepted = true;
        break;
      }
      // Minimiser of the quadratic through f(0), f'(0) and f(t) (Nocedal & Wright §3.5),
      // safeguarded to [0.1·t, 0.5·t]; plain halving when f(t) is not finite.
      const dgt = dg * t;
      const tq = Number.isFinite(fnew) ? (-dgt * t) / (2 * (fnew - f - dgt)) : 0.5 * t;
      t = Math.min(0.5 * t, Math.max(0.1 * t, tq));
    }
    if (accepted && valueOnly) {
      // The last iteration: no curvature pair, no gradient at the new point.
      x.set(xn);
      f = fnew;
      break;
    }
    if (!accepted) {
      if (count > 0) {
        count = 0;
        continue;
      }
      break;
    }

    // Curvature pair; skipped when sᵀy is not safely positive (keeps H positive definite).
    let sy = 0;
    let yy = 0;
    for (let i = 0; i < n; i++) {
      const si = xn[i]! - x[i]!;
      const yi = gn[i]! - g[i]!;
      sy += si * yi;
      yy += yi * yi;
    }
    if (sy > 1e-10 * yy && sy > 0) {
      for (let i = 0; i < n; i++) {
        S[head * n + i] = xn[i]! - x[i]!;
        Y[head * n + i] = gn[i]! - g[i]!;
      }
      rho[head] = 1 / sy;
      head = (head + 1) % m;
      if (count < m) count++;
    }
    const fold = f;
    x.set(xn);
    g.set(gn);
    f = fnew;
    if (fold - f <= ftol * Math.max(Math.abs(fold), Math.abs(f), 1)) {
      converged = true;
      break;
    }
    if (opts.stop !== undefined && opts.stop(x, f)) {
      converged = true;
      break;
    }
  }
  return { x, f, iterations, evaluations, converged };
}

function allFinite(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}
