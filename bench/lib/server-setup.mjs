// What every server bench needs: the built shim (or a clear "not run" reason), a real session made through the
// token endpoint, and real redis-server / connect-redis stores.
import { createServer } from 'node:http';
import { notRun } from './report.mjs';

/** dist/server/index.js's hybridSession, or throws an Error whose message is the "not run" reason. */
export async function loadServer() {
  let mod;
  try {
    mod = await import('../../dist/server/index.js');
  } catch (err) {
    throw new Error(`dist/server/index.js not importable (${err.message.split('\n')[0]})`);
  }
  if (typeof mod.hybridSession !== 'function') throw new Error('dist/server/index.js has no hybridSession export yet');
  return mod;
}

/**
 * A server script's opening: loadServer()'s module, or else each of its rows `ids` reported "not run" with the
 * reason, and the script ends there (exit 0: an unbuilt shim is the rows' reason, not a failed bench).
 */
export async function serverOrNotRun(ids) {
  try {
    return await loadServer();
  } catch (err) {
    for (const id of ids) notRun(id, err.message);
    process.exit(0);
  }
}

export function listen(handler) {
  const server = createServer(handler);
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}` })),
  );
}

export function close(server) {
  return new Promise((resolve) => {
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

/** POST tokenPath over real HTTP: { token, cookie (name=value), sid } of a new session. */
export async function newSession(hs, baseUrl) {
  const res = await fetch(baseUrl + (hs.options?.tokenPath ?? '/session/token'), { method: 'POST' });
  if (res.status !== 200) throw new Error(`token endpoint answered ${res.status}: ${await res.text()}`);
  const body = await res.json();
  const setCookie = res.headers.getSetCookie?.() ?? [];
  const cookie = setCookie.map((c) => c.split(';')[0]).find((c) => c.startsWith(`${hs.options?.cookie?.name ?? 'connect.sid'}=`));
  if (!cookie) throw new Error('token endpoint set no session cookie');
  return { token: body.token, cookie, created: body.created };
}

/** Promise form of a callback store method. */
export const storeCall = (store, method, ...args) =>
  new Promise((resolve, reject) => store[method](...args, (err, value) => (err ? reject(err) : resolve(value))));

/** A real redis-server on a free port (test/helpers/redis-server.ts) and a connect-redis 9 store over node-redis 6. */
export async function redisStore(prefix = 'bench:') {
  const { noRedis } = await import('../../test/helpers/env.ts');
  if (noRedis) throw new Error(noRedis);
  const { startRedis } = await import('../../test/helpers/redis-server.ts');
  const { createClient } = await import('redis');
  const { RedisStore } = await import('connect-redis');
  const redis = await startRedis();
  const client = createClient({ url: redis.url });
  client.on('error', () => {});
  await client.connect();
  const store = new RedisStore({ client, prefix });
  return {
    store,
    /** The node-redis client behind the store (TTL, MEMORY USAGE). */
    client,
    pid: redis.pid,
    async stop() {
      await client.quit().catch(() => client.disconnect?.());
      await redis.stop();
    },
  };
}
