import type { TokenStorage } from '../options.js';

/**
 * The session's in-memory token is the memory backend: a fresh page has nothing to read back, and nothing needs
 * writing. Reading null also keeps a renewal from mistaking a stale copy for another tab's fresh token.
 */
export const memoryStorage: TokenStorage = { get: () => null, set() {}, del() {} };
