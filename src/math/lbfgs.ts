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

/** Box bounds; either side may be absent (±∞). */
export interface Box {
  readonly lower?: ArrayLike<number>;
  readonly upper?: ArrayLike<number>;
}

/** v clipped to coordinate i's bounds. */
export function project(box: Box, v: number, i: number): number {
  let r = v;
  if (box.lower !== undefined && r < box.lower[i]!) r = box.lower[i]!;
  if (box.upper !== undefined && r > box.upper[i]!) r = box.upper[i]!;
  return r;
}

/**
 * The active set (Bertsekas 1982): writes `free[i] = 0` for a variable at a bound whose
 * gradient pushes outward (it is held fixed for the step) and 1 otherwise. Returns the
 * projected-gradient norm ‖P(x − ∇f) − x‖∞, the stopping measure.
 */
export function activeSet(box: Box, x: Float64Array, g: Float64Array, free: Uint8Array): number {
  const { lower: lo, upper: hi } = box;
  let pg = 0;
  for (let i = 0; i < x.length; i++) {
    const step = Math.abs(project(box, x[i]! - g[i]!, i) - x[i]!);
    if (step > pg) pg = step;
    const atLo = lo !== undefined && x[i]! <= lo[i]! && g[i]! > 0;
    const atHi = hi !== undefined && x[i]! >= hi[i]! && g[i]! < 0;
    free[i] = atLo || atHi ? 0 : 1;
  }
  return pg;
}

/** The m most recent curvature pairs (s, y), newest last, in a ring buffer (N&W §7.2). */
export class CurvatureMemory {
  readonly S: Float64Array;
  readonly Y: Float64Array;
  /** 1 / sᵀy of each pair. */
  readonly rho: Float64Array;
  /** Scratch for the two-loop recursion's α coefficients. */
  readonly alpha: Float64Array;
  /** Slot the next pair goes into. */
  head = 0;
  /** Pairs held (≤ m). */
  count = 0;

  constructor(readonly n: number, readonly m: number) {
    this.S = new Float64Array(m * n);
    this.Y = new Float64Array(m * n);
    this.rho = new Float64Array(m);
    this.alpha = new Float64Array(m);
  }

  /** Slot of the c-th newest pair (c = 0 is the newest). */
  slot(c: number): number {
    return (this.head - 1 - c + this.m) % this.m;
  }

  /**
   * Remembers s = xNew − x, y = gNew − g unless sᵀy is not safely positive (sᵀy ≤ 1e-10·yᵀy),
   * which keeps the implied inverse Hessian positive definite. Returns whether it was kept.
   */
  push(x: Float64Array, xNew: Float64Array, g: Float64Array, gNew: Float64Array): boolean {
    const n = this.n;
    let sy = 0;
    let yy = 0;
    for (let i = 0; i < n; i++) {
      const si = xNew[i]! - x[i]!;
      const yi = gNew[i]! - g[i]!;
      sy += si * yi;
      yy += yi * yi;
    }
    if (!(sy > 1e-10 * yy && sy > 0)) return false;
    const h = this.head;
    for (let i = 0; i < n; i++) {
      this.S[h * n + i] = xNew[i]! - x[i]!;
      this.Y[h * n + i] = gNew[i]! - g[i]!;
    }
    this.rho[h] = 1 / sy;
    this.head = (h + 1) % this.m;
    if (this.count < this.m) this.count++;
    return true;
  }

  /** Forgets every pair (stale curvature). */
  clear(): void {
    this.count = 0;
  }
}

/**
 * The search direction d = −H·g over the free variables by the two-loop recursion
 * (N&W Alg. 7.4) with H₀ = γI, γ = sᵀy / yᵀy of the newest pair; with no pairs, a
 * steepest-descent step of length `initialStep` capped at the gradient step. When that is not
 * a descent direction (stale curvature) the memory is cleared and d is that steepest-descent
 * step. Fixed variables get d = 0. `q` is scratch. Returns dᵀg (< 0 unless g vanishes on the
 * free variables).
 */
export function searchDirection(
  g: Float64Array, free: Uint8Array, mem: CurvatureMemory, initialStep: number, q: Float64Array, d: Float64Array,
): number {
  const { n, S, Y, rho, alpha } = mem;
  for (let i = 0; i < n; i++) q[i] = free[i] ? g[i]! : 0;
  for (let c = 0; c < mem.count; c++) {
    const j = mem.slot(c);
    let a = 0;
    for (let i = 0; i < n; i++) a += free[i] ? S[j * n + i]! * q[i]! : 0;
    a *= rho[j]!;
    alpha[j] = a;
    for (let i = 0; i < n; i++) if (free[i]) q[i] = q[i]! - a * Y[j * n + i]!;
  }
  let gamma = 1;
  if (mem.count > 0) {
    const j = mem.slot(0);
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
  for (let c = mem.count - 1; c >= 0; c--) {
    const j = mem.slot(c);
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
  if (dg < 0) return dg;
  // Not a descent direction (stale curvature): restart from steepest descent.
  mem.clear();
  let gg = 0;
  for (let i = 0; i < n; i++) gg += free[i] ? g[i]! * g[i]! : 0;
  const s = Math.min(1, initialStep / Math.sqrt(gg));
  dg = 0;
  for (let i = 0; i < n; i++) {
    d[i] = free[i] ? -g[i]! * s : 0;
    dg += d[i]! * g[i]!;
  }
  return dg;
}

/** The outcome of `armijoSearch`. */
export interface LineSearchResult {
  readonly accepted: boolean;
  /** f at the last point tried (`xn` holds it). */
  readonly f: number;
  readonly evaluations: number;
}

/**
 * Armijo backtracking along the projection arc x(t) = P(x + t·d), t = 1, …: accepts the first
 * point with f(x(t)) ≤ f + c1·∇fᵀ(x(t) − x), c1 = 1e-4 (N&W §3.1), where `evaluate` is finite
 * and `usable()` holds (the gradient it wrote is finite). Otherwise t moves to the minimiser of
 * the quadratic through f(0), f'(0) = dg and f(t) (N&W §3.5), safeguarded to [0.1·t, 0.5·t];
 * plain halving when f(t) is not finite. At most `maxSteps` (20) evaluations. The last point
 * tried is left in `xn`.
 */
export function armijoSearch(
  box: Box,
  x: Float64Array,
  f: number,
  g: Float64Array,
  d: Float64Array,
  dg: number,
  evaluate: (xn: Float64Array) => number,
  usable: () => boolean,
  xn: Float64Array,
  maxSteps = 20,
): LineSearchResult {
  let t = 1;
  let fnew = NaN;
  let evaluations = 0;
  for (let ls = 0; ls < maxSteps; ls++) {
    let decrease = 0;
    for (let i = 0; i < x.length; i++) {
      xn[i] = project(box, x[i]! + t * d[i]!, i);
      decrease += g[i]! * (xn[i]! - x[i]!);
    }
    fnew = evaluate(xn);
    evaluations++;
    if (Number.isFinite(fnew) && usable() && fnew <= f + 1e-4 * decrease) return { accepted: true, f: fnew, evaluations };
    const dgt = dg * t;
    const tq = Number.isFinite(fnew) ? (-dgt * t) / (2 * (fnew - f - dgt)) : 0.5 * t;
    t = Math.min(0.5 * t, Math.max(0.1 * t, tq));
  }
  return { accepted: false, f: fnew, evaluations };
}

/**
 * Minimises `fg` from `x0` (not modified) within the box [lower, upper] (either may be
 * omitted for ±∞). The starting point is projected into the box first. Never throws on
 * bad numerics: if f(x0) is not finite it returns x0 projected with f = NaN.
 * Each iteration: `activeSet` (stop when the projected gradient is small), `searchDirection`,
 * `armijoSearch`, then the curvature pair into `CurvatureMemory`.
 */
export function minimizeLbfgs(fg: ObjectiveWithGradient, x0: ArrayLike<number>, opts: LbfgsOptions = {}): LbfgsResult {
  const n = x0.length;
  const maxIter = opts.maxIter ?? 200;
  const pgtol = opts.pgtol ?? 1e-5;
  const ftol = opts.ftol ?? 1e-12;
  const initialStep = opts.initialStep ?? 1;
  const box: Box = { lower: opts.lower, upper: opts.upper };

  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = project(box, x0[i]!, i);
  const g = new Float64Array(n);
  const xn = new Float64Array(n);
  const gn = new Float64Array(n);
  const d = new Float64Array(n);
  const q = new Float64Array(n);
  const free = new Uint8Array(n);
  const mem = new CurvatureMemory(n, opts.memory ?? 10);
  const withGradient = (p: Float64Array) => fg(p, gn);
  const gradientFinite = () => allFinite(gn);
  const always = () => true;

  let evaluations = 1;
  let f = fg(x, g);
  if (!Number.isFinite(f) || !allFinite(g)) return { x, f: NaN, iterations: 0, evaluations, converged: false };

  let iterations = 0;
  let converged = false;
  while (iterations < maxIter) {
    if (activeSet(box, x, g, free) <= pgtol) {
      converged = true;
      break;
    }
    iterations++;
    const dg = searchDirection(g, free, mem, initialStep, q, d);
    // The last iteration's trial points need no gradient when the caller can give f alone.
    const valueOnly = iterations === maxIter && opts.value !== undefined;
    const ls = valueOnly
      ? armijoSearch(box, x, f, g, d, dg, opts.value!, always, xn)
      : armijoSearch(box, x, f, g, d, dg, withGradient, gradientFinite, xn);
    evaluations += ls.evaluations;
    if (ls.accepted && valueOnly) {
      // The last iteration: no curvature pair, no gradient at the new point.
      x.set(xn);
      f = ls.f;
      break;
    }
    if (!ls.accepted) {
      if (mem.count > 0) {
        mem.clear();
        continue;
      }
      break;
    }
    mem.push(x, xn, g, gn);
    const fold = f;
    x.set(xn);
    g.set(gn);
    f = ls.f;
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
