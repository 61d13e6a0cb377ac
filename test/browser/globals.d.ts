// What the fixture pages (test/browser/fixtures/harness.js) put on window, for page.evaluate callbacks.
import type { Session, SessionOptions } from '../../src/client/index.ts';

declare global {
  var HybridSession: typeof import('../../src/client/index.ts');
  var session: Session;
  var events: { name: string; payload: any }[];
  function start(options: SessionOptions): Session;
  function eventsNamed(name: string): any[];
  var ws: import('reconnecting-websocket').default;
  var socketLog: string[];
  function openSocket(path: string, options?: import('reconnecting-websocket').Options, protocols?: string | string[]): import('reconnecting-websocket').default;
  function opens(): number;
}
