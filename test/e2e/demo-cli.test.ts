/**
 * `node demo/server.mjs` as `npm run demo` runs it: prints its URLs, serves both front-ends, answers the token
 * endpoint for the hybrid app's origin, and exits 0 on SIGTERM / SIGINT (Ctrl-C).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { noRedis } from '../helpers/env.ts';
import { startRedis } from '../helpers/redis-server.ts';
import { removeDir, tempDir } from './harness.ts';

const serverFile = fileURLToPath(new URL('../../demo/server.mjs', import.meta.url));

interface Running {
  child: ChildProcess;
  output: () => string;
  urls: { spa: string; hybrid: string; file: string };
}

async function runDemo(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [serverFile], {
    env: { ...process.env, PORT: '0', STATIC_PORT: '0', REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 60_000;
  while (!/Ctrl-C to stop/.test(out)) {
    if (child.exitCode !== null) throw new Error(`the demo exited with ${child.exitCode}:\n${out}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the demo printed no banner within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = (label: RegExp) => {
    const m = out.match(label);
    assert.ok(m, `banner line ${label} in:\n${out}`);
    return m[1];
  };
  return {
    child,
    output: () => out,
    urls: {
      spa: url(/API \+ SPA[^:]*:\s+(http:\/\/127\.0\.0\.1:\d+\/)/),
      hybrid: url(/hybrid app \(other site[^:]*:\s+(http:\/\/localhost:\d+\/)/),
      file: url(/from file:\/\/[^:]*:\s+(file:\/\/\S+)/),
    },
  };
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  const [code] = await exited;
  clearTimeout(timer);
  return code as number | null;
}

describe('demo e2e: npm run demo (node demo/server.mjs)', () => {
  test('prints its URLs, serves both front-ends and the token endpoint, and exits 0 on SIGTERM', async () => {
    const outDir = await tempDir('hs-e2e-cli-');
    const demo = await runDemo({ DEMO_OUT_DIR: outDir });
    try {
      assert.match(demo.output(), /session store: memory/);
      const spa = await fetch(demo.urls.spa);
      assert.equal(spa.status, 200);
      assert.match(await spa.text(), /<script type="module" src="\/main\.js">/);
      const hybridOrigin = new URL(demo.urls.hybrid).origin;
      const hybrid = await fetch(demo.urls.hybrid.replace('localhost', '127.0.0.1'));
      assert.match(await hybrid.text(), /hybrid-session\.umd\.min\.js/);
      const umd = await fetch(new URL('hybrid-session.umd.min.js', demo.urls.hybrid.replace('localhost', '127.0.0.1')));
      assert.equal(umd.status, 200);
      assert.match(await umd.text(), /HybridSession/);

      // The hybrid app's origin is allowed with credentials; the token endpoint answers it.
      const tokenUrl = new URL('/session/token', demo.urls.spa);
      const issued = await fetch(tokenUrl, { method: 'POST', headers: { Origin: hybridOrigin } });
      assert.equal(issued.status, 200);
      assert.equal(issued.headers.get('access-control-allow-origin'), hybridOrigin);
      const body = (await issued.json()) as { token: string; created: boolean };
      assert.equal(body.created, true);
      assert.equal(typeof body.token, 'string');
      // An origin the demo does not list gets no CORS grant: a foreign page cannot read a token.
      const other = await fetch(tokenUrl, { method: 'POST', headers: { Origin: 'https://evil.example' } });
      assert.equal(other.headers.get('access-control-allow-origin'), null);

      assert.equal(await stop(demo.child, 'SIGTERM'), 0, demo.output());
      assert.match(demo.output(), /SIGTERM: stopping/);
    } finally {
      await stop(demo.child, 'SIGKILL');
      await removeDir(outDir);
    }
  });

  test('uses Redis when REDIS_URL is set, and exits 0 on SIGINT (Ctrl-C)', { skip: noRedis }, async () => {
    const redis = await startRedis();
    const outDir = await tempDir('hs-e2e-cli-redis-');
    const demo = await runDemo({ DEMO_OUT_DIR: outDir, REDIS_URL: redis.url });
    try {
      assert.match(demo.output(), new RegExp(`session store: redis \\(${redis.url.replace(/[.]/g, '\\.')}\\)`));
      const issued = await fetch(new URL('/session/token', demo.urls.spa), { method: 'POST' });
      assert.equal(issued.status, 200);
      assert.equal(await stop(demo.child, 'SIGINT'), 0, demo.output());
    } finally {
      await stop(demo.child, 'SIGKILL');
      await redis.stop();
      await removeDir(outDir);
    }
  });
});
