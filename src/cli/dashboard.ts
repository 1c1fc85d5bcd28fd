/**
 * `tuneport dashboard --storage FILE`: the dashboard, read-only, beside a running server (the
 * SQLite file is read the way `tuneport studies list` reads it; live updates by polling the file,
 * see transports/http/polled-source.ts). Also the option parsing `serve --dashboard` shares.
 */
import { existsSync } from "node:fs";
import { MIN_TOKEN_LENGTH, isHostName, isLoopbackHost } from "../transports/http/http-rules.js";
import { hostBitsSet, proxyNet } from "../transports/http/accept-budget.js";
import { type Command, UsageError, exitWhenIdle, intOption, listenProblem, logOptions, noPositionals } from "./command.js";

/** The dashboard's listening options, checked. */
export interface DashboardCliOptions {
  port: number;
  host: string;
  token: string | undefined;
  allowedHosts: string[];
  trustedProxies: string[];
}

/** What a bearer token may hold: visible ASCII, no spaces or control characters (a newline, say). */
export const TOKEN_CHARS = /^[\x21-\x7e]+$/;
export const TOKEN_HINT = "make one with: openssl rand -hex 24";

/**
 * `--trusted-proxy ADDR[,ADDR...]` (repeatable), each an exact IPv4/IPv6 address or a CIDR network.
 * @throws UsageError naming the first that is neither (or a network with bits set past its prefix)
 */
export function trustedProxyOption(v: Record<string, unknown>): string[] {
  const given = (v["trusted-proxy"] as string[] | undefined) ?? [];
  const addresses = given.flatMap((g) => g.split(",")).map((a) => a.trim());
  for (const a of addresses) {
    if (hostBitsSet(a))
      throw new UsageError(`--trusted-proxy ${JSON.stringify(a)} has address bits set past its prefix: write a network by its first address (10.0.0.0/8; an IPv4 one not in its IPv4-mapped form, whose /8 would be ::/8, every IPv4 address)`);
    if (proxyNet(a) === null)
      throw new UsageError(`--trusted-proxy takes IPv4 or IPv6 addresses or CIDR networks (10.0.0.0/8), comma-separated (no names, ports or zone ids), got ${JSON.stringify(a)}`);
  }
  return addresses;
}

/**
 * `--dashboard PORT` (or `--port` for `tuneport dashboard`), `--dashboard-host`,
 * `--dashboard-token` / TUNEPORT_DASHBOARD_TOKEN, `--dashboard-allow-host` and `--trusted-proxy`, checked; null
 * when no dashboard was asked for. @throws UsageError
 */
export function dashboardOptions(v: Record<string, unknown>, portOption = "dashboard"): DashboardCliOptions | null {
  const port = intOption(portOption, v[portOption], 0, 65535);
  if (port === undefined) return null;
  const host = (v["dashboard-host"] as string | undefined) ?? "127.0.0.1";
  const token = (v["dashboard-token"] as string | undefined) ?? (process.env.TUNEPORT_DASHBOARD_TOKEN || undefined);
  if (token !== undefined && token.length < MIN_TOKEN_LENGTH) throw new UsageError(`the dashboard token must be at least ${MIN_TOKEN_LENGTH} characters`);
  if (token !== undefined && !TOKEN_CHARS.test(token))
    throw new UsageError(`the dashboard token must be printable ASCII without spaces (HTTP trims header values, so no request could match): ${TOKEN_HINT}`);
  if (token === undefined && !isLoopbackHost(host))
    throw new UsageError(`the dashboard on ${host} (not loopback) needs a token of at least ${MIN_TOKEN_LENGTH} characters: set TUNEPORT_DASHBOARD_TOKEN`);
  const allowedHosts = (v["dashboard-allow-host"] as string[] | undefined) ?? [];
  for (const h of allowedHosts)
    if (!isHostName(h)) throw new UsageError(`--dashboard-allow-host takes a host name or address without port or scheme, got ${JSON.stringify(h)}`);
  return { port, host, token, allowedHosts, trustedProxies: trustedProxyOption(v) };
}

export const dashboardCommand: Command = {
  name: "dashboard",
  help: `
Usage: tuneport dashboard [--storage FILE] [--port PORT] [--dashboard-host HOST]

Serves the live dashboard (a web page: studies, charts, the trial table) read-only from a
SQLite database that a running 'tuneport serve' writes. The file is opened read-only and read
again whenever it changes (looked at every 500 ms), so pages follow the server live. Actions
(enqueue, stop/resume, notes) need 'tuneport serve --dashboard PORT' instead.

Options:
  --storage FILE               SQLite database file [./tuneport.db]
  --port PORT                  port to listen on [8080]; 0 picks a free one (logged)
  --dashboard-host HOST        interface [127.0.0.1]; any other needs a token
  --dashboard-token TOKEN      the token (at least 16 characters); prefer the
                               TUNEPORT_DASHBOARD_TOKEN environment variable. Open the
                               page once as http://HOST:PORT/?token=TOKEN
  --dashboard-allow-host NAME  also accept NAME in the Host and Origin headers; repeatable
  --trusted-proxy ADDR[,ADDR...]
                               addresses of reverse proxies in front of the dashboard
                               (IPv4/IPv6 addresses or CIDR networks such as
                               10.0.0.0/8, no names; repeatable): each is left out of the
                               per-address limits
                               (50 new connections a second, 100 at once, as loopback
                               is; 384 open), since every user of a proxy on another
                               machine arrives from its address; the op queue and live
                               streams count its requests under the client its
                               X-Forwarded-For names (docs/SECURITY.md)
  --log-level LEVEL            fatal|error|warn|info|debug|trace|silent [info]
  --log-format FORMAT          pretty or json [pretty on a terminal, else json]
  -h, --help                   show this help
`,
  positionals: false,
  options: {
    storage: { type: "string", default: "./tuneport.db" },
    port: { type: "string", default: "8080" },
    "dashboard-host": { type: "string", default: "127.0.0.1" },
    "dashboard-token": { type: "string" },
    "dashboard-allow-host": { type: "string", multiple: true },
    "trusted-proxy": { type: "string", multiple: true },
    "log-level": { type: "string" },
    "log-format": { type: "string" },
  },
  async run(v, pos) {
    noPositionals("dashboard", pos, "the database is --storage FILE");
    const log = logOptions(v);
    const opts = dashboardOptions(v, "port") as DashboardCliOptions;
    const path = v.storage as string;
    if (/^postgres(ql)?:\/\//.test(path))
      throw new UsageError("tuneport dashboard reads a SQLite file; with PostgreSQL run the dashboard in a server: tuneport serve --dashboard PORT");
    if (!existsSync(path)) throw new UsageError(`no database file at ${path}`);
    const [{ createLogger }, { DashboardServer }, { PolledSource }] = await Promise.all([
      import("../logger.js"),
      import("../transports/http/dashboard.js"),
      import("../transports/http/polled-source.js"),
    ]);
    const logger = createLogger(log);
    const stopRequested = new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    const source = await PolledSource.open({ path, logger });
    const server = new DashboardServer({ ...opts, source, logger, readOnly: true });
    try {
      await server.start();
    } catch (err) {
      const problem = listenProblem(err, "the dashboard", `${opts.host}:${opts.port}`, "--port/--dashboard-host");
      logger.fatal(problem ? { reason: problem } : { err }, "could not listen for the dashboard");
      await source.close();
      if (problem !== null) process.stderr.write(`tuneport: ${problem}\n`);
      return 1;
    }
    logger.info({ storage: path, dashboard: `http://${opts.host}:${server.port}/`, read_only: true }, "tuneport dashboard ready");
    await stopRequested;
    await server.close();
    await source.close();
    exitWhenIdle();
    return 0;
  },
};
