/**
 * Cordova's NativeStorage (cordova-plugin-nativestorage): NSUserDefaults on iOS, SharedPreferences on Android,
 * callback style. Pass `window.NativeStorage` once `deviceready` fired; nothing of Cordova is imported here.
 */
import type { TokenStorage } from '../options.js';

/** The plugin's error: `code` 2 is ITEM_NOT_FOUND (its documented codes run 1 to 6). */
export interface NativeStorageError {
  code: number;
  source?: string;
  exception?: unknown;
}

/** The part of the plugin's API this adapter uses (its published interface). */
export interface NativeStorageLike {
  getItem(reference: string, success: (value: unknown) => void, error: (e: NativeStorageError) => void): void;
  setItem(reference: string, value: string, success: (value: unknown) => void, error: (e: NativeStorageError) => void): void;
  remove(reference: string, success: () => void, error: (e: NativeStorageError) => void): void;
}

const ITEM_NOT_FOUND = 2;

/** A callback call as a promise; with `missing`, ITEM_NOT_FOUND answers that instead of failing (get, remove). */
const call = <T>(op: (ok: (v: T) => void, fail: (e: NativeStorageError) => void) => void, missing?: { value: T }) =>
  new Promise<T>((resolve, reject) => op(resolve, (e) => (missing && e?.code == ITEM_NOT_FOUND ? resolve(missing.value) : reject(e))));

export const cordovaNativeStorage = (plugin: NativeStorageLike): TokenStorage => ({
  get: (key) => call<unknown>((ok, fail) => plugin.getItem(key, ok, fail), { value: null }) as Promise<string | null>,
  set: (key, value) => call<unknown>((ok, fail) => plugin.setItem(key, value, ok, fail)),
  del: (key) => call<void>((ok, fail) => plugin.remove(key, ok, fail), { value: undefined }),
});
