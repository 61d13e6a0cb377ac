// A real IncomingMessage (not a plain object) for calling hs.authenticate / hs.middleware without a socket, so the
// server code sees the same prototype and getters as on the wire.
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

export function fakeRequest({ method = 'GET', url = '/', headers = {} } = {}) {
  const req = new IncomingMessage(new Socket());
  req.method = method;
  req.url = url;
  req.headers = { host: '127.0.0.1', ...headers };
  return req;
}

/** A ServerResponse whose writes go nowhere; resolves `done` at end(). */
export function fakeResponse(req) {
  const res = new ServerResponse(req);
  const done = new Promise((resolve) => {
    res.end = function end(chunk) {
      resolve({ status: this.statusCode, headers: this.getHeaders(), body: chunk ? String(chunk) : '' });
      return this;
    };
  });
  return { res, done };
}
