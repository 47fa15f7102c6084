/**
 * The LocalStack stage's token authorizer checks what API Gateway's JWT
 * authorizer checks, with the development issuer's key, and passes the
 * verified claims on; everything else is "Unauthorized" (a 401).
 */
import { generateKeyPairSync } from 'node:crypto';
import type { APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { SignJWT, importJWK, type JWK } from 'jose';
import { publicPart } from '../../infra/localstack/issuer-key';
import { LocalIdentity, LOCAL_AUDIENCE, LOCAL_ISSUER } from '../../local/identity';

const privateJwk = (): JWK => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JWK;
const issuerKey = privateJwk();
process.env.DEV_ISSUER_JWKS = JSON.stringify({ keys: [publicPart(issuerKey)] });
// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded after its environment is set, as Lambda does
const { handler } = require('../../infra/localstack/token-authorizer') as typeof import('../../infra/localstack/token-authorizer');

const methodArn = 'arn:aws:execute-api:us-east-1:000000000000:abc/api/GET/v1/me/consent';
const event = (authorizationToken: string): APIGatewayTokenAuthorizerEvent => ({ type: 'TOKEN', authorizationToken, methodArn });

async function token(claims: { iss?: string; aud?: string; exp?: number; key?: JWK } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const key = claims.key ?? issuerKey;
  return new SignJWT({ role: 'business' })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(claims.iss ?? LOCAL_ISSUER)
    .setAudience(claims.aud ?? LOCAL_AUDIENCE)
    .setSubject('shop-1')
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 600)
    .sign(await importJWK(key, 'ES256'));
}

describe('token authorizer', () => {
  it('publishes the key under the kid the issuer signs with', async () => {
    expect(publicPart(issuerKey).kid).toBe((await LocalIdentity.create(issuerKey)).kid);
  });

  it('allows the method for a token of the development issuer and passes its claims as strings', async () => {
    const issued = await (await LocalIdentity.create(issuerKey)).issue({ sub: 'ana', role: 'user' });
    const result = await handler(event(`Bearer ${issued}`));

    expect(result.principalId).toBe('ana');
    expect(result.policyDocument.Statement).toEqual([{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: methodArn }]);
    expect(result.context).toMatchObject({ sub: 'ana', role: 'user', iss: LOCAL_ISSUER, aud: LOCAL_AUDIENCE });
    for (const value of Object.values(result.context ?? {})) expect(typeof value).toBe('string');
  });

  it('accepts the test tokens below when nothing is wrong with them (so each refusal has its own reason)', async () => {
    await expect(handler(event(`Bearer ${await token()}`))).resolves.toMatchObject({ principalId: 'shop-1', context: { role: 'business' } });
  });

  it.each([
    ['no bearer scheme', async () => await token()],
    ['an empty header', async () => ''],
    ['another key', async () => `Bearer ${await token({ key: privateJwk() })}`],
    ['another issuer', async () => `Bearer ${await token({ iss: 'https://elsewhere.invalid/' })}`],
    ['another audience', async () => `Bearer ${await token({ aud: 'someone-else' })}`],
    ['an expired token', async () => `Bearer ${await token({ exp: Math.floor(Date.now() / 1000) - 60 })}`],
    ['not a JWT', async () => 'Bearer not-a-jwt'],
  ])('refuses %s with "Unauthorized"', async (_case, header) => {
    await expect(handler(event(await header()))).rejects.toThrow(/^Unauthorized$/);
  });
});
