/** A FIFO async mutex: `run(fn)` executes fn after every earlier holder has finished. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(fn, fn);
    // Keep the chain alive whatever fn does; callers see fn's own rejection.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
