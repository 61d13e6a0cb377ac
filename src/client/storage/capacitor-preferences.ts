/**
 * Capacitor Preferences (@capacitor/preferences): UserDefaults on iOS, SharedPreferences on Android, which iOS does
 * not evict the way it may evict a webview's localStorage and IndexedDB. Pass the plugin object; nothing of
 * Capacitor is imported here, so the bundle does not grow by it and needs no Capacitor at build time.
 */
import type { TokenStorage } from '../options.js';

/** The part of @capacitor/preferences' PreferencesPlugin this adapter uses (its published definitions). */
export interface PreferencesLike {
  get(options: { key: string }): Promise<{ value: string | null }>;
  set(options: { key: string; value: string }): Promise<void>;
  remove(options: { key: string }): Promise<void>;
}

export const capacitorPreferences = (plugin: PreferencesLike): TokenStorage => ({
  get: async (key) => (await plugin.get({ key })).value,
  set: (key, value) => plugin.set({ key, value }),
  del: (key) => plugin.remove({ key }),
});
