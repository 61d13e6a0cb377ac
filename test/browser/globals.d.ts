// What the fixture pages (test/browser/fixtures/harness.js) put on window, for page.evaluate callbacks.
import type { ReconnectingSocket, Session, SessionOptions, SocketOptions } from '../../src/client/index.ts';

declare global {
  var HybridSession: typeof import('../../src/client/index.ts');
  var session: Session;
  var events: { name: string; payload: any }[];
  function start(options: SessionOptions): Session;
  function eventsNamed(name: string): any[];
  var ws: ReconnectingSocket;
  var socketLog: string[];
  function openSocket(path: string, options?: SocketOptions, protocols?: string | string[]): ReconnectingSocket;
  function opens(): number;
}
