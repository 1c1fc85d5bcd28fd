/**
 * The grammar of study names: one definition, used wherever a study gets a name
 * (`create_study` over ZeroMQ and MCP, `tuneport import` with or without `--name`).
 *
 * A study name is 1 to 200 Unicode code points, in NFC, where
 *  - every character is a letter, mark, number, punctuation or symbol (Unicode general
 *    categories L, M, N, P, S) or U+0020 SPACE. That refuses control characters (Cc: tab,
 *    newline, NUL, DEL, ...), format characters (Cf: the bidirectional overrides and isolates
 *    U+202A–U+202E and U+2066–U+2069, U+200E/U+200F marks, zero-width U+200B–U+200D, the BOM,
 *    the soft hyphen), every other separator (no-break and other spaces, U+2028/U+2029),
 *    private-use, unassigned code points and lone surrogates;
 *  - it neither starts nor ends with a space;
 *  - it contains no `/` and no `\`, and is not made of dots only (`.`, `..`): names show up in
 *    file names, URIs and shell commands, so none can read as a path.
 *
 * Why refuse rather than repair: a rewritten name (trimmed, normalised, stripped) is a
 * different name from the one the caller holds, and two different inputs could end up as
 * one study. NFC is required, not applied, for the same reason: `é` typed as one code point
 * and as `e` + U+0301 look identical and would otherwise be two studies.
 *
 * Names stored before this grammar existed stay readable: lookups (`get_study`, `ask`, ...)
 * take any string of 1 to 400 UTF-16 units (`studyRefSchema`) and simply find no study for a
 * name that was never created.
 */
import { z } from "zod";
import { hasLoneSurrogate } from "./input-limits.js";

/** Longest study name, in Unicode code points. */
export const STUDY_NAME_MAX_CODE_POINTS = 200;

/** One character a name may hold (besides the rules on spaces, slashes and dots). */
const ALLOWED_CHAR = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const codePoint = (ch: string): string => `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;

/** Why `name` is not a valid study name, or null when it is. Never throws. */
export function studyNameProblem(name: string): string | null {
  if (name.length === 0) return "a study name must not be empty";
  if (hasLoneSurrogate(name)) return "a study name must be well-formed Unicode (it holds a lone surrogate)";
  const chars = Array.from(name);
  if (chars.length > STUDY_NAME_MAX_CODE_POINTS)
    return `a study name has at most ${STUDY_NAME_MAX_CODE_POINTS} characters (code points), not ${chars.length}`;
  for (const [i, ch] of chars.entries()) {
    if (ch === "/" || ch === "\\") return `a study name must not contain '${ch}' (character ${i + 1}): names never read as paths`;
    if (!ALLOWED_CHAR.test(ch))
      return `a study name must not contain ${codePoint(ch)} (character ${i + 1}): only letters, marks, numbers, punctuation, symbols and plain spaces are allowed`;
  }
  if (chars[0] === " " || chars[chars.length - 1] === " ") return "a study name must not start or end with a space";
  if (/^\.+$/.test(name)) return "a study name must not consist of dots only";
  if (name.normalize("NFC") !== name) return "a study name must be in Unicode normalization form NFC (compose accents, e.g. 'é' as U+00E9)";
  return null;
}

/** A name for a new study: a string that follows the grammar above. */
export const studyNameSchema = z
  .string()
  // The grammar's own words, and only them: zod's "expected string to have <=400 characters" next
  // to "at most 200 characters (code points)" contradicted it. The bound in UTF-16 units spares
  // the refinement a huge string; `abort` skips the refinement once it failed.
  .min(1, { message: "a study name must not be empty", abort: true })
  .max(2 * STUDY_NAME_MAX_CODE_POINTS, { message: `a study name has at most ${STUDY_NAME_MAX_CODE_POINTS} characters (code points)`, abort: true })
  .superRefine((name, ctx) => {
    const problem = studyNameProblem(name);
    if (problem !== null) ctx.addIssue({ code: "custom", message: problem });
  })
  .describe(
    "Study name: 1-200 characters in NFC; letters, marks, numbers, punctuation, symbols and inner spaces; no control or format characters, no '/' or '\\', not only dots.",
  );

/** A reference to an existing study: any non-empty string up to 400 UTF-16 units (see the file comment). */
export const studyRefSchema = z
  .string()
  .min(1)
  .max(2 * STUDY_NAME_MAX_CODE_POINTS)
  // No study name holds NUL (the grammar refuses it), and PostgreSQL's text cannot carry one to a lookup.
  .refine((n) => !n.includes("\u0000"), { message: "a study name never contains U+0000 (NUL)" });
