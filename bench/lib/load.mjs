// Parent side of loadgen.mjs: start it, send batches, stop it by its pid.
import { fork } from 'node:child_process';

export function startLoadgen() {
  const child = fork(new URL('./loadgen.mjs', import.meta.url).pathname, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
  const pending = new Map();
  let next = 0;
  child.on('message', ({ id, result, error }) => {
    const p = pending.get(id);
    pending.delete(id);
    if (error) p.reject(new Error(`loadgen: ${error}`));
    else p.resolve(result);
  });
  child.on('exit', (code) => {
    for (const p of pending.values()) p.reject(new Error(`loadgen exited (${code})`));
    pending.clear();
  });
  const send = (msg) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      pending.set(id, { resolve, reject });
      child.send({ ...msg, id });
    });
  return {
    http: (opts) => send({ type: 'http', ...opts }),
    ws: (opts) => send({ type: 'ws', ...opts }),
    /** Per-request headers for the next `http({ each: name })` batch, sent before it is timed. */
    stash: (name, headers) => send({ type: 'stash', name, headers }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
        setTimeout(() => child.exitCode === null && process.kill(child.pid, 'SIGKILL'), 3000).unref();
      }),
  };
}

/**
 * cpuDuring(fn) with a V8 CPU profile of this process over fn only, written to `out` (sampling every 100 µs);
 * `out` '-' runs fn without a profile (e.g. under `valgrind --tool=callgrind`, or to compare CPU figures alone).
 */
export async function profileDuring(out, fn) {
  if (out === '-') return cpuDuring(fn);
  const { Session } = await import('node:inspector/promises');
  const { writeFileSync } = await import('node:fs');
  const inspector = new Session();
  inspector.connect();
  await inspector.post('Profiler.enable');
  await inspector.post('Profiler.setSamplingInterval', { interval: 100 });
  await inspector.post('Profiler.start');
  try {
    return await cpuDuring(fn);
  } finally {
    const { profile } = await inspector.post('Profiler.stop');
    writeFileSync(out, JSON.stringify(profile));
    inspector.disconnect();
  }
}

/** CPU time (µs, user + system) this process spends while `fn` runs: the server's cost when the load is elsewhere. */
export async function cpuDuring(fn) {
  const c0 = process.cpuUsage();
  const result = await fn();
  const c = process.cpuUsage(c0);
  return { cpuUs: c.user + c.system, result };
}
