/**
 * Conformance checks with named, reasoned skips (as hono's `*.case.test.ts`): a skipped check
 * still shows in the test report, as skipped, with its name and the reason in its title.
 */
import { it } from "vitest";

/** Declares one conformance check; see `conformanceChecks`. */
export type CheckDeclarer<K extends string> = (name: K, title: string, fn: () => void | Promise<void>) => void;

/**
 * A function that declares each check as a test, or as a skipped test titled
 * "<title> [<name> skipped: <reason>]" when `skip` lists it.
 * @throws Error (at collection) for a skip without a reason.
 */
export function conformanceChecks<K extends string>(skip: Partial<Record<K, string>>): CheckDeclarer<K> {
  return (name, title, fn) => {
    const reason = skip[name];
    if (reason === undefined) {
      it(title, fn);
      return;
    }
    if (reason.trim() === "") throw new Error(`conformance check '${name}' is skipped without a reason`);
    it.skip(`${title} [${name} skipped: ${reason}]`, fn);
  };
}
