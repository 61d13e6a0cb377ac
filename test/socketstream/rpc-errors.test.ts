// JSON-RPC errors over a real websocket: each is an answer to that caller, and the socket and server live on.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { Server } from 'node:http';
import { createSocketStream } from '../../src/socketstream/index.ts';
import { RPC_ERRORS } from '../../src/shared/protocol.ts';
import { close } from '../helpers/net.ts';
import { baseUrl, getToken, RpcClient } from './support.ts';

describe('RPC errors on a live socket', () => {
  const ss = createSocketStream({ secret: crypto.randomBytes(32).toString('hex') });
  let server: Server;
  let rpc: RpcClient;

  ss.rpc.actions('app', function (req: any, res: any) {
    req.use('session');
    return {
      ping() {
        res('pong');
      },
      refuse() {
        res(Object.assign(new Error('not allowed'), { code: 'E_FORBIDDEN' }));
      },
      explode() {
        throw new RangeError('exploded');
      },
      async later() {
        await new Promise((r) => setImmediate(r));
        throw Object.assign(new Error('async failure'), { code: 7 });
      },
      count() {
        req.session.count = (req.session.count ?? 0) + 1;
        req.session.save().then(() => res(req.session.count));
      },
    };
  });
  ss.rpc.actions('broken', function () {
    throw new Error('module failed');
  });

  before(async () => {
    server = await ss.start({ port: 0, host: '127.0.0.1' });
    const { token } = await getToken(baseUrl(server));
    rpc = await RpcClient.open(baseUrl(server), token);
  });
  after(async () => {
    await rpc?.close();
    await ss.stop();
    await close(server);
  });

  test('unknown module and unknown method: -32601', async () => {
    const a = await rpc.call('nope.ping');
    assert.deepEqual(a.error, { code: RPC_ERRORS.methodNotFound, message: 'Method not found: nope.ping' });
    const b = await rpc.call('app.nope');
    assert.equal(b.error!.code, -32601);
    assert.equal((await rpc.call('app.ping')).result, 'pong');
  });

  test('bad requests: -32600 (not an object, no string method, params not an array)', async () => {
    assert.equal((await rpc.send('[1,2]')).error!.code, RPC_ERRORS.invalidRequest);
    assert.equal((await rpc.send('"hello"')).error!.code, -32600);
    assert.equal((await rpc.send({ jsonrpc: '2.0', id: 50, method: 42 }, 50)).error!.code, -32600);
    assert.equal((await rpc.send({ jsonrpc: '2.0', id: 51, method: 'app.ping', params: { a: 1 } }, 51)).error!.code, -32600);
    assert.equal((await rpc.call('app.ping')).result, 'pong');
  });

  test('parse error: -32700 with id null', async () => {
    const a = await rpc.send('{"jsonrpc":"2.0", "id": 1, "method"');
    assert.deepEqual(a, { jsonrpc: '2.0', id: null, error: { code: RPC_ERRORS.parseError, message: 'Parse error' } });
    assert.equal((await rpc.call('app.ping')).result, 'pong');
  });

  test('res(new Error), a throw, a rejected async action, a throwing module: -32000 with message and data.code', async () => {
    assert.deepEqual((await rpc.call('app.refuse')).error, { code: RPC_ERRORS.actionFailed, message: 'not allowed', data: { code: 'E_FORBIDDEN' } });
    assert.deepEqual((await rpc.call('app.explode')).error, { code: -32000, message: 'exploded' });
    assert.deepEqual((await rpc.call('app.later')).error, { code: -32000, message: 'async failure', data: { code: 7 } });
    assert.deepEqual((await rpc.call('broken.anything')).error, { code: -32000, message: 'module failed' });
  });

  test('after all of that, the socket is open and its session still works', async () => {
    assert.equal(rpc.ws.readyState, rpc.ws.OPEN);
    assert.equal((await rpc.call('app.count')).result, 1);
    assert.equal((await rpc.call('app.count')).result, 2);
    // And the server takes new connections.
    const other = await RpcClient.open(baseUrl(server), (await getToken(baseUrl(server))).token);
    try {
      assert.equal((await other.call('app.count')).result, 1);
    } finally {
      await other.close();
    }
  });

  test('a message over the size bound closes only that socket (1009), others carry on', async () => {
    const victim = await RpcClient.open(baseUrl(server), (await getToken(baseUrl(server))).token);
    victim.ws.send('x'.repeat(1024 * 1024 + 1));
    const { code } = await victim.closed;
    assert.equal(code, 1009);
    assert.equal((await rpc.call('app.ping')).result, 'pong');
  });

  test('no credentials: the upgrade completes and closes with 4401; another path is 404', async () => {
    const anonymous = await RpcClient.open(baseUrl(server), null);
    assert.equal((await anonymous.closed).code, 4401);
    await assert.rejects(RpcClient.open(baseUrl(server), null, '/elsewhere'), /404/);
  });
});
