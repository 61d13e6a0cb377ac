/**
 * update(fn) is atomic across processes only with a store that can compare-and-set the version kept in the session
 * data (update.ts). connect-redis has no such method, so a connect-redis store over node-redis gets one here, as a Lua
 * script: read, compare the version, write with connect-redis's own TTL rule, all inside Redis. hybridSession() adds
 * it to such a store by itself, so `store: new RedisStore({ client })` is atomic on Redis as DESIGN promises.
 */
import { MAX_COUNTER, META_KEY } from './session-meta.js';

const CAS_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local ok, data = pcall(cjson.decode, current)
-- session-meta.ts's rule, the same here: the version is __hs.v when that is a non-negative safe integer, else 0.
local version = 0
if ok and type(data) == 'table' and type(data[ARGV[4]]) == 'table' then
  local v = data[ARGV[4]].v
  if type(v) == 'number' and v >= 0 and v <= tonumber(ARGV[6]) and v == math.floor(v) then version = v end
end
if version ~= tonumber(ARGV[1]) then return 0 end
if ARGV[5] == '1' then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
else
  redis.call('DEL', KEYS[1])
end
return 1
`;

type Callback = (err: unknown, ok?: boolean) => void;

/** The parts of a connect-redis 9 store (over a node-redis 4+ client) the script needs. */
export interface ConnectRedisLike {
  client: { eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown> };
  prefix: string;
  ttl: number | ((sess: unknown) => number);
  disableTTL?: boolean;
  serializer: { stringify(sess: unknown): string; parse(text: string): unknown };
  getTTL?(sess: unknown): number;
  compareAndSet?: (sid: string, expected: number, sess: unknown, cb: Callback) => void;
}

/**
 * A connect-redis store whose values Lua's cjson can read (the default JSON serializer) and whose client speaks
 * node-redis's eval({ keys, arguments }). Anything else is left alone: update() then serializes per process only.
 */
export function isConnectRedisStore(store: unknown): store is ConnectRedisLike {
  return looksLikeConnectRedis(store) && (store as ConnectRedisLike).serializer === JSON;
}

/** connect-redis over node-redis, whatever its serializer. */
export function looksLikeConnectRedis(store: unknown): boolean {
  const s = store as Partial<ConnectRedisLike> | null;
  if (typeof s !== 'object' || s === null) return false;
  const client = s.client as Record<string, unknown> | undefined;
  return (
    typeof s.prefix === 'string' &&
    typeof s.serializer === 'object' && s.serializer !== null &&
    (typeof s.ttl === 'number' || typeof s.ttl === 'function') &&
    typeof client === 'object' && client !== null &&
    'isOpen' in client && typeof client.eval === 'function'
  );
}

/** connect-redis's own rule: its getTTL when present, else the cookie's expiry, else its ttl option (seconds). */
function ttlOf(store: ConnectRedisLike, sess: { cookie?: { expires?: unknown } } | null): number {
  if (typeof store.getTTL === 'function') return store.getTTL(sess);
  if (typeof store.ttl === 'function') return store.ttl(sess);
  const expires = sess?.cookie?.expires;
  if (expires) return Math.ceil((Number(new Date(expires as string)) - Date.now()) / 1000);
  return store.ttl;
}

/** Adds compareAndSet (update() and lifecycle.ts's saves) to a connect-redis store: one script, atomic in Redis. */
export function addRedisCompareAndSet(store: ConnectRedisLike): void {
  const run = (sid: string, expected: string, sess: unknown, cb: Callback) => {
    let args: string[];
    try {
      const ttl = ttlOf(store, sess as { cookie?: { expires?: unknown } });
      args = [expected, store.serializer.stringify(sess), String(ttl), META_KEY, store.disableTTL ? '1' : '0', String(MAX_COUNTER)];
    } catch (err) {
      return cb(err);
    }
    store.client
      .eval(CAS_SCRIPT, { keys: [store.prefix + sid], arguments: args })
      .then((reply) => cb(null, Number(reply) === 1), (err: unknown) => cb(err));
  };
  store.compareAndSet = (sid, expected, sess, cb) => run(sid, String(expected), sess, cb);
}
