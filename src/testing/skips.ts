/**
 * Conformance checks with named, reasoned exemptions (as hono's `*.case.test.ts`). An exempt
 * check is not skipped: it runs as an expected failure (`it.fails`, pytest's strict xfail), so
 * it still shows in the report with its name and reason, and it fails the day the plug-in
 * gains what the check asks for, which is when the exemption must go.
 */
import { it } from "vitest";

/** Declares one conformance check; see `conformanceChecks`. */
export type CheckDeclarer<K extends string> = (name: K, title: string, fn: () => void | Promise<void>) => void;

/**
 * A function that declares each check as a test, or, when `skip` lists it, as a test titled
 * "<title> [<name> not applicable: <reason>]" that passes only while the check fails.
 * @throws Error (at collection) for an exemption without a reason.
 */
export function conformanceChecks<K extends string>(skip: Partial<Record<K, string>>): CheckDeclarer<K> {
  return (name, title, fn) => {
    const reason = skip[name];
    if (reason === undefined) {
      it(title, fn);
      return;
    }
    if (reason.trim() === "") throw new Error(`conformance check '${name}' is exempted without a reason`);
    it.fails(`${title} [${name} not applicable: ${reason}]`, fn);
  };
}
