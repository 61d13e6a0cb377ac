// Lint is part of `npm test`: typescript-eslint's recommended rules over src/, test/, bench/, demo/ and scripts/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'test-results/', '.tmp/', 'bench/results/', 'demo/public/build/', '**/*.min.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
    rules: {
      // `catch {}` around storage and sockets is deliberate: a broken backend degrades, it does not throw.
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Store and Session methods are wrapped generically (express-session's own API is callback-typed `Function`).
      '@typescript-eslint/no-unsafe-function-type': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // The facade is a client of the server like any app: its public surface (index.ts), plus internal.ts for the few
    // internals it needs (option keys, the Redis compare-and-set), never the server's files directly (issue 12).
    files: ['src/socketstream/**'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{
          group: ['**/server/**', '!../server/index.js', '!../server/internal.js'],
          message: 'src/socketstream imports the server only through ../server/index.js (or ../server/internal.js)',
        }],
      }],
    },
  },
  {
    // Tests poke at wire shapes and hostile values on purpose; `any` there is the point, not a shortcut.
    // …and the facade's action API is SocketStream's, untyped by design (req.session is whatever the app keeps).
    files: ['test/**', 'bench/**', 'demo/**', 'src/socketstream/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/ban-ts-comment': ['error', { 'ts-expect-error': 'allow-with-description' }] },
  },
);
