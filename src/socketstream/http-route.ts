/**
 * `ss.http.route(path, handler)`: SocketStream's HTTP routes, with `req.session` resolved (cookie or bearer) and
 * saved when the handler calls `res.end()`, so, as SocketStream's docs promise, no `req.session.save()` is needed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type RouteHandler = (req: IncomingMessage & { session?: any }, res: ServerResponse) => unknown;

const TRAILING_SLASHES = /\/+$/;

function routeKey(path: string): string {
  const key = path.replace(TRAILING_SLASHES, '');
  return key === '' ? '/' : key;
}

export class HttpRoutes {
  readonly #routes = new Map<string, RouteHandler>();

  route(path: string, handler: RouteHandler): void {
    if (typeof path !== 'string' || !path.startsWith('/')) throw new TypeError(`ss.http.route(path, handler): path must start with "/"`);
    if (typeof handler !== 'function') throw new TypeError(`ss.http.route('${path}', handler): handler must be a function (req, res)`);
    this.#routes.set(routeKey(path), handler);
  }

  /** Exact path match, query string ignored, a trailing slash tolerated. */
  match(url: string | undefined): RouteHandler | undefined {
    if (this.#routes.size === 0) return undefined;
    const q = (url ?? '/').indexOf('?');
    const pathname = q === -1 ? (url ?? '/') : (url ?? '/').slice(0, q);
    let decoded: string;
    try {
      decoded = decodeURIComponent(pathname);
    } catch {
      return undefined;
    }
    return this.#routes.get(routeKey(decoded));
  }
}

function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined) return 'undefined';
  if (typeof value === 'object' && value !== null && !Buffer.isBuffer(value) && !ArrayBuffer.isView(value)) {
    try {
      return JSON.stringify(value);
    } catch {
      return String(value);
    }
  }
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/**
 * `res.end(chunk, encoding, cb)` unless its second argument is neither an encoding nor a callback: then every
 * argument (but a trailing callback) is a value, written as text separated by spaces (objects as JSON), the way
 * SocketStream's example `res.end('req.session.myVar has been updated to', req.session.myVar)` reads. Node 20 throws
 * on that call (a number where it expects an encoding).
 */
export function normalizeEndArgs(args: unknown[]): { args: unknown[]; joined: boolean } {
  if (args.length < 2) return { args, joined: false };
  const second = args[1];
  if (typeof second === 'function') return { args, joined: false };
  if (typeof second === 'string' && Buffer.isEncoding(second)) return { args, joined: false };
  const callback = typeof args[args.length - 1] === 'function' ? args[args.length - 1] : undefined;
  const values = callback ? args.slice(0, -1) : args;
  const text = values.map(toText).join(' ');
  return { args: callback ? [text, 'utf8', callback] : [text, 'utf8'], joined: true };
}

/** What `res.end(chunk)` accepts as its first argument (a callback counts: `res.end(cb)`). */
function isBody(chunk: unknown): boolean {
  return chunk == null || typeof chunk === 'string' || typeof chunk === 'function' || chunk instanceof Uint8Array;
}

/**
 * Wrap `res.end` for one route call: accept the docs' call, then wait for `beforeEnd` (the session save, and any
 * `setUserId` still running) before the real `end`, so headers set by them (cookie, Session-Token) still go out.
 * A failed save answers 500 rather than pretending the write happened.
 */
export function wrapEnd(res: ServerResponse, beforeEnd: () => Promise<void>, onError: (error: unknown) => void): void {
  const end = res.end as (...a: unknown[]) => ServerResponse;
  let ending = false;
  (res as { end: (...a: unknown[]) => ServerResponse }).end = function wrappedEnd(this: ServerResponse, ...args: unknown[]) {
    if (ending) return end.apply(res, args);
    ending = true;
    const normalized = normalizeEndArgs(args);
    if (!isBody(normalized.args[0])) {
      // res.end(1) and the like, a bug in the route: Node would throw later, in a promise callback where nothing
      // catches it (an unhandled rejection ends the process). Answered 500; the app's handler hears why.
      onError(new TypeError(`res.end(chunk): chunk must be a string or a Buffer, got ${typeof normalized.args[0]}`));
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.removeHeader('Content-Length');
      }
      normalized.args = ['Internal Server Error'];
    }
    if (normalized.joined && !res.headersSent && !res.hasHeader('Content-Type')) {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    }
    beforeEnd().then(
      () => {
        res.end = end as typeof res.end;
        try {
          end.apply(res, normalized.args);
        } catch (error) {
          // Whatever else Node's end() throws on: in this promise callback it would be an unhandled rejection.
          onError(error);
          if (!res.writableEnded) res.destroy();
        }
      },
      (error: unknown) => {
        res.end = end as typeof res.end;
        onError(error);
        if (!res.headersSent) {
          res.statusCode = 500;
          res.setHeader('Content-Type', 'text/plain; charset=utf-8');
          res.removeHeader('Content-Length');
          end.call(res, 'session could not be saved');
        } else {
          res.destroy(error as Error);
        }
      },
    );
    return res;
  };
}
