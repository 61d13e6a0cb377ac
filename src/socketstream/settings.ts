/**
 * SocketStream's settings, as its documentation writes them: `ss.set('*', {session: {...}, ws: {...}})`,
 * `ss.session.options.maxAge = …`. SocketStream configured by mutation after creation, so the facade keeps one
 * live settings object and normalises it once, when the app starts (`ss.start()` or the first request through
 * `ss.http.middleware`); after that it is frozen and a late change throws instead of being silently ignored,
 * which is what SocketStream did to `ss.set('*', {session…, ws…})` and `session.cookie.httpOnly`.
 */
import { randomBytes } from 'node:crypto';
import { HybridSessionError } from '../shared/errors.js';
import { TOKEN_PATH } from '../shared/protocol.js';
import { DEFAULT_MAX_AGE, SERVER_OPTION_KEYS } from '../server/internal.js';
import type { CookieOptions, HybridSessionOptions } from '../server/index.js';

/** SocketStream's documented default (30 days), which its code never applied (it used `null`): the server's own. */
export { DEFAULT_MAX_AGE };
export const DEFAULT_WS_PATH = '/ws';

/** The server's cookie options; `httpOnly` is honoured (SocketStream never read it). */
export type SocketStreamCookieOptions = CookieOptions;

/** `ss.session.options`: the same object `ss.set('*', {session})` merges into. */
export interface SocketStreamSessionOptions {
  /** ms; default 30 days. */
  maxAge?: number;
  /** Required in production; elsewhere a random per-process secret is used (with a warning). */
  secret?: string | string[];
  cookie?: SocketStreamCookieOptions;
}

export interface SocketStreamWsOptions {
  /** Where the websocket (and its JSON-RPC) lives. Default '/ws', the client's default `rpcPath`. */
  path?: string;
  /** SocketStream's switch: where browsers keep the session token (sent to them as the endpoint's `storage` hint). */
  client?: { localStorage?: boolean; indexedDB?: boolean };
  /** hybridSession's `heartbeat`: ms between pings that drop dead peers (default 30 s; 0 disables). */
  heartbeat?: number;
}

/**
 * hybridSession()'s options that have a SocketStream home of their own (`session.*`, `ws.*`, `store.use()`); every
 * other server option is accepted at the top level of `ss.set('*', …)` as it is and handed to hybridSession()
 * unchanged, so a server option can never be out of the facade's reach.
 */
const FACADE_OWNED = {
  secret: true, maxAge: true, cookie: true, store: true, ws: true, heartbeat: true, revocation: true,
} as const satisfies Partial<Record<keyof HybridSessionOptions, true>>;
type FacadeOwned = keyof typeof FACADE_OWNED;
export type PassThroughOptions = Omit<HybridSessionOptions, FacadeOwned>;
export const PASS_THROUGH_KEYS = Object.keys(SERVER_OPTION_KEYS).filter((k) => !(k in FACADE_OWNED)) as (keyof PassThroughOptions)[];

/** What `ss.set()` accepts; `createSocketStream()` accepts the same plus hybridSession's top-level options. */
export interface SocketStreamSettings extends PassThroughOptions {
  session?: SocketStreamSessionOptions;
  ws?: SocketStreamWsOptions;
  allowedOrigins?: string[] | ((origin: string) => boolean);
  tokenPath?: string;
  allowQueryToken?: boolean;
  /** hybridSession's: token lifetime in ms (default maxAge, never longer). */
  tokenMaxAge?: number;
  /** hybridSession's: trust X-Forwarded-Proto for `secure: 'auto'`. */
  proxy?: boolean;
  /** `maxInFlight`: RPC calls running at once per socket (default 64); past it the socket is not read (Bounds). */
  rpc?: SocketStreamRpcOptions;
}

export interface SocketStreamRpcOptions {
  maxInFlight?: number;
}

/** DESIGN "Bounds": per socket, at most this many calls run at once. */
export const DEFAULT_RPC_MAX_IN_FLIGHT = 64;

export interface SocketStreamOptions extends SocketStreamSettings {
  /** hybridSession's names, accepted at the top level too (they land in `ss.session.options`). */
  secret?: string | string[];
  maxAge?: number;
  cookie?: SocketStreamCookieOptions;
  /** Any express-session Store: the same as `ss.session.store.use(store)`. */
  store?: object;
}

/** The frozen result of normalisation: what the facade's internals read. */
export interface NormalizedSettings {
  readonly maxAge: number;
  readonly secret: string | string[];
  readonly secretGenerated: boolean;
  readonly cookie: Readonly<SocketStreamCookieOptions> & { readonly httpOnly: boolean };
  readonly wsPath: string;
  readonly wsClient: Readonly<{ localStorage?: boolean; indexedDB?: boolean }>;
  readonly wsHeartbeat: number | undefined;
  readonly allowedOrigins: string[] | ((origin: string) => boolean) | undefined;
  readonly tokenPath: string;
  readonly allowQueryToken: boolean;
  readonly tokenMaxAge: number | undefined;
  readonly proxy: boolean | undefined;
  readonly rpcMaxInFlight: number;
  /** The server options passed through as set (hybridSession() checks them). */
  readonly passThrough: Readonly<PassThroughOptions>;
}

const KNOWN: Record<string, readonly string[]> = {
  '': ['session', 'ws', 'rpc', ...PASS_THROUGH_KEYS],
  rpc: ['maxInFlight'],
  session: ['maxAge', 'secret', 'cookie'],
  'session.cookie': ['name', 'httpOnly', 'secure', 'sameSite', 'path', 'domain'],
  ws: ['path', 'client', 'heartbeat'],
  'ws.client': ['localStorage', 'indexedDB'],
};

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function invalid(message: string): HybridSessionError {
  return new HybridSessionError('HS_ERR_INVALID_OPTIONS', message);
}

/**
 * Unknown keys throw rather than being dropped: a misspelt `httpOnly` that silently does nothing is the bug this
 * facade exists to end.
 */
export function checkKeys(value: unknown, at = ''): void {
  if (!isPlainObject(value)) throw invalid(`${at === '' ? 'settings' : at} must be a plain object`);
  const known = KNOWN[at];
  for (const key of Object.keys(value)) {
    const path = at === '' ? key : `${at}.${key}`;
    if (FORBIDDEN_KEYS.has(key) || !known?.includes(key)) {
      throw invalid(`unknown setting "${path}"` + (known ? ` (known here: ${known.join(', ')})` : ''));
    }
    if (KNOWN[path] && value[key] !== undefined) checkKeys(value[key], path);
  }
}

/** Plain objects merge key by key; anything else (arrays, functions, Stores) replaces. */
export function deepMerge(target: Record<string, unknown>, source: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(source)) {
    if (FORBIDDEN_KEYS.has(key) || value === undefined) continue;
    const current = target[key];
    if (isPlainObject(value)) {
      target[key] = deepMerge(isPlainObject(current) ? current : {}, value);
    } else {
      target[key] = value;
    }
  }
  return target;
}

/** `createSocketStream()`'s options moved to where `ss.set` keeps them. */
export function splitFactoryOptions(options: SocketStreamOptions): SocketStreamSettings {
  const { secret, maxAge, cookie, ...rest } = options;
  const session: SocketStreamSessionOptions = {};
  if (secret !== undefined) session.secret = secret;
  if (maxAge !== undefined) session.maxAge = maxAge;
  if (cookie !== undefined) session.cookie = cookie;
  return deepMerge({ session }, rest as Record<string, unknown>) as SocketStreamSettings;
}

/**
 * SocketStream's `ss.set(env, settings)`: `'*'` is every environment; otherwise a name (or comma-separated names)
 * compared with SS_ENV, then NODE_ENV, then 'development', as SocketStream chose its environment.
 */
export function envMatches(env: string, current = currentEnv()): boolean {
  return env.split(',').some((name) => {
    const trimmed = name.trim();
    return trimmed === '*' || trimmed === current;
  });
}

export function currentEnv(): string {
  return process.env.SS_ENV || process.env.NODE_ENV || 'development';
}

export function isProduction(): boolean {
  return process.env.NODE_ENV === 'production';
}

function normalizePath(value: unknown, name: string, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !value.startsWith('/')) throw invalid(`${name} must be a path starting with "/"`);
  return value;
}

function isBoolOrUndefined(value: unknown): value is boolean | undefined {
  return value === undefined || typeof value === 'boolean';
}

/**
 * Read once, when the app starts. No secret: production throws (SocketStream's public default 'SocketStream'
 * signed every app's cookies alike); elsewhere a random one keeps development working, with a warning that
 * sessions will not outlive the process.
 */
export function normalizeSettings(raw: SocketStreamSettings, warn: (message: string) => void): NormalizedSettings {
  checkKeys(raw);
  const session = raw.session ?? {};
  const ws = raw.ws ?? {};

  const maxAge = session.maxAge === undefined ? DEFAULT_MAX_AGE : session.maxAge;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge <= 0) {
    // Tokens carry an expiry, so a browser-session cookie (SocketStream's `null`) has no token equivalent.
    throw invalid('ss.session.options.maxAge must be a positive number of milliseconds');
  }

  let secret = session.secret;
  let secretGenerated = false;
  const empty =
    secret === undefined || secret === '' || (Array.isArray(secret) && (secret.length === 0 || secret.some((s) => !s)));
  if (empty) {
    if (isProduction()) {
      throw new HybridSessionError(
        'HS_ERR_WEAK_SECRET',
        "ss.session.options.secret must be set in production (e.g. crypto.randomBytes(32).toString('hex')); there is no default secret",
      );
    }
    secret = randomBytes(32).toString('hex');
    secretGenerated = true;
    warn('hybrid-session/socketstream: no ss.session.options.secret set; using a random one, so sessions end when the process does');
  } else if (typeof secret !== 'string' && !(Array.isArray(secret) && secret.every((s) => typeof s === 'string'))) {
    throw invalid('ss.session.options.secret must be a string or an array of strings');
  }

  const cookie = { ...(session.cookie ?? {}) };
  if (!isBoolOrUndefined(cookie.httpOnly)) throw invalid('session.cookie.httpOnly must be a boolean');
  if (cookie.sameSite !== undefined && !['lax', 'strict', 'none'].includes(cookie.sameSite)) {
    throw invalid("session.cookie.sameSite must be 'lax', 'strict' or 'none'");
  }
  if (cookie.secure !== undefined && typeof cookie.secure !== 'boolean' && cookie.secure !== 'auto') {
    throw invalid("session.cookie.secure must be a boolean or 'auto'");
  }

  const client = { ...(ws.client ?? {}) };
  if (!isBoolOrUndefined(client.localStorage) || !isBoolOrUndefined(client.indexedDB)) {
    throw invalid('ws.client.localStorage / ws.client.indexedDB must be booleans');
  }
  if (ws.heartbeat !== undefined && (typeof ws.heartbeat !== 'number' || !(ws.heartbeat >= 0))) {
    throw invalid('ws.heartbeat must be a number of milliseconds (0 disables)');
  }
  if (!isBoolOrUndefined(raw.allowQueryToken)) throw invalid('allowQueryToken must be a boolean');
  if (!isBoolOrUndefined(raw.proxy)) throw invalid('proxy must be a boolean');
  if (raw.tokenMaxAge !== undefined && (typeof raw.tokenMaxAge !== 'number' || !(raw.tokenMaxAge > 0))) {
    throw invalid('tokenMaxAge must be a positive number of milliseconds');
  }
  const maxInFlight = raw.rpc?.maxInFlight ?? DEFAULT_RPC_MAX_IN_FLIGHT;
  if (!Number.isInteger(maxInFlight) || maxInFlight < 1) throw invalid('rpc.maxInFlight must be a positive integer');
  const origins = raw.allowedOrigins;
  if (origins !== undefined && typeof origins !== 'function' && !(Array.isArray(origins) && origins.every((o) => typeof o === 'string'))) {
    throw invalid('allowedOrigins must be an array of origins or a function');
  }

  return Object.freeze({
    maxAge,
    secret: secret as string | string[],
    secretGenerated,
    cookie: Object.freeze({ ...cookie, httpOnly: cookie.httpOnly ?? true }),
    wsPath: normalizePath(ws.path, 'ws.path', DEFAULT_WS_PATH),
    wsClient: Object.freeze(client),
    wsHeartbeat: ws.heartbeat,
    allowedOrigins: Array.isArray(origins) ? [...origins] : origins,
    tokenPath: normalizePath(raw.tokenPath, 'tokenPath', TOKEN_PATH),
    allowQueryToken: raw.allowQueryToken ?? false,
    tokenMaxAge: raw.tokenMaxAge,
    proxy: raw.proxy,
    rpcMaxInFlight: maxInFlight,
    passThrough: Object.freeze(Object.fromEntries(PASS_THROUGH_KEYS.filter((k) => raw[k] !== undefined).map((k) => [k, raw[k]]))),
  });
}
