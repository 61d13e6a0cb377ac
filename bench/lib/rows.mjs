// Every row `npm run bench` must print, in order, with the script that produces it and its target (issue 8).
// run.mjs prints a row that no script reported as "not run: <reason>", so a missing part never hides a row.
// A new bench adds its rows here; a script may also report rows not listed (they are appended after these).

const le = (value, unit = '×') => ({ op: '<=', value, text: `≤ ${value}${unit}` });
const ge = (value, unit = '×') => ({ op: '>=', value, text: `≥ ${value}${unit}` });

export const EXPECTED_ROWS = [
  // Size (bench/size.mjs). Sizes are deterministic: one build each, no spread.
  { id: 'size.umd', section: 'size', script: 'size.mjs', figure: 'UMD bundle as shipped (dist/hybrid-session.umd.min.js), min+gzip, dependencies included', target: { op: '<=', value: 6656, text: '≤ 6.5 KB (6,656 B, device binding included), smaller than every anchor' } },
  { id: 'size.ours', section: 'size', script: 'size.mjs', figure: 'hybrid-session `createSession`, built the anchors\' way' },
  { id: 'size.socket.io-client', section: 'size', script: 'size.mjs', figure: 'socket.io-client `io`' },
  { id: 'size.phoenix', section: 'size', script: 'size.mjs', figure: 'phoenix `Socket`' },
  { id: 'size.supertokens-website', section: 'size', script: 'size.mjs', figure: 'supertokens-website (default export)' },
  { id: 'size.auth0-spa-js', section: 'size', script: 'size.mjs', figure: '@auth0/auth0-spa-js `createAuth0Client`' },
  { id: 'size.minimal', section: 'size', script: 'size.mjs', figure: 'ESM, minimal import (`createSession` only), idb-keyval-style' },
  { id: 'size.full', section: 'size', script: 'size.mjs', figure: 'ESM, full import (`import *`), idb-keyval-style' },

  // Server (Node, loopback).
  { id: 'server.bearer-request', section: 'server', script: 'middleware.benchmark.mjs', figure: 'request resolved by bearer token, memory store', against: 'same route, plain express-session cookie, same process, same store', ratioMeaning: 'time ours / baseline', target: le(1.1) },
  { id: 'server.renewal-rotation', section: 'server', script: 'rotation.benchmark.mjs', figure: 'token renewal with rotation (read, decide inside compare-and-set, write, sign), memory store, server CPU', against: 'the renewal before rotation (read, touch, sign), same store, same process', ratioMeaning: 'time ours / baseline', target: le(1.2) },
  { id: 'server.token-verify', section: 'server', script: 'token.benchmark.mjs', figure: 'token verify (parse + MAC)', against: 'raw crypto HMAC-SHA256 + timingSafeEqual of the same bytes', ratioMeaning: 'time ours / baseline', target: le(1.5) },
  { id: 'server.forged-rejection', section: 'server', script: 'token.benchmark.mjs', figure: 'forged-token rejection, default memory store (store calls counted)', against: 'a valid token\'s full resolution', ratioMeaning: 'times faster (baseline time / ours)', target: { op: '>=', value: 5, text: '≥ 5× faster, 0 store calls' } },
  { id: 'server.forged-rejection-redis', section: 'server', script: 'token.benchmark.mjs', figure: 'forged-token rejection, Redis store (store calls counted)', against: 'a valid token\'s full resolution on Redis', ratioMeaning: 'times faster (baseline time / ours)', target: { op: '>=', value: 5, text: '≥ 5× faster, 0 store calls' } },
  { id: 'server.ws-handshake', section: 'server', script: 'websocket.benchmark.mjs', figure: 'websocket handshakes/s with authentication (memory store), per server CPU-second', against: 'same `ws` server, no authentication', ratioMeaning: 'rate ours / baseline', target: ge(0.85) },
  { id: 'server.ws-handshake-redis', section: 'server', script: 'websocket.benchmark.mjs', figure: 'websocket handshakes/s with authentication, Redis store (connect-redis, real redis-server)', against: 'the same on the memory store', ratioMeaning: 'rate Redis / memory', target: null },
  { id: 'server.bearer-request-redis', section: 'server', script: 'middleware.benchmark.mjs', figure: 'request resolved by bearer token, Redis store', against: 'the same on the memory store', ratioMeaning: 'time Redis / memory', target: null },
  { id: 'server.bound-request-http', section: 'server', script: 'binding.benchmark.mjs', figure: 'whole request resolved by a bound token (Authorization: DPoP + proof): Express route over loopback HTTP, memory store, server CPU', against: 'the same request by a Bearer token of an unbound session', ratioMeaning: 'time ours / baseline', target: le(1.4) },
  { id: 'server.bound-request', section: 'server', script: 'binding.benchmark.mjs', figure: 'the proof\'s share alone: hs.middleware on fake requests (no HTTP parsing or socket I/O), bound token against Bearer', against: 'the same request by a Bearer token of an unbound session', ratioMeaning: 'time ours / baseline', target: null },
  { id: 'server.bound-handshake', section: 'server', script: 'binding.benchmark.mjs', figure: 'websocket handshake authentication with a bound token (dpop subprotocol)', against: 'the same with a Bearer subprotocol, unbound session', ratioMeaning: 'time ours / baseline', target: null },
  { id: 'server.memory', section: 'server', script: 'memory.benchmark.mjs', figure: 'memory: 100,000 sessions in the default store, then 1,000,000 forged-token requests', against: '—', target: { op: 'custom', text: 'bound holds; heap after ≈ before' } },

  // Hostile clients (issue 11): bench/flood.benchmark.mjs, bench/chaos.benchmark.mjs.
  { id: 'attack.token-flood', section: 'attack', script: 'flood.benchmark.mjs', figure: '100,000 credential-less `POST /session/token` at full speed (50 keep-alive connections), `MemoryStore({ max: 1000 })`, 12 sessions used once + 1 user active throughout', against: '—', target: { op: 'custom', text: '0 used sessions lost (rate reported)' } },
  { id: 'attack.token-flood-redis', section: 'attack', script: 'flood.benchmark.mjs', figure: 'the same flood on Redis (connect-redis, real redis-server): bytes per provisional session (MEMORY USAGE), its TTL against a used session\'s', against: '—', target: { op: 'custom', text: 'provisional TTL ≤ provisionalMaxAge; a used session keeps maxAge' } },
  { id: 'attack.chaos-soak', section: 'attack', script: 'chaos.benchmark.mjs', figure: 'chaos soak, 30 s each against hs.attach + Express and the facade (child processes): resets mid-handshake, cut-off requests, half frames, oversized / malformed / unencodable messages, bad-token and RPC floods', against: '—', target: { op: 'custom', text: 'alive; every good round trip served; fds and heap after gc back' } },

  // Client (real Chromium through playwright-core, built files).
  { id: 'client.fetch', section: 'client', script: 'client.benchmark.mjs', figure: '`session.fetch` against a local server', against: 'plain `fetch` with the header added by hand', ratioMeaning: 'time ours / baseline', target: le(1.05) },
  { id: 'client.bound-fetch', section: 'client', script: 'client.benchmark.mjs', figure: '`session.fetch` of a bound token (a DPoP proof signed per request, WebCrypto), Chromium', against: 'the same `session.fetch` with `binding: false`', ratioMeaning: 'time ours / baseline', target: null },
  { id: 'client.ready-indexeddb', section: 'client', script: 'client.benchmark.mjs', figure: 'script start → `ready()` with a stored token, IndexedDB', against: 'bare idb-keyval `get`', ratioMeaning: 'time ours / baseline', target: le(1.5) },
  { id: 'client.ready-localstorage', section: 'client', script: 'client.benchmark.mjs', figure: 'script start → `ready()` with a stored token, localStorage', against: 'bare `localStorage.getItem`', ratioMeaning: 'time ours / baseline', target: le(1.5) },
  { id: 'client.storage-reads', section: 'client', script: 'client.benchmark.mjs', figure: 'token reads from storage per `session.fetch` after `ready()` (the device key, read once per page at its first use, is counted in the notes)', against: '—', target: { op: '<=', value: 0, text: '0' } },

  // Preflights per engine (issue 13): bench/preflight.benchmark.mjs. Each is a round trip before a request.
  { id: 'client.rotation-soak-chromium', section: 'client', script: 'rotation-soak.benchmark.mjs', figure: 'rotation soak, 3 Chromium tabs, 2.4 s tokens, reloads and a tab closed mid-renewal, with and without Web Locks: rotations reached, false reuse detections', against: '—', target: { op: 'custom', text: '0 false reuse detections, one session' } },
  { id: 'client.preflights-chromium', section: 'client', script: 'preflight.benchmark.mjs', figure: 'CORS preflights per 20 `session.fetch` (bearer), Chromium: http://localhost page / file:// page', against: '—', target: null },
  { id: 'client.preflights-webkit', section: 'client', script: 'preflight.benchmark.mjs', figure: 'CORS preflights per 20 `session.fetch` (bearer), WebKitGTK: http://localhost page / file:// page', against: '—', target: null },
  { id: 'client.preflights-firefox', section: 'client', script: 'preflight.benchmark.mjs', figure: 'CORS preflights per 20 `session.fetch` (bearer), Firefox ESR: http://localhost page / file:// page', against: '—', target: null },

  // Redis scale-out load check (issue 6): bench/scale-out.mjs.
  { id: 'scale-out.redis', section: 'scale-out', script: 'scale-out.mjs', figure: 'Redis scale-out: N processes × M websocket clients renewing and writing', against: '—', target: { op: 'custom', text: 'no write lost (rates reported)' } },

  // One process holding many sockets (issue 17): bench/scale-sockets.benchmark.mjs.
  { id: 'scale.sockets', section: 'scale', script: 'scale-sockets.benchmark.mjs', figure: 'server heap per open websocket after gc at 1,000 / 5,000 / 10,000 (hs.attach, one session each)', against: 'the same sockets on bare `ws`, same Express + http server', ratioMeaning: 'heap ours / bare, over the sizes', target: { op: '<=', value: 1.3, text: '≤ 1.3× heap at every size' } },
  { id: 'server.redis-round-trips', section: 'scale', script: 'redis-roundtrips.benchmark.mjs', figure: 'Redis round trips per bearer request and per handshake, common case (session in use), counted on the wire by a proxy; the writing cases in the notes', against: '—', target: { op: 'custom', text: '1 each' } },
  { id: 'scale.heartbeat', section: 'scale', script: 'scale-sockets.benchmark.mjs', figure: 'heartbeat CPU per interval at 10,000 sockets', against: 'ws\'s documented ping/pong loop, same interval', ratioMeaning: 'CPU ours / bare', target: null },
];

/** Scripts run.mjs runs, in this order; any other bench/*.benchmark.mjs found is run after them. */
export const SCRIPTS = [...new Set(EXPECTED_ROWS.map((r) => r.script))];
