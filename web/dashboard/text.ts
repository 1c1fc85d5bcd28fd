/** How the page reads its address: the page a hash names, %-escapes that may be malformed. */

/** A part of the address decoded, or null when it is not valid %-encoding (`%E0%A4%A`). */
export function decodePart(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** A page of the dashboard, from the address's hash. */
export type Address = { kind: "studies" } | { kind: "study"; study: string } | { kind: "trial"; study: string; trial: number };

/** The page `hash` names. @throws Error (shown as "Not available") for malformed %-escapes and trial parts that are not trial numbers. */
export function parseAddress(hash: string): Address {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodePart);
  if (parts.some((p) => p === null)) throw new Error(`'${hash}' is not a valid address: it has a malformed %-escape`);
  const [kind, study, sub, trial] = parts as string[];
  if (kind !== "study" || !study) return { kind: "studies" };
  if (sub !== "trial" || trial === undefined) return { kind: "study", study };
  const n = Number(trial);
  if (!/^\d+$/.test(trial) || !Number.isSafeInteger(n)) throw new Error(`no trial '${trial}' in study ${study}`);
  return { kind: "trial", study, trial: n };
}
