/*
 * The demo's user interface, shared by both front-ends. A classic script (no import/export) because the hybrid app
 * loads it with a <script> tag, also from file://, where module scripts are refused. It defines window.DemoUI;
 * each page passes in its own createSession: window.HybridSession's (script tag) or the bundled import (SPA).
 *
 * Everything a person sees is derived from three sources: the hybrid-session client (token, storage, events),
 * the API's answers over HTTP, and the server's pushes over the websocket.
 */
(function (global) {
  'use strict';

  var TEMPLATE = [
    '<div class="notice" id="notice"></div>',
    '<section class="card">',
    '  <h2>Who</h2>',
    '  <div class="who-row"><div class="who" id="user" data-signed-in="false">…</div>',
    '    <button id="sign-out" type="button">Sign out</button></div>',
    '  <div class="row"><span>Session</span><span class="mono" id="sid" title="first 8 hex of sha256(session id)">…</span></div>',
    '  <form id="login" autocomplete="off"><input id="name" name="name" placeholder="Your name" maxlength="40" required>',
    '    <button class="primary" id="sign-in" type="submit">Sign in</button></form>',
    '</section>',
    '<section class="card">',
    '  <h2>Counter in the session</h2>',
    '  <div class="count" id="count">–</div>',
    '  <div class="count-via" id="count-via"></div>',
    '  <div class="buttons" style="justify-content:center">',
    '    <button id="inc-http" type="button">+1 over HTTP</button>',
    '    <button id="inc-ws" type="button">+1 over websocket</button>',
    '  </div>',
    '</section>',
    '<section class="card">',
    '  <h2>Credentials</h2>',
    '  <div class="row"><span>Token kept in</span><span class="mono" id="storage">…</span></div>',
    '  <div class="row"><span>Expires</span><span id="expires">…</span></div>',
    '  <div class="row"><span>Cookie reaches the API</span><span id="cookie">…</span></div>',
    '  <div class="row"><span>Websocket</span><span class="pill" id="ws-state" data-state="connecting">connecting</span></div>',
    '  <div class="buttons"><button id="forget" type="button">Forget token</button></div>',
    '</section>',
    // One row per fact about the token; the buttons row below them. Rows for more facts (device binding) go here too.
    '<section class="card" id="token-card">',
    '  <h2>Token rotation</h2>',
    '  <div class="row"><span>Generation</span><span class="mono" id="generation">…</span></div>',
    '  <div class="row"><span>Next rotation</span><span id="rotates">…</span></div>',
    // Device binding: whether the token is bound to this device's non-extractable key, and that key's thumbprint
    // (RFC 7638) as the server holds it. A bound token's copy is refused at once when replayed elsewhere.
    '  <div class="row"><span>Bound to this device</span><span class="mono" id="bound">…</span></div>',
    '  <div class="row"><span>Key thumbprint</span><span class="mono" id="thumbprint">–</span></div>',
    '  <div class="row"><span>Theft replay</span><span id="theft" data-outcome="none">–</span></div>',
    '  <div class="buttons"><button id="simulate-theft" type="button">Simulate theft</button></div>',
    '</section>',
    '<section class="card">',
    '  <h2>Events</h2>',
    '  <ol class="log" id="log"></ol>',
    '</section>',
  ].join('\n');

  function mount(options) {
    var createSession = options.createSession;
    var apiUrl = options.apiUrl;
    var root = options.root;
    var kind = options.kind; // 'hybrid' | 'spa'
    root.innerHTML = TEMPLATE;
    var $ = function (id) { return root.querySelector('#' + id); };

    var state = { user: null, sid: null, count: null, via: '', ws: 'connecting', cookie: null, stopped: false, theft: null };
    /** When this tab first held the current token: the client renews it once half its life (from then) is gone. */
    var seen = { token: null, at: 0 };
    var socket = null;
    var session;
    // Where this tab remembers when it first saw its token (by generation and expiry, never the token), for reloads.
    var SEEN_KEY = 'demo.token-seen';

    function log(text) {
      var li = document.createElement('li');
      var time = document.createElement('time');
      time.textContent = new Date().toLocaleTimeString();
      li.appendChild(time);
      li.appendChild(document.createTextNode(' ' + text));
      var list = $('log');
      list.insertBefore(li, list.firstChild);
      while (list.children.length > 30) list.removeChild(list.lastChild);
    }

    function notice(text, level) {
      $('notice').textContent = text || '';
      $('notice').setAttribute('data-kind', level || 'info');
    }

    function relative(ms) {
      var s = Math.round(ms / 1000);
      if (s <= 0) return 'now';
      if (s < 90) return 'in ' + s + ' s';
      if (s < 90 * 60) return 'in ' + Math.round(s / 60) + ' min';
      if (s < 36 * 3600) return 'in ' + Math.round(s / 3600) + ' h';
      return 'in ' + Math.round(s / 86400) + ' days';
    }

    /** "in 30 days · 12/25/2026", "in 42 s · 10:36:35 PM": the countdown first, then the moment. */
    function expiry(at) {
      var date = new Date(at);
      var soon = at - Date.now() < 20 * 3600 * 1000;
      return relative(at - Date.now()) + ' · ' + (soon ? date.toLocaleTimeString() : date.toLocaleDateString());
    }

    function tokenExpiry() {
      return session && typeof session.expiresAt === 'number' ? session.expiresAt : null;
    }

    /**
     * The token's generation field (v1.<sid>.<exp>.<gen>.<mac>). Apps treat the token as opaque; the demo reads
     * this one field to show rotation happening.
     */
    function generation(token) {
      var field = token ? token.split('.')[3] : undefined;
      return field === undefined ? null : Number(field);
    }

    /** Renewal is due when less than half of the token's life is left (the client's timer, the server's rule). */
    function rotationDue() {
      var exp = tokenExpiry();
      if (!session || !session.token || !exp) return null;
      if (seen.token !== session.token) {
        var gen = generation(session.token);
        var kept = null;
        try { kept = JSON.parse(sessionStorage.getItem(SEEN_KEY) || 'null'); } catch (e) { /* none kept */ }
        // The same token as before a reload: its half-life still counts from when it first arrived.
        var at = kept && kept.gen === gen && kept.exp === exp ? kept.at : Math.min(Date.now(), exp);
        seen = { token: session.token, at: at };
        try { sessionStorage.setItem(SEEN_KEY, JSON.stringify({ gen: gen, exp: exp, at: at })); } catch (e) { /* estimate from now next time */ }
      }
      return seen.at + (exp - seen.at) / 2;
    }

    function render() {
      var signedIn = !!state.user;
      $('user').textContent = state.stopped ? 'Signed out' : signedIn ? 'Signed in as ' + state.user : 'Not signed in';
      $('user').setAttribute('data-signed-in', String(signedIn));
      $('sid').textContent = state.sid || '–';
      $('count').textContent = state.count == null ? '–' : String(state.count);
      $('count-via').textContent = state.via;
      $('storage').textContent = session && session.token ? session.storage : state.stopped ? '(no token)' : session ? session.storage : '…';
      var exp = tokenExpiry();
      $('expires').textContent = exp && session.token ? expiry(exp) : '–';
      var gen = session ? generation(session.token) : null;
      $('generation').textContent = gen == null ? '–' : String(gen);
      var due = rotationDue();
      $('rotates').textContent = due ? expiry(due) : '–';
      $('bound').textContent = !session || !session.token ? '–' : session.bound ? 'yes (DPoP)' : 'no' + (state.unbound ? ' (' + state.unbound + ')' : '');
      $('bound').setAttribute('data-bound', String(!!(session && session.bound)));
      $('thumbprint').textContent = session && session.bound && state.thumbprint ? state.thumbprint : '–';
      $('theft').textContent = state.theft ? state.theft.text : '–';
      $('theft').setAttribute('data-outcome', state.theft ? state.theft.outcome : 'none');
      $('simulate-theft').disabled = state.stopped || !!(state.theft && state.theft.outcome === 'pending');
      $('cookie').textContent = state.cookie == null ? '–' : state.cookie ? 'yes (httpOnly, same origin)' : 'no (token only)';
      $('cookie').className = state.cookie ? 'yes' : 'no';
      $('ws-state').textContent = state.ws;
      $('ws-state').setAttribute('data-state', state.ws);
      $('sign-out').disabled = state.stopped;
      document.body.setAttribute('data-ws-state', state.ws);
    }

    function show(view) {
      if ('user' in view) state.user = view.user;
      if ('sid' in view) state.sid = view.sid;
      if ('count' in view) state.count = view.count;
      render();
    }

    async function api(path, init) {
      var res = await session.fetch(path, init);
      var body = await res.json().catch(function () { return {}; });
      if (!res.ok) throw new Error(body.error || 'HTTP ' + res.status);
      return body;
    }

    async function refresh() {
      var me = await api('/api/me');
      state.cookie = me.carried ? me.carried.cookie : null;
      state.thumbprint = me.thumbprint || null;
      show(me);
    }

    function connect() {
      if (socket) return;
      state.ws = 'connecting';
      // session.websocket waits 1-5 s before its first retry by default; after a sign-in (4401, renew, reconnect)
      // a person watches that pause, so the demo starts lower, keeping the jitter and the library's growth and cap.
      socket = session.websocket('/ws', undefined, { minReconnectionDelay: 300 + Math.random() * 700, maxReconnectionDelay: 8000 });
      var mine = socket;
      socket.addEventListener('open', function () {
        if (socket !== mine) return;
        state.ws = 'connected';
        render();
      });
      socket.addEventListener('close', function (event) {
        if (socket !== mine) return;
        // 4401: the token no longer names a live session (signed in elsewhere, rotated, expired, destroyed):
        // the client renews before its next attempt. Anything else is the network or the server going away.
        state.ws = event.code === 4401 ? 'renewing' : 'reconnecting';
        render();
      });
      socket.addEventListener('message', function (event) {
        if (socket !== mine) return;
        var msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        if (msg.type === 'state') show(msg);
        else if (msg.type === 'count') {
          state.via = 'last change: over ' + msg.via;
          show({ count: msg.count });
        } else if (msg.type === 'error') log('websocket: ' + msg.message);
      });
      render();
    }

    function disconnect(wsState) {
      if (socket) {
        var closing = socket;
        socket = null;
        closing.close(1000, 'bye');
      }
      state.ws = wsState;
    }

    async function start() {
      state.stopped = false;
      await session.ready();
      await refresh();
      connect();
    }

    /** After a sign-out the page holds no session; the next action starts a fresh (anonymous) one. */
    async function ensureStarted() {
      if (state.stopped) await start();
    }

    function signedOut(reason) {
      state.stopped = true;
      state.user = null;
      state.sid = null;
      state.count = null;
      state.via = '';
      disconnect('closed');
      notice(reason);
      render();
    }

    function guard(fn) {
      return function (event) {
        if (event) event.preventDefault();
        Promise.resolve()
          .then(fn)
          .catch(function (err) {
            log('failed: ' + (err && err.message ? err.message : String(err)));
            notice('That did not work: ' + (err && err.message ? err.message : String(err)), 'warn');
          });
      };
    }

    $('login').addEventListener('submit', guard(async function () {
      var name = $('name').value.trim();
      if (!name) return;
      await ensureStarted();
      var before = state.sid;
      var view = await api('/api/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: name }),
      });
      $('name').value = '';
      notice('');
      state.theft = null;
      state.via = '';
      show(view);
      log('signed in as ' + view.user + ': session ' + (before || '–') + ' → ' + view.sid + ', new token');
      // The server closes the old id's sockets with 4401, but that close can reach this page after the login response:
      // until then the old socket still looks connected. Open one on the new token now, so "connected" always means
      // the signed-in session's socket. (A socket still connecting is left alone: closing it makes the browser log an
      // error, and its handshake carries the old token, so it is refused and renews by itself.)
      if (socket && socket.readyState === 1) disconnect('connecting');
      connect();
    }));

    $('sign-out').addEventListener('click', guard(async function () {
      await session.logout();
      signedOut('Signed out: the server destroyed the session and closed its websockets.');
      log('signed out');
    }));

    $('inc-http').addEventListener('click', guard(async function () {
      await ensureStarted();
      var view = await api('/api/count', { method: 'POST' });
      state.via = 'last change: over http';
      show(view);
    }));

    $('inc-ws').addEventListener('click', guard(async function () {
      await ensureStarted();
      // A click during a reconnect (a sign-in elsewhere, a renewal) waits a little for the socket instead of failing.
      var target = socket;
      if (target && target.readyState !== 1) {
        await new Promise(function (resolve) {
          function opened() { clearTimeout(timer); target.removeEventListener('open', opened); resolve(); }
          var timer = setTimeout(opened, 5000);
          target.addEventListener('open', opened);
        });
      }
      if (!target || target !== socket || target.readyState !== 1) throw new Error('the websocket is not connected yet');
      target.send('inc');
    }));

    /** What the page says once a replayed copy ended the session (from the replay's answer or the `expired` event). */
    var THEFT_ENDED = 'Theft detected: a copy of an old token was used after this page had rotated past it. The server ' +
      'ended the session everywhere (hs.on(\'reuse\') fired) and this page started a new one.';

    $('simulate-theft').addEventListener('click', guard(async function () {
      await ensureStarted();
      // 1. A thief copies the token out of storage (the demo server keeps the copy the page sends it).
      var copy = await api('/api/theft/copy', { method: 'POST' });
      state.theft = { outcome: 'pending', text: 'copied generation ' + copy.generation + '…' };
      log('thief copied the token (generation ' + copy.generation + ')');
      render();
      // 2. The page goes on renewing. Two renewals put the copy two generations behind, so its replay is reuse at
      //    once; one generation behind it would be answered as a lost answer within the rotation grace.
      await session.renew();
      await session.renew();
      log('page renewed twice: generation ' + copy.generation + ' → ' + generation(session.token));
      // 3. The thief replays the copy at the token endpoint, from the server side.
      var result = await api('/api/theft/replay', { method: 'POST' });
      var texts = {
        ended: 'generation ' + result.generation + ' replayed: reuse detected, session ended',
        refused: 'generation ' + result.generation + ' replayed: refused (' + (result.code || result.status) + '), session kept',
        accepted: 'generation ' + result.generation + ' replayed: accepted (within the grace)',
      };
      // `told`: the `expired` that follows an ended session reports it once (it may come before or after this answer).
      state.theft = { outcome: result.outcome, text: texts[result.outcome] || result.outcome, told: state.theft.told };
      log('thief replayed generation ' + result.generation + ': HTTP ' + result.status + (result.code ? ' ' + result.code : ''));
      if (result.outcome === 'ended') notice(THEFT_ENDED, 'warn');
      render();
    }));

    $('forget').addEventListener('click', guard(async function () {
      var before = state.sid;
      // Drops the token from storage and memory, as an app reinstall or a cleared webview would; the session stays.
      await session.forget();
      disconnect('connecting');
      log('token deleted from ' + session.storage + ' and memory');
      state.stopped = false;
      await session.ready();
      await refresh();
      if (state.sid === before) {
        notice('Token forgotten: the httpOnly cookie recovered the same session, and a new token was issued.');
        log('recovered session ' + state.sid + ' from the cookie');
      } else {
        notice('Token forgotten: no cookie reaches the API from this page, so this is a new session (' + state.sid + ').', 'warn');
        log('no cookie: new session ' + state.sid);
      }
      connect();
    }));

    session = createSession({ url: apiUrl });
    session.on('token', function () {
      render();
    });
    session.on('expired', function () {
      // The server no longer knows our session (expired, destroyed, or a memory store that restarted): the client
      // already holds a token for a new one; show it, and say so.
      state.ws = socket ? 'expired' : state.ws;
      state.via = '';
      // A socket refused twice in a row gives up (the client closes it): open a new one on the new session. One
      // still open or connecting is left alone: closing a connecting socket makes the browser log an error.
      if (socket && socket.readyState === 3) {
        disconnect('expired');
        connect();
      }
      // During "simulate theft" the session ends because the replayed copy was detected: say that, not "expired".
      if (state.theft && !state.theft.told && (state.theft.outcome === 'pending' || state.theft.outcome === 'ended')) {
        state.theft.told = true;
        notice(THEFT_ENDED, 'warn');
        log('session ended for token reuse: new session started');
      } else {
        notice('The session expired (or the server forgot it): a new session was started.', 'warn');
        log('session expired: new session started');
      }
      refresh().catch(function (err) { log('refresh failed: ' + err.message); });
    });
    // The event says where the logout came from: this tab's own is reported by the sign-out button above.
    session.on('logout', function (event) {
      if (!state.stopped && event.from === 'another-tab') {
        signedOut('Signed out in another tab: this tab\'s session is gone and its websocket closed.');
        log('signed out (another tab)');
      }
    });
    session.on('storage', function (event) {
      log('token storage: ' + (event.from || '–') + ' → ' + event.to + (event.reason ? ' (' + event.reason + ')' : ''));
      render();
    });
    // No key can be kept here (no crypto.subtle, IndexedDB failing): the token stays a plain bearer, and why.
    session.on('binding', function (event) {
      state.unbound = event.reason;
      log('device binding: none (' + event.reason + ')');
      render();
    });
    session.on('error', function (err) {
      log('client: ' + (err && err.message ? err.message : String(err)));
    });

    // Token expiry counts down on screen.
    setInterval(render, 1000);
    render();
    log(kind === 'hybrid' ? 'page origin ' + location.origin + ', API ' + apiUrl : 'same origin as the API');
    start().catch(function (err) {
      notice('Could not reach the API at ' + apiUrl + ': ' + err.message, 'warn');
      log('start failed: ' + err.message);
    });
    return { session: session };
  }

  global.DemoUI = { mount: mount };
})(typeof window !== 'undefined' ? window : this);
