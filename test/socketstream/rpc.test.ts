// The JSON-RPC router on its own: wire edge cases without a socket in between (the end-to-end file sends the same
// kinds of messages over a real websocket).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RpcRouter, type RpcConnection } from '../../src/socketstream/rpc.ts';
import { RPC_ERRORS } from '../../src/shared/protocol.ts';

function connection(loads: { count: number }): RpcConnection {
  return {
    socketId: 's1',
    clientIp: '127.0.0.1',
    async loadSession() {
      loads.count += 1;
      return { session: { myVar: loads.count }, sessionId: 'sid' };
    },
  };
}

function router(late: unknown[] = []) {
  const r = new RpcRouter(() => ({ name: 'ss' }), (e) => late.push(e));
  r.actions('app', function (req, res, ss) {
    req.use('session');
    return {
      getSession() {
        res(req.session);
      },
      add(a: number, b: number) {
        res(a + b);
      },
      two() {
        res('a', 'b');
      },
      nothing() {
        res();
      },
      fail() {
        const e = new Error('nope') as Error & { code: string };
        e.code = 'E_NOPE';
        res(e);
      },
      throws() {
        throw new TypeError('bad input');
      },
      async rejects() {
        throw Object.assign(new Error('async nope'), { code: 42 });
      },
      twice() {
        res(1);
        res(2);
      },
      ss() {
        res(ss);
      },
    };
  });
  r.actions('lazy', { actions: (_req, res) => ({ ping: () => res('pong') }) });
  return r;
}

const call = (id: number, method: string, params?: unknown[]) => JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });

describe('RpcRouter', () => {
  test("an action module of SocketStream's shape answers with result; req.use('session') loads fresh per call", async () => {
    const loads = { count: 0 };
    const r = router();
    assert.deepEqual(await r.handleMessage(call(1, 'app.getSession'), connection(loads)), { jsonrpc: '2.0', id: 1, result: { myVar: 1 } });
    assert.deepEqual(await r.handleMessage(call(2, 'app.getSession'), connection(loads)), { jsonrpc: '2.0', id: 2, result: { myVar: 2 } });
    assert.deepEqual(await r.handleMessage(call(3, 'app.add', [2, 3]), connection(loads)), { jsonrpc: '2.0', id: 3, result: 5 });
    assert.deepEqual(await r.handleMessage(call(4, 'app.two'), connection(loads)), { jsonrpc: '2.0', id: 4, result: ['a', 'b'] });
    assert.deepEqual(await r.handleMessage(call(5, 'app.nothing'), connection(loads)), { jsonrpc: '2.0', id: 5, result: null });
    assert.deepEqual(await r.handleMessage(call(6, 'app.ss'), connection(loads)), { jsonrpc: '2.0', id: 6, result: { name: 'ss' } });
    assert.deepEqual(await r.handleMessage(call(7, 'lazy.ping'), connection(loads)), { jsonrpc: '2.0', id: 7, result: 'pong' });
  });

  test('a session is not loaded unless the module asks for it', async () => {
    const loads = { count: 0 };
    await router().handleMessage(call(1, 'lazy.ping'), connection(loads));
    assert.equal(loads.count, 0);
  });

  test('res(error), a throw and a rejection answer -32000 with the message and error.code as data.code', async () => {
    const r = router();
    const c = connection({ count: 0 });
    assert.deepEqual(await r.handleMessage(call(1, 'app.fail'), c), {
      jsonrpc: '2.0', id: 1, error: { code: RPC_ERRORS.actionFailed, message: 'nope', data: { code: 'E_NOPE' } },
    });
    assert.deepEqual(await r.handleMessage(call(2, 'app.throws'), c), {
      jsonrpc: '2.0', id: 2, error: { code: -32000, message: 'bad input' },
    });
    assert.deepEqual(await r.handleMessage(call(3, 'app.rejects'), c), {
      jsonrpc: '2.0', id: 3, error: { code: -32000, message: 'async nope', data: { code: 42 } },
    });
  });

  test('unknown module, unknown method, inherited names: -32601', async () => {
    const r = router();
    const c = connection({ count: 0 });
    for (const method of ['nope.x', 'app.missing', 'app.toString', 'app.__proto__', 'app', '.x', 'app.']) {
      const out = await r.handleMessage(call(9, method), c);
      assert.deepEqual(out, { jsonrpc: '2.0', id: 9, error: { code: RPC_ERRORS.methodNotFound, message: `Method not found: ${method}` } }, method);
    }
  });

  test('bad requests: -32600; unparsable: -32700', async () => {
    const r = router();
    const c = connection({ count: 0 });
    const code = async (text: string) => {
      const out = (await r.handleMessage(text, c)) as { error: { code: number }; id: unknown };
      return [out.error.code, out.id];
    };
    assert.deepEqual(await code('{"jsonrpc":"2.0","id":1,'), [RPC_ERRORS.parseError, null]);
    assert.deepEqual(await code('42'), [RPC_ERRORS.invalidRequest, null]);
    assert.deepEqual(await code('[]'), [RPC_ERRORS.invalidRequest, null]);
    assert.deepEqual(await code('{"jsonrpc":"2.0","id":3,"method":7}'), [RPC_ERRORS.invalidRequest, 3]);
    assert.deepEqual(await code('{"jsonrpc":"2.0","id":4,"method":"app.add","params":{"a":1}}'), [RPC_ERRORS.invalidRequest, 4]);
    assert.deepEqual(await code('{"id":5,"method":"app.add"}'), [RPC_ERRORS.invalidRequest, 5]);
    assert.deepEqual(await code('{"jsonrpc":"2.0","id":{},"method":"app.add"}'), [RPC_ERRORS.invalidRequest, null]);
  });

  test('a notification runs and is not answered; a second res() is reported, not sent', async () => {
    const late: unknown[] = [];
    const r = router(late);
    assert.equal(await r.handleMessage(JSON.stringify({ jsonrpc: '2.0', method: 'app.add', params: [1, 2] }), connection({ count: 0 })), null);
    assert.deepEqual(await r.handleMessage(call(1, 'app.twice'), connection({ count: 0 })), { jsonrpc: '2.0', id: 1, result: 1 });
    assert.equal(late.length, 1);
    assert.match((late[0] as Error).message, /more than once/);
  });

  test('a store failure while loading the session is an error to that caller', async () => {
    const r = router();
    const c: RpcConnection = {
      socketId: 's',
      clientIp: undefined,
      loadSession: () => Promise.reject(Object.assign(new Error('store down'), { code: 'HS_ERR_STORE' })),
    };
    assert.deepEqual(await r.handleMessage(call(1, 'app.getSession'), c), {
      jsonrpc: '2.0', id: 1, error: { code: -32000, message: 'store down', data: { code: 'HS_ERR_STORE' } },
    });
  });
});
