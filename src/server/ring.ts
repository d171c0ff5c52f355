// A fixed-capacity ring: the newest `capacity` items, oldest dropped first.
export class Ring<T> {
  private readonly items: (T | undefined)[];
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    if (this.size < this.capacity) {
      this.items[(this.start + this.size) % this.capacity] = item;
      this.size++;
    } else {
      this.items[this.start] = item;
      this.start = (this.start + 1) % this.capacity;
    }
  }

  /** The `i`-th item, oldest first (undefined outside 0 … length − 1). */
  at(i: number): T | undefined {
    return i < 0 || i >= this.size ? undefined : this.items[(this.start + i) % this.capacity];
  }

  /** Drops the oldest items while `drop` says so: their slots no longer hold them. */
  dropOldestWhile(drop: (item: T) => boolean): void {
    while (this.size > 0) {
      const item = this.items[this.start] as T;
      if (!drop(item)) return;
      this.items[this.start] = undefined;
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
  }

  last(): T | undefined {
    return this.size === 0 ? undefined : this.items[(this.start + this.size - 1) % this.capacity];
  }

  clear(): void {
    this.start = 0;
    this.size = 0;
    this.items.fill(undefined);
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.items[(this.start + i) % this.capacity] as T);
    return out;
  }
}
