/*
 * The hybrid app's entry: a classic script, as in a PhoneGap www/ folder. The API's address comes from `?api=` on
 * the page's URL, else from config.js (written by the demo at startup, as a build step would bake it in): a
 * file:// page has no server of its own to ask, and relative URLs would point into the file system.
 */
(function () {
  'use strict';
  var fromQuery = new URLSearchParams(location.search).get('api');
  var apiUrl = fromQuery || (window.DEMO_CONFIG && window.DEMO_CONFIG.apiUrl);
  var root = document.getElementById('app');
  if (!apiUrl || !window.HybridSession) {
    root.textContent = !apiUrl
      ? 'No API address: open this page with ?api=http://127.0.0.1:8080 or start it with `npm run demo`.'
      : 'hybrid-session.umd.min.js did not load: start the demo with `npm run demo`.';
    return;
  }
  window.demo = window.DemoUI.mount({ createSession: window.HybridSession.createSession, apiUrl: apiUrl, root: root, kind: 'hybrid' });
})();
