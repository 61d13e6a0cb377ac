/**
 * One timer for many deadlines: a binary min-heap of entries ordered by `dueAt`, and a single unref'd timer armed
 * for the earliest. The registry re-checks every session at its expiry through it; with one timer per session,
 * 10,000 sessions were 10,000 Timeout objects and closures. Scheduling, moving and deleting an entry is O(log n);
 * each entry keeps its own heap slot, so nothing is searched.
 */

/** setTimeout's ceiling (a 32-bit int of ms); a later deadline wakes up early and re-arms. */
const MAX_DELAY = 2 ** 31 - 1;

/** The fields an entry carries for the queue. `slot` is -1 while it is not queued. */
export interface Queued {
  dueAt: number;
  slot: number;
}

export class ExpiryQueue<T extends Queued> {
  private heap: T[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the armed timer fires (ms since epoch). */
  private timerAt = Infinity;

  /** `onDue(entry)` runs for each entry whose time came, after it left the queue. */
  constructor(private onDue: (entry: T) => void) {}

  get size(): number {
    return this.heap.length;
  }

  /** Queue `entry` for `at`, or move it there if it is queued already. */
  schedule(entry: T, at: number): void {
    if (entry.slot === -1) {
      entry.dueAt = at;
      entry.slot = this.heap.length;
      this.heap.push(entry);
      this.up(entry.slot);
    } else {
      const before = entry.dueAt;
      entry.dueAt = at;
      if (at < before) this.up(entry.slot);
      else this.down(entry.slot);
    }
    this.arm();
  }

  delete(entry: T): void {
    const i = entry.slot;
    if (i === -1) return;
    entry.slot = -1;
    const last = this.heap.pop()!;
    if (i < this.heap.length) {
      this.heap[i] = last;
      last.slot = i;
      this.up(i);
      this.down(last.slot);
    }
    // The timer may now fire early for nothing; it then re-arms for the new earliest. Cheaper than re-arming here.
    if (this.heap.length === 0) this.disarm();
  }

  clear(): void {
    for (const e of this.heap) e.slot = -1;
    this.heap = [];
    this.disarm();
  }

  private arm(): void {
    const first = this.heap[0];
    if (!first) return this.disarm();
    if (this.timer && this.timerAt <= first.dueAt) return;
    this.disarm();
    const delay = Math.max(0, Math.min(first.dueAt - Date.now(), MAX_DELAY));
    this.timerAt = Date.now() + delay;
    this.timer = setTimeout(() => this.fire(), delay);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = Date.now();
    const due: T[] = [];
    while (this.heap.length > 0 && this.heap[0]!.dueAt <= now) {
      const e = this.heap[0]!;
      this.delete(e);
      due.push(e);
    }
    // Callbacks may schedule again (the same entry or others): the heap is consistent before the first one runs.
    for (const e of due) this.onDue(e);
    this.arm();
  }

  private up(i: number): void {
    const heap = this.heap;
    const e = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.dueAt <= e.dueAt) break;
      heap[i] = parent;
      parent.slot = i;
      i = p;
    }
    heap[i] = e;
    e.slot = i;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const e = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && heap[r]!.dueAt < heap[l]!.dueAt ? r : l;
      const child = heap[c]!;
      if (child.dueAt >= e.dueAt) break;
      heap[i] = child;
      child.slot = i;
      i = c;
    }
    heap[i] = e;
    e.slot = i;
  }
}
