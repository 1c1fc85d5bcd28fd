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

// The plug-in contract (docs/PLUGINS.md): what strategies and schedulers implement, the helpers
// they share, and the catalogue a service is given.
export type * from "./domain/plugin.js";
export { sampleUniform } from "./domain/sampling.js";
export { contains, fromUnit, toUnit } from "./domain/distributions.js";
export type { Rng } from "./math/rng.js";
export {
  BUILTIN_PLUGINS,
  BUILTIN_SCHEDULERS,
  BUILTIN_STRATEGIES,
  type FactoryList,
  PluginCatalogue,
  type PluginCatalogueOptions,
  type PluginDescription,
  type PluginRef,
} from "./service/plugins.js";
export { WorkerRunner, type WorkerRunnerOptions } from "./service/worker-runner.js";
