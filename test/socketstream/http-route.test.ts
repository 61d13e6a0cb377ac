import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { HttpRoutes, normalizeEndArgs, wrapEnd } from '../../src/socketstream/http-route.ts';
import { close, listen } from '../helpers/net.ts';

describe("res.end with SocketStream's example call", () => {
  test("('text', number) is written as text, as the docs' route expects", () => {
    assert.deepEqual(normalizeEndArgs(['req.session.myVar has been updated to', 4321]), {
      args: ['req.session.myVar has been updated to 4321', 'utf8'],
      joined: true,
    });
  });

  test('ordinary calls are untouched: (chunk), (chunk, encoding), (chunk, cb), (chunk, encoding, cb)', () => {
    const cb = () => {};
    for (const args of [[], ['x'], ['x', 'utf8'], ['x', cb], ['x', 'latin1', cb]]) {
      assert.deepEqual(normalizeEndArgs(args), { args, joined: false });
    }
  });

  test('objects are written as JSON, a trailing callback is kept', () => {
    const cb = () => {};
    assert.deepEqual(normalizeEndArgs(['cart', { items: 3 }, true, cb]), { args: ['cart {"items":3} true', 'utf8', cb], joined: true });
  });
});

describe('a wrapped res.end on a real server', () => {
  let server: Server;
  let base: string;
  const events: string[] = [];
  const routes = new HttpRoutes();

  before(async () => {
    routes.route('/updateSession', (_req, res) => {
      // The docs' call as written: end(string, number) is not in Node's types, and must still work.
      (res as unknown as { end(...args: unknown[]): void }).end('req.session.myVar has been updated to', 4321);
    });
    routes.route('/fails', (_req, res) => {
      res.end('never');
    });
    server = createServer((req, res) => {
      const handler = routes.match(req.url);
      if (!handler) {
        res.statusCode = 404;
        res.end();
        return;
      }
      const failing = req.url === '/fails';
      wrapEnd(
        res,
        async () => {
          events.push(`save ${req.url}`);
          if (failing) throw new Error('store down');
        },
        (e) => events.push(`error ${(e as Error).message}`),
      );
      handler(req, res);
    });
    base = await listen(server);
  });
  after(() => close(server));

  test('the body is the joined text, sent after the save', async () => {
    const r = await fetch(`${base}/updateSession/?x=1`);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'req.session.myVar has been updated to 4321');
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.ok(events.includes('save /updateSession/?x=1'));
  });

  test('a failed save answers 500, not a response that pretends it was stored', async () => {
    const r = await fetch(`${base}/fails`);
    assert.equal(r.status, 500);
    assert.ok(events.includes('error store down'));
  });

  test('unrouted paths are not matched', async () => {
    assert.equal((await fetch(`${base}/updateSessionX`)).status, 404);
    assert.equal(routes.match('/%E0%A4%A'), undefined);
  });
});
