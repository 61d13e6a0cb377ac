/**
 * `ss.session.store.use('memory' | 'redis', config)` or `ss.session.store.use(anyExpressSessionStore)`.
 * `use()` only records the choice: the Redis store is built when the app starts, so a `maxAge` set after
 * `use()` (the docs' own order) still becomes the store's TTL.
 */
import type { Store } from 'express-session';
import { HybridSessionError } from '../shared/errors.js';
import { addRedisCompareAndSet, looksLikeConnectRedis, type ConnectRedisLike } from '../server/internal.js';

export interface RedisConfig {
  /** `redis://[user:password@]host:port[/db]` */
  url?: string;
  host?: string;
  port?: number;
  password?: string;
  /** connect-redis 1.x's name for the password, as SocketStream-era configs spell it. */
  pass?: string;
  username?: string;
  db?: number;
  /** A node-redis (`createClient` from 'redis') client; connected if it is not yet. Never closed by the facade. */
  client?: unknown;
  /** Key prefix; connect-redis's default is 'sess:'. */
  prefix?: string;
  /** ms `ss.start()` waits for the first Redis connection before failing (node-redis itself retries forever). Default 10 s. */
  connectTimeout?: number;
}

export const DEFAULT_REDIS_CONNECT_TIMEOUT = 10_000;

export type StoreChoice =
  | { kind: 'memory' }
  | { kind: 'redis'; config: RedisConfig }
  | { kind: 'instance'; store: Store };

const REDIS_KEYS = Object.keys({
  url: true, host: true, port: true, password: true, pass: true, username: true, db: true, client: true, prefix: true, connectTimeout: true,
} satisfies Record<keyof RedisConfig, true>);

function invalid(message: string): HybridSessionError {
  return new HybridSessionError('HS_ERR_INVALID_OPTIONS', message);
}

export function isStore(value: unknown): value is Store {
  const v = value as Record<string, unknown> | null;
  return typeof v === 'object' && v !== null && typeof v.get === 'function' && typeof v.set === 'function' &&
    typeof v.destroy === 'function';
}

/**
 * ioredis answers connect-redis 9's node-redis calls (`set(key, val, {expiration})`) without an error and
 * without the TTL, so sessions never expire: refuse it by name rather than fail silently.
 */
export function assertNodeRedisClient(client: unknown): void {
  const c = client as Record<string, unknown> | null;
  if (typeof c !== 'object' || c === null) throw invalid('store.use("redis", {client}): client must be a node-redis client');
  const looksIoredis =
    typeof c.scanStream === 'function' || (typeof c.status === 'string' && !('isOpen' in c)) ||
    ['Redis', 'Cluster'].includes((c.constructor as { name?: string } | undefined)?.name ?? '') && !('isOpen' in c);
  if (looksIoredis) {
    throw invalid(
      "store.use('redis', {client}): an ioredis client was given; connect-redis 9 needs node-redis " +
        "(import { createClient } from 'redis') — with ioredis it silently stores sessions without their expiry",
    );
  }
  if (!('isOpen' in c) || typeof c.connect !== 'function' || typeof c.get !== 'function') {
    throw invalid(
      "store.use('redis', {client}): not a node-redis 4+ client (import { createClient } from 'redis'); " +
        'callback-style clients (node-redis 3) are not supported by connect-redis 9',
    );
  }
}

export function chooseStore(kind: unknown, config?: unknown): StoreChoice {
  if (isStore(kind)) {
    if (config !== undefined) throw invalid('store.use(storeInstance) takes no second argument');
    return { kind: 'instance', store: kind };
  }
  if (typeof kind !== 'string') throw invalid("store.use() takes 'memory', 'redis' or an express-session Store instance");
  switch (kind.toLowerCase()) {
    case 'memory':
      if (config !== undefined) throw invalid("store.use('memory') takes no configuration");
      return { kind: 'memory' };
    case 'redis': {
      const cfg = (config ?? {}) as Record<string, unknown>;
      if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) {
        throw invalid("store.use('redis', config): config must be an object such as {port: 6379}");
      }
      for (const key of Object.keys(cfg)) {
        if (!REDIS_KEYS.includes(key)) throw invalid(`store.use('redis'): unknown option "${key}" (known: ${REDIS_KEYS.join(', ')})`);
      }
      if (cfg.client !== undefined) {
        assertNodeRedisClient(cfg.client);
        const others = Object.keys(cfg).filter((k) => !['client', 'prefix', 'connectTimeout'].includes(k));
        if (others.length) throw invalid(`store.use('redis', {client}) takes only prefix beside client, not ${others.join(', ')}`);
      }
      if (cfg.url !== undefined && (typeof cfg.url !== 'string' || !/^rediss?:\/\//.test(cfg.url))) {
        throw invalid("store.use('redis', {url}): url must start with redis:// or rediss://");
      }
      if (cfg.port !== undefined && (!Number.isInteger(cfg.port) || (cfg.port as number) <= 0 || (cfg.port as number) > 65535)) {
        throw invalid("store.use('redis', {port}): port must be an integer 1–65535");
      }
      if (cfg.db !== undefined && (!Number.isInteger(cfg.db) || (cfg.db as number) < 0)) {
        throw invalid("store.use('redis', {db}): db must be a non-negative integer");
      }
      if (cfg.connectTimeout !== undefined && (typeof cfg.connectTimeout !== 'number' || !(cfg.connectTimeout > 0))) {
        throw invalid("store.use('redis', {connectTimeout}): connectTimeout must be a positive number of ms");
      }
      if (cfg.prefix !== undefined && typeof cfg.prefix !== 'string') throw invalid("store.use('redis', {prefix}): prefix must be a string");
      return { kind: 'redis', config: { ...cfg } as RedisConfig };
    }
    default:
      throw invalid(`store.use('${kind}'): unknown store; use 'memory', 'redis' or pass an express-session Store instance`);
  }
}

/** What the facade made and so must close at `ss.stop()`. */
export interface BuiltStore {
  store: Store | undefined;
  /** Resolves once the store can answer (the Redis connection is up); rejects with a typed error if it cannot. */
  ready: Promise<void>;
  /** The node-redis client under a Redis store: hybridSession's revocation bus publishes through it. */
  redis?: unknown;
  close(): Promise<void>;
}

interface NodeRedisClient {
  isOpen: boolean;
  isReady?: boolean;
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no connection within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).then(() => undefined).finally(() => clearTimeout(timer));
}

function redisClientOptions(cfg: RedisConfig): Record<string, unknown> {
  // While Redis is away a command fails at once (the request gets its 503) instead of waiting in a queue.
  const options: Record<string, unknown> = { disableOfflineQueue: true };
  if (cfg.url !== undefined) options.url = cfg.url;
  if (cfg.host !== undefined || cfg.port !== undefined) {
    options.socket = { host: cfg.host ?? '127.0.0.1', port: cfg.port ?? 6379 };
  }
  const password = cfg.password ?? cfg.pass;
  if (password !== undefined) options.password = password;
  if (cfg.username !== undefined) options.username = cfg.username;
  if (cfg.db !== undefined) options.database = cfg.db;
  return options;
}

export async function buildStore(choice: StoreChoice, maxAge: number, warn: (message: string) => void): Promise<BuiltStore> {
  if (choice.kind === 'memory') return { store: undefined, ready: Promise.resolve(), close: async () => {} };
  if (choice.kind === 'instance') {
    // A connect-redis store made by the app: its node-redis client carries the revocation bus too.
    const redis = looksLikeConnectRedis(choice.store) ? (choice.store as unknown as { client: unknown }).client : undefined;
    return { store: choice.store, ready: Promise.resolve(), redis, close: async () => {} };
  }

  // Loaded only when Redis is chosen, so apps on the memory store need neither package installed.
  const [{ createClient }, { RedisStore }] = await Promise.all([import('redis'), import('connect-redis')]);
  const cfg = choice.config;
  const ownClient = cfg.client === undefined;
  const client = (cfg.client ?? createClient(redisClientOptions(cfg))) as NodeRedisClient;
  if (ownClient) {
    // node-redis re-emits every failed reconnect as 'error'; without a listener that kills the process.
    let last = '';
    client.on('error', (error) => {
      if (error.message !== last) warn(`hybrid-session/socketstream: redis: ${error.message}`);
      last = error.message;
    });
  }
  const ready = client.isOpen ? Promise.resolve() : withTimeout(client.connect(), cfg.connectTimeout ?? DEFAULT_REDIS_CONNECT_TIMEOUT);
  const store = new RedisStore({
    client,
    ...(cfg.prefix !== undefined ? { prefix: cfg.prefix } : {}),
    // Used when a session carries no cookie expiry; otherwise connect-redis derives the TTL from it.
    ttl: Math.ceil(maxAge / 1000),
  });
  // hybridSession() would add it too; done here so the store the facade hands out is atomic on its own.
  addRedisCompareAndSet(store as unknown as ConnectRedisLike);
  return {
    store: store as unknown as Store,
    redis: client,
    ready: ready.catch((cause: unknown) => {
      const where = cfg.url ? cfg.url.replace(/\/\/[^@/]*@/, '//') : `${cfg.host ?? '127.0.0.1'}:${cfg.port ?? 6379}`;
      throw new HybridSessionError('HS_ERR_STORE_UNAVAILABLE', `redis at ${cfg.client ? 'the given client' : where}: ${(cause as Error)?.message ?? cause}`, { cause });
    }),
    async close() {
      if (!ownClient) return;
      if (!client.isOpen) return;
      // Still (re)connecting: a graceful close would wait for a server that is not there.
      if (client.isReady === false) {
        client.destroy?.();
        return;
      }
      try {
        if (client.close) await client.close();
        else if (client.quit) await client.quit();
      } catch {
        client.destroy?.();
      }
    },
  };
}
