/**
 * The local stack's development issuer: an ES256 key pair generated at start
 * (or given, for tests that must forge tokens), tokens signed with `jose`, and
 * the checks API Gateway's JWT authorizer makes before any function runs:
 * signature with the issuer's key, algorithm, issuer, audience, exp and nbf.
 * Verification uses the wall clock, never the movable clock of the functions.
 */
import { randomUUID } from 'node:crypto';
import {
  SignJWT,
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  jwtVerify,
  type JWK,
  type JWTPayload,
  type JWTVerifyOptions,
} from 'jose';
import type { Role } from '../catalog';

export const LOCAL_ISSUER = 'https://issuer.local-stack.invalid/';
export const LOCAL_AUDIENCE = 'consent-audiences-local';
export const TOKEN_ALGORITHM = 'ES256';
export const TOKEN_LIFETIME_SECONDS = 3600;
/** Leeway on exp and nbf, as authorizers allow for clock skew. */
export const CLOCK_TOLERANCE_SECONDS = 5;

type SigningKey = Awaited<ReturnType<typeof importJWK>>;

/** What API Gateway's JWT authorizer checks besides the signature; the LocalStack stage's token authorizer checks the same. */
export const VERIFY_OPTIONS = {
  issuer: LOCAL_ISSUER,
  audience: LOCAL_AUDIENCE,
  algorithms: [TOKEN_ALGORITHM],
  clockTolerance: CLOCK_TOLERANCE_SECONDS,
  requiredClaims: ['exp', 'sub'],
} as const satisfies JWTVerifyOptions;

export class LocalIdentity {
  private constructor(
    private readonly signingKey: SigningKey,
    readonly kid: string,
    private readonly keySet: ReturnType<typeof createLocalJWKSet>,
    /** The public key, as a JWKS would publish it. */
    readonly publicJwk: JWK,
  ) {}

  /** A fresh key pair, or the given private P-256 JWK (LOCAL_JWT_PRIVATE_JWK). */
  static async create(privateJwk?: JWK): Promise<LocalIdentity> {
    let signingKey: SigningKey;
    let publicPart: JWK;
    if (privateJwk) {
      if (privateJwk.kty !== 'EC' || privateJwk.crv !== 'P-256' || !privateJwk.d || !privateJwk.x || !privateJwk.y) {
        throw new Error('The signing key must be a private EC P-256 JWK (kty EC, crv P-256, x, y, d)');
      }
      signingKey = await importJWK({ kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y, d: privateJwk.d }, TOKEN_ALGORITHM);
      publicPart = { kty: 'EC', crv: 'P-256', x: privateJwk.x, y: privateJwk.y };
    } else {
      const pair = await generateKeyPair(TOKEN_ALGORITHM);
      signingKey = pair.privateKey;
      const exported = await exportJWK(pair.publicKey);
      publicPart = { kty: exported.kty, crv: exported.crv, x: exported.x, y: exported.y };
    }
    const kid = await calculateJwkThumbprint(publicPart);
    const publicJwk: JWK = { ...publicPart, kid, alg: TOKEN_ALGORITHM, use: 'sig' };
    return new LocalIdentity(signingKey, kid, createLocalJWKSet({ keys: [publicJwk] }), publicJwk);
  }

  /** A token for `sub` in `role`, valid for an hour from now (wall clock). */
  async issue(claims: { sub: string; role: Role }): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ role: claims.role })
      .setProtectedHeader({ alg: TOKEN_ALGORITHM, typ: 'JWT', kid: this.kid })
      .setIssuer(LOCAL_ISSUER)
      .setAudience(LOCAL_AUDIENCE)
      .setSubject(claims.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + TOKEN_LIFETIME_SECONDS)
      .setJti(randomUUID())
      .sign(this.signingKey);
  }

  /** The verified claims; throws on any failure. Callers must not tell the client why. */
  async verify(token: string): Promise<JWTPayload> {
    const { payload } = await jwtVerify(token, this.keySet, {
      ...VERIFY_OPTIONS,
      algorithms: [...VERIFY_OPTIONS.algorithms],
      requiredClaims: [...VERIFY_OPTIONS.requiredClaims],
    });
    return payload;
  }
}

/**
 * Claims as API Gateway's JWT authorizer hands them to the function: every
 * value a string, numbers and booleans written out, arrays as `[a b]`.
 */
export function apiGatewayClaims(payload: JWTPayload): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(payload)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) claims[name] = `[${value.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))).join(' ')}]`;
    else if (typeof value === 'object') claims[name] = JSON.stringify(value);
    else claims[name] = String(value);
  }
  return claims;
}

/** The token's scopes (`scope` or `scp`), or null when it has none, as API Gateway reports them. */
export function tokenScopes(payload: JWTPayload): string[] | null {
  const raw = payload.scope ?? payload.scp;
  if (typeof raw === 'string') return raw.split(' ').filter((s) => s.length > 0);
  if (Array.isArray(raw)) return raw.map(String);
  return null;
}
