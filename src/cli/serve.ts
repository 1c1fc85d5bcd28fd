/** `tuneport serve`: the headless server on embedded storage. */
import type { Logger } from "pino";
import { DEFAULT_LAZY_COMMIT_MS } from "../service/commit-pipeline.js";
import { MAX_INTERMEDIATE_CAP } from "../service/study-limits.js";
import { MAX_STORED_REPLIES_LIMIT } from "../storage/sqlite/reply-index.js";
import { type Stats, existsSync, lstatSync, rmSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { isIP } from "node:net";
import { constants as osConstants } from "node:os";
import type { Durability } from "../storage/sqlite/sqlite-storage.js";
import { isPostgresUrl, redactStorageLocation } from "../storage/postgres/url.js";
import type { McpHttpServer } from "../transports/mcp/http.js";
import { MAX_CLIENT_CALLS_LIMIT } from "../transports/mcp/client-calls.js";
import type { DashboardServer } from "../transports/http/dashboard.js";
import { TOKEN_CHARS, TOKEN_HINT, dashboardOptions, trustedProxyOption } from "./dashboard.js";
import { VERSION } from "../version.js";
import { loadPluginModule, pluginsHelp } from "./plugin-module.js";
import { type Command, UsageError, checkConnectEndpoint, exitWhenIdle, intOption, listenProblem, logOptions, noPositionals, fileProblem } from "./command.js";

/** The server's modules, imported once the arguments are checked: `--help` and usage errors answer without them. */
const serverModules = () =>
  Promise.all([
    import("../logger.js"),
    import("../transports/mcp/backend.js"),
    import("../transports/mcp/http.js"),
    import("../transports/http/dashboard.js"),
    import("../transports/zmq/curve.js"),
    import("../transports/zmq/zmq-server.js"),
    import("./embedded.js"),
  ]);

/** The ZeroMQ door's limits from --max-message-bytes, --max-inflight and --max-reply-mib (defaults where absent). */
function zmqLimits(v: Record<string, unknown>): { maxMessageBytes?: number; maxInflightPerClient?: number; maxReplyBytes?: number } {
  const maxMessageBytes = intOption("max-message-bytes", v["max-message-bytes"], 1024, 256 * 1024 * 1024);
  const maxInflightPerClient = intOption("max-inflight", v["max-inflight"], 1, 1_000_000);
  const maxReplyMib = intOption("max-reply-mib", v["max-reply-mib"], 64, 1024 * 1024 * 1024);
  return {
    ...(maxMessageBytes === undefined ? {} : { maxMessageBytes }),
    ...(maxInflightPerClient === undefined ? {} : { maxInflightPerClient }),
    ...(maxReplyMib === undefined ? {} : { maxReplyBytes: maxReplyMib * 1024 * 1024 }),
  };
}

export const serveCommand: Command = {
  name: "serve",
  help: `
Usage: tuneport serve [options]

Runs the tuneport server: training workers connect over ZeroMQ (protocol v1, see
protocol/PROTOCOL.md). Logs go to stdout: readable lines on a terminal, JSON lines (pino)
otherwise; one line per finished trial at info, one per started trial at debug.
SIGINT/SIGTERM/SIGHUP stop it cleanly: requests in flight are answered and their
writes committed first (asks still queued behind another of their study get
UNAVAILABLE); a second one exits at once (status 130/143/129) without answering
them (clients retry with the same request id). An option that would do nothing is
refused: --advertise and --ownership-ttl without PostgreSQL, the other --mcp-* and
--dashboard-* options without --mcp-http and --dashboard.

Options:
  --storage PATH|URL      SQLite database file (created if missing) [./tuneport.db], or
                          postgresql://user@host[:port]/db (several servers may share it;
                          see docs/SCALING.md)
  --advertise ENDPOINT    PostgreSQL: the endpoint other servers send clients to for the
                          studies this one serves [the first --bind, port resolved]
  --ownership-ttl SECONDS PostgreSQL: a study's ownership lease; a dead server's studies
                          are taken over within twice this [10]
  --bind ENDPOINT         ZeroMQ endpoint to bind, tcp://HOST:PORT (or ipc://PATH);
                          repeatable [tcp://127.0.0.1:5555]
  --durability MODE       process: a reply means the write survives the server being
                          killed; power: also survives power loss (fsync per commit,
                          slower) [process; on PostgreSQL, the database's own
                          synchronous_commit: process sets it off, power on]
  --lease-ttl SECONDS     default lease time-to-live of a new study's trials [30]
  --report-commit-ms MS   a report that decides nothing (continue) is answered before
                          its commit, which follows within MS; a crash may lose the last
                          MS of such intermediate values, never a tell or a decision
                          (docs/DURABILITY.md); 0 commits every report before its reply [20]
  --plot-warmup SECONDS   load the PNG chart renderer this long after the start, so that
                          the first chart an agent asks for (MCP's plot tool, the plot op)
                          does not wait for it (~0.5 s); 0: load it at the first chart [5]
  --max-studies N         studies this server holds at most; creating or importing more
                          is refused, so a client creating studies in a loop cannot
                          exhaust memory (each is kept in memory) [10000]
  --max-intermediate N    intermediate values one trial holds at most; a report past it
                          is refused INVALID_ARGUMENT, so one worker reporting without
                          end cannot exhaust memory or disk [100000]
  --max-stored-replies N  mutations' replies kept for resends at most (each for 24 h,
                          its request id in memory); past it the oldest are dropped,
                          so a client sending mutations without end cannot exhaust
                          memory (SQLite; PostgreSQL keeps none in memory) [1000000]
${pluginsHelp(26)}
  --max-message-bytes N   largest request accepted; a larger one up to twice it is
                          answered MESSAGE_TOO_LARGE, one over twice it disconnects its
                          client (what a connection may hold mid-frame) [1048576]
  --max-inflight N        requests one client may have in flight; more are answered
                          UNAVAILABLE [1000]
  --max-reply-mib N       memory the server's buffers (replies not yet sent) may hold
                          before replies over 64 KiB (pages of trials, exports, plots)
                          are answered UNAVAILABLE instead (smaller ones a quarter
                          above it), so clients that do not read their replies cannot
                          exhaust memory. A reply over it on its own, and a change whose
                          reply would be over a quarter of it (refused before it is
                          applied), are answered MESSAGE_TOO_LARGE [1024]
  --curve-secret FILE     enable CURVE: encrypt every connection with this server key
                          file (from 'tuneport keygen'); needs --curve-allow
  --curve-allow PATH      client public keys allowed to connect: a *.pub file, a file
                          of keys, or a directory of *.pub files; others are refused
                          at the handshake (see docs/SECURITY.md)
  --stop-with-stdin       also stop cleanly when standard input closes: for a server that
                          a program starts for itself (the Python client's private
                          server), which then stops when that program ends, even killed
  --log-level LEVEL       fatal|error|warn|info|debug|trace|silent [info]
  --log-format FORMAT     pretty (one readable line per record) or json (pino JSON
                          lines) [pretty on a terminal, else json]
  --mcp-http PORT         also serve MCP (for LLM agents) over Streamable HTTP at
                          http://HOST:PORT/mcp, behind a bearer token
  --mcp-host HOST         interface for --mcp-http [127.0.0.1]
  --mcp-token TOKEN       the bearer token (at least 16 characters); prefer the
                          TUNEPORT_MCP_TOKEN environment variable, which ps cannot show
  --mcp-allow-host NAME   also accept NAME in the Host and Origin headers of MCP requests
                          (default: loopback names and the --mcp-host address only, against
                          DNS rebinding); repeatable
  --mcp-max-client-calls N  tool calls and resource requests one MCP client (address and
                          clientInfo name) may have in flight over all its sessions; more
                          are refused UNAVAILABLE until some are answered [256]
  --dashboard PORT        also serve the live dashboard (a web page) at http://HOST:PORT/
  --dashboard-host HOST   interface for --dashboard [127.0.0.1]; any other needs a token
  --dashboard-token TOKEN the dashboard's token (at least 16 characters; asked for when
                          given, and required off loopback); prefer TUNEPORT_DASHBOARD_TOKEN.
                          Open the page once as http://HOST:PORT/?token=TOKEN
  --dashboard-allow-host NAME  also accept NAME in the dashboard's Host and Origin headers;
                          repeatable
  --trusted-proxy ADDR[,ADDR...]
                          addresses of reverse proxies in front of --dashboard and
                          --mcp-http (IPv4/IPv6 addresses or CIDR networks such as
                          10.0.0.0/8, no names; repeatable): each is left out of the
                          per-address limits
                          (50 new connections a second, 100 at once, as loopback is;
                          384 open), since every user of a proxy on another machine
                          arrives from its address; the dashboard's and MCP's shares
                          count its requests under the client its X-Forwarded-For
                          names (docs/SECURITY.md "Connections")
  -h, --help              show this help
`,
  positionals: false,
  options: {
    storage: { type: "string", default: "./tuneport.db" },
    bind: { type: "string", multiple: true },
    advertise: { type: "string" },
    "ownership-ttl": { type: "string" },
    durability: { type: "string" },
    "lease-ttl": { type: "string" },
    "report-commit-ms": { type: "string" },
    "max-studies": { type: "string" },
    "max-stored-replies": { type: "string" },
    "max-intermediate": { type: "string" },
    plugins: { type: "string" },
    "max-message-bytes": { type: "string" },
    "plot-warmup": { type: "string" },
    "max-inflight": { type: "string" },
    "max-reply-mib": { type: "string" },
    "curve-secret": { type: "string" },
    "curve-allow": { type: "string" },
    "stop-with-stdin": { type: "boolean", default: false },
    "log-level": { type: "string" },
    "log-format": { type: "string" },
    "mcp-http": { type: "string" },
    "mcp-host": { type: "string", default: "127.0.0.1" },
    "mcp-token": { type: "string" },
    "mcp-allow-host": { type: "string", multiple: true },
    "mcp-max-client-calls": { type: "string" },
    dashboard: { type: "string" },
    "dashboard-host": { type: "string", default: "127.0.0.1" },
    "dashboard-token": { type: "string" },
    "dashboard-allow-host": { type: "string", multiple: true },
    "trusted-proxy": { type: "string", multiple: true },
  },
  async run(v, pos) {
    noPositionals("serve", pos, "the database is --storage PATH, the address --bind ENDPOINT");
    const durability = v.durability as Durability | undefined;
    if (durability !== undefined && durability !== "process" && durability !== "power") throw new UsageError("--durability must be 'process' or 'power'");
    const binds = (v.bind as string[] | undefined) ?? ["tcp://127.0.0.1:5555"];
    for (const ep of binds) {
      const problem = bindProblem(ep, v.storage as string, ep === binds[0] && v.advertise === undefined);
      if (problem) throw new UsageError(`--bind ${ep}: ${problem}`);
    }
    const { advertise, ownershipTtl } = ownershipOptions(v, v.storage as string | undefined);
    refuseIdleOptions(v);
    const log = logOptions(v);
    const leaseTtl = intOption("lease-ttl", v["lease-ttl"], 1, 7 * 24 * 3600);
    const reportCommitMs = intOption("report-commit-ms", v["report-commit-ms"], 0, 10_000);
    const plotWarmupS = intOption("plot-warmup", v["plot-warmup"], 0, 24 * 3600);
    const maxStudies = intOption("max-studies", v["max-studies"], 1, 10_000_000);
    const maxIntermediate = intOption("max-intermediate", v["max-intermediate"], 1, MAX_INTERMEDIATE_CAP);
    const maxStoredReplies = intOption("max-stored-replies", v["max-stored-replies"], 100, MAX_STORED_REPLIES_LIMIT);
    const plugins = v.plugins === undefined ? undefined : await loadPluginModule(v.plugins as string);
    const limits = zmqLimits(v);
    const mcpPort = intOption("mcp-http", v["mcp-http"], 0, 65535);
    const mcpMaxClientCalls = intOption("mcp-max-client-calls", v["mcp-max-client-calls"], 1, MAX_CLIENT_CALLS_LIMIT);
    const mcpHost = v["mcp-host"] as string;
    // An empty variable is unset (as for the dashboard's token): `export TUNEPORT_MCP_TOKEN=` stopped
    // every serve, with or without --mcp-http.
    const mcpToken = (v["mcp-token"] as string | undefined) ?? (process.env.TUNEPORT_MCP_TOKEN || undefined);
    if (mcpPort !== undefined && (!mcpToken || mcpToken.length < 16))
      throw new UsageError("--mcp-http needs a bearer token of at least 16 characters: set TUNEPORT_MCP_TOKEN (or --mcp-token)");
    if (mcpToken !== undefined && !TOKEN_CHARS.test(mcpToken))
      throw new UsageError(`the MCP token must be printable ASCII without spaces (HTTP trims header values, so no request could match): ${TOKEN_HINT}`);
    const mcpAllowHosts = (v["mcp-allow-host"] as string[] | undefined) ?? [];
    for (const h of mcpAllowHosts)
      if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)$/.test(h)) throw new UsageError(`--mcp-allow-host takes a host name or address without port or scheme, got ${JSON.stringify(h)}`);
    const dash = dashboardOptions(v);
    const trustedProxies = trustedProxyOption(v);
    const curveSecret = v["curve-secret"] as string | undefined;
    const curveAllowPath = v["curve-allow"] as string | undefined;
    if ((curveSecret === undefined) !== (curveAllowPath === undefined))
      throw new UsageError("--curve-secret and --curve-allow go together (encryption without an allow-list would let any key in)");
    const [{ createLogger }, { serviceBackend }, { McpHttpServer }, { DashboardServer }, { readAllowList, readServerKeys }, { ZmqServer }, { openEmbedded }] =
      await serverModules();
    let curve: { publicKey: string; secretKey: string } | undefined;
    let curveAllow: Set<string> | undefined;
    if (curveSecret && curveAllowPath) {
      // A file that cannot be read is named with its option: "ENOENT: ..., stat '/x'" said neither which nor the fix.
      const keyFile = <T>(option: string, path: string, read: (p: string) => T): T => {
        try {
          return read(path);
        } catch (err) {
          // So is a file that holds the wrong thing (a .pub given as --curve-secret): its message named the file only.
          const problem = fileProblem(err) ?? (err as Error).message.replace(`${path}: `, "").replace(`${path} `, "it ");
          throw new UsageError(`--${option} ${path}: ${problem}; see 'tuneport keygen' and docs/SECURITY.md`);
        }
      };
      curve = keyFile("curve-secret", curveSecret, readServerKeys);
      curveAllow = keyFile("curve-allow", curveAllowPath, readAllowList);
    }
    const logger = createLogger(log);
    warnOpenDoors(logger, binds, curve !== undefined, curveSecret);
    // Listen for stop signals before anything is bound: a signal during start-up then shuts
    // down cleanly once start-up is done, instead of killing the process mid-way.
    const stopRequested = stopSignal(logger, v["stop-with-stdin"] === true);
    const storagePath = v.storage as string;
    const created = !isPostgresUrl(storagePath) && !existsSync(storagePath);
    // A change's reply is stored and sent whole: the service refuses, before applying it, one over a
    // quarter of the door's reply ceiling, which leaves room for the stored copy, the one being sent and the rest.
    const maxReplyBytes = limits.maxReplyBytes === undefined ? undefined : Math.floor(limits.maxReplyBytes / 4);
    const embedded = await openEmbedded(logger, { path: storagePath, durability, leaseTtlS: leaseTtl, ownershipTtlS: ownershipTtl, reportCommitMs, plotWarmupS, maxStudies, maxIntermediate, maxReplyBytes, maxStoredReplies, plugins });
    if (!embedded) return 1;
    // A start refused after the storage opened (a port in use) leaves no database it created.
    const abandon = async () => {
      await embedded.close();
      if (created) for (const f of [storagePath, `${storagePath}-wal`, `${storagePath}-shm`]) rmSync(f, { force: true });
    };
    const { service } = embedded;
    // Clients also shorten this to a third of any study's own lease TTL.
    const heartbeatIntervalS = Math.min(10, (leaseTtl ?? 30) / 3);
    const zmq = new ZmqServer(service, {
      bind: binds,
      logger,
      ...limits,
      serverVersion: VERSION,
      heartbeatIntervalS,
      curve,
      curveAllow,
    });
    try {
      await zmq.start();
    } catch (err) {
      const address = (err as { address?: unknown }).address;
      return refusedToListen(logger, err, ["workers", typeof address === "string" ? address : binds.join(", "), "--bind"], "could not bind", abandon);
    }
    embedded.ownership?.setEndpoint(advertise ?? (zmq.endpoints[0] as string));
    let mcpHttp: McpHttpServer | null = null;
    if (mcpPort !== undefined) {
      if (!isLoopback(`tcp://${mcpHost.includes(":") ? `[${mcpHost}]` : mcpHost}:0`))
        logger.warn({ host: mcpHost }, "MCP over plain HTTP on a non-loopback interface: the bearer token travels unencrypted; put TLS in front");
      mcpHttp = new McpHttpServer({
        backend: serviceBackend(service),
        logger,
        version: VERSION,
        token: mcpToken as string,
        host: mcpHost,
        port: mcpPort,
        allowedHosts: mcpAllowHosts,
        trustedProxies,
        ...(mcpMaxClientCalls !== undefined ? { maxClientCalls: mcpMaxClientCalls } : {}),
      });
      try {
        await mcpHttp.start();
      } catch (err) {
        return refusedToListen(logger, err, ["MCP over HTTP", `${mcpHost}:${mcpPort}`, "--mcp-http/--mcp-host"], "could not listen for MCP over HTTP", async () => {
          await zmq.close();
          await abandon();
        });
      }
    }
    let dashboard: DashboardServer | null = null;
    if (dash) {
      dashboard = new DashboardServer({ ...dash, source: service, logger });
      try {
        await dashboard.start();
      } catch (err) {
        return refusedToListen(logger, err, ["the dashboard", `${dash.host}:${dash.port}`, "--dashboard/--dashboard-host"], "could not listen for the dashboard", async () => {
          await mcpHttp?.close();
          await zmq.close();
          await abandon();
        });
      }
    }
    if (dash && dash.token === undefined) warnTokenlessDashboard(logger, `${dash.host}:${dashboard?.port ?? dash.port}`, curve !== undefined, mcpHttp !== null);
    const dashboardUrl = dashboard && dash ? `http://${dash.host.includes(":") ? `[${dash.host}]` : dash.host}:${dashboard.port}/` : null;
    logger.info({ storage: redactStorageLocation(v.storage as string), durability: durability ?? (isPostgresUrl(v.storage as string) ? "database" : "process"), report_commit_ms: reportCommitMs ?? DEFAULT_LAZY_COMMIT_MS, version: VERSION, pid: process.pid, mcp_http: mcpHttp ? `http://${mcpHost}:${mcpHttp.port}/mcp` : null, dashboard: dashboardUrl }, "tuneport ready");
    await stopRequested;
    service.stopTaking(); // requests still waiting their turn are answered UNAVAILABLE, not run
    if (v["stop-with-stdin"]) process.stdin.destroy(); // else an open stdin keeps the process alive
    await dashboard?.close();
    await mcpHttp?.close();
    await zmq.close();
    await embedded.close();
    logger.info("stopped");
    exitWhenIdle();
    return 0;
  },
};

/**
 * `--advertise` and `--ownership-ttl` (serve, and mcp embedding a server): PostgreSQL only, where
 * several servers share the database and send each other's clients to the advertised endpoint.
 * @throws UsageError
 */
export function ownershipOptions(v: Record<string, unknown>, storage: string | undefined): { advertise?: string; ownershipTtl?: number } {
  const pg = storage !== undefined && isPostgresUrl(storage);
  const advertise = v.advertise as string | undefined;
  if (advertise !== undefined) {
    // Clients dial it: tcp://HOST:PORT with a real port (checkConnectEndpoint's rule), never `*`.
    if (!pg) throw new UsageError("--advertise is for PostgreSQL storage (several servers); with SQLite there is one server and nothing to advertise");
    checkConnectEndpoint(advertise, "--advertise");
  }
  if (v["ownership-ttl"] === undefined) return { ...(advertise !== undefined ? { advertise } : {}) };
  if (!pg) throw new UsageError("--ownership-ttl has no effect without PostgreSQL storage (with SQLite there is one server and no ownership); add it or drop --ownership-ttl");
  const ownershipTtl = Number(v["ownership-ttl"]);
  if (!(ownershipTtl >= 0.2 && ownershipTtl <= 3600)) throw new UsageError("--ownership-ttl must be a number of seconds between 0.2 and 3600");
  return { ...(advertise !== undefined ? { advertise } : {}), ownershipTtl };
}

/**
 * Refuses an option whose feature is off, which was ignored without a word: `--mcp-host 0.0.0.0
 * --mcp-token T` without `--mcp-http` served no MCP (`--ownership-ttl` and `--advertise` on SQLite:
 * ownershipOptions). Tokens from the environment stay allowed. @throws UsageError
 */
function refuseIdleOptions(v: Record<string, unknown>): void {
  // The two host options default to 127.0.0.1: only another value counts as given.
  const given = (o: string) => v[o] !== undefined && !(o.endsWith("-host") && v[o] === "127.0.0.1");
  const idle: [option: string, off: boolean, needs: string][] = [
    ["mcp-token", v["mcp-http"] === undefined, "--mcp-http PORT"],
    ["mcp-host", v["mcp-http"] === undefined, "--mcp-http PORT"],
    ["mcp-allow-host", v["mcp-http"] === undefined, "--mcp-http PORT"],
    ["mcp-max-client-calls", v["mcp-http"] === undefined, "--mcp-http PORT"],
    ["dashboard-token", v.dashboard === undefined, "--dashboard PORT"],
    ["dashboard-host", v.dashboard === undefined, "--dashboard PORT"],
    ["dashboard-allow-host", v.dashboard === undefined, "--dashboard PORT"],
    ["trusted-proxy", v.dashboard === undefined && v["mcp-http"] === undefined, "--dashboard PORT or --mcp-http PORT"],
  ];
  for (const [option, off, needs] of idle)
    if (off && given(option)) throw new UsageError(`--${option} has no effect without ${needs}; add it or drop --${option}`);
}

/**
 * Resolves on SIGINT, SIGTERM or SIGHUP (a closed terminal, or a supervisor's stop: Node's default
 * for it was a death with no clean stop and no line logged), or when stdin closes with `withStdin` (`--stop-with-stdin`), logging which.
 * A second SIGINT or SIGTERM while the first stop waits (for a slow ask, up to the suggestion deadline)
 * exits at once with 128 + its number, after a `warn` line: before, Node's default action killed the
 * process without a word, so the operator could not tell a forced stop from a crash.
 */
function stopSignal(logger: Pick<Logger, "info" | "warn">, withStdin: boolean): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping && signal !== "stdin closed") {
        logger.warn({ signal }, "second stop signal: exiting now; requests in flight are not answered (clients retry them with the same id)");
        process.exit(128 + (osConstants.signals[signal as NodeJS.Signals] ?? 0));
      }
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "shutting down");
      resolve();
    };
    process.on("SIGINT", () => stop("SIGINT"));
    process.on("SIGTERM", () => stop("SIGTERM"));
    process.on("SIGHUP", () => stop("SIGHUP"));
    if (withStdin) {
      // The starting program's end closes our stdin, however it ended (a SIGKILL included).
      process.stdin.once("end", () => stop("stdin closed"));
      process.stdin.once("error", () => stop("stdin closed"));
      process.stdin.resume();
    }
  });
}

/**
 * Why `endpoint` cannot be bound, with the fix (e.g. a missing `tcp://`), or null when it
 * looks bindable: `tcp://HOST:PORT` (HOST an address, a name, an interface or `*`; PORT a
 * number or `*`), `ipc://PATH`, `inproc://NAME`. ZeroMQ itself says only "Invalid argument".
 */
export function bindProblem(endpoint: string, storage?: string, advertised = false): string | null {
  const ipc = /^ipc:\/\/(.+)$/.exec(endpoint);
  if (ipc) return ipcPathProblem(ipc[1] as string, storage);
  if (/^inproc:\/\/.+/.test(endpoint)) return null;
  const m = /^tcp:\/\/(\[[0-9A-Fa-f:.%\w]+\]|[^\s:/[\]]+):(\d+|\*)$/.exec(endpoint);
  // Other servers sharing a PostgreSQL database send clients to this endpoint (see --advertise).
  if (m && advertised && storage !== undefined && isPostgresUrl(storage) && /^(\*|0\.0\.0\.0|\[[0:]+\])$/.test(m[1] as string))
    return `on PostgreSQL other servers send clients to the first --bind unless --advertise names another, and ${m[1]} is no address to connect to: add --advertise tcp://<this machine's name or address>:${m[2] === "*" ? "<a fixed port, bound here too>" : m[2]}`;
  if (m) return m[2] === "*" || Number(m[2]) <= 65535 ? null : `port ${m[2]} is out of range (0-65535)`;
  if (/^(\[[^\]]+\]|[\w.*-]+):(\d+|\*)$/.test(endpoint)) return `add the scheme: --bind tcp://${endpoint}`;
  if (/^https?:\/\//.test(endpoint))
    return "--bind takes a ZeroMQ endpoint (tcp://HOST:PORT) for workers; MCP over HTTP is --mcp-http PORT";
  const host = /^tcp:\/\/(\[[^\]]+\]|[^:/]+)\/?$/.exec(endpoint);
  if (host) return `add a port: --bind tcp://${host[1]}:5555`;
  return "expected tcp://HOST:PORT (e.g. tcp://127.0.0.1:5555), ipc://PATH or inproc://NAME";
}

/**
 * Why an ipc:// path cannot be bound, or null. ZeroMQ unlinks whatever is at the path before it
 * binds there, so an ipc endpoint on an existing file (the database itself, an export) deleted it.
 * Only an old socket (a server's before it stopped) may be replaced.
 */
function ipcPathProblem(path: string, storage?: string): string | null {
  if (path.startsWith("@")) return null; // Linux's abstract namespace: no file
  if (storage !== undefined && !isPostgresUrl(storage) && resolve(path) === resolve(storage))
    return "that is the --storage database; pick another path for the socket";
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    return null; // nothing there
  }
  if (st.isSocket()) return null;
  return `${path} is ${st.isDirectory() ? "a folder" : st.isSymbolicLink() ? "a symbolic link" : "a file"}, not a socket: binding would delete it; pick a path where nothing is`;
}

/** True for tcp endpoints on 127.0.0.0/8, ::1 or localhost, and for ipc/inproc. */
export function isLoopback(endpoint: string): boolean {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):/.exec(endpoint);
  if (!m) return !endpoint.startsWith("tcp://");
  const host = (m[1] as string).replace(/^\[|\]$/g, "");
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

/**
 * Exit status 1 for a server that could not listen: logs it, stops what had started (`stop`), and
 * says why on stderr in one line (with JSON logs the log line alone went to stdout, and nothing to
 * stderr). `what` is `listenProblem`'s what, where and option.
 */
async function refusedToListen(logger: Logger, err: unknown, what: [string, string, string], msg: string, stop: () => Promise<void>): Promise<number> {
  const problem = listenProblem(err, ...what);
  logger.fatal(problem ? { reason: problem } : { err }, msg);
  await stop();
  if (problem !== null) process.stderr.write(`tuneport: ${problem}\n`);
  return 1;
}

/** Loopback needs no dashboard token, but an operator who closed the other doors (CURVE, MCP's token) would not expect this one open. */
function warnTokenlessDashboard(logger: Logger, at: string, curve: boolean, mcp: boolean): void {
  if (!curve && !mcp) return;
  logger.warn(
    { dashboard: at, closed: [...(curve ? ["ZeroMQ (CURVE)"] : []), ...(mcp ? ["MCP (token)"] : [])] },
    "the dashboard takes actions (enqueue, stop, resume, notes) from any local user without a token, while the other doors ask for credentials: set TUNEPORT_DASHBOARD_TOKEN to close it too",
  );
}

/**
 * Warns, in the log and loudly on the terminal, of a non-loopback bind without CURVE; and of a
 * CURVE secret key file that other users may read (any local user could then pose as the server).
 */
function warnOpenDoors(logger: Logger, binds: readonly string[], curve: boolean, secretFile: string | undefined): void {
  for (const ep of binds) {
    if (!curve && !isLoopback(ep)) {
      const msg =
        "BINDING A NON-LOOPBACK INTERFACE WITHOUT ENCRYPTION OR AUTHENTICATION: anyone who can reach this port can read and change your studies";
      logger.warn({ endpoint: ep }, msg);
      // Loud on the terminal too, where the JSON log may be piped away.
      process.stderr.write(`\n*** WARNING: ${msg}.\n*** Use --curve-secret/--curve-allow (docs/SECURITY.md) or bind 127.0.0.1. (${ep})\n\n`);
    }
  }
  if (secretFile === undefined) return;
  const mode = statSync(secretFile).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  const msg = `the CURVE secret key ${secretFile} can be read by other users (mode ${mode.toString(8)}): chmod 600 it, as 'tuneport keygen' writes it`;
  logger.warn({ file: secretFile }, msg);
  process.stderr.write(`\n*** WARNING: ${msg}.\n\n`);
}
