/**
 * DESIGN "Store outages end by themselves". express-session waits for the store's `connect` event after a
 * `disconnect`; some stores never send one (connect-typeorm after one database error, while its own get() already
 * answers again), and the server would answer 503 forever. So while the store is down it is asked by this probe
 * alone — one cheap get() of an id no session has, on a back-off (1 s, doubling, capped at 30 s), never one per
 * request — and the first answer (a session or none) ends the outage, as a `connect` event does.
 */

export const PROBE_FIRST_DELAY = 1_000;
export const PROBE_MAX_DELAY = 30_000;
/** No session has this id (session ids are base64url: no dot), so a store answers it with "none". */
export const PROBE_SESSION_ID = 'hybrid-session.store-probe';
/** A probe that gets no answer is abandoned after this long (when the store has no timeout of its own). */
const PROBE_TIMEOUT = 10_000;

export function nextProbeDelay(delay: number): number {
  return Math.min(PROBE_MAX_DELAY, delay * 2);
}

export class StoreProbe {
  private timer: NodeJS.Timeout | undefined;
  private delay = PROBE_FIRST_DELAY;
  private running = false;
  private stopped = false;

  /** `ask`: resolves when the store answered, rejects when it did not; `up`: the store answers again. */
  constructor(
    private readonly ask: (timeout: number) => Promise<unknown>,
    private readonly up: () => void,
    private readonly timeout: number,
  ) {}

  /** Starts probing (no-op when already probing). */
  start(): void {
    if (this.stopped || this.timer || this.running) return;
    this.timer = setTimeout(() => this.run(), this.delay);
    // An outage must not keep the process alive on its own.
    this.timer.unref();
  }

  /** The store answered (a probe, a call, or a `connect` event): stop, and start from 1 s next time. */
  reset(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.delay = PROBE_FIRST_DELAY;
  }

  stop(): void {
    this.reset();
    this.stopped = true;
  }

  private run(): void {
    this.timer = undefined;
    this.running = true;
    this.ask(this.timeout > 0 ? this.timeout : PROBE_TIMEOUT).then(
      () => {
        this.running = false;
        if (this.stopped) return;
        this.reset();
        this.up();
      },
      () => {
        this.running = false;
        this.delay = nextProbeDelay(this.delay);
        this.start();
      },
    );
  }
}
