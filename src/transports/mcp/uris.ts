/** Resource URIs of the MCP adapter, and the `_meta` key of its errors. */
import type { RetryMeaning } from "../../domain/errors.js";

export const STUDY_URI_PREFIX = "tuneport://studies/";

/** The resource URI of a study. */
export const studyUri = (name: string): string => `${STUDY_URI_PREFIX}${encodeURIComponent(name)}`;

/**
 * The `_meta` key of every `isError` tool result: `{code, retry, data?}` (the wire code, its retry
 * meaning, the error's data), so that programs need not parse "Error CODE:" from the text.
 */
export const ERROR_META_KEY = "tuneport/error";

/** The `_meta` of an `isError` tool result (`ERROR_META_KEY`). */
export function errorMeta(code: string, retry: RetryMeaning, data?: Record<string, unknown>): Record<string, unknown> {
  return { [ERROR_META_KEY]: { code, retry, ...(data !== undefined ? { data } : {}) } };
}
