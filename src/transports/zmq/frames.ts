/** What the ZeroMQ server checks of a request's frames before its turn (zmq-server.ts). */
import { TuneportError } from "../../domain/errors.js";
import { MAX_NESTING, forbiddenKeyMessage, maxContainers, tooManyContainersMessage } from "../../domain/input-limits.js";
import { decode } from "./codec.js";
import { type ScanProblem, lastDuplicateKey, scanFrame } from "./msgpack-scan.js";

/**
 * The frames a request may carry before its payload (the routing id included), and their size: a
 * REQ socket adds an empty delimiter, each proxy on the way a routing id (libzmq's are at most
 * 255 bytes). Every prefix frame is echoed on the reply, so without a bound a client's junk frames
 * (any number, up to the frame limit each, never counted against --max-message-bytes)
 * were held with every reply it did not read: 40 requests of [32 MiB, get_study] grew the server
 * by 1.2 GB.
 */
export const MAX_PREFIX_FRAMES = 16;
export const MAX_PREFIX_FRAME_BYTES = 256;

/** Why a request's routing prefix is refused, or null. */
export function prefixProblem(prefix: readonly Buffer[]): string | null {
  if (prefix.length > MAX_PREFIX_FRAMES) return `a request may have at most ${MAX_PREFIX_FRAMES - 1} frames before its payload (routing ids, REQ's empty delimiter); it had ${prefix.length - 1}`;
  for (let i = 1; i < prefix.length; i++)
    if ((prefix[i] as Buffer).byteLength > MAX_PREFIX_FRAME_BYTES)
      return `a frame before a request's payload (a routing id, REQ's empty delimiter) may be at most ${MAX_PREFIX_FRAME_BYTES} bytes; frame ${i} had ${(prefix[i] as Buffer).byteLength}: send one frame, the MessagePack request`;
  return null;
}

/** What a decoded MessagePack value is, in the wire's words ("bin", "nil", "a map"), for error messages. */
export function wireKind(x: unknown): string {
  if (x === null || x === undefined) return "nil";
  if (x instanceof Uint8Array) return "bin";
  if (Array.isArray(x)) return "an array";
  return typeof x === "object" ? "a map" : `a ${typeof x}`;
}

/** Whether `frames` (a request's) hold a small `hello` (read while stopping: nothing else is). */
export function isHello(frames: Buffer[]): boolean {
  const payload = frames[frames.length - 1];
  if (frames.length < 2 || payload === undefined || payload.byteLength > 4096 || scanFrame(payload, MAX_NESTING) !== null) return false;
  try {
    const msg = decode(payload) as { op?: unknown } | null;
    return typeof msg === "object" && msg !== null && msg.op === "hello";
  } catch {
    return false;
  }
}

/**
 * The error a request is answered when `scanFrame` found `problem` in its frame (one with a request
 * id: "malformed" frames are answered MALFORMED_MESSAGE before this), read before decoding it.
 */
export function scanError(problem: Exclude<ScanProblem, "malformed">, frameBytes: number): TuneportError {
  if (problem === "too-many-containers")
    return new TuneportError("INVALID_ARGUMENT", tooManyContainersMessage("request", frameBytes), {
      reason: "max_containers",
      max_containers: maxContainers(frameBytes),
      message_bytes: frameBytes,
    });
  if (problem === "forbidden-key") return new TuneportError("INVALID_ARGUMENT", forbiddenKeyMessage("the request"));
  if (problem === "non-string-key") return new TuneportError("INVALID_ARGUMENT", "request holds a map key that is not a string (every map key must be a MessagePack str)");
  if (problem === "duplicate-key") {
    const key = lastDuplicateKey();
    const shown = key.length > 64 ? `${key.slice(0, 64)}…` : key;
    return new TuneportError(
      "INVALID_ARGUMENT",
      `request holds a map with the key ${JSON.stringify(shown)} twice: the keys of a map must be unique (neither value is picked)`,
      { duplicate_key: shown },
    );
  }
  if (problem === "unsafe-integer")
    return new TuneportError("INVALID_ARGUMENT", "request holds an integer beyond ±(2^53 − 1), which the server cannot keep exactly (its numbers are doubles); send it as a string");
  if (problem === "extension")
    return new TuneportError("INVALID_ARGUMENT", "request holds a MessagePack extension value (a timestamp, say): the protocol uses none; send times as epoch seconds");
  return problem === "too-deep"
    ? new TuneportError("INVALID_ARGUMENT", `request nests deeper than ${MAX_NESTING} levels`, { max_nesting: MAX_NESTING })
    : new TuneportError("INVALID_ARGUMENT", "request holds a string that is not valid UTF-8 (strings are refused, never repaired)");
}
