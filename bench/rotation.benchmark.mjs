// Token rotation's cost. (1) server.renewal-rotation: the renewal step of POST tokenPath with rotation
// (src/server/renewal.ts renewToken: one read, the rotation decided inside update()'s compare-and-set, one write,
// sign) against the renewal that endpoint did before rotation (lifecycle.ts touchAndIssue: one read, a touch, sign),
// both on the default memory store, server CPU per renewal. The HTTP work around it (parse, cookie, JSON reply) is
// the same for both, so this ratio is an upper bound on the per-POST ratio; the per-POST CPU is in the notes.
// The bearer request with the generation check against the cookie request is server.bearer-request (middleware).
import { randomBytes } from 'node:crypto';
import { compare, measure } from './lib/measure.mjs';
import { fakeRequest, fakeResponse } from './lib/fake-request.mjs';
import { notRun, pick, report } from './lib/report.mjs';

const SECRET = 'bench-secret-' + randomBytes(24).toString('hex');

let mods;
try {
  mods = {
    options: await import('../src/server/options.ts'),
    access: await import('../src/server/store/access.ts'),
    update: await import('../src/server/store/update.ts'),
    memory: await import('../src/server/store/memory-store.ts'),
    renewal: await import('../src/server/renewal.ts'),
    lifecycle: await import('../src/server/lifecycle.ts'),
    token: await import('../src/server/credentials/token.ts'),
    server: await import('../src/server/index.ts'),
  };
} catch (err) {
  notRun('server.renewal-rotation', `internal modules not importable: ${err.message.split('\n')[0]}`);
}

if (mods) {
  const options = mods.options.normalizeServerOptions({ secret: SECRET });
  const store = new mods.memory.MemoryStore();
  const core = { options, store, access: mods.access.storeAccess(store, 0), lock: new mods.update.KeyedLock() };
  const hs = mods.server.hybridSession({ secret: SECRET, store });
  const post = async (token) => {
    const req = fakeRequest({ method: 'POST', url: options.tokenPath, headers: { authorization: `Bearer ${token}` } });
    const { res, done } = fakeResponse(req);
    hs.middleware(req, res, () => {});
    const { status, body } = await done;
    if (status !== 200) throw new Error(`renewal answered ${status}`);
    return JSON.parse(body).token;
  };
  // Each side renews its own session, chained (each renewal presents the token the previous one issued).
  const fresh = async () => {
    const req = fakeRequest({ method: 'POST', url: options.tokenPath });
    const { res, done } = fakeResponse(req);
    hs.middleware(req, res, () => {});
    return JSON.parse((await done).body).token;
  };
  let rotating = await post(await fresh());
  const baseSid = mods.token.verifyToken(await fresh(), options.tokenKeys).sid;
  const N = pick(500, 50);
  const gen0 = mods.token.verifyToken(rotating, options.tokenKeys).generation;
  let current = mods.token.verifyToken(rotating, options.tokenKeys);
  const r = await compare(
    async () => {
      for (let i = 0; i < N; i++) {
        const out = await mods.renewal.renewToken(core, current.sid, current);
        rotating = out.token;
        current = mods.token.verifyToken(out.token, options.tokenKeys);
      }
    },
    async () => {
      for (let i = 0; i < N; i++) await mods.lifecycle.touchAndIssue(core, baseSid);
    },
    { ops: N, scale: 1e3, unit: 'µs CPU/renewal', warmup: 3, runs: pick(15, 3), clock: 'cpu' },
  );
  const generations = current.generation - gen0;
  if (generations !== N * (pick(15, 3) + 3)) throw new Error(`expected one generation per renewal, got ${generations}`);
  let t = await post(rotating);
  const perPost = await measure(async () => {
    for (let i = 0; i < N; i++) t = await post(t);
  }, { ops: N, scale: 1e3, unit: 'µs CPU/POST', warmup: 2, runs: pick(9, 3), clock: 'cpu' });
  report({
    id: 'server.renewal-rotation',
    ...r,
    // Per POST, the renewal step is the only difference: the pre-rotation POST would cost perPost - ours + baseline.
    notes: `whole POST tokenPath with rotation: ${perPost.median.toFixed(1)} µs CPU (median), so ≈ ${(perPost.median / (perPost.median - r.ours.median + r.baseline.median)).toFixed(2)}× per POST; one generation per renewal checked`,
    extra: { perPost },
  });
  hs.close();
  store.close();
}
