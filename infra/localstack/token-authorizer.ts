/**
 * The LocalStack stage's REST API authorizer (a Lambda TOKEN authorizer): it
 * checks a bearer token as API Gateway's JWT authorizer does on the AWS
 * stages (signature with the development issuer's key, algorithm, issuer,
 * audience, exp and nbf) and hands the verified claims to the function in
 * the request context, as strings, the way the JWT authorizer does. Anything
 * else is "Unauthorized", which API Gateway turns into a 401. The reason is
 * never told to the caller nor logged with the token.
 *
 * Environment: DEV_ISSUER_JWKS, the issuer's public JSON Web Key Set.
 */
import type { APIGatewayAuthorizerResult, APIGatewayTokenAuthorizerEvent } from 'aws-lambda';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { apiGatewayClaims, VERIFY_OPTIONS } from '../../local/identity';

function keySet(): ReturnType<typeof createLocalJWKSet> {
  const raw = process.env.DEV_ISSUER_JWKS;
  if (!raw) throw new Error('DEV_ISSUER_JWKS is not set');
  return createLocalJWKSet(JSON.parse(raw) as JSONWebKeySet);
}

const keys = keySet();

export async function handler(event: APIGatewayTokenAuthorizerEvent): Promise<APIGatewayAuthorizerResult> {
  const token = /^Bearer\s+(\S+)$/i.exec(event.authorizationToken ?? '')?.[1];
  if (!token) throw new Error('Unauthorized');
  let claims: Record<string, string>;
  try {
    const { payload } = await jwtVerify(token, keys, {
      ...VERIFY_OPTIONS,
      algorithms: [...VERIFY_OPTIONS.algorithms],
      requiredClaims: [...VERIFY_OPTIONS.requiredClaims],
    });
    claims = apiGatewayClaims(payload);
  } catch {
    throw new Error('Unauthorized');
  }
  return {
    principalId: claims.sub!,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: event.methodArn }] },
    context: claims,
  };
}
