// `hybrid-session/server` resolved for a browser bundle: fail loudly, as ws's browser.js does.
export function hybridSession(): never {
  throw new Error('hybrid-session/server runs in Node only; in the browser import createSession from "hybrid-session".');
}
