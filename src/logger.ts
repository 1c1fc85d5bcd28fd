/**
 * The root logger. Made once in `main`; modules take `logger.child({ component })`.
 * In MCP stdio mode stdout carries the protocol, so logs go to fd 2.
 */
import { pino, type Logger } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export function createLogger(opts: { level?: LogLevel; toStderr?: boolean } = {}): Logger {
  return pino(
    { level: opts.level ?? (process.env.TUNEPORT_LOG_LEVEL as LogLevel | undefined) ?? "info", base: { app: "tuneport" } },
    pino.destination({ fd: opts.toStderr ? 2 : 1, sync: true }),
  );
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
