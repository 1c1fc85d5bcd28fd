import { defineConfig } from "vitest/config";
import SkipReporter from "./src/testing/skip-reporter.js";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 2,
    reporters: ["default", new SkipReporter()],
  },
});
