/**
 * The LocalStack stage's development issuer: an ES256 key pair kept on the
 * developer's machine in .local/localstack-issuer.json (git ignores .local/).
 * `npm run deploy:localstack` creates it; the stack gets its public half (the
 * REST API's authorizer verifies tokens with it) and `npm run
 * localstack:token` signs tokens with the private half, like the local
 * stack's `POST /_local/token`.
 */
import { generateKeyPairSync } from 'node:crypto';
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

/** The public half, as the authorizer's key set holds it. */
export const publicPart = (jwk: JWK): JWK => ({ kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y });
