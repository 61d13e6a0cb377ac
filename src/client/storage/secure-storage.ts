/**
 * The Keychain (iOS) / Keystore-encrypted storage (Android) through capacitor-secure-storage-plugin
 * (martinkasa/capacitor-secure-storage-plugin): the token is kept encrypted at rest and survives what may evict
 * webview storage. Pass the plugin object (`SecureStoragePlugin`); nothing of it is imported here.
 */
import type { TokenStorage } from '../options.js';

/** The part of the plugin's SecureStoragePluginPlugin interface this adapter uses (its published definitions). */
export interface SecureStorageLike {
  /** Rejects when there is no item under `key` (the plugin's "Item with given key does not exist"). */
  get(options: { key: string }): Promise<{ value: string }>;
  set(options: { key: string; value: string }): Promise<{ value: boolean }>;
  remove(options: { key: string }): Promise<{ value: boolean }>;
  keys(): Promise<{ value: string[] }>;
}

/**
 * The plugin rejects a `get` of a missing key, like it rejects a real failure: `keys()` tells the two apart, so an
 * empty store reads as empty and a failing Keychain still makes the session fall back (with a `storage` event).
 */
export const secureStorage = (plugin: SecureStorageLike): TokenStorage => ({
  async get(key) {
    try {
      return (await plugin.get({ key })).value;
    } catch (error) {
      if ((await plugin.keys()).value.includes(key)) throw error;
      return null;
    }
  },
  set: (key, value) => plugin.set({ key, value }),
  async del(key) {
    if ((await plugin.keys()).value.includes(key)) await plugin.remove({ key });
  },
});
