/**
 * Cross-process revocation on Redis pub/sub: a session ended on one process (DELETE on the token endpoint,
 * destroy(), regenerate(), hs.revoke()) closes its websockets on every process at once, not at their next touch.
 *
 * Publishing goes through the app's own node-redis client; listening needs a connection of its own (a subscribed
 * connection can run nothing else), made with client.duplicate(). node-redis reconnects and resubscribes by itself;
 * after any reconnect every local session is checked against the store once, so a revocation published while this
 * process was not listening still closes its sockets. Redis being away never throws: it is reported as a warning
 * once per outage.
 *
 * What goes over the channel is `<instance id> <session id>`: the id is already the key name in Redis, so nothing
 * travels that Redis does not hold; a token never does.
 */
import { randomBytes } from 'node:crypto';

export const DEFAULT_REVOCATION_CHANNEL = 'hybrid-session:revoked';
const PUBLISH_RETRIES = 4;

/** The node-redis (4+) client calls the bus makes: structural, so `redis` stays an optional peer dependency. */
export interface RedisPubSubClient {
  isOpen: boolean;
  duplicate(overrides?: Record<string, unknown>): RedisSubscriber;
  publish(channel: string, message: string): Promise<unknown>;
}

interface RedisSubscriber {
  isOpen: boolean;
  isReady: boolean;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'ready' | 'end', listener: () => void): unknown;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: (message: string) => void): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
}

export interface RevocationOptions {
  redis: RedisPubSubClient;
  channel: string;
}

export interface BusTarget {
  /** Close this process's sockets of a session another process ended. */
  closeSession(sid: string): void;
  /** Check every local session against the store (after a gap in listening). */
  recheckAll(): void;
}

export interface RevocationBus {
  publish(sid: string): void;
  close(): Promise<void>;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function startRevocationBus(options: RevocationOptions, target: BusTarget, warn: (message: string) => void): RevocationBus {
  const { redis, channel } = options;
  // Our own messages are skipped: the sockets they name were closed here before publishing.
  const instance = randomBytes(9).toString('base64url');
  let closed = false;
  let readyOnce = false;
  // One warning per outage: of the listening connection (until it is ready again), of publishing (until one goes out).
  let listenWarned = false;
  let publishWarned = false;

  const report = (what: string, error: unknown) => {
    if (closed) return;
    if (what === 'could not publish') {
      if (publishWarned) return;
      publishWarned = true;
    } else {
      if (listenWarned) return;
      listenWarned = true;
    }
    warn(`hybrid-session: revocation bus ${what}: ${messageOf(error)} (sessions ended on other processes close here once Redis answers again)`);
  };

  // The offline queue keeps the SUBSCRIBE given before the connection is up, even when the app's client runs with
  // disableOfflineQueue (which duplicate() would copy).
  const subscriber = redis.duplicate({ disableOfflineQueue: false });
  subscriber.on('error', (error) => report('cannot reach Redis', error));
  subscriber.on('ready', () => {
    listenWarned = false;
    if (readyOnce) target.recheckAll();
    readyOnce = true;
  });
  const onMessage = (message: string) => {
    if (closed) return;
    const space = message.indexOf(' ');
    if (space <= 0 || message.slice(0, space) === instance) return;
    const sid = message.slice(space + 1);
    if (sid.length > 0) target.closeSession(sid);
  };
  subscriber.connect().catch((error: unknown) => report('could not connect', error));
  subscriber.subscribe(channel, onMessage).catch((error: unknown) => report('could not subscribe', error));

  return {
    publish(sid) {
      const message = `${instance} ${sid}`;
      // The app's client may be between connections (disableOfflineQueue fails at once): a few retries, ~3 s in all.
      const attempt = (n: number) => {
        if (closed) return;
        Promise.resolve()
          .then(() => redis.publish(channel, message))
          .then(() => void (publishWarned = false))
          .catch((error: unknown) => {
            if (n >= PUBLISH_RETRIES) return report('could not publish', error);
            setTimeout(() => attempt(n + 1), 200 * 2 ** n).unref();
          });
      };
      attempt(0);
    },
    async close() {
      if (closed) return;
      closed = true;
      if (!subscriber.isOpen) return;
      if (!subscriber.isReady) {
        // Still (re)connecting: a graceful close would wait for a server that is not there.
        subscriber.destroy?.();
        return;
      }
      try {
        await subscriber.unsubscribe(channel);
        if (subscriber.close) await subscriber.close();
        else await subscriber.quit?.();
      } catch {
        subscriber.destroy?.();
      }
    },
  };
}
