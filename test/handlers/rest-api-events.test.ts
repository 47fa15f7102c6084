/**
 * The functions take API Gateway REST API events (payload 1.0, a Lambda
 * authorizer's context), as the LocalStack stage sends them, and read them
 * as the HTTP API's 2.0 events: same headers, query, path parameters, body
 * and verified claims.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2 } from 'aws-lambda';
import { functions } from '../../catalog';
import { handler as openapi } from '../../functions/openapi/handler';
import { httpRoute, json, toHttpApiEvent } from '../../functions/shared/http';
import { httpEvent, lambdaContext } from '../support/events';
import * as z from 'zod';

function restEvent(
  overrides: Partial<APIGatewayProxyEvent> = {},
  authorizer: Record<string, string> | null = { sub: 'shop-1', role: 'business' },
): APIGatewayProxyEvent {
  return {
    resource: '/v1/audiences/{id}',
    path: '/v1/audiences/aud-1',
    httpMethod: 'GET',
    headers: { Host: 'abc.execute-api.localhost.localstack.cloud:4566', 'Content-Type': 'application/json', 'X-Trace': 'one' },
    multiValueHeaders: { Host: ['abc.execute-api.localhost.localstack.cloud:4566'], 'Content-Type': ['application/json'], 'X-Trace': ['one', 'two'] },
    queryStringParameters: { limit: '5' },
    multiValueQueryStringParameters: { limit: ['5'] },
    pathParameters: { id: 'aud-1' },
    stageVariables: null,
    body: null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'abc',
      authorizer: authorizer ? { principalId: authorizer.sub, integrationLatency: 3, ...authorizer } : null,
      protocol: 'HTTP/1.1',
      httpMethod: 'GET',
      identity: { sourceIp: '172.17.0.1', userAgent: 'curl/8' } as APIGatewayProxyEvent['requestContext']['identity'],
      path: '/api/v1/audiences/aud-1',
      stage: 'api',
      requestId: 'req-1',
      requestTimeEpoch: 1_764_000_000_000,
      resourceId: 'r1',
      resourcePath: '/v1/audiences/{id}',
    },
    ...overrides,
  };
}

describe('REST API events', () => {
  it('become HTTP API events: lower-cased headers, repeated values joined, claims where the JWT authorizer puts them', () => {
    const event = toHttpApiEvent(restEvent());

    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /v1/audiences/{id}',
      rawPath: '/v1/audiences/aud-1',
      rawQueryString: 'limit=5',
      headers: { 'content-type': 'application/json', 'x-trace': 'one,two' },
      queryStringParameters: { limit: '5' },
      pathParameters: { id: 'aud-1' },
      isBase64Encoded: false,
      requestContext: {
        http: { method: 'GET', path: '/v1/audiences/aud-1', sourceIp: '172.17.0.1' },
        authorizer: { jwt: { claims: { sub: 'shop-1', role: 'business' } } },
      },
    });
    expect(event.body).toBeUndefined();
  });

  it('leave HTTP API events as they are', () => {
    const event: APIGatewayProxyEventV2 = httpEvent({ method: 'GET', path: '/openapi.json' });
    expect(toHttpApiEvent(event)).toBe(event);
  });

  it('reach a route with its caller, parameters and body', async () => {
    const name = Object.entries(functions).find(([, spec]) => {
      const trigger: { kind: string; auth?: readonly string[] | 'public' } = spec.trigger;
      return trigger.kind === 'http' && trigger.auth !== 'public' && trigger.auth?.includes('business');
    })![0];
    const route = httpRoute(
      name as keyof typeof functions,
      { summary: 'probe', params: z.object({ id: z.string() }), body: z.object({ name: z.string() }), responses: { 200: { description: 'ok' } } },
      async (request) => json(200, { caller: request.caller, params: request.params, body: request.body }),
    );
    const response = await route(restEvent({ httpMethod: 'POST', body: JSON.stringify({ name: 'Flower shop' }) }) as never, lambdaContext());

    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body!)).toEqual({ caller: { sub: 'shop-1', role: 'business' }, params: { id: 'aud-1' }, body: { name: 'Flower shop' } });
  });

  it('without an authorizer context are refused with 401, as on the HTTP API', async () => {
    const name = Object.entries(functions).find(([, spec]) => spec.trigger.kind === 'http' && spec.trigger.auth !== 'public')![0];
    const route = httpRoute(name as keyof typeof functions, { summary: 'probe', responses: { 200: { description: 'ok' } } }, async () => json(200, {}), {
      privacySignal: async () => undefined,
    });
    const response = await route(restEvent({}, null) as never, lambdaContext());
    expect(response.statusCode).toBe(401);
  });

  it('get the same answer from a real handler', async () => {
    const response = await openapi(restEvent({ resource: '/openapi.json', path: '/openapi.json', pathParameters: null }, null) as never, lambdaContext());
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body!).openapi).toMatch(/^3\.1/);
  });
});
