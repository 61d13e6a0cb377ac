// Memory under a flood: 100,000 sessions created through the token endpoint into the default (bounded) store,
// then 1,000,000 forged-token requests through hs.authenticate (called directly: sockets would only slow it
// down). The store must stay within its bound, forged tokens must reach neither the store nor the heap.
// Needs --expose-gc (run.mjs passes it) so "heap" means live objects, not garbage not yet collected.
import { randomBytes } from 'node:crypto';
import { countingStore } from './lib/counting-store.mjs';
import { fakeRequest, fakeResponse } from './lib/fake-request.mjs';
import { notRun, pick, report } from './lib/report.mjs';
import { serverOrNotRun, storeCall } from './lib/server-setup.mjs';

const SESSIONS = pick(100_000, 2_000);
const FORGED = pick(1_000_000, 20_000);
const BATCH = 1_000;

if (typeof global.gc !== 'function') {
  notRun('server.memory', 'needs node --expose-gc (bench/run.mjs passes it)');
  process.exit(0);
}
const mod = await serverOrNotRun(['server.memory']);
const { signToken } = await import('../src/server/credentials/token.ts');

const SECRET = 'bench-secret-' + randomBytes(24).toString('hex');
const probe = mod.hybridSession({ secret: SECRET });
const counted = countingStore(probe.store);
const hs = mod.hybridSession({ secret: SECRET, store: counted.store });
const bound = probe.store.max ?? null;

const heap = () => {
  global.gc();
  global.gc();
  return process.memoryUsage().heapUsed;
};
const mb = (b) => b / 2 ** 20;

const heapEmpty = heap();
const t0 = Date.now();
let created = 0;
for (let done = 0; done < SESSIONS; done += BATCH) {
  await Promise.all(
    Array.from({ length: Math.min(BATCH, SESSIONS - done) }, async () => {
      const req = fakeRequest({ method: 'POST', url: hs.options.tokenPath });
      const { res, done: end } = fakeResponse(req);
      hs.middleware(req, res, (err) => {
        throw err ?? new Error('token endpoint fell through');
      });
      req.push(null);
      const out = await end;
      if (out.status === 200) created++;
    }),
  );
}
const createSec = (Date.now() - t0) / 1000;
const storeSize = await storeCall(probe.store, 'length');
const heapFull = heap();

// Forged: the right shape and a MAC from a key the server does not have, over many session ids (some real).
const realIds = Object.keys(await storeCall(probe.store, 'all')).slice(0, 500);
const wrongKey = randomBytes(32);
const forged = Array.from({ length: 2_000 }, (_, i) =>
  signToken(i < realIds.length ? realIds[i] : randomBytes(24).toString('base64url'), Date.now() + 86_400_000, [wrongKey]),
);
const reqs = forged.map((t) => fakeRequest({ headers: { authorization: `Bearer ${t}` } }));

let rejected = 0;
let other = 0;
const forgedBatch = (from) =>
  Promise.all(
    Array.from({ length: BATCH }, (_, i) =>
      hs.authenticate(reqs[(from + i) % reqs.length]).then(
        () => other++,
        (err) => (err?.code === 'HS_ERR_INVALID_TOKEN' ? rejected++ : other++),
      ),
    ),
  );
// Warm-up, not counted: the first requests compile code and fill inline caches, which is heap too but not growth.
const WARM = pick(20_000, 2_000);
for (let done = 0; done < WARM; done += BATCH) await forgedBatch(done);
rejected = other = 0;
const heapBefore = heap();
counted.reset();
const checkpoints = [];
const t1 = Date.now();
for (let done = 0; done < FORGED; done += BATCH) {
  await forgedBatch(done);
  if ((done + BATCH) % (FORGED / 4) === 0) checkpoints.push({ requests: done + BATCH, heapMB: mb(heap()) });
}
const forgedSec = (Date.now() - t1) / 1000;
const storeCallsDuringForged = counted.total();
const heapAfter = heap();
const storeSizeAfter = await storeCall(probe.store, 'length');
const rss = process.memoryUsage().rss;

const growth = heapAfter - heapBefore;
// "≈": within 5 % of the heap or 2 MB, whichever is larger (GC bookkeeping moves by about that much alone).
const tolerance = Math.max(2 * 2 ** 20, heapBefore * 0.05);
const boundHolds = bound === null ? storeSize <= SESSIONS : storeSize <= bound && storeSizeAfter <= bound;
const met = boundHolds && growth <= tolerance && rejected === FORGED && storeCallsDuringForged === 0;
report({
  id: 'server.memory',
  value: growth,
  met,
  display: {
    ours: `store ${storeSize.toLocaleString('en-US')} / ${bound?.toLocaleString('en-US') ?? '∞'} sessions after ${created.toLocaleString('en-US')} created; heap ${mb(heapBefore).toFixed(1)} → ${mb(heapAfter).toFixed(1)} MB after ${FORGED.toLocaleString('en-US')} forged`,
    baseline: `${(FORGED / forgedSec / 1000).toFixed(0)}k forged/s, ${storeCallsDuringForged} store calls`,
    ratio: `heap ${growth >= 0 ? '+' : ''}${mb(growth).toFixed(2)} MB`,
    short: `bound ${bound?.toLocaleString('en-US') ?? '∞'} held · heap ${growth >= 0 ? '+' : ''}${mb(growth).toFixed(2)} MB over ${(FORGED / 1e6).toFixed(FORGED < 1e6 ? 2 : 0)}M forged · ${storeCallsDuringForged} store calls`,
  },
  notes: rejected !== FORGED ? `${FORGED - rejected} forged tokens not rejected as invalid_token (${other} other outcomes)` : undefined,
  extra: {
    sessionsCreated: created,
    bound,
    storeSize,
    storeSizeAfter,
    heapEmptyMB: mb(heapEmpty),
    heapBeforeMB: mb(heapBefore),
    heapAfterMB: mb(heapAfter),
    heapPerStoredSessionBytes: Math.round((heapFull - heapEmpty) / Math.max(1, storeSize)),
    heapCheckpoints: checkpoints,
    warmupForged: WARM,
    rssMB: mb(rss),
    createSeconds: createSec,
    forgedSeconds: forgedSec,
    forgedRejected: rejected,
    storeCallsDuringForged,
    toleranceMB: mb(tolerance),
  },
});
hs.close?.();
probe.close?.();
