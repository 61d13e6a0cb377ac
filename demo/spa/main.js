// The SPA's entry, bundled by rollup (demo/build.mjs) as any app would bundle the package.
import { createSession } from 'hybrid-session';

// Same origin as the API: the session cookie rides along, and the token too.
window.demo = window.DemoUI.mount({
  createSession,
  apiUrl: location.origin,
  root: document.getElementById('app'),
  kind: 'spa',
});
