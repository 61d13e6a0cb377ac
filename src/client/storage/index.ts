/**
 * `hybrid-session/storage`: adapters that keep the token in a hybrid app's durable native storage, for the
 * `storage` option of createSession. Each takes the plugin object the app already has; none imports a plugin.
 */
export { capacitorPreferences, type PreferencesLike } from './capacitor-preferences.js';
export { secureStorage, type SecureStorageLike } from './secure-storage.js';
export { cordovaNativeStorage, type NativeStorageLike, type NativeStorageError } from './cordova-native-storage.js';
export type { TokenStorage } from '../options.js';
