/** Storage-wide ids handed out in blocks (several servers on one database: service/ownership.ts). */
import { TuneportError } from "../domain/errors.js";

/** Ids in blocks from a sequence; refilled ahead of need. */
export class IdBlocks {
  private readonly blocks: [number, number][] = [];
  private refill: Promise<void> | null = null;
  constructor(
    private readonly take: () => Promise<number>,
    private readonly size: number,
  ) {}
  get available(): number {
    return this.blocks.reduce((n, [a, b]) => n + (b - a), 0);
  }
  next(): number {
    const b = this.blocks[0];
    if (!b) throw new TuneportError("UNAVAILABLE", "no ids reserved yet; retry");
    const id = b[0]++;
    if (b[0] >= b[1]) this.blocks.shift();
    if (this.available < this.size / 2) void this.top(this.size).catch(() => undefined);
    return id;
  }
  async top(n: number): Promise<void> {
    while (this.available < n) {
      this.refill ??= this.take()
        .then((first) => void this.blocks.push([first, first + this.size]))
        .finally(() => (this.refill = null));
      await this.refill;
    }
  }
}
