/** Counting the Buffers code allocates, for tests of what a refusal costs (counts, never timings). */

const ALLOCATORS = ["allocUnsafeSlow", "allocUnsafe", "alloc"] as const;

/**
 * The sizes of the Buffers allocated while `f` runs, in order (msgpackr's buffers come from
 * Buffer.allocUnsafeSlow), and what it returned or threw (`error`). An async `f` counts everything
 * this process allocates until it settles: an in-process server's work included.
 */
export async function bufferAllocations<T>(f: () => T | Promise<T>): Promise<{ sizes: number[]; value?: T; error?: unknown }> {
  const sizes: number[] = [];
  const real = ALLOCATORS.map((name) => [name, Buffer[name]] as const);
  for (const [name, alloc] of real) (Buffer as unknown as Record<string, unknown>)[name] = (n: number, ...rest: unknown[]) => (sizes.push(n), (alloc as (...a: unknown[]) => Buffer).call(Buffer, n, ...rest));
  try {
    return { sizes, value: await f() };
  } catch (error) {
    return { sizes, error };
  } finally {
    for (const [name, alloc] of real) (Buffer as unknown as Record<string, unknown>)[name] = alloc;
  }
}
