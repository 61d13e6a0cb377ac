// One source tree, every output: the Node/ESM modules (with .d.ts) and the script-tag build.
import typescript from '@rollup/plugin-typescript';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';

const isBare = (id) => !id.startsWith('.') && !id.startsWith('/') && !id.startsWith('\0');

/** @type {import('rollup').RollupOptions[]} */
export default [
  {
    // ESM client, Node server shim and SocketStream facade; dependencies stay imports (npm dedupes them).
    input: {
      'client/index': 'src/client/index.ts',
      'client/storage': 'src/client/storage/index.ts',
      'server/index': 'src/server/index.ts',
      'server/browser': 'src/server/browser.ts',
      'socketstream/index': 'src/socketstream/index.ts',
    },
    external: isBare,
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js', sourcemap: true },
    // noEmitOnError: a type error fails the build instead of emitting what tsc flagged.
    plugins: [typescript({ tsconfig: './tsconfig.json', declaration: true, declarationDir: 'dist/types', outDir: 'dist', noEmitOnError: true })],
  },
  {
    // Script-tag build: window.HybridSession, idb-keyval bundled in (the reconnecting socket is the client's own).
    input: 'src/client/index.ts',
    output: { file: 'dist/hybrid-session.umd.min.js', format: 'umd', name: 'HybridSession', sourcemap: true },
    plugins: [
      nodeResolve({ browser: true }),
      typescript({ tsconfig: './tsconfig.json', declaration: false, declarationDir: undefined, outDir: 'dist' }),
      terser({
        ecma: 2020,
        compress: { ecma: 2020, passes: 3, pure_getters: true, unsafe_arrows: true },
        mangle: { properties: { regex: /^_/ } },
        format: { comments: false },
      }),
    ],
  },
];
