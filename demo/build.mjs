/**
 * Builds the two front-ends into outDir:
 *   outDir/hybrid/  a PhoneGap-style `www/`: the page, app.js, the shared UI and CSS, a copy of
 *                   dist/hybrid-session.umd.min.js loaded by <script>, and config.js naming the API
 *                   (so the folder also works from file://, where there is no server to ask);
 *   outDir/spa/     the page and main.js, bundled by rollup from `import { createSession } from 'hybrid-session'`.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');

async function copyAll(files, toDir) {
  await mkdir(toDir, { recursive: true });
  await Promise.all(files.map(([from, name]) => copyFile(from, join(toDir, name))));
}

/** Bundle demo/spa/main.js. `hybrid-session` resolves through package.json's exports map to dist/client/index.js
 *  (node-resolve follows the package's self-reference), exactly as in an app that installed the package. */
async function bundleSpa(toFile) {
  const bundle = await rollup({
    input: join(here, 'spa/main.js'),
    plugins: [nodeResolve({ browser: true })],
    onwarn(warning, warn) {
      if (warning.code !== 'CIRCULAR_DEPENDENCY') warn(warning);
    },
  });
  try {
    await bundle.write({ file: toFile, format: 'es', sourcemap: true });
  } finally {
    await bundle.close();
  }
}

export async function buildFrontEnds({ outDir, apiUrl }) {
  const hybrid = join(outDir, 'hybrid');
  const spa = join(outDir, 'spa');
  const shared = [
    [join(here, 'shared/ui.js'), 'ui.js'],
    [join(here, 'shared/demo.css'), 'demo.css'],
  ];
  await Promise.all([
    copyAll(
      [
        ...shared,
        [join(here, 'hybrid/index.html'), 'index.html'],
        [join(here, 'hybrid/app.js'), 'app.js'],
        [join(here, 'hybrid/phone.css'), 'phone.css'],
        [join(root, 'dist/hybrid-session.umd.min.js'), 'hybrid-session.umd.min.js'],
      ],
      hybrid,
    ),
    copyAll([...shared, [join(here, 'spa/index.html'), 'index.html']], spa),
  ]);
  // What a PhoneGap build bakes into www/: the API's address. `?api=` on the page's URL overrides it.
  await writeFile(join(hybrid, 'config.js'), `window.DEMO_CONFIG = ${JSON.stringify({ apiUrl })};\n`);
  await bundleSpa(join(spa, 'main.js'));
  return { hybrid, spa };
}
