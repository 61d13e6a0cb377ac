import type { TokenStorage } from '../options.js';

/** Synchronous and throwing (Safari private mode, quota, SecurityError): the fallback runs it inside a promise. */
export const localStorageStorage: TokenStorage = {
  get: (k) => localStorage.getItem(k),
  set: (k, v) => localStorage.setItem(k, v),
  del: (k) => localStorage.removeItem(k),
};
