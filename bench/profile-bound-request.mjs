#!/usr/bin/env node
// Profiles the whole bound request the way binding.benchmark.mjs's server.bound-request-http row drives it (Express
// route behind hs.middleware over loopback HTTP, 4 keep-alive connections from a load-generator process, a fresh
// DPoP proof per request stashed in the load generator before the batch), or the same route by Bearer. Not a bench
// row: the profile covers the measured batch only, so the server's own CPU is all that is in it.
//   node bench/profile-bound-request.mjs [bound|bearer] [n] [out.cpuprofile | -]
//   node bench/lib/cpuprofile-top.mjs out.cpuprofile
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import express from 'express';
import { profileDuring, startLoadgen } from './lib/load.mjs';
import { close, listen, loadServer, newSession } from './lib/server-setup.mjs';

const which = process.argv[2] ?? 'bound';
const n = Number(process.argv[3] ?? 4000);
const out = process.argv[4] ?? `/tmp/request-${which}.cpuprofile`;
const { hybridSession } = await loadServer();

const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const { crv, kty, x, y } = publicKey.export({ format: 'jwk' });
const b64 = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
const header = b64({ typ: 'dpop+jwt', alg: 'ES256', jwk: { crv, kty, x, y } });
/** A proof as the client makes one: a fresh jti, and ath when a token goes with it. */
function proof(htm, htu, token) {
  const claims = { jti: randomBytes(16).toString('base64url'), htm, htu, iat: Math.floor(Date.now() / 1000) };
  if (token) claims.ath = createHash('sha256').update(token).digest('base64url');
  const input = `${header}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

const app = express();
const hs = hybridSession({ secret: 'profile-' + randomBytes(24).toString('hex') });
app.use(hs.middleware);
app.get('/n', (req, res) => res.end(req.session ? 'ok' : 'none'));
const { server, url } = await listen(app);
const loadgen = startLoadgen();

const tokenUrl = `${url}/session/token`;
const answer = await fetch(tokenUrl, { method: 'POST', headers: { dpop: proof('POST', tokenUrl) } });
const bound = (await answer.json()).token;
const { token: bearer } = await newSession(hs, url);
let batches = 0;
/**
 * A batch of `size` requests, returned untimed: the proofs (one per request) reach the load generator first, so the
 * timed or profiled part is the requests alone.
 */
async function batch(size) {
  let each;
  if (which === 'bound') {
    each = `b${batches++}`;
    await loadgen.stash(each, Array.from({ length: size }, () => ({ dpop: proof('GET', `${url}/n`, bound) })));
  }
  const headers = { authorization: which === 'bound' ? `DPoP ${bound}` : `Bearer ${bearer}` };
  return () => loadgen.http({ url: url + '/n', headers, n: size, concurrency: 4, each });
}

await (await batch(1000))(); // warm-up: JIT, pools
const { cpuUs, result } = await profileDuring(out, await batch(n));
console.log(`${which}: ${n} requests, ${JSON.stringify(result.statuses)}, ${(cpuUs / n).toFixed(0)} µs server CPU each${out === '-' ? '' : ' (profiled)'}; ${out}`);
await loadgen.stop();
hs.close();
await close(server);
