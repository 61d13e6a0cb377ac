// Bundle size: ours against what users would pick instead, every bundle built the same way in this run:
// rollup + node-resolve (browser) + commonjs + terser (defaults), IIFE of a one-line entry that imports the library's
// main export and exposes it, every dependency included. Then idb-keyval's size report: minimal and full ESM import.
import { EXPECTED_ROWS } from './lib/rows.mjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync, brotliCompressSync, constants as zc } from 'node:zlib';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import commonjs from '@rollup/plugin-commonjs';
import terser from '@rollup/plugin-terser';
import { report, notRun } from './lib/report.mjs';

const root = new URL('..', import.meta.url).pathname;
const ourClient = join(root, 'dist/client/index.js');

const sizes = (code) => ({
  min: Buffer.byteLength(code),
  gzip: gzipSync(code, { level: 9 }).length,
  brotli: brotliCompressSync(code, { params: { [zc.BROTLI_PARAM_QUALITY]: 11, [zc.BROTLI_PARAM_SIZE_HINT]: code.length } }).length,
});

/** One virtual entry module, resolved from the project root so node_modules is found as an app would find it. */
function entryPlugin(source) {
  return {
    name: 'bench-entry',
    resolveId: (id) => (id === '\0bench-entry' ? id : null),
    load: (id) => (id === '\0bench-entry' ? source : null),
  };
}

async function build(source, format) {
  const warnings = [];
  const bundle = await rollup({
    input: '\0bench-entry',
    plugins: [entryPlugin(source), nodeResolve({ browser: true, rootDir: root }), commonjs(), terser({ format: { comments: false } })],
    onwarn: (w) => warnings.push(w.code),
  });
  const { output } = await bundle.generate({ format, name: 'Bench', exports: 'auto' });
  await bundle.close();
  const code = output[0].code;
  return { code, modules: output[0].moduleIds.length, warnings: [...new Set(warnings)] };
}

// Each anchor's main export, the thing an app imports to get going.
const ANCHORS = [
  { id: 'size.socket.io-client', source: `import { io } from 'socket.io-client'; export default io;` },
  { id: 'size.phoenix', source: `import { Socket } from 'phoenix'; export default Socket;` },
  { id: 'size.supertokens-website', source: `import SuperTokens from 'supertokens-website'; export default SuperTokens;` },
  { id: 'size.auth0-spa-js', source: `import { createAuth0Client } from '@auth0/auth0-spa-js'; export default createAuth0Client;` },
];

const umdPath = join(root, 'dist/hybrid-session.umd.min.js');
let shipped = null;
try {
  shipped = sizes(readFileSync(umdPath, 'utf8'));
} catch (err) {
  notRun('size.umd', `dist/hybrid-session.umd.min.js not built (${err.code ?? err.message})`);
}

let ours = null;
try {
  const b = await build(`import { createSession } from ${JSON.stringify(ourClient)}; export default createSession;`, 'iife');
  ours = sizes(b.code);
  report({ id: 'size.ours', size: ours, extra: { modules: b.modules, warnings: b.warnings } });
} catch (err) {
  notRun('size.ours', `could not bundle dist/client/index.js: ${err.message.split('\n')[0]}`);
}

const anchors = [];
for (const a of ANCHORS) {
  try {
    const b = await build(a.source, 'iife');
    const s = sizes(b.code);
    anchors.push({ id: a.id, size: s });
    const ratio = ours ? { median: ours.gzip / s.gzip, min: ours.gzip / s.gzip, max: ours.gzip / s.gzip, runs: 1, unit: '×' } : undefined;
    report({ id: a.id, anchor: true, size: s, ratio, extra: { modules: b.modules, warnings: b.warnings, entry: a.source } });
  } catch (err) {
    notRun(a.id, `could not bundle: ${err.message.split('\n')[0]}`);
  }
}

if (shipped) {
  const smallest = anchors.reduce((m, a) => (m && m.size.gzip <= a.size.gzip ? m : a), null);
  // The budget is the row's target (bench/lib/rows.mjs), the same figure test/client/size.test.ts holds the build to.
  const underLimit = shipped.gzip <= EXPECTED_ROWS.find((r) => r.id === 'size.umd').target.value;
  const smallerThanAll = anchors.length === ANCHORS.length && anchors.every((a) => shipped.gzip < a.size.gzip && (!ours || ours.gzip < a.size.gzip));
  report({
    id: 'size.umd',
    size: shipped,
    met: underLimit && smallerThanAll,
    notes: smallest ? `smallest anchor: ${smallest.id.slice(5)} ${(smallest.size.gzip / 1024).toFixed(2)} KB` : undefined,
  });
}

// idb-keyval's size-tests: what an ESM app pays for the least it can import, and for everything.
for (const [id, source] of [
  ['size.minimal', `export { createSession } from ${JSON.stringify(ourClient)};`],
  ['size.full', `export * from ${JSON.stringify(ourClient)};`],
]) {
  try {
    const b = await build(source, 'es');
    report({ id, size: sizes(b.code), extra: { modules: b.modules } });
  } catch (err) {
    notRun(id, err.message.split('\n')[0]);
  }
}
