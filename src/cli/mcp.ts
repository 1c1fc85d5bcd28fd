/** `tuneport mcp`: the MCP server over stdio, embedded on a SQLite file or PostgreSQL, or connected to a running server. */
import type { McpBackend } from "../transports/mcp/backend.js";
import { VERSION } from "../version.js";
import { TuneportError } from "../domain/errors.js";
import { type Command, UsageError, curveClientHelp, curveOptions, exitWhenIdle, intOption, checkConnectEndpoint, listenProblem, logOptions, noPositionals } from "./command.js";
import { bindProblem, isLoopback, ownershipOptions } from "./serve.js";
import { loadPluginModule, pluginsHelp } from "./plugin-module.js";
import { isPostgresUrl, redactStorageLocation } from "../storage/postgres/url.js";

export const mcpCommand: Command = {
  name: "mcp",
  help: `
Usage: tuneport mcp [--storage PATH] [--bind ENDPOINT]...
       tuneport mcp --connect ENDPOINT

Speaks the Model Context Protocol on stdin/stdout so that an MCP-capable assistant can
create studies, propose and evaluate trials, and read results and plots. Logs go to
stderr. The session ends when stdin closes.

By default the server is embedded on a SQLite file (which it locks: a second writer on the
same file fails at once). Add --bind to also serve ZeroMQ workers from this process.
On a PostgreSQL database it is one of the servers sharing it (docs/SCALING.md): it serves the
studies it loads, and the other servers send their workers to its --bind, which is required.
With --connect it instead talks to a running 'tuneport serve' over ZeroMQ and owns no
storage (change notifications are then derived by polling every 0.5 s).

Options:
  --storage PATH|URL    SQLite database file (created if missing) [./tuneport.db], or
                        postgresql://user@host[:port]/db (then --bind is required)
  --bind ENDPOINT       also serve ZeroMQ workers on this endpoint; repeatable
  --advertise ENDPOINT  PostgreSQL: the endpoint other servers send workers to for the
                        studies this process serves [the first --bind, port resolved]
  --ownership-ttl SECONDS PostgreSQL: a study's ownership lease, as for
                        'tuneport serve' [10]
  --connect ENDPOINT    use the server at ENDPOINT (e.g. tcp://127.0.0.1:5555) instead
  --durability MODE     process or power, as for 'tuneport serve' [as there]
  --lease-ttl SECONDS   default lease time-to-live of a new study's trials [30]
${pluginsHelp(24)}
  --log-level LEVEL     fatal|error|warn|info|debug|trace|silent [info]
${curveClientHelp(24)}
  -h, --help            show this help
`,
  positionals: false,
  options: {
    storage: { type: "string" },
    bind: { type: "string", multiple: true },
    advertise: { type: "string" },
    "ownership-ttl": { type: "string" },
    plugins: { type: "string" },
    connect: { type: "string" },
    durability: { type: "string" },
    "lease-ttl": { type: "string" },
    "log-level": { type: "string" },
    "curve-server": { type: "string" },
    "curve-secret": { type: "string" },
  },
  async run(v, pos) {
    noPositionals("mcp", pos, "the database is --storage PATH, a running server --connect ENDPOINT");
    const log = logOptions(v);
    // Imported here, not at the top: `--help` answers without loading the server and the MCP SDK.
    const [{ StdioServerTransport }, { createLogger }, { RemoteBackend, serviceBackend }, { createTuneportMcp }, { ZmqClient }, { ZmqServer }, { Utf8LineGuard }, { openEmbedded }] =
      await Promise.all([
        import("@modelcontextprotocol/sdk/server/stdio.js"),
        import("../logger.js"),
        import("../transports/mcp/backend.js"),
        import("../transports/mcp/mcp-server.js"),
        import("../transports/zmq/zmq-client.js"),
        import("../transports/zmq/zmq-server.js"),
        import("../transports/mcp/strict-json.js"),
        import("./embedded.js"),
      ]);
    const logger = createLogger({ level: log.level, toStderr: true });
    const connect = v.connect as string | undefined;
    const binds = (v.bind as string[] | undefined) ?? [];
    if (connect && (binds.length > 0 || v.storage !== undefined || v.advertise !== undefined || v["ownership-ttl"] !== undefined || v.plugins !== undefined))
      throw new UsageError("--connect uses a running server: it cannot be combined with --storage, --bind, --advertise, --ownership-ttl or --plugins");
    const plugins = v.plugins === undefined ? undefined : await loadPluginModule(v.plugins as string);
    if (connect) checkConnectEndpoint(connect);
    const curve = await curveOptions(v);
    if (curve && !connect) throw new UsageError("--curve-server and --curve-secret go with --connect");
    const storagePath = (v.storage as string | undefined) ?? "./tuneport.db";
    const { advertise, ownershipTtl } = ownershipOptions(v, connect ? undefined : storagePath);
    // On PostgreSQL the studies this process loads are its own: other servers send their workers
    // here for them, to the advertised endpoint. Without --bind it had none, and they were sent to
    // '' (the redirect named no endpoint) until this process ended.
    if (!connect && isPostgresUrl(storagePath) && binds.length === 0)
      throw new UsageError(
        "on PostgreSQL this process serves the studies it loads, and the other servers send their workers here for them: add --bind ENDPOINT (and --advertise if workers reach it under another address), or use --connect ENDPOINT to a running 'tuneport serve'",
      );
    for (const ep of binds) {
      const problem = bindProblem(ep, storagePath, ep === binds[0] && advertise === undefined);
      if (problem) throw new UsageError(`--bind ${ep}: ${problem}`);
    }
    const durability = v.durability as "process" | "power" | undefined;
    if (durability !== undefined && durability !== "process" && durability !== "power") throw new UsageError("--durability must be 'process' or 'power'");
    const leaseTtl = intOption("lease-ttl", v["lease-ttl"], 1, 7 * 24 * 3600);

    const cleanups: (() => Promise<void>)[] = [];
    const cleanup = async () => {
      for (const c of cleanups.reverse()) await c().catch((err: unknown) => logger.error({ err }, "shutdown step failed"));
    };
    let backend: McpBackend;
    let stopTaking = (): void => undefined;
    try {
      if (connect) {
        const client = new ZmqClient(connect, { timeoutMs: 10_000, curve });
        const remote = new RemoteBackend(client, logger);
        cleanups.push(() => remote.close());
        stopTaking = () => remote.stopTaking();
        const hello = await client.connect();
        await remote.start();
        logger.info({ endpoint: connect, server: hello.server }, "connected to tuneport server");
        backend = remote;
      } else {
        const path = storagePath;
        const embedded = await openEmbedded(logger, { path, durability, leaseTtlS: leaseTtl, ownershipTtlS: ownershipTtl, plugins });
        if (!embedded) {
          await cleanup();
          return 1;
        }
        cleanups.push(() => embedded.close());
        const { service } = embedded;
        stopTaking = service.stopTaking;
        if (binds.length > 0) {
          for (const ep of binds)
            if (!isLoopback(ep)) logger.warn({ endpoint: ep }, "BINDING A NON-LOOPBACK INTERFACE WITHOUT ENCRYPTION OR AUTHENTICATION");
          const zmq = new ZmqServer(service, {
            bind: binds,
            logger,
            serverVersion: VERSION,
            heartbeatIntervalS: Math.min(10, (leaseTtl ?? 30) / 3),
          });
          cleanups.push(() => zmq.close());
          await zmq.start().catch((err: unknown) => {
            const address = (err as { address?: unknown }).address;
            const problem = listenProblem(err, "workers", typeof address === "string" ? address : binds.join(", "), "--bind");
            throw problem === null ? err : new TuneportError("UNAVAILABLE", problem);
          });
          embedded.ownership?.setEndpoint(advertise ?? (zmq.endpoints[0] as string));
        }
        backend = serviceBackend(service);
        logger.info({ storage: redactStorageLocation(path), zmq: binds }, "embedded service ready");
      }
    } catch (err) {
      await cleanup();
      throw err;
    }

    const mcp = createTuneportMcp(backend, { logger, version: VERSION });
    // Lines that are not UTF-8 are answered here and never reach the SDK, which would decode
    // them with U+FFFD replacements (transports/mcp/strict-json.ts).
    const stdin = process.stdin.pipe(
      new Utf8LineGuard((reply) => {
        logger.warn({ code: reply.error.data.code }, "mcp stdio message refused");
        process.stdout.write(`${JSON.stringify(reply)}\n`);
      }, process.stdout),
    );
    // The SDK waits for 'drain' with one listener per message written while stdout is full, each
    // removed at the next drain. What bounds them is not the calls in flight (a call leaves that
    // count before its answer is flushed) but the unread answers, at most MAX_UNREAD_ANSWER_BYTES
    // before stdin stops being read (strict-json.ts). Node warned of a leak
    // (MaxListenersExceededWarning on stderr) past 10 whenever a client read slowly.
    process.stdout.setMaxListeners(0);
    const transport = new StdioServerTransport(stdin, process.stdout);
    await new Promise<void>((resolve) => {
      let done = false;
      const stop = (why: string) => {
        if (done) return;
        done = true;
        logger.info({ reason: why }, "mcp session ending");
        resolve();
      };
      mcp.server.server.onclose = () => stop("transport closed");
      // A client that stops reading (closes its end of stdout) made the next answer an EPIPE
      // 'error' without a listener: an uncaught exception that ended the process, and with it the
      // embedded server and its workers' --bind socket. The session ends instead, as at stdin's end.
      process.stdout.on("error", (err) => {
        if (!done) logger.warn({ err }, "stdout closed by the client: the session ends");
        stop("stdout closed");
      });
      process.stdin.once("end", () => stop("stdin closed"));
      process.once("SIGINT", () => stop("SIGINT"));
      process.once("SIGTERM", () => stop("SIGTERM"));
      mcp.server.connect(transport).then(
        () => logger.info({ version: VERSION, pid: process.pid }, "tuneport mcp ready on stdio"),
        (err: unknown) => {
          logger.error({ err }, "mcp transport failed");
          stop("transport failed");
        },
      );
    });
    // Calls in flight (a pending wait_for_progress too) are answered before the transport closes;
    // those still waiting their turn (asks queued behind their study's), UNAVAILABLE.
    stopTaking();
    await mcp.stop();
    mcp.dispose();
    await mcp.server.close().catch(() => undefined);
    await cleanup();
    logger.info("stopped");
    exitWhenIdle();
    return 0;
  },
};
