/** Embedding tuneport in another Node program. */
export { StudyService, type StudyServiceOptions } from "./service/study-service.js";
export { SqliteStorage } from "./storage/sqlite/sqlite-storage.js";
export type { Storage } from "./storage/storage.js";
export { ZmqServer } from "./transports/zmq/zmq-server.js";
export { ZmqClient } from "./transports/zmq/zmq-client.js";
export { createTuneportMcp, type TuneportMcp } from "./transports/mcp/mcp-server.js";
export { McpHttpServer } from "./transports/mcp/http.js";
export { serviceBackend, RemoteBackend, type McpBackend } from "./transports/mcp/backend.js";
export { TuneportError, ERROR_CODES, type ErrorCode } from "./domain/errors.js";
export type * from "./domain/distributions.js";
export type * from "./domain/trial.js";
export type * from "./domain/decision.js";
export type * from "./service/views.js";
