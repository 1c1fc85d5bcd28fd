/** Resource URIs of the MCP adapter. */
export const STUDY_URI_PREFIX = "tuneport://studies/";

/** The resource URI of a study. */
export const studyUri = (name: string): string => `${STUDY_URI_PREFIX}${encodeURIComponent(name)}`;

/**
 * The `_meta` key of every `isError` tool result: `{code, retry, data?}` (the wire code, its retry
 * meaning, the error's data), so that programs need not parse "Error CODE:" from the text.
 */
export const ERROR_META_KEY = "tuneport/error";
