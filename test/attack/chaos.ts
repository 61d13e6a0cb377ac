/**
 * The chaos soak's driver (issue 11): against one server in its own process (fixtures/target.ts, 'attach' or
 * 'facade'), LANES lanes each draw actions from a seeded PRNG for `seconds` — resets mid-handshake, requests cut
 * off and left silent, half-written websocket frames, messages past maxPayload, malformed and unencodable RPC,
 * floods of forged and malformed bearers (HTTP and handshakes), floods of RPC calls at an action that awaits I/O —
 * while a good client (real `ws` + HTTP with a valid token) makes sequential round trips. Used by
 * chaos-soak.test.ts (which judges) and bench/chaos.benchmark.mjs (which reports); nothing here asserts.
 *
 * The seed fixes each lane's sequence of actions and their parameters, not the interleaving (that is the machine's);
 * CHAOS_SEED replays a sequence. Every verdict the caller takes is about what must hold at any speed: the process
 * lives, every good round trip succeeded, nothing answered 5xx or 1011, and once the chaos has stopped and the
 * server holds only the good client's socket again, descriptors and heap after gc are back near their start.
 */
import { connect, type Socket } from 'node:net';
import { WebSocket } from 'ws';
import { pool, send, waitFor, within, type Reply } from './support.ts';
import { rawExchange, resetClient, upgradeRequest, type Target } from './target-process.ts';

export type Mode = 'attach' | 'facade';

export const ACTIONS = ['reset-mid-handshake', 'half-request', 'half-frame', 'oversized', 'malformed', 'bad-token-flood', 'rpc-flood'] as const;
export type Action = (typeof ACTIONS)[number];
/** How often each action is drawn, relative to the others (floods are many requests each, so drawn less). */
const WEIGHTS: Record<Action, number> = { 'reset-mid-handshake': 4, 'half-request': 2, 'half-frame': 3, oversized: 1, malformed: 3, 'bad-token-flood': 2, 'rpc-flood': 1 };
const LANES = 4;
/** One message past the 1 MiB both servers allow (fixtures/target.ts; the facade's own bound). */
const MAX_PAYLOAD = 1024 * 1024;
/** A bound on any single exchange: an answer that does not come within it is a failure, not slowness. */
const EXCHANGE_MS = 60_000;
const CHAOS_SESSIONS = 3;

/** The IPC pipe's reads and tsx's cache may hold a descriptor or two; leaked sockets would be dozens. */
export const FD_SLACK = 8;
/** Heap after gc may end within the larger of +10 MiB and 1.5× its start (caches filled once, V8's own slack). */
export const heapBound = (before: number) => Math.max(before + 10 * 2 ** 20, 1.5 * before);

/** What must hold after a soak, at any machine speed: [] when it held. The test asserts each; the bench reports. */
export function problems(r: SoakResult): string[] {
  const out: string[] = [];
  if (r.exited !== null) out.push(`the server process exited (${r.exited})`);
  if (r.good.failures.length) out.push(`${r.good.failures.length} good round trips failed, first: ${r.good.failures[0]}`);
  if (!(r.good.http >= 1 && r.good.ws >= 1 && r.good.handshakes >= 1)) out.push('the good client made no round trip of some kind');
  if (r.chaosErrors.length) out.push(`${r.chaosErrors.length} chaos exchanges not answered, first: ${r.chaosErrors[0]}`);
  const bad = Object.keys(r.outcomes).filter((k) => serverFault(k));
  if (bad.length) out.push(`answered as the server's fault: ${bad.join(', ')}`);
  if (!(r.after.connections <= r.before.connections)) out.push(`connections ${r.before.connections} → ${r.after.connections}`);
  if (!(r.after.fds <= r.before.fds + FD_SLACK)) out.push(`descriptors ${r.before.fds} → ${r.after.fds}`);
  if (!(r.after.heap <= heapBound(r.before.heap))) out.push(`heap after gc ${mib(r.before.heap)} → ${mib(r.after.heap)} MiB (bound ${mib(heapBound(r.before.heap))})`);
  return out;
}

/** An answer that blames the server, not the input: a 5xx (HTTP or an upgrade's answer) or a 1011 close. */
export const serverFault = (outcome: string) => /(^|\s)5\d\d$|close 1011$/.test(outcome);
export const mib = (n: number) => (n / 2 ** 20).toFixed(1);

export interface Figures {
  heap: number;
  fds: number;
  connections: number;
}

export interface SoakResult {
  mode: Mode;
  seed: number;
  seconds: number;
  /** Chaos actions run, by kind. */
  actions: Record<string, number>;
  /** What the server answered the chaos: `http 401`, `close 4401`, `rpc -32603`, `upgrade 404`, … → count. */
  outcomes: Record<string, number>;
  good: { http: number; ws: number; handshakes: number; failures: string[] };
  /** Exchanges the server should have answered and did not, and the chaos code's own surprises. */
  chaosErrors: string[];
  before: Figures;
  after: Figures;
  /** null while the server process lives. */
  exited: string | null;
}

/** mulberry32: small, fast, and the same sequence on every machine for one seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);
const pick = <T>(rng: Rng, list: readonly T[]): T => list[int(rng, list.length)]!;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const chars = (rng: Rng, n: number) => Array.from({ length: n }, () => B64URL[int(rng, 64)]).join('');

function draw(rng: Rng): Action {
  const weights = ACTIONS.map((a) => WEIGHTS[a]);
  let r = rng() * weights.reduce((s, w) => s + w, 0);
  for (const [i, w] of weights.entries()) {
    if ((r -= w) < 0) return ACTIONS[i]!;
  }
  return ACTIONS[ACTIONS.length - 1]!;
}

/** A token that must be refused: a flipped MAC, another session's shape, truncated, doubled, or garbage. */
function forged(rng: Rng, real: string): string {
  switch (int(rng, 6)) {
    case 0:
      return real.slice(0, -4) + chars(rng, 4);
    case 1:
      return chars(rng, real.length);
    case 2:
      return real.split('.').slice(0, 3).join('.');
    case 3:
      return `v1.${chars(rng, 32)}.${'9'.repeat(13)}.0.${chars(rng, 43)}`;
    case 4:
      return `${real}.${real}`;
    default:
      return chars(rng, 1 + int(rng, 4000));
  }
}

class Tally {
  readonly counts: Record<string, number> = {};
  bump(key: string, n = 1): void {
    this.counts[key] = (this.counts[key] ?? 0) + n;
  }
}

function statusOf(raw: string): string {
  const m = /^HTTP\/1\.1 (\d{3})/.exec(raw);
  return m ? m[1]! : 'none';
}

function nextToken(r: Reply): string | undefined {
  const h = r.headers['session-token'];
  return typeof h === 'string' && h ? h : undefined;
}

/** Opens a websocket with `protocols`; resolves once open, rejects on close, error-close or after EXCHANGE_MS. */
function openWs(t: Target, protocols: string[]): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws`, protocols, { perMessageDeflate: false });
  ws.on('error', () => {});
  return within(
    new Promise<WebSocket>((resolve, reject) => {
      ws.once('open', () => resolve(ws));
      ws.once('close', (code) => reject(new Error(`closed ${code} before open`)));
    }),
    EXCHANGE_MS,
    'websocket open',
  ).catch((err) => {
    ws.terminate();
    throw err;
  });
}

/** Resolves with the close code once `ws` has closed (terminating it after `ms`). */
function closed(ws: WebSocket, ms = EXCHANGE_MS): Promise<number> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve(1006);
  return new Promise((resolve) => {
    const timer = setTimeout(() => ws.terminate(), ms);
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** The good client's and the chaos's sessions: minted, then used once (promoted; its token rotated to a full one). */
async function usedSession(t: Target, route: string): Promise<{ token: string; sid: string }> {
  const r = await send(t.url + '/session/token', { method: 'POST' });
  if (r.status !== 200) throw new Error(`token endpoint answered ${r.status}`);
  const first = JSON.parse(r.body).token as string;
  const used = await send(t.url + route, { headers: { authorization: `Bearer ${first}` } });
  if (used.status !== 200) throw new Error(`${route} answered ${used.status}`);
  return { token: nextToken(used) ?? first, sid: JSON.parse(used.body).sid as string };
}

const rpc = (id: number | string, method: string, params: string) => `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"${method}","params":${params}}`;

/** Input that must be answered (an RPC error) or ignored, never end the process. Facade: RPC; attach: echoed. */
const MALFORMED: Array<string | Buffer> = [
  'not json {',
  '{"jsonrpc":"2.0",',
  '42',
  '"just a string"',
  'null',
  '[]',
  '[1,2,3]',
  '{}',
  '{"jsonrpc":"2.0","id":1}',
  '{"jsonrpc":"2.0","id":2,"method":5}',
  rpc(3, 'no.such', '[]'),
  rpc(4, 'app.echo', '"not an array"'),
  rpc(5, '__proto__.constructor', '[]'),
  rpc(6, 'app.toString', '[]'),
  '{"jsonrpc":"2.0","id":{"an":"object"},"method":"app.echo","params":[1]}',
  '{"jsonrpc":"2.0","id":7,"method":"app.echo","params":[1],"__proto__":{"polluted":true}}',
  // Unencodable answers: a BigInt, a cycle, params echoed 20,000 deep (JSON.stringify's stack).
  rpc(8, 'app.bigint', '[]'),
  rpc(9, 'app.cycle', '[]'),
  rpc(10, 'app.echo', `[${'['.repeat(20_000)}${']'.repeat(20_000)}]`),
  Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x22]),
];

export interface SoakOptions {
  seed: number;
  seconds: number;
  /** Progress lines (the soak is long); default silent. */
  log?: (line: string) => void;
}

export async function soak(t: Target, mode: Mode, { seed, seconds, log = () => {} }: SoakOptions): Promise<SoakResult> {
  const route = mode === 'attach' ? '/' : '/me';
  const actions = new Tally();
  const outcomes = new Tally();
  const chaosErrors: string[] = [];
  const failures: string[] = [];
  const good = { http: 0, ws: 0, handshakes: 0, failures };
  /** Every socket the chaos opened and has not seen closed: destroyed when the chaos stops, whatever state. */
  const held = new Set<{ destroy(): void }>();
  const hold = <T extends { destroy(): void }>(s: T, onClose: (f: () => void) => void): T => {
    held.add(s);
    onClose(() => held.delete(s));
    return s;
  };
  const holdWs = (ws: WebSocket) => hold({ destroy: () => ws.terminate() }, (f) => ws.once('close', f));
  const holdRaw = (s: Socket) => hold(s, (f) => s.once('close', f));

  const alive = () => t.exited() === null;
  const connectionsNow = async () => ((await t.command('connections')) as { connections: number }).connections;

  // ---- the good client: one persistent socket, HTTP round trips, and now and then a fresh handshake ----
  const user = await usedSession(t, route);
  let ws = await openWs(t, ['hybrid-session', `hybrid-session.bearer.${user.token}`]);
  let rid = 0;
  const wsRoundTrip = (sock: WebSocket): Promise<void> => {
    const id = ++rid;
    const expect = mode === 'attach' ? `good ${id}` : `"good ${id}"`;
    const message = mode === 'attach' ? `good ${id}` : rpc(id, 'app.echo', `["good ${id}"]`);
    return within(
      new Promise<void>((resolve, reject) => {
        const onClose = (code: number) => reject(new Error(`good socket closed ${code}`));
        const onMessage = (data: Buffer) => {
          const text = String(data);
          const got = mode === 'attach' ? text : (() => {
            try {
              const m = JSON.parse(text);
              return m.id === id ? (m.result !== undefined ? JSON.stringify(m.result) : `error ${JSON.stringify(m.error)}`) : undefined;
            } catch {
              return undefined;
            }
          })();
          if (got === undefined || (mode === 'attach' && got !== expect)) return;
          sock.off('message', onMessage);
          sock.off('close', onClose);
          if (got === expect) resolve();
          else reject(new Error(`good call answered ${got}`));
        };
        sock.on('message', onMessage);
        sock.once('close', onClose);
        sock.send(message);
      }),
      EXCHANGE_MS,
      `good websocket round trip ${id}`,
    );
  };
  const httpRoundTrip = async (): Promise<void> => {
    const r = await within(send(t.url + route, { headers: { authorization: `Bearer ${user.token}` } }), EXCHANGE_MS, 'good HTTP round trip');
    if (r.status !== 200) throw new Error(`good HTTP request answered ${r.status}: ${r.body.slice(0, 200)}`);
    const sid = JSON.parse(r.body).sid;
    if (sid !== user.sid) throw new Error(`good HTTP request ran on session ${sid}, not its own`);
    user.token = nextToken(r) ?? user.token;
  };
  const freshHandshake = async (): Promise<void> => {
    const fresh = await openWs(t, ['hybrid-session', `hybrid-session.bearer.${user.token}`]);
    try {
      await wsRoundTrip(fresh);
    } finally {
      fresh.close();
      await closed(fresh);
    }
  };

  const chaosTokens: string[] = [];
  for (let i = 0; i < CHAOS_SESSIONS; i++) chaosTokens.push((await usedSession(t, route)).token);
  const payloadBig = Buffer.alloc(MAX_PAYLOAD + 65_536, 0x61);

  // ---- the chaos actions ----
  const run: Record<Action, (rng: Rng) => Promise<void>> = {
    async 'reset-mid-handshake'(rng) {
      const headers = pick<Record<string, string>>(rng, [
        {},
        { Origin: 'http://evil.example' },
        { 'Sec-WebSocket-Protocol': `hybrid-session, hybrid-session.bearer.${pick(rng, chaosTokens)}` },
        { 'Sec-WebSocket-Protocol': `hybrid-session, hybrid-session.bearer.${forged(rng, pick(rng, chaosTokens))}` },
        { Authorization: `Bearer ${forged(rng, pick(rng, chaosTokens))}` },
      ]);
      const request = upgradeRequest(pick(rng, ['/ws', '/ws', '/other', '/']), headers);
      // Half the time cut off inside the request, half the time whole (then reset at once or at the answer).
      const cut = rng() < 0.5 ? request.length : 1 + int(rng, request.length - 1);
      if (cut < request.length) {
        await within(resetClient(t.port, request.slice(0, cut), 'write'), EXCHANGE_MS, 'reset client closed');
        outcomes.bump('reset partial');
        return;
      }
      const after = pick(rng, ['write', 'first-byte'] as const);
      const got = await within(resetClient(t.port, request, after), EXCHANGE_MS, 'an upgrade answered before the reset');
      outcomes.bump(after === 'write' ? 'reset whole' : `upgrade ${statusOf(got)}`);
    },

    async 'half-request'(rng) {
      // A request cut off, then silence and a close from our side: an upgrade, or a plain request with a forged bearer.
      const full = rng() < 0.5
        ? upgradeRequest('/ws', { 'Sec-WebSocket-Protocol': `hybrid-session, hybrid-session.bearer.${pick(rng, chaosTokens)}` })
        : `GET ${route} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${forged(rng, pick(rng, chaosTokens))}\r\nContent-Length: 1000\r\n\r\n${chars(rng, 10)}`;
      const cut = 1 + int(rng, full.length - 1);
      const { got } = await rawExchange(t.port, full.slice(0, cut), 50 + int(rng, 1500));
      outcomes.bump(`half-request ${statusOf(got)}`);
    },

    async 'half-frame'(rng) {
      const socket = holdRaw(connect(t.port, '127.0.0.1'));
      socket.on('error', () => {});
      const head = await within(
        new Promise<string>((resolve, reject) => {
          let got = '';
          socket.once('connect', () => socket.write(upgradeRequest('/ws', { 'Sec-WebSocket-Protocol': `hybrid-session, hybrid-session.bearer.${pick(rng, chaosTokens)}` })));
          socket.on('data', (d) => {
            got += d.toString('latin1');
            if (got.includes('\r\n\r\n')) resolve(got);
          });
          socket.once('close', () => reject(new Error(`closed before the handshake's answer: ${JSON.stringify(got.slice(0, 80))}`)));
        }),
        EXCHANGE_MS,
        'the half-frame handshake answered',
      ).catch((err) => {
        socket.destroy();
        throw err;
      });
      outcomes.bump(`half-frame handshake ${statusOf(head)}`);
      const mask = Buffer.from([chars(rng, 1).charCodeAt(0), 1, 2, 3]);
      const frame = pick(rng, [
        Buffer.from([0x81]), // the first header byte only
        Buffer.from([0x81, 0xfe, 0x03]), // a 16-bit length cut in half
        Buffer.concat([Buffer.from([0x81, 0xfe, 0x03, 0xe8]), mask, Buffer.alloc(10, 0x20)]), // 10 of 1000 bytes
        Buffer.concat([Buffer.from([0x82, 0xff, 0, 0, 0x01, 0, 0, 0, 0, 0]), mask]), // claims 1 TiB: past maxPayload
        Buffer.concat([Buffer.from([0x8f, 0x80]), mask]), // a reserved opcode
        Buffer.concat([Buffer.from([0x01, 0x85]), mask, Buffer.from('hello')]), // a fragment never continued
      ]);
      socket.write(frame);
      await new Promise((r) => setTimeout(r, int(rng, 1500)));
      const end = pick(rng, ['destroy', 'end', 'reset'] as const);
      if (end === 'end') socket.end();
      else if (end === 'reset') socket.resetAndDestroy();
      else socket.destroy();
      // end(): the server may have sent a close frame and wait for ours; it is ours to let go after a while.
      await new Promise<void>((resolve) => {
        if (socket.closed) return resolve();
        const timer = setTimeout(() => socket.destroy(), 5_000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    },

    async oversized(rng) {
      const ws = await openWs(t, ['hybrid-session', `hybrid-session.bearer.${pick(rng, chaosTokens)}`]);
      holdWs(ws);
      ws.send(payloadBig.subarray(0, MAX_PAYLOAD + 1 + int(rng, 65_535)), { binary: rng() < 0.5 });
      outcomes.bump(`oversized close ${await closed(ws)}`);
    },

    async malformed(rng) {
      const ws = await openWs(t, ['hybrid-session', `hybrid-session.bearer.${pick(rng, chaosTokens)}`]);
      holdWs(ws);
      const seen = new Promise<string>((resolve) => {
        ws.on('message', (data) => {
          const text = String(data);
          if (mode === 'attach') {
            if (text === 'probe') resolve('answered');
            return;
          }
          try {
            const m = JSON.parse(text);
            if (m.id === 'probe') resolve('answered');
            else if (m.error) outcomes.bump(`rpc ${m.error.code}`);
          } catch {
            outcomes.bump('rpc unparsable answer');
          }
        });
        ws.once('close', (code) => resolve(`close ${code}`));
      });
      const count = 3 + int(rng, 8);
      for (let i = 0; i < count; i++) ws.send(pick(rng, MALFORMED));
      // Invalid UTF-8 in a text frame: the server must close 1007, not throw.
      if (rng() < 0.1) ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
      ws.send(mode === 'attach' ? 'probe' : rpc('probe', 'app.echo', '["probe"]'));
      // Drawn before the wait, so the sequence does not depend on whether the server closed first.
      const gentle = rng() < 0.5;
      const outcome = await within(seen, EXCHANGE_MS, 'the probe after malformed input answered (or the socket closed)');
      outcomes.bump(`malformed ${outcome}`);
      if (ws.readyState === WebSocket.OPEN) {
        if (gentle) ws.close();
        else ws.terminate();
      }
      await closed(ws);
    },

    async 'bad-token-flood'(rng) {
      const n = 10 + int(rng, 90);
      const plan = Array.from({ length: n }, () => {
        const token = forged(rng, pick(rng, chaosTokens));
        return {
          kind: int(rng, 5),
          token,
          credential: int(rng, 10),
          malformed: pick(rng, ['Bearer', 'Bearer ', 'Basic Zm9vOmJhcg==', 'bearer  x y', `Bearer ${token} ${token}`, `DPoP ${token}`]),
          variant: rng(),
        };
      });
      await pool(n, 8, async (i) => {
        const { kind, token, credential, malformed, variant } = plan[i]!;
        if (kind <= 2) {
          const headers: Record<string, string> =
            credential < 2 ? { authorization: malformed }
            : credential < 4 ? { cookie: `connect.sid=s%3A${token.slice(0, 32)}.${token.slice(-43)}` }
            : { authorization: `Bearer ${token}` };
          const path = kind === 0 ? route : kind === 1 ? '/session/token' : '/nowhere';
          const method = kind === 1 ? (variant < 0.5 ? 'POST' : 'DELETE') : 'GET';
          // A forged credential on the token endpoint is refused, never a new session (the store stays put).
          const reply = await within(send(t.url + path, { method, headers }), EXCHANGE_MS, 'a bad-token request answered').catch((err: Error) => ({ status: `error ${err.message.slice(0, 40)}` }));
          outcomes.bump(`http ${method} ${kind === 0 ? 'route' : path} ${reply.status}`);
        } else {
          const protocols = kind === 3 ? ['hybrid-session', `hybrid-session.bearer.${token}`] : variant < 0.5 ? ['hybrid-session'] : [];
          const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws`, protocols, { perMessageDeflate: false });
          ws.on('error', () => {});
          holdWs(ws);
          outcomes.bump(`close ${await closed(ws)}`);
        }
      });
    },

    async 'rpc-flood'(rng) {
      const ws = await openWs(t, ['hybrid-session', `hybrid-session.bearer.${pick(rng, chaosTokens)}`]);
      holdWs(ws);
      const calls = 100 + int(rng, 1900);
      const stopAfter = pick(rng, [calls, calls, int(rng, calls), 0]);
      let answered = 0;
      const done = new Promise<void>((resolve) => {
        ws.on('message', (data) => {
          if (mode === 'facade') {
            try {
              const m = JSON.parse(String(data));
              if (m.error) outcomes.bump(`rpc ${m.error.code}`);
            } catch {
              outcomes.bump('rpc unparsable answer');
            }
          }
          if (++answered >= stopAfter) resolve();
        });
        ws.once('close', () => resolve());
      });
      for (let i = 0; i < calls; i++) ws.send(mode === 'facade' ? rpc(i, 'app.wait', `[${1 + int(rng, 20)}]`) : `flood ${i}`);
      if (stopAfter > 0) await within(done, 2 * EXCHANGE_MS, `rpc flood answered (${answered}/${stopAfter})`);
      outcomes.bump(stopAfter === calls ? 'rpc-flood all answered' : 'rpc-flood left early');
      if (rng() < 0.5) ws.close();
      else ws.terminate();
      await closed(ws);
    },
  };

  // Warm-up: every action once, so code compiled lazily and the caches every server fills on first use are in
  // the "before" figures rather than counted as growth.
  const warm = prng(seed ^ 0x5eed);
  for (const action of ACTIONS) {
    try {
      await run[action](warm);
    } catch (err) {
      chaosErrors.push(`warm-up ${action}: ${(err as Error).message}`);
    }
  }
  await httpRoundTrip();
  await wsRoundTrip(ws);
  await waitFor(async () => !alive() || (await connectionsNow()) <= 1, 120_000, 'the warm-up\'s sockets let go');
  const figures = async (): Promise<Figures> => {
    const s = await t.stats();
    return { heap: s.heap, fds: t.fds(), connections: s.connections };
  };
  const before = await figures();
  log(`# chaos soak (${mode}): seed ${seed}, ${seconds} s; before: heap ${(before.heap / 2 ** 20).toFixed(1)} MiB, ${before.fds} fds, ${before.connections} connection(s)`);

  const endAt = Date.now() + seconds * 1000;
  const going = () => alive() && Date.now() < endAt;

  const lanes = Array.from({ length: LANES }, async (_, lane) => {
    const rng = prng((seed + Math.imul(lane + 1, 0x9e3779b9)) >>> 0);
    while (going()) {
      const action = draw(rng);
      actions.bump(action);
      try {
        await run[action](rng);
      } catch (err) {
        if (alive()) chaosErrors.push(`${action}: ${(err as Error).message}`);
      }
    }
  });

  const goodLoop = (async () => {
    let round = 0;
    do {
      round++;
      for (const [name, step] of [
        ['http', httpRoundTrip],
        ['ws', () => wsRoundTrip(ws)],
        ...(round % 5 === 1 ? ([['handshakes', freshHandshake]] as const) : []),
      ] as const) {
        try {
          await step();
          good[name]++;
        } catch (err) {
          failures.push(`${name} round ${round}: ${(err as Error).message}${alive() ? '' : ` (server exited: ${t.exited()})`}`);
          if (name === 'ws' && ws.readyState !== WebSocket.OPEN && alive()) {
            ws = await openWs(t, ['hybrid-session', `hybrid-session.bearer.${user.token}`]).catch(() => ws);
          }
        }
      }
    } while (going());
  })();

  await Promise.all([...lanes, goodLoop]);
  for (const s of held) s.destroy();
  log(`# chaos soak (${mode}): actions ${JSON.stringify(actions.counts)}`);

  let after: Figures = { heap: NaN, fds: NaN, connections: NaN };
  if (alive()) {
    // The server lets go of every chaos socket (ws's close timeout is 30 s; the bound is generous, not a speed).
    await waitFor(async () => !alive() || (await connectionsNow()) <= before.connections, 120_000, `the server back to ${before.connections} connection(s)`).catch((err: Error) => chaosErrors.push(err.message));
    await waitFor(() => !alive() || t.fds() <= before.fds, 30_000, 'descriptors back to their start').catch(() => {});
    if (alive()) after = await figures();
  }
  ws.close();
  await closed(ws, 10_000);
  return { mode, seed, seconds, actions: actions.counts, outcomes: outcomes.counts, good, chaosErrors, before, after, exited: t.exited() };
}
