/**
 * vitest globalSetup: one real PostgreSQL server for the whole test run (initdb + pg_ctl in a
 * temporary directory, unix socket only), stopped when the run ends, failed tests included. Tests
 * read its URL with `inject("pgUrl")` and give each suite its own schema (src/testing/storage-backends.ts).
 */
import type { TestProject } from "vitest/node";
import { startPostgres } from "../../src/testing/postgres-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string;
  }
}

export default function setup(project: TestProject): () => void {
  const server = startPostgres({ maxConnections: 300 });
  const stop = () => server.stop();
  // A run killed by a signal still stops the server (teardown does not run then).
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  project.provide("pgUrl", server.url);
  return () => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    stop();
  };
}
