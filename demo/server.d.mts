import type { Server } from 'node:http';
import type { Store } from 'express-session';

export interface DemoOptions {
  /** API server (and the SPA) on http://127.0.0.1; 0 picks a free port. Default 8080. */
  port?: number;
  /** The hybrid app's static server on http://localhost (another site); 0 picks a free port. Default 8081. */
  staticPort?: number;
  /** Default: Redis when redisUrl is set, else hybrid-session's memory store. */
  store?: 'memory' | 'redis' | Store;
  /** Default: process.env.REDIS_URL. */
  redisUrl?: string;
  /** Session (and token) lifetime in ms; hybrid-session's default when absent. */
  maxAge?: number;
  /** A token's own lifetime in ms (it rotates at half of it); hybrid-session's default (1 hour) when absent. */
  tokenMaxAge?: number;
  /** ms the previous token generation keeps working after a rotation; hybrid-session's default (60 s) when absent. */
  rotationGrace?: number;
  /** Default: SESSION_SECRET, else random per process. */
  secret?: string;
  /** Where the front-ends are built. Default demo/build. */
  outDir?: string;
  /** No banner. */
  quiet?: boolean;
}

export interface Demo {
  apiUrl: string;
  spaUrl: string;
  hybridUrl: string;
  /** The hybrid app opened from file://, with ?api= naming the API. */
  fileUrl: string;
  /** Which session store is in use, for display. */
  store: string;
  /** The API's http.Server (to observe it in tests, or to add routes). */
  server: Server;
  /** How many websockets the server holds open right now. */
  openSockets(): number;
  /** How many times hs.on('reuse') fired (a rotated-out token came back and its session was ended). */
  reuseEvents(): number;
  close(): Promise<void>;
}

export function startDemo(options?: DemoOptions): Promise<Demo>;
