import { defineConfig } from "vitest/config";
import SkipReporter from "./src/testing/skip-reporter.js";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    // One real PostgreSQL server for the run (the suites on both storage backends, the failover tests).
    globalSetup: ["test/setup/postgres.global.ts"],
    // Each file's temporary directories (src/testing/temp-dirs.ts) are removed after it.
    setupFiles: ["test/setup/temp-dirs.setup.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", new SkipReporter()],
  },
});
