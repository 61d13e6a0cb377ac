// The HTTP hot path: one Express route reading req.session, resolved by hs.middleware from a bearer token against
// the same route behind plain express-session resolved from its cookie, both in this process on the SAME store.
// Load comes from a child process (lib/loadgen.mjs), 4 keep-alive connections; the figure is this process's CPU
// time per request (the server's cost, not diluted by the client's), wall time per request kept alongside.
import express from 'express';
import session from 'express-session';
import { randomBytes } from 'node:crypto';
import { compare } from './lib/measure.mjs';
import { cpuDuring, startLoadgen } from './lib/load.mjs';
import { notRun, pick, report } from './lib/report.mjs';
import { fakeRequest } from './lib/fake-request.mjs';
import { summarize } from './lib/stats.mjs';
import { close, listen, serverOrNotRun, newSession, redisStore, storeCall } from './lib/server-setup.mjs';

const SECRET = 'bench-secret-' + randomBytes(24).toString('hex');
const N = pick(500, 50);
const CONCURRENCY = 4;
const RUNS = pick(25, 3);

const mod = await serverOrNotRun(['server.bearer-request', 'server.bearer-request-redis']);
const { hybridSession } = mod;
const loadgen = startLoadgen();

const route = (req, res) => res.end(String(req.session?.n ?? 'none'));

/** Our app on `store`, with one session holding n = 1; returns what the load needs. */
async function oursOn(store) {
  const hs = hybridSession({ secret: SECRET, store });
  const app = express();
  app.use(hs.middleware);
  app.get('/n', route);
  const { server, url } = await listen(app);
  const s = await newSession(hs, url);
  const { sessionID } = await hs.authenticate(fakeBearer(s.token));
  const data = await storeCall(hs.store, 'get', sessionID);
  await storeCall(hs.store, 'set', sessionID, { ...data, n: 1 });
  return { hs, server, url, ...s, sessionID };
}

const fakeBearer = (token) => fakeRequest({ headers: { authorization: `Bearer ${token}` } });

async function check(url, headers) {
  const res = await fetch(url + '/n', { headers });
  const body = await res.text();
  if (res.status !== 200 || body !== '1') throw new Error(`${url}/n with ${Object.keys(headers)} answered ${res.status} ${body}: the session was not resolved`);
}

/** One batch; returns server CPU µs per request and records wall µs per request. */
function sampler(url, headers, wall) {
  return async () => {
    const { cpuUs, result } = await cpuDuring(() => loadgen.http({ url: url + '/n', headers, n: N, concurrency: CONCURRENCY }));
    if (result.statuses[200] !== N) throw new Error(`non-200 answers: ${JSON.stringify(result.statuses)}`);
    wall.push((result.ms * 1000) / N);
    return cpuUs / N;
  };
}

const servers = [];
try {
  // The server's own default store, shared by both apps.
  const probe = hybridSession({ secret: SECRET });
  const store = probe.store;
  const ours = await oursOn(store);
  servers.push(ours.server);
  const base = express();
  base.use(session({ secret: SECRET, store, resave: false, saveUninitialized: false, cookie: { httpOnly: true, sameSite: 'lax' } }));
  base.get('/n', route);
  const baseSrv = await listen(base);
  servers.push(baseSrv.server);

  const bearer = { authorization: `Bearer ${ours.token}` };
  const cookie = { cookie: ours.cookie };
  await check(ours.url, bearer);
  await check(baseSrv.url, cookie);

  const wallOurs = [];
  const wallBase = [];
  const r = await compare(sampler(ours.url, bearer, wallOurs), sampler(baseSrv.url, cookie, wallBase), {
    sampled: true,
    unit: 'µs CPU/req',
    warmup: 2,
    runs: RUNS,
  });
  // The first two of each are the warm-up batches.
  const wo = summarize(wallOurs.slice(2), 'µs/req');
  const wb = summarize(wallBase.slice(2), 'µs/req');
  const wallRatio = summarize(wo.samples.map((x, i) => x / wb.samples[i]), '×');
  report({
    id: 'server.bearer-request',
    ...r,
    notes: `wall ${wo.median.toFixed(0)} vs ${wb.median.toFixed(0)} µs/req (${wallRatio.median.toFixed(2)}×), ${CONCURRENCY} connections`,
    extra: { requestsPerSample: N, concurrency: CONCURRENCY, wallOurs: wo, wallBaseline: wb, wallRatio, store: store.constructor?.name },
  });

  // Same route, bearer, on Redis vs on the memory store: wall time per request (Redis is I/O, not this CPU).
  let red;
  try {
    red = await redisStore();
    const onRedis = await oursOn(red.store);
    servers.push(onRedis.server);
    const memWall = [];
    const redisWall = [];
    const wallSampler = (url, headers, into) => async () => {
      await sampler(url, headers, into)();
      return into[into.length - 1];
    };
    await check(onRedis.url, { authorization: `Bearer ${onRedis.token}` });
    const rr = await compare(wallSampler(onRedis.url, { authorization: `Bearer ${onRedis.token}` }, redisWall), wallSampler(ours.url, bearer, memWall), {
      sampled: true,
      unit: 'µs/req',
      warmup: 1,
      runs: pick(7, 3),
    });
    report({ id: 'server.bearer-request-redis', ...rr, notes: `wall time, ${CONCURRENCY} connections, redis-server pid ${red.pid}` });
    onRedis.hs.close?.();
  } catch (err) {
    notRun('server.bearer-request-redis', err.message.split('\n')[0]);
  } finally {
    await red?.stop();
  }
  ours.hs.close?.();
  probe.close?.();
} finally {
  await loadgen.stop();
  for (const s of servers) await close(s);
}
