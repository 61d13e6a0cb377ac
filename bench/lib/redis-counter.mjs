// A counting TCP proxy between a Redis client and redis-server: every command the client sends is parsed (RESP
// arrays, split across or packed into TCP chunks alike) and counted by name, and every chunk the client writes after
// an answer came back counts as one round trip (a pipelined burst is one). What the server costs Redis, measured on
// the wire rather than guessed from the code.
import { createConnection, createServer } from 'node:net';

const CRLF = 0x0d;

/**
 * Parses complete RESP arrays of bulk strings off the front of `buf`; returns [names, rest]. An incomplete command
 * stays in `rest` for the next chunk.
 */
function takeCommands(buf) {
  const names = [];
  let at = 0;
  for (;;) {
    const start = at;
    const line = (from) => {
      const end = buf.indexOf(CRLF, from);
      return end === -1 || end + 1 >= buf.length ? null : { text: buf.toString('latin1', from, end), next: end + 2 };
    };
    if (at >= buf.length) break;
    if (buf[at] !== 0x2a /* '*' */) {
      // Inline command (PING\r\n): one command, its first word is the name.
      const l = line(at);
      if (!l) break;
      names.push(l.text.split(' ')[0].toUpperCase());
      at = l.next;
      continue;
    }
    const head = line(at + 1);
    if (!head) break;
    const count = Number(head.text);
    let p = head.next;
    let name;
    let complete = true;
    for (let i = 0; i < count; i++) {
      const len = p < buf.length ? line(p + 1) : null;
      if (!len || p + 1 + len.text.length + 2 + Number(len.text) + 2 > buf.length) {
        complete = false;
        break;
      }
      const from = len.next;
      if (i === 0) name = buf.toString('latin1', from, from + Number(len.text)).toUpperCase();
      p = from + Number(len.text) + 2;
    }
    if (!complete) {
      at = start;
      break;
    }
    names.push(name);
    at = p;
  }
  return [names, buf.subarray(at)];
}

/** Starts the proxy in front of `target` ({ port }). `url` is what the client connects to. */
export async function startRedisCounter(target) {
  const counts = { commands: 0, roundTrips: 0, byName: {} };
  const sockets = new Set();
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: target.port });
    sockets.add(client).add(upstream);
    let pending = Buffer.alloc(0);
    // A new round trip starts with the first chunk after an answer (or the first chunk of all).
    let answered = true;
    client.on('data', (chunk) => {
      const [names, rest] = takeCommands(Buffer.concat([pending, chunk]));
      pending = rest;
      if (names.length > 0) {
        counts.commands += names.length;
        for (const n of names) counts.byName[n] = (counts.byName[n] ?? 0) + 1;
        if (answered) counts.roundTrips++;
        answered = false;
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      answered = true;
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${server.address().port}`,
    /** Counts since the last snapshot(): { commands, roundTrips, byName }. */
    snapshot() {
      const s = { commands: counts.commands, roundTrips: counts.roundTrips, byName: { ...counts.byName } };
      counts.commands = 0;
      counts.roundTrips = 0;
      counts.byName = {};
      return s;
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
