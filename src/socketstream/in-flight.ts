/**
 * DESIGN "Bounds": per socket, at most `max` RPC calls run at once. Past it the socket is not read (back-pressure:
 * TCP's own window then slows the sender), and it is read again as calls finish. Frames already read from the
 * socket when it paused (ws parses a whole chunk at once) wait here, in order; that queue is bounded by what one
 * read can hold, and past `maxQueued` a call is refused at once (-32000 "too many requests") rather than kept.
 */
export interface FlowControl {
  pause(): void;
  resume(): void;
}

export class InFlightGate {
  #running = 0;
  readonly #queue: Array<() => Promise<unknown>> = [];
  #paused = false;

  constructor(
    readonly max: number,
    readonly maxQueued: number,
    private readonly flow: FlowControl,
  ) {}

  get running(): number {
    return this.#running;
  }

  /** Runs `task` now or once a slot frees; false (and `task` never runs) when even the queue is full. */
  submit(task: () => Promise<unknown>): boolean {
    if (this.#running < this.max && this.#queue.length === 0) {
      this.#start(task);
      return true;
    }
    if (this.#queue.length >= this.maxQueued) return false;
    this.#queue.push(task);
    this.#pause();
    return true;
  }

  #start(task: () => Promise<unknown>): void {
    this.#running++;
    if (this.#running >= this.max) this.#pause();
    // The task's own rejections are its caller's to handle; here a settled task only frees its slot.
    task().then(() => this.#done(), () => this.#done());
  }

  #done(): void {
    this.#running--;
    while (this.#running < this.max && this.#queue.length > 0) this.#start(this.#queue.shift()!);
    if (this.#running < this.max && this.#queue.length === 0 && this.#paused) {
      this.#paused = false;
      this.flow.resume();
    }
  }

  #pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.flow.pause();
  }
}
