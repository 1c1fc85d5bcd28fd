/** Waiting helpers for tests on real servers and databases (hang guards, never speed checks). */
import { TuneportError } from "../domain/errors.js";

/** Polls `cond` (a throw counts as not yet) until it holds; throws past `limitMs`. */
export async function waitFor(cond: () => Promise<boolean>, limitMs: number): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() - t0 > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The TuneportError `p` rejects with; throws when it resolves or rejects with anything else. */
export async function tuneportErrorOf(p: Promise<unknown>): Promise<TuneportError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof TuneportError) return e;
    throw e;
  }
  throw new Error("expected a TuneportError");
}
