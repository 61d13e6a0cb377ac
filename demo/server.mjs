#!/usr/bin/env node
/**
 * The hybrid-session demo: ONE API server (Express 5 + `ws` + hybrid-session/server) and two front-ends.
 *
 * - spa:    bundled from `import { createSession } from 'hybrid-session'`, served by the API server itself
 *           (same origin: the httpOnly cookie and the token both reach the API);
 * - hybrid: a PhoneGap-style `www/` folder (index.html + app.js + css + hybrid-session.umd.min.js by <script>),
 *           served by a second static server on another SITE (http://localhost:… against the API on
 *           http://127.0.0.1:…), so no cookie reaches the API; it also opens from file:// (origin "null").
 *
 * `npm run demo` runs this file; the end-to-end tests import startDemo() and run it on free ports.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import express from 'express';
import { WebSocketServer } from 'ws';
// The package's own name, resolved through its exports map (package self-reference): exactly what an app writes.
import { hybridSession } from 'hybrid-session/server';
import { buildFrontEnds } from './build.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

// One random secret per process: tokens survive a restart of the API server inside this process (the tests
// restart it), and nobody copies a well-known demo secret into production. SESSION_SECRET overrides it.
const processSecret = process.env.SESSION_SECRET || randomBytes(32).toString('base64url');

/** A short, one-way fingerprint of the session id: shows the id rotating at sign-in without showing the id. */
const fingerprint = (sessionID) => createHash('sha256').update(String(sessionID)).digest('hex').slice(0, 8);

/** What both front-ends render, from HTTP responses and websocket pushes alike. */
function view(sessionID, data) {
  return { sid: fingerprint(sessionID), user: data?.user ?? null, count: data?.count ?? 0 };
}

async function makeStore({ store, redisUrl }) {
  if (store && typeof store === 'object') return { store, kind: 'custom', revocation: undefined, close: async () => {} };
  const url = store === 'memory' ? undefined : redisUrl;
  if (store === 'redis' && !url) throw new Error('startDemo: store "redis" needs redisUrl (or REDIS_URL)');
  if (!url) return { store: undefined, kind: 'memory', revocation: undefined, close: async () => {} };
  // connect-redis 9 speaks node-redis (ioredis fails silently with it).
  const [{ createClient }, { RedisStore }] = await Promise.all([import('redis'), import('connect-redis')]);
  // disableOfflineQueue: while Redis is away requests fail at once (503) instead of queueing until it returns.
  const client = createClient({ url, disableOfflineQueue: true });
  // Without a listener node-redis throws on a lost connection; it reconnects by itself, so only report it.
  client.on('error', (err) => console.warn(`redis: ${err.message}`));
  await client.connect();
  return {
    store: new RedisStore({ client, prefix: 'hs-demo:' }),
    kind: `redis (${url})`,
    // Several demo processes on one Redis: a sign-out on one closes that session's websockets on all of them.
    revocation: { redis: client },
    close: async () => {
      if (!client.isOpen) return;
      // node-redis 5+ names it close(); quit() is the older spelling.
      if (typeof client.close === 'function') await client.close();
      else await client.quit();
    },
  };
}

function listenOn(server, port, host) {
  return new Promise((resolvePort, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolvePort(server.address().port);
    });
  });
}

function closeServer(server) {
  return new Promise((resolveClose) => {
    if (!server.listening) return resolveClose();
    server.closeAllConnections?.();
    server.close(() => resolveClose());
  });
}

/**
 * Start the demo. Ports 0 pick free ones. Returns the URLs and close().
 *
 * @param {object} [options]
 * @param {number} [options.port=8080]        API server (and the SPA), on http://127.0.0.1
 * @param {number} [options.staticPort=8081]  the hybrid app's static server, on http://localhost (another site)
 * @param {'memory'|'redis'|import('express-session').Store} [options.store]  default: Redis when redisUrl is set, else memory
 * @param {string} [options.redisUrl=process.env.REDIS_URL]
 * @param {number} [options.maxAge]           session (and token) lifetime in ms; hybrid-session's default otherwise
 * @param {number} [options.tokenMaxAge]      a token's own lifetime in ms (it rotates at half of it); default 1 hour
 * @param {number} [options.rotationGrace]    ms the previous generation keeps working after a rotation; default 60 s
 * @param {string} [options.secret]           default: SESSION_SECRET, else random per process
 * @param {string} [options.outDir]           where the front-ends are built; default demo/build
 * @param {boolean} [options.quiet=false]     no banner
 */
export async function startDemo(options = {}) {
  const {
    port = 8080,
    staticPort = 8081,
    redisUrl = process.env.REDIS_URL,
    maxAge,
    tokenMaxAge,
    rotationGrace,
    secret = processSecret,
    outDir = join(here, 'build'),
    quiet = false,
  } = options;
  const host = '127.0.0.1';

  for (const file of ['dist/hybrid-session.umd.min.js', 'dist/client/index.js', 'dist/server/index.js']) {
    if (!existsSync(join(root, file))) throw new Error(`${file} is missing: run \`npm run build\` first (npm run demo does).`);
  }

  const apiServer = createServer();
  const staticServer = createServer();
  const stored = await makeStore({ store: options.store, redisUrl });
  let wss;
  try {
    const apiPort = await listenOn(apiServer, port, host);
    const hybridPort = await listenOn(staticServer, staticPort, host);
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    // localhost and 127.0.0.1 are different sites: a cookie set by the API never rides along with this page's requests.
    const hybridOrigin = `http://localhost:${hybridPort}`;

    const dirs = await buildFrontEnds({ outDir, apiUrl });

    const hs = hybridSession({
      secret,
      store: stored.store,
      ...(stored.revocation ? { revocation: stored.revocation } : {}),
      ...(maxAge === undefined ? {} : { maxAge }),
      ...(tokenMaxAge === undefined ? {} : { tokenMaxAge }),
      ...(rotationGrace === undefined ? {} : { rotationGrace }),
      // The hybrid app's origin, and "null" for the same app opened from file:// — listed on purpose: a real app
      // should list its webview's origin (capacitor://localhost, http://localhost) rather than "null" if it can.
      allowedOrigins: [hybridOrigin, 'null'],
    });

    // A rotated-out token came back to the token endpoint: hybrid-session has already ended the session everywhere.
    // A real app alerts the user here (mail, push); the demo counts and logs it, and the tests read the count.
    let reuseEvents = 0;
    hs.on('reuse', ({ generation, currentGeneration }) => {
      reuseEvents++;
      if (!quiet) console.log(`  reuse: a generation-${generation} token came back after generation ${currentGeneration}; session ended`);
    });

    /**
     * "Simulate theft" (demo only): the page hands this server a copy of the token it holds now, as a script that
     * read it out of storage would; after the page renewed, the server replays that copy to its own token endpoint
     * over real HTTP, from outside the page, as the thief would. Keyed by session id, one copy each, bounded.
     */
    const stolen = new Map();
    const STOLEN_MAX = 1000;

    /** A new count goes to every view of that session: its open sockets, as hybrid-session's registry knows them. */
    const push = (sessionID, message) => {
      const text = JSON.stringify(message);
      for (const socket of hs.socketsOf(sessionID)) if (socket.readyState === socket.OPEN) socket.send(text);
    };

    // Browsers ask for it on any page; an empty answer keeps a 404 out of their consoles.
    const noFavicon = (req, res) => res.status(204).end();

    const app = express();
    app.disable('x-powered-by');
    app.get('/favicon.ico', noFavicon);
    // The SPA's files need no session: served before the middleware so loading them creates none.
    app.use(express.static(dirs.spa, { cacheControl: false, setHeaders: (res) => res.setHeader('Cache-Control', 'no-store') }));
    app.use(hs.middleware);
    app.use(express.json({ limit: '2kb' }));

    const saved = (session) => new Promise((ok, fail) => session.save((err) => (err ? fail(err) : ok())));

    app.get('/api/me', (req, res) => {
      res.json({
        ...view(req.sessionID, req.session),
        // What this very request carried, so each page can show whether a cookie reaches the API at all.
        carried: { cookie: /(?:^|;\s*)connect\.sid=/.test(req.headers.cookie ?? ''), token: /^(?:bearer|dpop)\s/i.test(req.headers.authorization ?? '') },
        // The thumbprint of the key the session is bound to (DESIGN "Device binding"), as hybrid-session keeps it:
        // the demo shows it; an app has no need to read it.
        thumbprint: typeof req.session.__hs?.jkt === 'string' ? req.session.__hs.jkt : null,
        sessionExpiresAt: req.session.cookie?.expires ? new Date(req.session.cookie.expires).getTime() : null,
      });
    });

    app.post('/api/login', async (req, res) => {
      const name = String(req.body?.name ?? '').trim().slice(0, 40);
      if (!name) return res.status(400).json({ error: 'a name is needed' });
      // A new session id at sign-in (session fixation): the shim answers with the new token in Session-Token and
      // closes the old id's sockets with 4401, so every view moves to the new session.
      await new Promise((ok, fail) => req.session.regenerate((err) => (err ? fail(err) : ok())));
      req.session.user = name;
      req.session.count = 0;
      await saved(req.session);
      res.json(view(req.sessionID, req.session));
    });

    app.post('/api/count', async (req, res) => {
      const data = await req.session.update((s) => {
        s.count = (s.count ?? 0) + 1;
      });
      const state = view(req.sessionID, data);
      push(req.sessionID, { type: 'count', count: state.count, via: 'http' });
      res.json(state);
    });

    /** The token this request carried (Bearer, or DPoP for a device-bound session), else null. */
    const presentedToken = (req) => /^(?:bearer|dpop)\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? null;
    /** The generation field of a token (v1.<sid>.<exp>.<gen>.<mac>): apps treat tokens as opaque; the demo shows it. */
    const generationOf = (token) => Number(token.split('.')[3] ?? 0);

    app.post('/api/theft/copy', (req, res) => {
      const token = presentedToken(req);
      if (!token) return res.status(400).json({ error: 'no token on this request to copy' });
      if (stolen.size >= STOLEN_MAX) stolen.delete(stolen.keys().next().value);
      stolen.set(req.sessionID, token);
      res.json({ generation: generationOf(token) });
    });

    app.post('/api/theft/replay', async (req, res, next) => {
      const token = stolen.get(req.sessionID);
      if (!token) return res.status(409).json({ error: 'copy a token first' });
      stolen.delete(req.sessionID);
      try {
        const before = reuseEvents;
        // No Origin, no cookie: what a thief's script or server sends.
        const replay = await fetch(apiUrl + hs.options.tokenPath, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        const body = await replay.json().catch(() => ({}));
        // 401 HS_ERR_TOKEN_REUSED: the session was ended; another refusal (e.g. a device-bound token without its
        // key's proof): refused, the session lives; 200: the thief got a token (a copy within the rotation grace).
        const outcome = body.code === 'HS_ERR_TOKEN_REUSED' ? 'ended' : replay.ok ? 'accepted' : 'refused';
        res.json({ outcome, status: replay.status, code: body.code ?? null, generation: generationOf(token), reuseEvent: reuseEvents > before });
      } catch (err) {
        next(err);
      }
    });

    app.use((err, req, res, _next) => {
      const status = Number(err?.status) >= 400 ? Number(err.status) : 500;
      if (status >= 500) console.error(err);
      res.status(status).json({ error: err?.message ?? 'error', code: err?.code });
    });

    apiServer.on('request', app);

    wss = new WebSocketServer({ noServer: true });
    hs.attach(apiServer, wss);
    wss.on('connection', (socket) => {
      const handle = hs.sessionOf(socket);
      socket.on('error', () => {});
      // The message listener goes on before the first await: a page may send as soon as its socket opens, and a
      // message that arrives while the session is still loading would find no listener and be dropped.
      const loaded = handle.load().then(
        (session) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'state', ...view(session.id, session) }));
          return session.id;
        },
        (err) => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'error', message: err.message }));
          return null;
        },
      );
      socket.on('message', async (raw) => {
        if (String(raw) !== 'inc') return;
        const sessionID = await loaded;
        if (sessionID === null) return;
        try {
          const data = await handle.update((s) => {
            s.count = (s.count ?? 0) + 1;
          });
          push(sessionID, { type: 'count', count: data.count ?? 0, via: 'websocket' });
        } catch (err) {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ type: 'error', message: err.message }));
        }
      });
    });

    const hybridStatic = express();
    hybridStatic.disable('x-powered-by');
    hybridStatic.get('/favicon.ico', noFavicon);
    hybridStatic.use(express.static(dirs.hybrid, { cacheControl: false, setHeaders: (res) => res.setHeader('Cache-Control', 'no-store') }));
    staticServer.on('request', hybridStatic);

    const urls = {
      apiUrl,
      spaUrl: `${apiUrl}/`,
      hybridUrl: `${hybridOrigin}/`,
      fileUrl: `${pathToFileURL(join(dirs.hybrid, 'index.html')).href}?api=${encodeURIComponent(apiUrl)}`,
      store: stored.kind,
    };

    if (!quiet) {
      console.log(
        [
          '',
          '  hybrid-session demo',
          '',
          ...[
            ['API + SPA (same origin, cookie and token)', urls.spaUrl],
            ['hybrid app (other site, token only)', urls.hybridUrl],
            ['hybrid app from file:// (origin "null")', urls.fileUrl],
          ].map(([label, url]) => `  ${`${label}:`.padEnd(44)} ${url}`),
          '',
          `  session store: ${stored.kind}${redisUrl ? '' : '   (set REDIS_URL=redis://… for Redis)'}`,
          '  Ctrl-C to stop',
          '',
        ].join('\n'),
      );
    }

    let closing;
    const close = () =>
      (closing ??= (async () => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        await Promise.all([closeServer(apiServer), closeServer(staticServer)]);
        await hs.close?.();
        await stored.close();
      })());

    // For the end-to-end tests: how many websockets the server holds open right now.
    const openSockets = () => wss.clients.size;
    return { ...urls, server: apiServer, openSockets, reuseEvents: () => reuseEvents, close };
  } catch (err) {
    wss?.close();
    await Promise.all([closeServer(apiServer), closeServer(staticServer)]);
    await stored.close();
    throw err;
  }
}

// Run only when executed directly (`node demo/server.mjs`), not when the tests import it.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const env = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
  let demo;
  try {
    demo = await startDemo({
      port: env('PORT', 8080),
      staticPort: env('STATIC_PORT', 8081),
      ...(process.env.DEMO_OUT_DIR ? { outDir: process.env.DEMO_OUT_DIR } : {}),
    });
  } catch (err) {
    const hint = err?.code === 'EADDRINUSE' ? ` (port ${err.port} is taken: set PORT=… and STATIC_PORT=…)` : '';
    console.error(`demo: ${err?.message ?? err}${hint}`);
    process.exit(1);
  }
  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n  ${signal}: stopping…`);
    await demo.close();
    process.exit(0);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
