// Device binding's server cost. (1) A request resolved by a bound token (Authorization: DPoP + a fresh proof) against
// the same request by a Bearer token of an unbound session, both through hs.middleware on the default store, in this
// process, CPU time per request (fake IncomingMessage / ServerResponse: the server's own work, no socket I/O).
// (2) The same for a websocket handshake's authentication (hs.authenticate with the dpop subprotocol vs the bearer one).
// (3) The whole request: the same Express route over real HTTP from a load-generator process (4 keep-alive
// connections), bound (DPoP + proof) against Bearer, this process's CPU per request — what server.bearer-request
// measures, so the two rows compare.
// Proofs are made before timing (node:crypto, as a client would); each is used once (jti).
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import express from 'express';
import { compare } from './lib/measure.mjs';
import { cpuDuring, startLoadgen } from './lib/load.mjs';
import { fakeRequest, fakeResponse } from './lib/fake-request.mjs';
import { pick, report } from './lib/report.mjs';
import { close, listen, serverOrNotRun, newSession } from './lib/server-setup.mjs';

const SECRET = 'bench-secret-' + randomBytes(24).toString('hex');
const N = pick(200, 20);
const WARMUP = 3;
const RUNS = pick(21, 3);

const mod = await serverOrNotRun(['server.bound-request', 'server.bound-handshake', 'server.bound-request-http']);
const { hybridSession } = mod;

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const { crv, kty, x, y } = publicKey.export({ format: 'jwk' });
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const header = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { crv, kty, x, y } });
const proof = (htm, htu, token) => {
  const input = `${header}.${b64({ jti: randomBytes(16).toString('base64url'), htm, htu, iat: Math.floor(Date.now() / 1000), ath: createHash('sha256').update(token).digest('base64url') })}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
};

const hs = hybridSession({ secret: SECRET });
const HOST = '127.0.0.1';

async function tokenFor(withProof) {
  const headers = {};
  if (withProof) {
    // A token request's proof has no ath: no token yet.
    const input = `${header}.${b64({ jti: randomBytes(16).toString('base64url'), htm: 'POST', htu: `http://${HOST}/session/token`, iat: Math.floor(Date.now() / 1000) })}`;
    headers.dpop = `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
  }
  const req = fakeRequest({ method: 'POST', url: '/session/token', headers });
  const { res, done } = fakeResponse(req);
  hs.middleware(req, res, () => {});
  const out = await done;
  const body = JSON.parse(out.body);
  if (out.status !== 200 || body.bound !== withProof) throw new Error(`token request answered ${out.status} ${out.body}`);
  return body.token;
}

function through(headers) {
  const req = fakeRequest({ url: '/n', headers });
  const { res } = fakeResponse(req);
  return new Promise((resolve, reject) => hs.middleware(req, res, (err) => (err ? reject(err) : res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`)))));
}

try {
  const bound = await tokenFor(true);
  const bearer = await tokenFor(false);
  const total = (WARMUP + RUNS) * N + 5;
  const httpProofs = Array.from({ length: total }, () => proof('GET', `http://${HOST}/n`, bound));
  const wsProofs = Array.from({ length: total }, () => proof('GET', `ws://${HOST}/ws`, bound));
  let p = 0;
  const r = await compare(
    async () => {
      for (let i = 0; i < N; i++) await through({ authorization: `DPoP ${bound}`, dpop: httpProofs[p++] });
    },
    async () => {
      for (let i = 0; i < N; i++) await through({ authorization: `Bearer ${bearer}` });
    },
    { ops: N, unit: 'µs CPU/req', warmup: WARMUP, runs: RUNS, clock: 'cpu' },
  );
  report({ id: 'server.bound-request', ...r, notes: `hs.middleware on fake requests (no socket I/O or HTTP parsing, which the goal's loopback request includes): +${(r.ours.median - r.baseline.median).toFixed(0)} µs CPU per request`, extra: { requestsPerSample: N } });

  let q = 0;
  const h = await compare(
    async () => {
      for (let i = 0; i < N; i++) {
        await hs.authenticate(fakeRequest({ url: '/ws', headers: { 'sec-websocket-protocol': `hybrid-session, hybrid-session.bearer.${bound}, hybrid-session.dpop.${wsProofs[q++]}` } }));
      }
    },
    async () => {
      for (let i = 0; i < N; i++) {
        await hs.authenticate(fakeRequest({ url: '/ws', headers: { 'sec-websocket-protocol': `hybrid-session, hybrid-session.bearer.${bearer}` } }));
      }
    },
    { ops: N, unit: 'µs CPU/handshake', warmup: WARMUP, runs: RUNS, clock: 'cpu' },
  );
  report({ id: 'server.bound-handshake', ...h, notes: 'hs.authenticate (the upgrade\'s authentication), no socket I/O', extra: { handshakesPerSample: N } });

  await wholeRequest();
} finally {
  hs.close();
}

async function wholeRequest() {
  const HTTP_N = pick(500, 50);
  const CONCURRENCY = 4;
  const app = express();
  const served = hybridSession({ secret: SECRET });
  app.use(served.middleware);
  app.get('/n', (req, res) => res.end(req.session ? 'ok' : 'none'));
  const { server, url } = await listen(app);
  const loadgen = startLoadgen();
  try {
    // A bound session: its first token request carries a proof for the URL as this server sees it.
    const tokenUrl = `${url}/session/token`;
    const input = `${header}.${b64({ jti: randomBytes(16).toString('base64url'), htm: 'POST', htu: tokenUrl, iat: Math.floor(Date.now() / 1000) })}`;
    const answer = await fetch(tokenUrl, { method: 'POST', headers: { dpop: `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}` } });
    const body = await answer.json();
    if (answer.status !== 200 || body.bound !== true) throw new Error(`bound token request answered ${answer.status} ${JSON.stringify(body)}`);
    const bound = body.token;
    const { token: bearer } = await newSession(served, url);
    let batch = 0;
    const sample = (headers, proofs) => async () => {
      let each;
      if (proofs) {
        each = `b${batch++}`;
        await loadgen.stash(each, Array.from({ length: HTTP_N }, () => ({ dpop: proof('GET', `${url}/n`, bound) })));
      }
      const { cpuUs, result } = await cpuDuring(() => loadgen.http({ url: url + '/n', headers, n: HTTP_N, concurrency: CONCURRENCY, each }));
      if (result.statuses[200] !== HTTP_N) throw new Error(`non-200 answers: ${JSON.stringify(result.statuses)}`);
      return cpuUs / HTTP_N;
    };
    const r = await compare(sample({ authorization: `DPoP ${bound}` }, true), sample({ authorization: `Bearer ${bearer}` }, false), {
      sampled: true,
      unit: 'µs CPU/req',
      warmup: 2,
      runs: pick(21, 3),
    });
    report({
      id: 'server.bound-request-http',
      ...r,
      notes: `Express route over loopback HTTP, ${CONCURRENCY} keep-alive connections: +${(r.ours.median - r.baseline.median).toFixed(0)} µs CPU per request for the proof (ECDSA P-256 verify, the imported key cached)`,
      extra: { requestsPerSample: HTTP_N, concurrency: CONCURRENCY },
    });
  } finally {
    await loadgen.stop();
    served.close();
    await close(server);
  }
}
