/**
 * The root logger. Made once in `main`; modules take `logger.child({ component })`.
 * In MCP stdio mode stdout carries the protocol, so logs go to fd 2.
 *
 * Two formats: `json` (pino's JSON lines, for machines and log shippers) and `pretty` (one
 * readable line per record, for people at a terminal). The default is pretty when the log's
 * file descriptor is a terminal and JSON otherwise, so pipes and files keep getting JSON.
 */
import { writeSync } from "node:fs";
import { isatty } from "node:tty";
import { pino, type Logger } from "pino";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
export type LogFormat = "pretty" | "json";

/**
 * The root logger on fd 1 (fd 2 with `toStderr`). `format` defaults to
 * `$TUNEPORT_LOG_FORMAT`, else pretty on a terminal and JSON otherwise; `level` to
 * `$TUNEPORT_LOG_LEVEL`, else info.
 */
export function createLogger(opts: { level?: LogLevel; toStderr?: boolean; format?: LogFormat } = {}): Logger {
  const fd = opts.toStderr ? 2 : 1;
  const format = opts.format ?? (process.env.TUNEPORT_LOG_FORMAT as LogFormat | undefined) ?? (isatty(fd) ? "pretty" : "json");
  const level = opts.level ?? (process.env.TUNEPORT_LOG_LEVEL as LogLevel | undefined) ?? "info";
  const destination =
    format === "pretty" ? prettyDestination(fd, { color: isatty(fd) && !process.env.NO_COLOR }) : batchedDestination(fd);
  return pino({ level, base: { app: "tuneport" } }, destination);
}

/** A batch of JSON log records larger than this is written at once rather than at the end of its window. */
const LOG_BATCH_BYTES = 8 * 1024;
/** JSON log records wait at most this long (ms) for company before they are written. */
export const LOG_WINDOW_MS = 10;

/**
 * JSON lines to `fd`, written synchronously in batches: a record waits at most `windowMs` (default
 * LOG_WINDOW_MS) for the ones after it, so a lone client's "trial finished" lines, one per tell and
 * each in a turn of its own, share one `write` per window instead of one each — a write and the
 * wake-up of whoever reads the log were most of what a log line cost the server
 * (docs/BENCHMARKS.md, server CPU per request). Records are written in order, at the latest when
 * the window closes or LOG_BATCH_BYTES are waiting, and on `exit` (a fatal line before
 * `process.exit` is not lost); a SIGKILL loses at most the last `windowMs` of records.
 */
export function batchedDestination(fd: number, windowMs = LOG_WINDOW_MS): { write(chunk: string): void; flushSync(): void } {
  const sink = pino.destination({ fd, sync: true, minLength: LOG_BATCH_BYTES });
  let timer: NodeJS.Timeout | null = null;
  let pending = false;
  // sonic-boom's flush() writes what is buffered synchronously (sync mode); its flushSync() would
  // also fsync, which a log line does not need (and costs more than the write).
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    if (!pending) return;
    pending = false;
    sink.flush();
  };
  process.on("exit", () => {
    try {
      flush();
    } catch {
      /* the descriptor is gone: nothing left to tell anyone */
    }
  });
  return {
    write(chunk: string) {
      sink.write(chunk);
      pending = true;
      // The window never keeps the process alive: `exit` writes what is left.
      if (!timer) timer = setTimeout(flush, windowMs).unref();
    },
    flushSync: flush,
  };
}

/** A logger that drops everything, for tests and embedded use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/** A pino destination that writes each JSON record to `fd` as one `formatPretty` line, synchronously. */
export function prettyDestination(fd: number, opts: { color: boolean }): { write(chunk: string): void } {
  return {
    write(chunk: string) {
      for (const line of chunk.split("\n")) if (line) writeSync(fd, `${formatPretty(line, opts.color)}\n`);
    },
  };
}

const LEVELS: Record<number, { name: string; color: string }> = {
  10: { name: "TRACE", color: "\x1b[90m" },
  20: { name: "DEBUG", color: "\x1b[36m" },
  30: { name: "INFO", color: "\x1b[32m" },
  40: { name: "WARN", color: "\x1b[33m" },
  50: { name: "ERROR", color: "\x1b[31m" },
  60: { name: "FATAL", color: "\x1b[35m" },
};

/**
 * One pino JSON record as `HH:MM:SS.mmm LEVEL component: message key=value …`, an error's
 * stack indented below. A line that is not a JSON record is returned unchanged.
 */
export function formatPretty(json: string, color = false): string {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  if (typeof rec !== "object" || rec === null) return json;
  const { level, time, msg, component, err, app: _app, pid: _pid, hostname: _host, ...rest } = rec;
  const lv = LEVELS[level as number] ?? { name: String(level), color: "" };
  const when = typeof time === "number" ? clock(new Date(time)) : "";
  const name = color ? `${lv.color}${lv.name.padEnd(5)}\x1b[0m` : lv.name.padEnd(5);
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${show(v)}`);
  let out = `${when} ${name} ${component ? `${String(component)}: ` : ""}${String(msg ?? "")}${fields.length ? `  ${fields.join(" ")}` : ""}`;
  if (err && typeof err === "object") {
    const e = err as { message?: unknown; stack?: unknown };
    out += `\n    ${String(e.stack ?? e.message ?? JSON.stringify(err)).replace(/\n/g, "\n    ")}`;
  }
  return out;
}

function clock(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function show(v: unknown): string {
  if (typeof v === "string") return /^[\w./:@+-]+$/.test(v) ? v : JSON.stringify(v);
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 300 ? `${text.slice(0, 297)}...` : text;
}
