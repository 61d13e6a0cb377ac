/**
 * The demo's websocket answers a message sent the moment the socket opens. A page (or a test clicking "+1 over
 * websocket" right after "connected") may send before the server has loaded the socket's session; that message
 * must wait for the load, not be dropped.
 *
 * The order is made explicit, not left to speed: the store holds every read made once the server holds the
 * socket (that is, `hs.sessionOf(ws).load()`, after the handshake's own read) until the client has sent its message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import session from 'express-session';
import { connect, getToken } from '../server/helpers.ts';
import { removeDir, startDemo, tempDir } from './harness.ts';

test('a message sent as the socket opens is answered, even while the server still loads the session', { timeout: 60_000 }, async () => {
  const outDir = await tempDir('hs-demo-socket-');
  const store = new session.MemoryStore();
  const held: Array<() => void> = [];
  let sent = false;
  const get = store.get.bind(store);
  const demo = await startDemo({ outDir, store });
  try {
    store.get = (sid, cb) => {
      if (!sent && demo.openSockets() > 0) held.push(() => get(sid, cb));
      else get(sid, cb);
    };
    const { token } = await getToken(demo.apiUrl);
    const c = connect(demo.apiUrl.replace(/^http/, 'ws') + '/ws', ['hybrid-session', `hybrid-session.bearer.${token}`]);
    // Waits for the answer itself, bounded by the test's own timeout, not by a deadline of its own.
    const counted = new Promise<unknown>((resolve) => {
      c.ws.on('message', (data) => {
        const reply = JSON.parse(String(data)) as { type: string };
        if (reply.type === 'count') resolve(reply);
      });
    });
    await c.opened;
    c.ws.send('inc');
    sent = true;
    // The client's frame is on the wire before the load may finish: a round trip the server answers (a ping)
    // proves the server has read everything sent before it.
    await new Promise<void>((resolve) => {
      c.ws.once('pong', () => resolve());
      c.ws.ping();
    });
    assert.ok(held.length > 0, 'the session load was held until the message was sent');
    for (const release of held.splice(0)) release();
    assert.deepEqual(await counted, { type: 'count', count: 1, via: 'websocket' });
    c.ws.close();
    await c.closed;
  } finally {
    await demo.close();
    await removeDir(outDir);
  }
});
