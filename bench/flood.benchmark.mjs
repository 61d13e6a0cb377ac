// Token-endpoint flood (issue 11, DESIGN "Provisional sessions"): credential-less `POST /session/token` at full
// speed from a worker thread (test/attack/flood-client.mjs: 50 raw keep-alive connections) against the built shim.
//   attack.token-flood        MemoryStore({ max: 1000 }), a dozen sessions used once and one user active
//                             throughout: requests/s, used sessions lost (must be 0), the store at the end.
//   attack.token-flood-redis  connect-redis on a real redis-server: bytes per provisional session (MEMORY USAGE)
//                             and its TTL, against a used session's TTL.
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { notRun, pick, report } from './lib/report.mjs';
import { close, listen, serverOrNotRun, redisStore } from './lib/server-setup.mjs';

const REQUESTS = pick(100_000, 2_000);
const REDIS_REQUESTS = pick(2_000, 100);
const CONCURRENCY = 50;
/** run.mjs gives a script 240 s: on a machine loaded enough to need more, the row reports how many were sent. */
const DEADLINE_MS = 150_000;
const SECRET = 'bench-secret-' + randomBytes(24).toString('hex');
const FLOOD_CLIENT = new URL('../test/attack/flood-client.mjs', import.meta.url);

const mod = await serverOrNotRun(['attack.token-flood', 'attack.token-flood-redis']);

function flood(url, count) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(FLOOD_CLIENT, { workerData: { kind: 'http', url, count, concurrency: CONCURRENCY, deadlineMs: DEADLINE_MS } });
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`flood worker exited with ${code}`)));
  });
}

/** A server answering {sid} on any route but the token endpoint. */
async function serve(store) {
  const hs = mod.hybridSession({ secret: SECRET, store });
  const { server, url } = await listen((req, res) =>
    hs.middleware(req, res, (err) => {
      res.setHeader('Content-Type', 'application/json');
      if (err) {
        res.statusCode = err.status ?? 500;
        return res.end(JSON.stringify({ error: err.code }));
      }
      res.end(JSON.stringify({ sid: req.sessionID ?? null }));
    }),
  );
  return { hs, server, url };
}

/** A new client that uses its session once (promoted, its token rotated to a full one). */
async function usedClient(url) {
  const r = await fetch(url + '/session/token', { method: 'POST' });
  const { token } = await r.json();
  const used = await fetch(url + '/', { headers: { authorization: `Bearer ${token}` } });
  const { sid } = await used.json();
  return { token: used.headers.get('session-token') || token, sid };
}

/** One round trip of a used client; false if it was not served on its own session. */
async function served(url, user) {
  const r = await fetch(url + '/', { headers: { authorization: `Bearer ${user.token}` } });
  if (r.status !== 200) return false;
  user.token = r.headers.get('session-token') || user.token;
  return (await r.json()).sid === user.sid;
}

// ---- memory store ----
{
  const store = new mod.MemoryStore({ max: 1000 });
  let evictions = 0;
  const lost = new Set();
  let watched;
  store.on('evicted', (sid) => {
    evictions++;
    if (watched?.has(sid)) lost.add(sid);
  });
  const { server, url } = await serve(store);
  try {
    const dozen = [];
    for (let i = 0; i < 12; i++) dozen.push(await usedClient(url));
    const active = await usedClient(url);
    watched = new Set([...dozen, active].map((u) => u.sid));
    let flooding = true;
    let rounds = 0;
    let activeFailures = 0;
    const attack = flood(url + '/session/token', REQUESTS).finally(() => (flooding = false));
    const activity = (async () => {
      do {
        if (!(await served(url, active))) activeFailures++;
        rounds++;
      } while (flooding);
    })();
    const [result] = await Promise.all([attack, activity]);
    let idleLost = 0;
    for (const user of dozen) if (!(await served(url, user))) idleLost++;
    const sent = Object.values(result.tally).reduce((a, n) => a + n, 0);
    const rate = sent / (result.ms / 1000);
    const ok200 = result.tally[200] ?? 0;
    const cut = sent < REQUESTS ? ` (stopped at the ${DEADLINE_MS / 1000} s bound)` : '';
    report({
      id: 'attack.token-flood',
      // Met on what users need (no used session lost, every flood request answered 200), whatever the count sent.
      met: lost.size === 0 && idleLost === 0 && activeFailures === 0 && ok200 === sent && sent > store.max,
      display: {
        ours: `${sent.toLocaleString('en-US')} POSTs${cut} in ${(result.ms / 1000).toFixed(1)} s: ${Math.round(rate).toLocaleString('en-US')} requests/s; used sessions lost ${lost.size} of 13 (${idleLost} idle not served, active user ${activeFailures} failures in ${rounds} rounds); store ${store.size}/${store.max} (${store.provisionalSize} provisional), ${evictions.toLocaleString('en-US')} evictions`,
        baseline: '—',
        ratio: '—',
        short: `${Math.round(rate)} req/s, ${lost.size} used lost, store ${store.size}/${store.max}`,
      },
      notes: ok200 === sent ? undefined : `answers: ${JSON.stringify(result.tally)}`,
      extra: { requests: sent, planned: REQUESTS, ms: result.ms, requestsPerSec: rate, tally: result.tally, created: result.created, usedLost: lost.size, idleLost, activeFailures, activeRounds: rounds, storeSize: store.size, storeMax: store.max, provisional: store.provisionalSize, evictions },
    });
  } finally {
    await close(server);
    store.close();
  }
}

// ---- Redis ----
{
  let redis;
  try {
    redis = await redisStore('flood:');
  } catch (err) {
    notRun('attack.token-flood-redis', err.message);
  }
  if (redis) {
    const { server, url, hs } = await serve(redis.store);
    try {
      const user = await usedClient(url);
      const result = await flood(url + '/session/token', REDIS_REQUESTS);
      const keys = await redis.client.keys('flood:*');
      const provisionalTtl = Math.ceil((hs.options.provisionalMaxAge ?? 900_000) / 1000);
      const maxAgeSec = Math.round((hs.options.maxAge ?? 30 * 86_400_000) / 1000);
      let bytes = 0;
      let ttlMax = 0;
      let ttlMin = Infinity;
      let provisional = 0;
      let usedTtl = null;
      for (const key of keys) {
        const ttl = await redis.client.ttl(key);
        if (key === 'flood:' + user.sid) {
          usedTtl = ttl;
          continue;
        }
        provisional++;
        ttlMax = Math.max(ttlMax, ttl);
        ttlMin = Math.min(ttlMin, ttl);
        bytes += Number(await redis.client.sendCommand(['MEMORY', 'USAGE', key]));
      }
      const perKey = provisional ? Math.round(bytes / provisional) : 0;
      report({
        id: 'attack.token-flood-redis',
        met: provisional === REDIS_REQUESTS && ttlMax > 0 && ttlMax <= provisionalTtl && usedTtl !== null && usedTtl > provisionalTtl,
        display: {
          ours: `${provisional.toLocaleString('en-US')} provisional keys, ${perKey} bytes each (MEMORY USAGE); TTL ${ttlMin}–${ttlMax} s (provisionalMaxAge ${provisionalTtl} s); a used session's TTL ${usedTtl} s (maxAge ${maxAgeSec} s)`,
          baseline: '—',
          ratio: '—',
          short: `${perKey} B/provisional session, TTL ≤ ${ttlMax} s vs used ${usedTtl} s`,
        },
        extra: { requests: REDIS_REQUESTS, tally: result.tally, provisional, bytesPerKey: perKey, ttlMin, ttlMax, provisionalTtl, usedTtl, maxAgeSec },
      });
    } finally {
      await close(server);
      await redis.stop();
    }
  }
}
