/**
 * A vitest reporter (beside the default one, see vitest.config.ts) that lists every skipped
 * test at the end of the run with its full name. Conformance checks are skipped only with a
 * reason in their title (skips.ts), so the list says what was not checked and why.
 */
import type { Reporter, TestModule, Vitest } from "vitest/node";

export default class SkipReporter implements Reporter {
  /** With a name filter (-t) every other test counts as skipped: nothing to report then. */
  private filtered = false;

  onInit(vitest: Vitest): void {
    this.filtered = vitest.config.testNamePattern !== undefined;
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (this.filtered) return;
    const lines: string[] = [];
    for (const m of testModules) for (const t of m.children.allTests("skipped")) lines.push(`  ↓ ${t.fullName}`);
    if (lines.length > 0) process.stdout.write(`\nSkipped (${lines.length}), each with its reason:\n${lines.join("\n")}\n`);
  }
}
