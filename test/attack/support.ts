/** Shared by the attack tests: bounded concurrency, polling with a deadline, and an unhandled-rejection recorder. */
import { request as httpRequest, type Agent, type IncomingHttpHeaders, type Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; rejects on the first failure. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Resolves once `predicate()` is true; rejects with `what` after `timeoutMs` (a bound, not a speed assertion). */
export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Records every unhandled rejection (and uncaught exception) while installed; `stop()` returns them. */
export function recordUnhandled(): { errors: unknown[]; stop(): unknown[] } {
  const errors: unknown[] = [];
  const onRejection = (reason: unknown) => errors.push(reason);
  const onException = (err: unknown) => errors.push(err);
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    errors,
    stop() {
      process.removeListener('unhandledRejection', onRejection);
      process.removeListener('uncaughtException', onException);
      return errors;
    },
  };
}

export function connections(server: Server): Promise<number> {
  return new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
}

/** The memory store's (or any store's) session count. */
export function storeLength(store: { length?: (cb: (err: unknown, n?: number) => void) => void }): Promise<number> {
  return new Promise((resolve, reject) => {
    if (typeof store.length !== 'function') return reject(new Error('store has no length()'));
    store.length((err, n) => (err ? reject(err) : resolve(n ?? 0)));
  });
}


export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request on its own connection (agent: false, so `Connection: close`): nothing stays pooled, and
 * server.getConnections() counts only what the test holds open on purpose.
 */
export function send(url: string, init: { method?: string; headers?: Record<string, string>; body?: string; agent?: Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: init.method ?? 'GET', headers: init.headers, agent: init.agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

/** `name=value` of a Set-Cookie header. */
export function setCookiePair(headers: IncomingHttpHeaders, name = 'connect.sid'): string | undefined {
  return headers['set-cookie']?.find((c) => c.startsWith(name + '='))?.split(';')[0];
}


let gcFn: (() => void) | undefined;
/**
 * Heap in use after a full collection. The runner starts node without --expose-gc; V8 still lets a process turn
 * the flag on for contexts made afterwards, which is enough to get a callable gc().
 */
export function heapAfterGc(): number {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
  return process.memoryUsage().heapUsed;
}


export interface FloodResult {
  /** close code (websocket) or HTTP status → how many */
  tally: Record<string, number>;
  /** token responses with `created: true` */
  created: number;
  /** distinct session cookies the server set */
  distinctCookies: number;
  ms: number;
}

/** Runs flood-client.mjs in a worker thread (bounded by `count`; terminated after `timeoutMs`). */
export function flood(data: { kind: 'ws' | 'http'; url: string; count: number; concurrency: number; protocols?: string[]; method?: string; headers?: Record<string, string> }, timeoutMs = 90_000): Promise<FloodResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./flood-client.mjs', import.meta.url), { workerData: data });
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`flood not done within ${timeoutMs} ms`));
    }, timeoutMs);
    worker.once('message', (result: FloodResult) => {
      clearTimeout(timer);
      resolve(result);
    });
    worker.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    worker.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`flood worker exited with ${code}`));
    });
  });
}

/** `p`, or a rejection naming `what` after `ms` (a bound, not a speed assertion); the timer never outlives `p`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, bound]).finally(() => clearTimeout(timer));
}
