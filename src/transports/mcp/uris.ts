/** Resource URIs of the MCP adapter. */
export const STUDY_URI_PREFIX = "tuneport://studies/";

/** The resource URI of a study. */
export const studyUri = (name: string): string => `${STUDY_URI_PREFIX}${encodeURIComponent(name)}`;
