/** `tuneport plot`: a study's chart as a PNG file, from a database file or a running server. */
import { writeSync } from "node:fs";
import { PLOT_KIND_NAMES, type PlotKind, parsePlotKind } from "../service/plots.js";
import { isPostgresUrl } from "../storage/postgres/url.js";
import { type Command, CURVE_CLIENT_HELP, UsageError, curveOptions, checkConnectEndpoint, writeFileAtomically, writeStdout } from "./command.js";
import { terminalSafe } from "./terminal.js";

export const plotCommand: Command = {
  name: "plot",
  help: `
Usage: tuneport plot NAME [--kind KIND] [--out FILE.png] [--params A,B,...] [--log-y]
                          [--storage PATH | --connect ENDPOINT]

Renders a chart of study NAME with the server's renderer (the same charts as the MCP 'plot'
tool, the Python client's study.plot and the dashboard) and writes it as a PNG (at most 1600 x 1000
pixels). Prints one paragraph saying what is drawn, and what was left out, on stderr.

Kinds:
  history        objective by trial number: complete, pruned and failed trials, best so far
  parallel       parallel coordinates: parameters (real values on the axes) and objective
  importances    parameter importances
  intermediate   learning curves (intermediate values by step)
  slice          objective against each parameter
  contour        objective over two parameters (smoothed), trials on top
  edf            empirical distribution of the objective over complete trials
  pareto_front   several objectives: the feasible Pareto front among every trial (2-D, or a
                 scatter matrix for 3 and more), infeasible trials in grey
  hypervolume_history  several objectives: the front's hypervolume by trial number (refused
                 with one objective, as in Optuna: plot history instead)
  lineage        population-based training: the population's lineage tree (which member's
                 checkpoint each one loaded, generation by generation)
  trajectories   hypergradient studies: each hyperparameter of each trial by step
(parallel_coordinates and intermediate_values are accepted too.)

By default the database file is read read-only, which is safe beside a running server. With
--connect the server at ENDPOINT renders it instead (the 'plot' op), e.g. from another machine.

Options:
  --kind KIND          the chart [history]
  --out FILE           PNG file to write (atomically); '-' writes to stdout [NAME-KIND.png]
  --params A,B,...     parameters to draw (parallel, slice, contour) [the most important ones]
  --log-y              log-scale objective axis (history, intermediate_values, edf,
                       parallel, slice, contour; the other kinds refuse it)
  --storage PATH       SQLite database file [./tuneport.db]
  --connect ENDPOINT   ask the server at ENDPOINT (e.g. tcp://127.0.0.1:5555) instead
  --timeout SECONDS    with --connect: how long to wait for the server [60]
${CURVE_CLIENT_HELP}
  -h, --help           show this help
`,
  options: {
    kind: { type: "string", default: "history" },
    out: { type: "string" },
    params: { type: "string" },
    "log-y": { type: "boolean", default: false },
    storage: { type: "string" },
    connect: { type: "string" },
    timeout: { type: "string", default: "60" },
    "curve-server": { type: "string" },
    "curve-secret": { type: "string" },
  },
  async run(v, pos) {
    const [name, ...extra] = pos;
    if (!name || extra.length > 0) throw new UsageError("expected exactly one study NAME; see --help");
    let kind: PlotKind;
    try {
      kind = parsePlotKind(v.kind as string);
    } catch {
      throw new UsageError(`--kind must be one of ${PLOT_KIND_NAMES.join(", ")}`);
    }
    const connect = v.connect as string | undefined;
    if (connect && v.storage !== undefined) throw new UsageError("--connect asks a running server: it cannot be combined with --storage");
    if (connect) checkConnectEndpoint(connect);
    const storage = v.storage as string | undefined;
    if (storage !== undefined && isPostgresUrl(storage))
      throw new UsageError("tuneport plot reads a SQLite file; with PostgreSQL ask a server that runs on it: --connect tcp://HOST:PORT");
    const timeout = Number(v.timeout);
    // At most a day: a longer one overflowed Node's timer and became 1 ms.
    if (!(timeout > 0 && timeout <= 86_400)) throw new UsageError(`--timeout must be a number of seconds in (0, 86400], got ${String(v.timeout)}`);
    const outOption = v.out as string | undefined;
    if (outOption !== undefined && outOption !== "-" && !/\.png$/i.test(outOption))
      throw new UsageError(`--out ${outOption}: the chart is a PNG, so FILE must end in .png (or be '-' for stdout)`);
    const params = (v.params as string | undefined)?.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    const opts = { params, logY: v["log-y"] === true };
    const curve = await curveOptions(v);
    if (curve && !connect) throw new UsageError("--curve-server and --curve-secret go with --connect");
    const plot = connect ? await remotePlot(connect, timeout * 1000, name, kind, opts, curve) : await localPlot((v.storage as string | undefined) ?? "./tuneport.db", name, kind, opts);
    const out = (v.out as string | undefined) ?? `${name.replace(/[^\w.-]+/g, "_")}-${v.kind as string}.png`;
    if (out === "-") await writeStdout(plot.png);
    else await writeFileAtomically(out, 0o644, (fd) => void writeSync(fd, plot.png), connect ? undefined : ((v.storage as string | undefined) ?? "./tuneport.db"));
    process.stderr.write(`${out === "-" ? "" : `wrote ${out} (${plot.width} x ${plot.height} px): `}${terminalSafe(plot.caption)}\n`);
    return 0;
  },
};

type Rendered = { png: Uint8Array; caption: string; width: number; height: number };

async function localPlot(path: string, name: string, kind: PlotKind, opts: { params?: string[]; logY: boolean }): Promise<Rendered> {
  const [{ silentLogger }, { StudyService }, { SqliteStorage }] = await Promise.all([
    import("../logger.js"),
    import("../service/study-service.js"),
    import("../storage/sqlite/sqlite-storage.js"),
  ]);
  const storage = new SqliteStorage({ path, readonly: true });
  try {
    const service = await StudyService.open({ storage, logger: silentLogger(), readOnly: true });
    try {
      return await service.execute("plot", { study: name, kind, params: opts.params, log_y: opts.logY || undefined });
    } finally {
      await service.close();
    }
  } finally {
    await storage.close();
  }
}

async function remotePlot(
  endpoint: string,
  timeoutMs: number,
  name: string,
  kind: PlotKind,
  opts: { params?: string[]; logY: boolean },
  curve: Awaited<ReturnType<typeof curveOptions>>,
): Promise<Rendered> {
  const { ZmqClient } = await import("../transports/zmq/zmq-client.js");
  const client = new ZmqClient(endpoint, { timeoutMs, curve });
  try {
    await client.connect();
    return await client.call("plot", { study: name, kind, params: opts.params, log_y: opts.logY || undefined });
  } finally {
    await client.close();
  }
}
