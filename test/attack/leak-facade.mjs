/**
 * A SocketStream-facade app for the log-leak test, run as a child process with every log switch on (DEBUG=*,
 * NODE_DEBUG): routes that read, sign in (setUserId rotates the id) and throw; RPC actions that count and throw.
 * Prints `READY <port>` once listening; stops on SIGTERM.
 */
import { randomBytes } from 'node:crypto';
import { createSocketStream } from 'hybrid-session/socketstream';

const ss = createSocketStream();
ss.set('*', { session: { cookie: { httpOnly: true } }, ws: { client: { localStorage: true } } });
ss.session.options.secret = process.env.SESSION_SECRET ?? randomBytes(32).toString('hex');

ss.http.route('/me', (req, res) => {
  res.setHeader('Content-Type', 'application/json');
  res.end(JSON.stringify({ user: req.session.userId ?? null, count: req.session.count ?? 0 }));
});
ss.http.route('/login', (req, res) => {
  req.session.setUserId('alice', (err) => res.end(err ? 'failed' : 'signed in'));
});
ss.http.route('/boom', () => {
  throw new Error('route failed on purpose');
});
ss.rpc.actions('app', (req, res) => {
  req.use('session');
  return {
    incr() {
      req.session.count = (req.session.count ?? 0) + 1;
      req.session.save(() => res(req.session.count));
    },
    boom() {
      throw new Error('action failed on purpose');
    },
  };
});

const server = await ss.start({ port: 0, host: '127.0.0.1' });
console.log(`READY ${server.address().port}`);
process.on('SIGTERM', () => {
  ss.stop().then(() => process.exit(0));
});
