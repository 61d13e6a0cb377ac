/**
 * Keeps the tabs of an origin in step: a new token or a logout posted by one reaches the others. BroadcastChannel
 * where there is one; else localStorage's `storage` event (older iOS webviews), through a key that is removed as
 * soon as it is written, so the token does not stay there. Transport only: what arrives is anything another script
 * of the origin could post, and the receiver validates it (background.ts); an entry that is not JSON arrives as
 * `undefined`.
 */
export function createTabSync(name: string, receive: (message: unknown) => void): (message: unknown) => void {
  const g = globalThis;
  if (g.BroadcastChannel) {
    const channel = new BroadcastChannel(name);
    channel.onmessage = (e) => receive(e.data);
    // Node (tests, server-side rendering) must still be able to exit.
    (channel as { unref?: () => void }).unref?.();
    return (m) => channel.postMessage(m);
  }
  const k = name + '.tab';
  g.addEventListener?.('storage', (e) => {
    if (e.key != k || !e.newValue) return;
    let m;
    try {
      m = JSON.parse(e.newValue);
    } catch {
      // left undefined: malformed
    }
    receive(m);
  });
  try {
    // WebKit sends `storage` events only to documents that have used localStorage themselves; a tab that found
    // its token in IndexedDB never has. One read makes this one of them.
    localStorage.getItem(k);
  } catch {
    // No localStorage: nothing to listen to either.
  }
  return (m) => {
    try {
      localStorage.setItem(k, JSON.stringify(m));
      localStorage.removeItem(k);
    } catch {
      // No localStorage either: this tab stays on its own.
    }
  };
}
