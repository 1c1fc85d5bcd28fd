// `--focus` cases of bench/hostile-sweep.mjs: PBT, PB2, BOHB and ASHA with options each of them
// accepts (PBT/PB2 alone and with one objective, BOHB under strategy random over a declared space,
// ladders that fit in 64 rungs), so that most cases get past create_study and run their model paths:
// reports on the plug-in's own marks (PBT's perturbation interval, the rungs) in order, repeated, out
// of order and between them, intermediate values NaN, ±Infinity, ±1e308, subnormal or -0, trials
// ended by FAIL or PRUNED mid-run, up to 16 pending. Not a benchmark on its own.
import "./help.mjs";

export const FOCUS_NAMES = ["pbt", "pb2", "bohb", "asha"];

const PBT_OPTIONS = [
  {},
  { population_size: 2, perturbation_interval: 1e-300 },
  { population_size: 2, perturbation_interval: 1, quantile_fraction: 0.5, resample_probability: 1 },
  { population_size: 3, perturbation_interval: 1, perturbation_factors: [1e-300, 1e300], resample_probability: 0 },
  { population_size: 4, perturbation_interval: 2, mode: "synchronous" },
  { population_size: 2, perturbation_interval: 1e-300, mode: "synchronous", burn_in_period: 1e300 },
  { population_size: 2, perturbation_interval: 5e-324, mode: "synchronous" },
  { perturbation_interval: 1, exploit: false },
  { perturbation_interval: 1, explore: false, max_failures: 0 },
  { population_size: 10000, perturbation_interval: 1, max_failures: -1 },
  { population_size: 2, perturbation_interval: 1e300, quantile_fraction: 1e-300 },
  { population_size: 8, perturbation_interval: 3, quantile_fraction: 0.5, perturbation_factors: [1, 1] },
];

const ASHA_OPTIONS = [
  {},
  { mode: "promotion" },
  { mode: "promotion", min_resource: 1, max_resource: 81, reduction_factor: 3 },
  { mode: "stopping", min_resource: 1, max_resource: 81, reduction_factor: 3 },
  { mode: "stopping", min_resource: 1e-300, max_resource: 1e-290, reduction_factor: 2 },
  { mode: "promotion", min_resource: 5e-324, max_resource: 1e-310, reduction_factor: 2 },
  { mode: "promotion", min_resource: 1, max_resource: 1e180, reduction_factor: 1000 },
  { mode: "stopping", min_resource: 1, max_resource: 2 ** 40, reduction_factor: 2, min_early_stopping_rate: 30 },
  { mode: "promotion", min_resource: 1, max_resource: 2 ** 62, reduction_factor: 2 },
  { mode: "stopping", min_resource: 1e300, max_resource: 1.7976931348623157e308, reduction_factor: 2 },
  { mode: "promotion", min_resource: 2, max_resource: 2, reduction_factor: 2 },
];

const BOHB_OPTIONS = [
  { min_resource: 1, max_resource: 81, reduction_factor: 3 },
  { min_resource: 1, max_resource: 27, reduction_factor: 3, random_fraction: 0, min_points_in_model: 1 },
  { min_resource: 1e-300, max_resource: 1e-290, reduction_factor: 2, min_points_in_model: 1, top_n_percent: 99.99, num_samples: 10000, min_bandwidth: 1e-300 },
  { max_resource: 9, random_fraction: 0, bandwidth_factor: 1e300 },
  { min_resource: 1, max_resource: 2 ** 62, reduction_factor: 2, random_fraction: 0, min_points_in_model: 1, top_n_percent: 1e-300 },
  { min_resource: 1e300, max_resource: 1.7976931348623157e308, reduction_factor: 1000, random_fraction: 0, min_bandwidth: 1e300 },
  { min_resource: 5e-324, max_resource: 1e-310, reduction_factor: 2, random_fraction: 0, num_samples: 1, min_points_in_model: 1 },
  { min_resource: 3, max_resource: 3, random_fraction: 0, min_points_in_model: 1, bandwidth_factor: 1e-300 },
];

const ASHA_STRATEGIES = ["random", "tpe", "gp", "cmaes", "qmc", "auto", "hypergradient"];

/** Rungs from min·η^s up to max, and max (as the schedulers' ladders; at most 64). */
function ladder(o) {
  const eta = o.reduction_factor ?? 3;
  const max = o.max_resource;
  const out = [];
  let r = (o.min_resource ?? Math.max(1, max / (eta * eta))) * eta ** (o.min_early_stopping_rate ?? 0);
  for (let k = 0; k < 64 && r < max; k++, r *= eta) out.push(r);
  out.push(max);
  return out;
}

const HOSTILE = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e308, -1e308, 5e-324, -5e-324, -0, 2.2250738585072014e-308];

/** Report steps around `marks`: in order, repeated, out of order, between and just past them, huge. */
function steps(r, marks) {
  const m = (i) => marks[Math.min(marks.length - 1, Math.max(0, i))];
  const n = marks.length;
  const pattern = Math.floor(r() * 8);
  if (pattern <= 3) return marks.slice();
  if (pattern === 4) return marks.flatMap((x, i) => (i % 2 ? [x, x] : [x]));
  if (pattern === 5) return Array.from({ length: Math.min(12, 2 * n) }, () => m(Math.floor(r() * n)));
  if (pattern === 6) return marks.flatMap((x, i) => [x * (1 - 1e-12), x, (x + m(i + 1)) / 2, x * (1 + 1e-12)]).filter(Number.isFinite);
  return [0, 5e-324, m(n - 1), m(0), 1e300, 1.7976931348623157e308, m(n - 1)];
}

/** One trial's reports: `marks` steps, a hostile intermediate value now and then, cut short at random. */
function reports(r, v, marks) {
  const s = steps(r, marks);
  const hostileRate = [0, 0.2, 0.6][Math.floor(r() * 3)];
  const out = s.map((step, i) => [step, r() < hostileRate ? HOSTILE[Math.floor(r() * HOSTILE.length)] : v * (1 + i / 8) + r() * 1e-3]);
  return r() < 0.3 ? out.slice(0, Math.floor(r() * out.length)) : out;
}

/** The tell after the reports: mostly COMPLETE, FAIL or PRUNED mid-run, a hostile final value now and then. */
function tell(r, v) {
  const x = r();
  if (x < 0.15) return { state: "FAIL" };
  if (x < 0.3) return { state: "PRUNED" };
  if (x < 0.4) return { state: "COMPLETE", value: HOSTILE[Math.floor(r() * HOSTILE.length)] };
  return { state: "COMPLETE", value: v };
}

/**
 * A focused case for `which` (one of FOCUS_NAMES): the create_study strategy and scheduler, the study's
 * max_resource, and a value mode ({name, values, reports, tell}) whose reports land on its marks.
 */
export function focusCase(r, which) {
  const pick = (xs) => xs[Math.floor(r() * xs.length)];
  const scale = pick([1, 1e-300, 1e300, 5e-324, -1]);
  const values = (rr, n) => Array.from({ length: n }, () => (rr() - 0.3) * scale);
  let strategy, scheduler, marks, maxResource;
  if (which === "pbt" || which === "pb2") {
    const options = pick(PBT_OPTIONS);
    strategy = Object.keys(options).length ? { name: which, options } : which;
    scheduler = null;
    const every = options.perturbation_interval ?? 5;
    marks = Array.from({ length: 1 + Math.floor(r() * 40) }, (_, k) => every * (k + 1)).filter(Number.isFinite);
  } else if (which === "asha") {
    const options = pick(ASHA_OPTIONS);
    maxResource = pick([1e6, 81, 1]);
    strategy = pick(ASHA_STRATEGIES);
    scheduler = Object.keys(options).length ? { name: "asha", options } : "asha";
    marks = ladder({ ...options, max_resource: options.max_resource ?? maxResource });
  } else {
    const options = pick(BOHB_OPTIONS);
    maxResource = options.max_resource <= 1e15 ? options.max_resource : undefined; // the study's budget is at most 1e15
    strategy = "random";
    scheduler = { name: "bohb", options };
    marks = ladder(options);
  }
  return {
    strategy,
    scheduler,
    maxResource,
    vm: { name: `focus${scale}`, values, reports: (rr, v) => reports(rr, v, marks), tell: (rr, v) => tell(rr, v) },
  };
}
