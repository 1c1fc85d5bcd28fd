/**
 * The dashboard page's own clock, held by the test (playwright's `page.clock`): the seconds the page
 * waits before a retry or a re-read pass when the test moves the clock, not in wall time (the
 * retry test waited out 100 s of the page's backoff). The server, the network and the test stay
 * on real time.
 *
 * The page's fetches are recorded by an init script, each with the page's own `Date.now()`, and
 * `advance` moves the page's time only while none of them is out: a wait the page starts after an
 * answer begins on the clock's time of that answer, so the time between two of its reads is that of
 * its timer (give or take one step), whatever the machine's load.
 */
import type { Page } from "playwright-core";

/** A fetch of the page: its URL and the page's time when it was sent. */
export interface PageRead {
  url: string;
  at: number;
}

/** The page's time at its start (any fixed time would do: the page's timers count from it). */
const START = Date.parse("2026-01-01T00:00:00Z");

/**
 * Records the page's fetches and puts its timers and Date on a clock held from the page's start, which
 * only `advance` moves; call before `page.goto`. Held here, before the page exists: held after
 * (`pauseAt` a time read from the page) it threw "Cannot fast-forward to the past" whenever the
 * page's clock, still running, passed that time before the pause reached it (a loaded machine).
 */
export async function installPageClock(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const g = globalThis as any;
    const real = g.fetch.bind(g);
    const idle: (() => void)[] = [];
    g.__reads = [] as PageRead[];
    g.__out = 0;
    g.__idle = () => (g.__out === 0 ? Promise.resolve() : new Promise<void>((r) => idle.push(r)));
    g.fetch = (input: unknown, init?: unknown) => {
      g.__reads.push({ url: String(input), at: Date.now() });
      g.__out++;
      return real(input, init).finally(() => {
        if (--g.__out === 0) for (const r of idle.splice(0)) r();
      });
    };
  });
  await page.clock.install({ time: START });
  // An hour on (about:blank's clock runs until then): any time the page's clock cannot have reached.
  await page.clock.pauseAt(START + 3_600_000);
}

/** Resolves once none of the page's fetches is out. */
export async function settled(page: Page): Promise<void> {
  await page.evaluate(() => (globalThis as any).__idle());
}

/** Moves the held clock `ms` on, `step` at a time, each step once none of the page's fetches is out (timers due fire in order). */
export async function advance(page: Page, ms: number, step = 500): Promise<void> {
  for (let done = 0; done < ms; done += step) {
    await settled(page);
    await page.clock.runFor(Math.min(step, ms - done));
  }
  await settled(page);
}

/** Moves the held clock on, `step` at a time, until `done` (checked before each step) resolves true. */
export async function advanceUntil(page: Page, done: () => Promise<boolean>, step = 500): Promise<void> {
  while (!(await done())) await advance(page, step, step);
}

/** The page's fetches so far whose URL ends with `suffix`. */
export function pageReads(page: Page, suffix: string): Promise<PageRead[]> {
  return page.evaluate((s) => ((globalThis as any).__reads as PageRead[]).filter((r) => r.url.endsWith(s)), suffix);
}
