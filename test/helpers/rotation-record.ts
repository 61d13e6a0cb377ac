/**
 * What the server's store says about a session's tokens (its rotation record, under the library's own key): the
 * browser tests count rotations and wait for the grace by it, so what they assert holds at any speed.
 */
import type { Api } from './browser.ts';

export interface RotationRecord {
  /** The session is not in the store (ended, or never made). */
  missing: boolean;
  /** Current generation: the number of rotations since the session was made. */
  gen: number;
  /** ms since epoch when `gen` became current. */
  rotatedAt: number;
  /** The current generation was seen on a request or handshake. */
  used: boolean;
}

export async function rotationRecord(api: Pick<Api, 'hs'>, sid: string, { allowMissing = false } = {}): Promise<RotationRecord> {
  const data = await new Promise<Record<string, unknown> | null | undefined>((resolve, reject) =>
    api.hs.store.get(sid, (err, s) => (err ? reject(err) : resolve(s as Record<string, unknown> | null | undefined))),
  );
  if (!data) {
    if (!allowMissing) throw new Error(`session ${sid.slice(0, 6)}… is not in the store`);
    return { missing: true, gen: -1, rotatedAt: 0, used: false };
  }
  const meta = (data.__hs ?? {}) as { gen?: number; rotatedAt?: number; used?: boolean };
  return { missing: false, gen: meta.gen ?? 0, rotatedAt: meta.rotatedAt ?? 0, used: meta.used ?? false };
}
