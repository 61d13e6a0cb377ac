/** What the parts of one hybridSession() instance share. Internal. */
import type { Heartbeat } from './heartbeat.js';
import type { NormalizedOptions } from './options.js';
import type { SocketRegistry } from './socket-registry.js';
import type { StoreAccess } from './store.js';
import type { IssuedToken, Store } from './types.js';
import type { KeyedLock } from './update.js';
import { signToken } from './token.js';

export interface Core {
  options: NormalizedOptions;
  store: Store;
  access: StoreAccess;
  registry: SocketRegistry;
  lock: KeyedLock;
  heartbeat: Heartbeat;
}

/** A token for `sid` that never outlives the session (`sessionExpires`, ms; Infinity when it has none). */
export function issueFor(options: NormalizedOptions, sid: string, sessionExpires: number, now = Date.now()): IssuedToken {
  const expiresAt = Math.floor(Math.min(now + options.tokenMaxAge, sessionExpires));
  return { token: signToken(sid, expiresAt, options.tokenKeys), expiresAt };
}
