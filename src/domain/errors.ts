/**
 * The wire error family. Every failure that crosses a transport is a `TuneportError`
 * with a stable string `code`; the codes are grouped by what the caller should do.
 * (Modelled on the MCP SDK's ProtocolError and Vizier's pythia_errors.)
 *
 * Local failures that never cross the wire (programming errors, I/O) stay ordinary
 * `Error`s; transports map them to `INTERNAL` without leaking their text.
 */

/** What a caller should do when it receives a code. */
export type RetryMeaning = "retry" | "fix-input" | "give-up-trial" | "give-up";

/** Every wire error code with its documented retry meaning (see protocol/PROTOCOL.md). */
export const ERROR_CODES = {
  /** The request's fields are missing, mistyped or out of range. Fix the request. */
  INVALID_ARGUMENT: "fix-input",
  /** The frame was not a MessagePack map with the envelope fields. Fix the client. */
  MALFORMED_MESSAGE: "fix-input",
  /** The frame is larger than the server's `max_message_bytes`. */
  MESSAGE_TOO_LARGE: "fix-input",
  /** `op` names no operation of this protocol version. */
  UNKNOWN_OP: "fix-input",
  /** The client asked for a protocol version the server does not speak. */
  UNSUPPORTED_VERSION: "fix-input",
  /** The named study or trial does not exist. */
  NOT_FOUND: "fix-input",
  /** A study of that name exists and `load_if_exists` was false. */
  ALREADY_EXISTS: "fix-input",
  /** The operation conflicts with the object's state (e.g. tell on a finished trial). */
  FAILED_PRECONDITION: "give-up-trial",
  /** The trial's lease expired or the token is stale: the trial belongs to no one now. */
  LEASE_LOST: "give-up-trial",
  /** The strategy has nothing left to hand out (e.g. every grid point was given). */
  SEARCH_SPACE_EXHAUSTED: "give-up",
  /**
   * The study hands out no more trials: it was stopped (`data.reason: "stopped"`, until
   * `resume_study`) or its trial budget is spent (`"max_trials"`). End the worker loop cleanly.
   */
  STUDY_STOPPED: "give-up",
  /** The client is not allowed to do this (authentication or authorization). */
  UNAUTHENTICATED: "give-up",
  /** The server is busy, starting or stopping: retry the same request (same id) later. */
  UNAVAILABLE: "retry",
  /** A bug on the server. The request may or may not have been applied. */
  INTERNAL: "give-up",
} as const satisfies Record<string, RetryMeaning>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** A failure with a stable wire code. `data` must be msgpack/JSON-serialisable. */
export class TuneportError extends Error {
  override readonly name = "TuneportError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly data?: Record<string, unknown>,
  ) {
    super(message);
  }

  /** The retry meaning of this error's code. */
  get retry(): RetryMeaning {
    return ERROR_CODES[this.code];
  }

  toWire(): { code: ErrorCode; message: string; data?: Record<string, unknown> } {
    return this.data === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, data: this.data };
  }
}

export const invalidArgument = (message: string, data?: Record<string, unknown>): TuneportError =>
  new TuneportError("INVALID_ARGUMENT", message, data);

export const notFound = (message: string, data?: Record<string, unknown>): TuneportError =>
  new TuneportError("NOT_FOUND", message, data);

export const failedPrecondition = (message: string, data?: Record<string, unknown>): TuneportError =>
  new TuneportError("FAILED_PRECONDITION", message, data);

/**
 * NOT_FOUND for a study name that does not exist, listing the names that do (the first 20), so a
 * mistyped name shows the right one: "no study named 'mnist' (the studies: 'mnist-v2', 'cifar')".
 */
export function noSuchStudy(name: string, known: readonly string[]): TuneportError {
  const shown = known.slice(0, 20).map((n) => JSON.stringify(n)).join(", ");
  const more = known.length > 20 ? ` and ${known.length - 20} more` : "";
  return notFound(`no study named '${name}' (${known.length === 0 ? "there are no studies" : `the studies: ${shown}${more}`})`, { study: name });
}
