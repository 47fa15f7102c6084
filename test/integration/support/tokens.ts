/**
 * Tokens the development issuer would never hand out, for tests of what the
 * gateway's JWT authorizer refuses. The shared stack signs with the key in
 * `LOCAL_JWT_PRIVATE_JWK` (set by global-setup.ts), so tests can sign
 * expired or mis-addressed tokens with the real key, or use another key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, type JWK, type JWTPayload } from 'jose';
import type { Role } from '../../../catalog';
import { LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../../local/identity';

export { LOCAL_AUDIENCE, LOCAL_ISSUER };

/** The private key the shared stack (and stacks from `startStack()`) sign with. */
export function stackSigningKey(): JWK {
  const raw = process.env.LOCAL_JWT_PRIVATE_JWK;
  if (!raw) throw new Error('LOCAL_JWT_PRIVATE_JWK is not set (global-setup.ts sets it)');
  return JSON.parse(raw) as JWK;
}

/** A fresh P-256 private key the stack has never seen. */
export function otherSigningKey(): JWK {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ format: 'jwk' }) as JWK;
}

/** Claims of a token the stack would accept: its issuer and audience, valid for an hour from now (wall clock). */
export function validClaims(role: Role, sub: string): JWTPayload & { role: Role } {
  const now = Math.floor(Date.now() / 1000);
  return { iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE, sub, role, iat: now, exp: now + 3600 };
}

/** Signs `payload` with ES256 (the stack's key unless `key` is given). */
export async function signToken(payload: JWTPayload, options: { key?: JWK } = {}): Promise<string> {
  const key = options.key ?? stackSigningKey();
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'JWT' }).sign(key);
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An unsecured JWT (`alg: none`, empty signature). */
export function unsecuredToken(payload: JWTPayload): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(payload)}.`;
}

/** An HS256 token under a guessable secret: the algorithm the issuer does not use. */
export async function hs256Token(payload: JWTPayload, secret = 'secret'): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(secret.padEnd(32, '!')));
}
