// Token hot paths. (1) verify = parse + MAC of the server's own token module against the least any HMAC bearer
// scheme must do: one crypto HMAC-SHA256 + timingSafeEqual over the same bytes. (2) A forged token (right shape,
// signed with another secret) against a valid token's full resolution through hs.authenticate, with a counting
// store proving the forged path never reaches the store.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { compare, measure } from './lib/measure.mjs';
import { countingStore } from './lib/counting-store.mjs';
import { fakeRequest } from './lib/fake-request.mjs';
import { notRun, pick, report } from './lib/report.mjs';
import { loadServer, redisStore } from './lib/server-setup.mjs';

const SECRET = 'bench-secret-' + randomBytes(24).toString('hex');
const OTHER_SECRET = 'forger-secret-' + randomBytes(24).toString('hex');

// (1) token verify -------------------------------------------------------------------------------------------
let tokenModule;
let optionsModule;
try {
  // The module is internal (not in dist's public surface), so it is imported from source through tsx.
  tokenModule = await import('../src/server/credentials/token.ts');
  optionsModule = await import('../src/server/options.ts');
} catch (err) {
  notRun('server.token-verify', `src/server/credentials/token.ts not importable: ${err.message.split('\n')[0]}`);
}

if (tokenModule?.verifyToken && tokenModule?.signToken) {
  const key = optionsModule?.deriveTokenKey ? optionsModule.deriveTokenKey(SECRET) : createHmac('sha256', SECRET).update('k').digest();
  const keys = [key];
  const sid = randomBytes(24).toString('base64url'); // express-session's uid(24) shape
  const token = tokenModule.signToken(sid, Date.now() + 30 * 86_400_000, keys);
  const dot = token.lastIndexOf('.');
  const payload = token.slice(0, dot);
  const presented = Buffer.from(token.slice(dot + 1), 'base64url');
  if (!tokenModule.verifyToken(token, keys)) throw new Error('signToken/verifyToken disagree: bench setup is wrong');

  const N = pick(5_000, 500);
  let sink = 0;
  const r = await compare(
    () => {
      for (let i = 0; i < N; i++) if (tokenModule.verifyToken(token, keys)) sink++;
    },
    () => {
      for (let i = 0; i < N; i++) {
        const mac = createHmac('sha256', key).update(payload).digest();
        if (mac.length === presented.length && timingSafeEqual(mac, presented)) sink++;
      }
    },
    { ops: N, scale: 1e6, unit: 'ns CPU/op', warmup: 5, runs: pick(31, 3), clock: 'cpu' },
  );
  if (sink !== N * (pick(31, 3) + 5) * 2) throw new Error('a verify failed during the bench');
  report({ id: 'server.token-verify', ...r, extra: { tokenLength: token.length, payloadLength: payload.length } });
}

// (2) forged rejection vs valid resolution -----------------------------------------------------------------------
let serverModule;
try {
  serverModule = await loadServer();
} catch (err) {
  notRun('server.forged-rejection', err.message);
  notRun('server.forged-rejection-redis', err.message);
}

if (serverModule) {
  const { hybridSession } = serverModule;
  // Wrap the server's own default store, so the counted calls are those of the store users get.
  const probe = hybridSession({ secret: SECRET });
  await forgedVsValid(hybridSession, probe.store, 'server.forged-rejection', pick(1_000, 200));
  probe.close?.();
  let red;
  try {
    red = await redisStore();
    await forgedVsValid(hybridSession, red.store, 'server.forged-rejection-redis', pick(300, 100), `wall clock, redis-server pid ${red.pid}`, 'wall');
  } catch (err) {
    notRun('server.forged-rejection-redis', err.message.split('\n')[0]);
  } finally {
    await red?.stop();
  }
}

async function forgedVsValid(hybridSession, baseStore, id, N, note, clock = 'cpu') {
  const counted = countingStore(baseStore);
  const hs = hybridSession({ secret: SECRET, store: counted.store });
  const forger = hybridSession({ secret: OTHER_SECRET });
  try {
    // A real session, made through the token endpoint; the forged token names the same session id.
    const sid = await createSession(hs);
    const { token } = await hs.issueToken(sid);
    const forged = await forgeToken(forger, sid);
    if (forged.length !== token.length) console.error(`  note: forged token length ${forged.length} ≠ valid ${token.length}`);

    const validReq = fakeRequest({ headers: { authorization: `Bearer ${token}` } });
    const forgedReq = fakeRequest({ headers: { authorization: `Bearer ${forged}` } });
    const ok = await hs.authenticate(validReq);
    if (ok.sessionID !== sid) throw new Error('valid token did not resolve its session');
    let rejected = 0;
    const forgedLoop = async () => {
      for (let i = 0; i < N; i++) {
        try {
          await hs.authenticate(forgedReq);
        } catch (err) {
          if (err?.code === 'HS_ERR_INVALID_TOKEN') rejected++;
          else throw err;
        }
      }
    };
    // Store calls are counted over forged requests alone, before the interleaved timing mixes in valid ones.
    counted.reset();
    await forgedLoop();
    const forgedStoreCalls = counted.total();
    const forgedCallsDetail = { ...counted.calls };
    if (rejected !== N) throw new Error(`only ${rejected}/${N} forged tokens were rejected as invalid_token`);

    counted.reset();
    const RUNS = pick(21, 3);
    const r = await compare(
      forgedLoop,
      async () => {
        for (let i = 0; i < N; i++) await hs.authenticate(validReq);
      },
      { ops: N, scale: 1000, unit: clock === 'cpu' ? 'µs CPU/op' : 'µs/op', warmup: 2, runs: RUNS, ratio: 'speedup', clock },
    );
    const validCallsPerOp = counted.total() / (N * (RUNS + 2));
    // The floor of any rejection is one MAC check: valid resolution ÷ verifyToken alone is the best ratio possible.
    let ceiling;
    if (tokenModule?.verifyToken) {
      const keys = [optionsModule.deriveTokenKey(SECRET)];
      const v = await measure(
        () => {
          for (let i = 0; i < N; i++) tokenModule.verifyToken(forged, keys);
        },
        { ops: N, scale: 1000, unit: 'µs CPU/op', warmup: 2, runs: pick(9, 3), clock: 'cpu' },
      );
      ceiling = { verifyUs: v.median, bestPossibleRatio: r.baseline.median / v.median };
    }
    report({
      id,
      ...r,
      met: r.ratio.median >= 5 && forgedStoreCalls === 0,
      notes:
        `${forgedStoreCalls} store calls over ${N.toLocaleString('en-US')} forged tokens (a valid one: ${validCallsPerOp.toFixed(2)})` +
        (ceiling ? `; verifyToken alone ${ceiling.verifyUs.toFixed(1)} µs, so at most ${ceiling.bestPossibleRatio.toFixed(1)}× here` : '') +
        (note ? `; ${note}` : ''),
      extra: { forgedStoreCalls, forgedCallsDetail, validStoreCallsPerRequest: validCallsPerOp, forgedRequests: N, ceiling },
    });
  } finally {
    hs.close?.();
    forger.close?.();
  }
}

/** A session id the server made, via its token endpoint (POST tokenPath through the middleware). */
async function createSession(hs) {
  const { fakeResponse } = await import('./lib/fake-request.mjs');
  const req = fakeRequest({ method: 'POST', url: hs.options?.tokenPath ?? '/session/token' });
  const { res, done } = fakeResponse(req);
  hs.middleware(req, res, (err) => {
    throw err ?? new Error('token endpoint fell through to next()');
  });
  req.push(null);
  const out = await done;
  if (out.status !== 200) throw new Error(`token endpoint answered ${out.status}: ${out.body}`);
  const body = JSON.parse(out.body);
  const v = await hs.authenticate(fakeRequest({ headers: { authorization: `Bearer ${body.token}` } }));
  return v.sessionID;
}

/** The same session id, signed with a secret the server does not know: what an attacker can make. */
async function forgeToken(forger, sid) {
  const sess = { cookie: { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000).toISOString() } };
  await new Promise((resolve, reject) => forger.store.set(sid, sess, (err) => (err ? reject(err) : resolve())));
  return (await forger.issueToken(sid)).token;
}
