/**
 * Every option is read, checked and defaulted here, once, at hybridSession(); the internals see only the frozen
 * NormalizedOptions (as express-session's session(options) and ky's normalize step).
 */
import { createHmac } from 'node:crypto';
import { HybridSessionError } from '../shared/errors.js';
import { TOKEN_PATH, type StorageHint } from '../shared/protocol.js';
import type { CookieOptions, HybridSessionOptions, NormalizedPublicOptions, Store } from './types.js';
import { DEFAULT_REVOCATION_CHANNEL, type RevocationOptions } from './websocket/revocation-bus.js';
import { warnOnce } from './warn.js';
import { DEFAULT_PROOF_MAX_AGE } from './credentials/proof.js';

export const DEFAULT_MAX_AGE = 30 * 24 * 60 * 60 * 1000;
/** A token's own life (DESIGN "Token rotation"): short, so a copied token is worth little; renewed at half-life. */
export const DEFAULT_TOKEN_MAX_AGE = 60 * 60 * 1000;
/** How long the previous generation still works on requests and handshakes after a rotation (in-flight, tabs not told). */
export const DEFAULT_ROTATION_GRACE = 60_000;
/** ms between websocket pings (ws's own examples use 30 s); a peer silent for two of them is dropped. */
export const DEFAULT_HEARTBEAT = 30_000;
/** ms a store call may take before it counts as unavailable (node-redis's connectTimeout is 5 s). */
export const DEFAULT_STORE_TIMEOUT = 10_000;
/** DESIGN "Provisional sessions": the life of a session nothing but the token endpoint has used. */
export const DEFAULT_PROVISIONAL_MAX_AGE = 15 * 60 * 1000;
/** DESIGN "Bounds": open websockets per session. */
export const DEFAULT_MAX_SOCKETS_PER_SESSION = 32;
export const MIN_SECRET_LENGTH = 32;
/** Secrets published in READMEs and tutorials (SocketStream shipped the first as its default). */
export const KNOWN_DEFAULT_SECRETS = [
  'socketstream',
  'keyboard cat',
  'secret',
  'changeme',
  'change me',
  'change-me',
  'mysecret',
  'my secret',
  'my-secret',
  'your secret',
  'your-secret',
  'yoursecret',
  'session secret',
  'sessionsecret',
  'secret key',
  'secretkey',
  'supersecret',
  'default',
  'password',
  'shhhh, very secret',
  'keyboard cat keyboard cat keyboard cat',
];

/**
 * Every option hybridSession() takes. Typed against the options interface, so an option added there and not here
 * (or here and not there) is a type error rather than an "unknown option" a user finds at run time.
 */
export const SERVER_OPTION_KEYS = {
  secret: true, store: true, maxAge: true, tokenMaxAge: true, cookie: true, tokenPath: true, allowedOrigins: true,
  allowQueryToken: true, ws: true, proxy: true, heartbeat: true, revocation: true, storeTimeout: true,
  rotationGrace: true, maxSocketsPerSession: true, provisionalMaxAge: true,
  binding: true, proofMaxAge: true,
} as const satisfies Record<keyof HybridSessionOptions, true>;
const KNOWN_KEYS: ReadonlySet<string> = new Set(Object.keys(SERVER_OPTION_KEYS));
const COOKIE_KEYS: ReadonlySet<string> = new Set(
  Object.keys({ name: true, httpOnly: true, secure: true, sameSite: true, path: true, domain: true } satisfies Record<keyof CookieOptions, true>),
);
/** Renamed or misremembered keys get a pointed error rather than being silently ignored. */
const HINTS: Record<string, string> = {
  name: 'cookie.name',
  key: 'cookie.name',
  origins: 'allowedOrigins',
  allowedOrigin: 'allowedOrigins',
  origin: 'allowedOrigins',
  session: 'top-level options (secret, store, maxAge, cookie)',
  genid: 'nothing: session ids are always made by the server (uid 24 bytes)',
};

export interface NormalizedOptions extends NormalizedPublicOptions {
  secrets: readonly string[];
  /** HMAC keys for tokens, one per secret, derived so a token MAC is never a cookie signature. */
  tokenKeys: readonly Buffer[];
  store: Store | undefined;
  originAllowed: (origin: string) => boolean;
  /** The cross-process revocation bus (revocation-bus.ts), or undefined: one process. */
  revocation: RevocationOptions | undefined;
  /** ms between websocket pings; 0: no heartbeat (heartbeat.ts). Internal: hs.options stays as it was. */
  heartbeat: number;
  /** ms before a store call that has not answered fails with HS_ERR_STORE_UNAVAILABLE; 0: wait forever. */
  storeTimeout: number;
  /** Open websockets per session; the oldest closes 4408 past it. */
  maxSocketsPerSession: number;
  /** ms a never-used session made by the token endpoint lives (sliding); ≤ maxAge. */
  provisionalMaxAge: number;
  /** HMAC key of the DPoP nonces (proof.ts), derived from the first secret: processes sharing it agree on nonces. */
  nonceKey: Buffer;
}

function fail(message: string): never {
  throw new HybridSessionError('HS_ERR_INVALID_OPTIONS', `hybridSession(): ${message}`);
}

function positiveMs(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(`${name} must be a positive number of ms`);
  return Math.floor(value);
}

export function weakSecretReason(secret: string): string | null {
  if (KNOWN_DEFAULT_SECRETS.includes(secret.trim().toLowerCase())) return `"${secret}" is a well-known default`;
  if (secret.length < MIN_SECRET_LENGTH) return `a secret shorter than ${MIN_SECRET_LENGTH} characters`;
  if (new Set(secret).size < 8) return 'a secret made of fewer than 8 distinct characters';
  return null;
}

function normalizeSecrets(secret: unknown): string[] {
  if (secret === undefined || secret === null || secret === '') {
    throw new HybridSessionError('HS_ERR_WEAK_SECRET', 'hybridSession(): `secret` is required (a random string of 32+ characters)');
  }
  const list = Array.isArray(secret) ? secret : [secret];
  if (list.length === 0) throw new HybridSessionError('HS_ERR_WEAK_SECRET', 'hybridSession(): `secret` array is empty');
  for (const s of list) {
    if (typeof s !== 'string' || s.length === 0) fail('`secret` must be a non-empty string or an array of them');
  }
  const production = process.env.NODE_ENV === 'production';
  for (const s of list as string[]) {
    const reason = weakSecretReason(s);
    if (!reason) continue;
    const message = `hybridSession(): weak secret: ${reason}. Anyone who knows it can forge session cookies and tokens; use a random string of ${MIN_SECRET_LENGTH}+ characters`;
    if (production) throw new HybridSessionError('HS_ERR_WEAK_SECRET', message);
    warnOnce('HS_ERR_WEAK_SECRET', `${message} (refused when NODE_ENV=production).`);
  }
  return list as string[];
}

function normalizeCookie(cookie: unknown): NormalizedPublicOptions['cookie'] {
  if (cookie === undefined) cookie = {};
  if (typeof cookie !== 'object' || cookie === null || Array.isArray(cookie)) fail('`cookie` must be an object');
  const c = cookie as CookieOptions & Record<string, unknown>;
  for (const key of Object.keys(c)) {
    if (key === 'maxAge' || key === 'expires') fail('`cookie.maxAge` is `maxAge` here (the session and its cookie share it)');
    if (!COOKIE_KEYS.has(key)) fail(`unknown option cookie.${key}`);
  }
  const name = c.name ?? 'connect.sid';
  if (typeof name !== 'string' || !/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) fail('`cookie.name` must be a cookie token');
  const httpOnly = c.httpOnly ?? true;
  if (typeof httpOnly !== 'boolean') fail('`cookie.httpOnly` must be a boolean');
  const secure = c.secure ?? 'auto';
  if (secure !== true && secure !== false && secure !== 'auto') fail("`cookie.secure` must be true, false or 'auto'");
  const sameSite = c.sameSite ?? 'lax';
  if (sameSite !== 'lax' && sameSite !== 'strict' && sameSite !== 'none') fail("`cookie.sameSite` must be 'lax', 'strict' or 'none'");
  if (sameSite === 'none' && secure === false) fail("`cookie.sameSite: 'none'` needs `secure` (browsers drop such cookies)");
  const path = c.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/')) fail('`cookie.path` must start with "/"');
  const domain = c.domain;
  if (domain !== undefined && (typeof domain !== 'string' || domain.length === 0)) fail('`cookie.domain` must be a string');
  return Object.freeze({ name, httpOnly, secure, sameSite, path, domain });
}

const APP_ORIGINS =
  'Hybrid apps send: "capacitor://localhost" (Capacitor, iOS), "https://localhost" (Capacitor, Android default), ' +
  '"ionic://localhost" (Ionic WKWebView, iOS), "http://localhost" (Cordova Android, androidScheme http), and "null" ' +
  'for pages opened from file://.';

function normalizeOrigins(allowed: unknown): (origin: string) => boolean {
  if (allowed === undefined) return () => false;
  if (typeof allowed === 'function') {
    const predicate = allowed as (origin: string) => unknown;
    return (origin) => {
      try {
        return predicate(origin) === true;
      } catch {
        return false; // a throwing predicate refuses rather than crashing the request
      }
    };
  }
  if (!Array.isArray(allowed) || allowed.some((o) => typeof o !== 'string' || o.length === 0)) {
    fail('`allowedOrigins` must be an array of origins or a predicate');
  }
  for (const o of allowed as string[]) {
    // A trailing slash, "*", or a scheme without a host ("file://", "capacitor://") is never sent as an Origin:
    // the error says what hybrid apps do send.
    if (o !== 'null' && !/^[a-z][a-z0-9+.-]*:\/\/[^/]+$/i.test(o)) fail(`allowedOrigins: "${o}" is not an origin (scheme://host[:port], or "null"). ${APP_ORIGINS}`);
  }
  const set = new Set(allowed as string[]);
  return (origin) => set.has(origin);
}

/** DESIGN "Storage hint": indexedDB wins, then localStorage; either explicitly false means memory. */
export function storageHint(ws: HybridSessionOptions['ws']): StorageHint {
  const client = ws?.client;
  if (client?.indexedDB === true) return 'indexedDB';
  if (client?.localStorage === true) return 'localStorage';
  if (client?.indexedDB === false || client?.localStorage === false) return 'memory';
  return 'indexedDB';
}

export function deriveTokenKey(secret: string): Buffer {
  return createHmac('sha256', secret).update('hybrid-session token key v1').digest();
}

/** `revocation: { redis, channel? }`: a node-redis 4+ client (ioredis has no isOpen and is refused by name). */
function normalizeRevocation(value: unknown): RevocationOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('`revocation` must be an object: { redis: nodeRedisClient, channel? }');
  const r = value as Record<string, unknown>;
  for (const key of Object.keys(r)) {
    if (key !== 'redis' && key !== 'channel') fail(`unknown option revocation.${key} (known: redis, channel)`);
  }
  const client = r.redis as Record<string, unknown> | null | undefined;
  if (typeof client !== 'object' || client === null) fail('`revocation.redis` must be a node-redis client (createClient from \'redis\')');
  if (typeof client.duplicate !== 'function' || typeof client.publish !== 'function' || !('isOpen' in client)) {
    fail(
      typeof client.scanStream === 'function' || typeof client.status === 'string'
        ? '`revocation.redis`: an ioredis client was given; use node-redis (import { createClient } from \'redis\'), the client connect-redis 9 needs too'
        : '`revocation.redis` must be a node-redis 4+ client (duplicate, publish)',
    );
  }
  const channel = r.channel ?? DEFAULT_REVOCATION_CHANNEL;
  if (typeof channel !== 'string' || channel.length === 0) fail('`revocation.channel` must be a non-empty string');
  return Object.freeze({ redis: client as unknown as RevocationOptions['redis'], channel });
}

export function normalizeServerOptions(input: HybridSessionOptions): NormalizedOptions {
  if (typeof input !== 'object' || input === null) fail('options object required (at least { secret })');
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) fail(`unknown option \`${key}\`${HINTS[key] ? ` (did you mean ${HINTS[key]}?)` : ''}`);
  }
  const secrets = normalizeSecrets(input.secret);
  const store = input.store;
  if (store !== undefined) {
    const s = store as unknown as Record<string, unknown>;
    if (typeof store !== 'object' || store === null || typeof s.get !== 'function' || typeof s.set !== 'function' || typeof s.destroy !== 'function') {
      fail('`store` must be an express-session Store (get, set, destroy)');
    }
  }
  const maxAge = positiveMs(input.maxAge, 'maxAge', DEFAULT_MAX_AGE);
  const tokenMaxAge = Math.min(positiveMs(input.tokenMaxAge, 'tokenMaxAge', DEFAULT_TOKEN_MAX_AGE), maxAge);
  const rotationGrace = positiveMs(input.rotationGrace, 'rotationGrace', DEFAULT_ROTATION_GRACE);
  const tokenPath = input.tokenPath ?? TOKEN_PATH;
  if (typeof tokenPath !== 'string' || !tokenPath.startsWith('/') || /[?#\s]/.test(tokenPath)) fail('`tokenPath` must be a path starting with "/"');
  const allowQueryToken = input.allowQueryToken ?? false;
  if (typeof allowQueryToken !== 'boolean') fail('`allowQueryToken` must be a boolean');
  if (input.ws !== undefined && (typeof input.ws !== 'object' || input.ws === null)) fail('`ws` must be an object');
  if (input.proxy !== undefined && typeof input.proxy !== 'boolean') fail('`proxy` must be a boolean');
  // Clamped to setInterval's range: above 2^31-1 ms Node fires every 1 ms, which would drop every socket at once.
  const heartbeat = input.heartbeat === 0 ? 0 : Math.min(2 ** 31 - 1, Math.max(1, positiveMs(input.heartbeat, 'heartbeat (0 to disable)', DEFAULT_HEARTBEAT)));
  const binding = input.binding ?? 'optional';
  if (binding !== 'off' && binding !== 'optional' && binding !== 'required') fail("`binding` must be 'off', 'optional' or 'required'");
  const storeTimeout = input.storeTimeout === 0 ? 0 : Math.min(2 ** 31 - 1, positiveMs(input.storeTimeout, 'storeTimeout (0 to disable)', DEFAULT_STORE_TIMEOUT));
  const maxSocketsPerSession = input.maxSocketsPerSession ?? DEFAULT_MAX_SOCKETS_PER_SESSION;
  if (!Number.isInteger(maxSocketsPerSession) || maxSocketsPerSession < 1) fail('`maxSocketsPerSession` must be a positive integer');
  return Object.freeze({
    secrets: Object.freeze([...secrets]),
    tokenKeys: Object.freeze(secrets.map(deriveTokenKey)),
    store,
    maxAge,
    tokenMaxAge,
    rotationGrace,
    tokenPath,
    allowQueryToken,
    storage: storageHint(input.ws),
    cookie: normalizeCookie(input.cookie),
    originAllowed: normalizeOrigins(input.allowedOrigins),
    // DESIGN "Websocket lifetime": touch at most once per min(60 s, maxAge / 4).
    touchInterval: Math.max(1, Math.min(60_000, Math.floor(maxAge / 4))),
    proxy: input.proxy,
    heartbeat,
    storeTimeout,
    maxSocketsPerSession,
    provisionalMaxAge: Math.min(positiveMs(input.provisionalMaxAge, 'provisionalMaxAge', DEFAULT_PROVISIONAL_MAX_AGE), maxAge),
    revocation: normalizeRevocation(input.revocation),
    binding,
    proofMaxAge: positiveMs(input.proofMaxAge, 'proofMaxAge', DEFAULT_PROOF_MAX_AGE),
    nonceKey: createHmac('sha256', secrets[0]!).update('hybrid-session dpop nonce key v1').digest(),
  });
}
