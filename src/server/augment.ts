/** req.session.update(fn) in express-session's own types, for apps that use them. */
import type session from 'express-session';

declare module 'express-session' {
  interface Session {
    /** Atomic read-modify-write of the stored session (hybrid-session); resolves to the saved session. */
    update(fn: (session: session.Session & Partial<session.SessionData> & Record<string, unknown>) => void | Promise<void>): Promise<session.Session & Partial<session.SessionData> & Record<string, unknown>>;
  }
}
export {};
