/**
 * DPoP proofs made with node:crypto, as a client from outside would make them (RFC 9449 §4.2), with every field
 * overridable so a test can get exactly one of them wrong.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';

export interface ProofKey {
  privateKey: KeyObject;
  publicJwk: { kty: string; crv: string; x: string; y: string };
}

export function newProofKey(): ProofKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as { kty: string; crv: string; x: string; y: string };
  return { privateKey, publicJwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } };
}

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export const ath = (token: string) => createHash('sha256').update(token).digest('base64url');

export interface ProofFields {
  htm: string;
  htu: string;
  token?: string;
  nonce?: string;
  /** Replace or delete (undefined) header members. */
  header?: Record<string, unknown>;
  /** Replace or delete (undefined) claims. */
  claims?: Record<string, unknown>;
  /** seconds since epoch; default now */
  iat?: number;
  /** Sign with this key but put `publicJwk` of another in the header. */
  signWith?: KeyObject;
}

export function makeProof(key: ProofKey, fields: ProofFields): string {
  const header: Record<string, unknown> = { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk, ...fields.header };
  const claims: Record<string, unknown> = {
    jti: randomBytes(16).toString('base64url'),
    htm: fields.htm,
    htu: fields.htu,
    iat: fields.iat ?? Math.floor(Date.now() / 1000),
    ...(fields.token !== undefined ? { ath: ath(fields.token) } : {}),
    ...(fields.nonce !== undefined ? { nonce: fields.nonce } : {}),
    ...fields.claims,
  };
  for (const [k, v] of Object.entries(header)) if (v === undefined) delete header[k];
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  const input = `${b64(header)}.${b64(claims)}`;
  const signature = sign('sha256', Buffer.from(input), { key: fields.signWith ?? key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** The same signing input, MACed with HS256 under the public key's x as "secret" (the classic algorithm confusion). */
export function makeHmacProof(key: ProofKey, fields: ProofFields, hmac: (input: string) => Buffer): string {
  const header = { typ: 'dpop+jwt', alg: 'HS256', jwk: key.publicJwk };
  const claims = { jti: randomBytes(16).toString('base64url'), htm: fields.htm, htu: fields.htu, iat: Math.floor(Date.now() / 1000) };
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${hmac(input).toString('base64url')}`;
}
