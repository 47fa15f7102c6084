/**
 * The LocalStack stage's development issuer: an ES256 key pair kept on the
 * developer's machine in .local/localstack-issuer.json (git ignores .local/).
 * `npm run deploy:localstack` creates it; the stack gets its public half (the
 * REST API's authorizer verifies tokens with it) and `npm run
 * localstack:token` signs tokens with the private half, like the local
 * stack's `POST /_local/token`.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { JWK } from 'jose';

export const ISSUER_KEY_FILE = join('.local', 'localstack-issuer.json');

export const issuerKeyPath = (projectRoot: string): string => join(projectRoot, ISSUER_KEY_FILE);

/** The private JWK, or undefined when the file does not exist yet. */
export function readIssuerKey(projectRoot: string): JWK | undefined {
  const file = issuerKeyPath(projectRoot);
  if (!existsSync(file)) return undefined;
  const jwk = JSON.parse(readFileSync(file, 'utf8')) as JWK;
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || !jwk.x || !jwk.y || !jwk.d) throw new Error(`${ISSUER_KEY_FILE} does not hold a private EC P-256 JWK`);
  return jwk;
}

/** The private JWK, created (readable by the owner only) when missing. */
export function ensureIssuerKey(projectRoot: string): JWK {
  const existing = readIssuerKey(projectRoot);
  if (existing) return existing;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const file = issuerKeyPath(projectRoot);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
  return jwk;
}

/**
 * The public half, as the authorizer's key set holds it, with the `kid` the
 * issuer puts in its tokens' header: the key's RFC 7638 thumbprint, as
 * local/identity.ts computes it.
 */
export function publicPart(jwk: JWK): JWK {
  const kid = createHash('sha256')
    .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
    .digest('base64url');
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' };
}
