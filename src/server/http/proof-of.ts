/** The verdict on an HTTP request's DPoP header, against the request as this server saw it. */
import type { IncomingMessage } from 'node:http';
import type { Core } from '../context.js';
import { isSecure } from '../credentials/cookie.js';
import { readProof, requestHtu } from '../credentials/bearer.js';
import type { ProofResult } from '../credentials/proof.js';

/** undefined when the request has no DPoP header; `token`: the one the request presents (the proof's ath). */
export function proofOf(core: Core, req: IncomingMessage, token: string | undefined): ProofResult | undefined {
  const proof = readProof(req);
  if (proof === undefined) return undefined;
  return core.proofs.verify(proof, { htm: req.method ?? 'GET', htu: requestHtu(req, isSecure(req, core.options.proxy), false), token });
}
