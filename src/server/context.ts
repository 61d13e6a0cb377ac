/** What the parts of one hybridSession() instance share. Internal. */
import type { Heartbeat } from './websocket/heartbeat.js';
import type { NormalizedOptions } from './options.js';
import type { SocketRegistry } from './websocket/socket-registry.js';
import type { StoreAccess } from './store/access.js';
import type { IssuedToken, Store } from './types.js';
import type { KeyedLock } from './store/update.js';
import type { ServerEvents } from './events.js';
import { signToken } from './credentials/token.js';
import type { ProofVerifier } from './credentials/proof.js';

export interface Core {
  options: NormalizedOptions;
  store: Store;
  access: StoreAccess;
  registry: SocketRegistry;
  lock: KeyedLock;
  heartbeat: Heartbeat;
  /** DPoP proofs: verifier, nonces and this process's jti memory (credentials/proof.ts). */
  proofs: ProofVerifier;
  /** hs.on(…) listeners (events.ts). */
  events: ServerEvents;
}

/**
 * A token for `sid` that never outlives the session (`sessionExpires`, ms; Infinity when it has none), of the
 * session's current `generation` (0 for a session that never rotated: a new or regenerated one).
 */
export function issueFor(options: NormalizedOptions, sid: string, sessionExpires: number, now = Date.now(), generation = 0): IssuedToken {
  const expiresAt = Math.floor(Math.min(now + options.tokenMaxAge, sessionExpires));
  return { token: signToken(sid, expiresAt, options.tokenKeys, generation), expiresAt };
}
