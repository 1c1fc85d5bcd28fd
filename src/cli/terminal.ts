/**
 * Text from a database or a server (study and parameter names, choices, fail reasons, error
 * messages quoting them) printed to a terminal. Only study names follow a grammar that refuses
 * control characters; a parameter name, a categorical choice or a user attribute may hold any
 * text a worker or an agent sent. Written raw, `ESC [ 2 J` clears the operator's screen,
 * `ESC ] 0 ;` retitles the window, `ESC ] 52 ;` sets the clipboard on many terminals, a newline
 * or a carriage return forges a line, and a bidirectional override makes one name read as
 * another. So what the human formats print shows those characters as `\u001b`-style escapes,
 * like JSON, instead of sending them to the terminal; `--json` output is JSON already.
 */

/** C0 and C1 controls, DEL, and the bidirectional embeddings, overrides and isolates. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
/** The same, newlines excepted (multi-line messages). */
const UNSAFE_KEEP_LINES = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escape = (c: string) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, "0")}`;

/** `text` with every control and bidi-control character written as a `\uXXXX` escape (newlines kept with `keepNewlines`). */
export function terminalSafe(text: string, keepNewlines = false): string {
  return text.replace(keepNewlines ? UNSAFE_KEEP_LINES : UNSAFE, escape);
}
