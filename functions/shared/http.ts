import middy from '@middy/core';
import type { MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import * as z from 'zod';
import { functions, ROLES } from '../../catalog';
import type { FunctionName, Role } from '../../catalog';
import { errorSummary, logger, metrics, publishMetrics } from './observability';
import { Problem, badRequest, forbidden, internalError, malformedJson, payloadTooLarge, unauthorized, unsupportedMediaType } from './problems';
import type { FieldError } from './problems';

/** The request and response schemas of one route: they validate requests and make the OpenAPI document. */
export interface RouteContract {
  readonly summary: string;
  readonly body?: z.ZodType;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** Request headers the route reads, documented in the OpenAPI document. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly responses: Readonly<Record<number, { readonly description: string; readonly schema?: z.ZodType }>>;
}

export interface Caller {
  readonly sub: string;
  readonly role: Role;
}

type Out<T> = T extends z.ZodType ? z.output<T> : undefined;

export interface RouteRequest<C extends RouteContract> {
  readonly body: Out<C['body']>;
  readonly params: Out<C['params']>;
  readonly query: Out<C['query']>;
  /** The verified caller; routes without auth get an anonymous caller. */
  readonly caller: Caller;
  /** Lower-cased request headers. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly event: APIGatewayProxyEventV2;
}

export type HttpResponse = APIGatewayProxyStructuredResultV2;

/** Largest request body any route accepts, in bytes. */
export const MAX_BODY_BYTES = 1024 * 1024;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { statusCode, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) };
}

export function problemResponse(problem: Problem): HttpResponse {
  return {
    statusCode: problem.status,
    headers: { 'content-type': 'application/problem+json', ...problem.headers },
    body: JSON.stringify(problem.toDocument()),
  };
}

/**
 * Zod issues as `errors` entries. Messages name what was expected, never the
 * value that was sent: zod's message for unknown keys quotes the keys, which
 * the caller chose (and could be anything, a phone number say), so it is
 * replaced by one that does not.
 */
export function fieldErrors(error: z.ZodError, prefix?: string): FieldError[] {
  return error.issues.slice(0, 50).map((issue) => ({
    path: [prefix, ...issue.path.map(String)].filter((p) => p !== undefined && p !== '').join('.') || '(root)',
    message: issue.code === 'unrecognized_keys' ? 'Has fields the schema does not define; send only the documented fields' : issue.message,
  }));
}

/** Turns domain problems into problem documents and everything else into a generic 500. */
export const problemDetails = (): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> => ({
  onError: async (request) => {
    const error = request.error;
    if (error instanceof Problem) {
      request.response = problemResponse(error);
      return;
    }
    logger.error('Unhandled error', errorSummary(error));
    metrics.addMetric('UnhandledError', 'Count', 1);
    request.response = problemResponse(internalError());
  },
});

type Claims = Record<string, unknown>;

/**
 * An API Gateway REST API event (payload format 1.0, with a Lambda
 * authorizer's context), as the LocalStack stage's REST API sends it, in the
 * HTTP API's 2.0 shape the routes read: header names lower-cased and repeated
 * values joined with commas, the authorizer's verified claims where the JWT
 * authorizer puts them. Events already in 2.0 shape pass unchanged.
 */
export function toHttpApiEvent(event: APIGatewayProxyEvent | APIGatewayProxyEventV2): APIGatewayProxyEventV2 {
  if ((event as APIGatewayProxyEventV2).version === '2.0' || !('httpMethod' in event)) return event as APIGatewayProxyEventV2;
  const rest = event;
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(rest.multiValueHeaders ?? {})) if (values) headers[name.toLowerCase()] = values.join(',');
  for (const [name, value] of Object.entries(rest.headers ?? {})) if (value !== undefined) headers[name.toLowerCase()] ??= value;
  const query: Record<string, string> = {};
  const rawQuery = new URLSearchParams();
  for (const [name, values] of Object.entries(rest.multiValueQueryStringParameters ?? {})) {
    if (!values) continue;
    query[name] = values.join(',');
    for (const value of values) rawQuery.append(name, value);
  }
  for (const [name, value] of Object.entries(rest.queryStringParameters ?? {})) {
    if (value === undefined || name in query) continue;
    query[name] = value;
    rawQuery.append(name, value);
  }
  const context = rest.requestContext;
  const { principalId: _principalId, integrationLatency: _latency, ...claims } = (context.authorizer ?? {}) as Claims;
  return {
    version: '2.0',
    routeKey: `${rest.httpMethod} ${rest.resource}`,
    rawPath: rest.path,
    rawQueryString: rawQuery.toString(),
    headers,
    ...(Object.keys(query).length > 0 && { queryStringParameters: query }),
    ...(rest.pathParameters && { pathParameters: rest.pathParameters as Record<string, string> }),
    ...(rest.stageVariables && { stageVariables: rest.stageVariables as Record<string, string> }),
    ...(rest.body !== null && { body: rest.body }),
    isBase64Encoded: rest.isBase64Encoded,
    requestContext: {
      accountId: context.accountId,
      apiId: context.apiId,
      domainName: context.domainName ?? '',
      domainPrefix: context.domainPrefix ?? '',
      requestId: context.requestId,
      routeKey: `${rest.httpMethod} ${rest.resource}`,
      stage: context.stage,
      time: context.requestTime ?? '',
      timeEpoch: context.requestTimeEpoch,
      http: {
        method: rest.httpMethod,
        path: rest.path,
        protocol: context.protocol,
        sourceIp: context.identity.sourceIp,
        userAgent: context.identity.userAgent ?? '',
      },
      ...(Object.keys(claims).length > 0 && { authorizer: { jwt: { claims, scopes: null } } }),
    },
  } as APIGatewayProxyEventV2;
}

/** REST API events become HTTP API events before any other middleware reads them. */
export const httpApiEvents = (): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> => ({
  before: async (request) => {
    request.event = toHttpApiEvent(request.event);
  },
});

/** What the middlewares parsed from one event, for the handler. */
const parsedRequests = new WeakMap<object, Record<string, unknown>>();
function parsedOf(event: object): Record<string, unknown> {
  let parsed = parsedRequests.get(event);
  if (!parsed) {
    parsed = {};
    parsedRequests.set(event, parsed);
  }
  return parsed;
}

function roleOf(claims: Claims): Role | undefined {
  const role = claims.role ?? claims['custom:role'];
  if (typeof role === 'string' && (ROLES as readonly string[]).includes(role)) return role as Role;
  // Cognito puts group names in `cognito:groups`; API Gateway passes arrays as "[a b]".
  const groups = claims['cognito:groups'];
  const names = Array.isArray(groups) ? groups.map(String) : typeof groups === 'string' ? groups.replace(/^\[|\]$/g, '').split(/[\s,]+/) : [];
  return ROLES.find((r) => names.includes(r));
}

/**
 * The gateway's JWT authorizer has already verified the token's signature,
 * issuer, audience and expiry; this checks that its claims name a caller and
 * that the caller's role may use the route.
 */
export function authorize(auth: readonly Role[] | 'public'): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> {
  return {
    before: async (request) => {
      if (auth === 'public') return;
      const claims = (request.event.requestContext as { authorizer?: { jwt?: { claims?: Claims } } }).authorizer?.jwt?.claims;
      const sub = claims?.sub;
      if (!claims || typeof sub !== 'string' || sub.length === 0 || sub.length > 128) throw unauthorized();
      const role = roleOf(claims);
      if (!role) throw unauthorized('The token names no known role.');
      if (!auth.includes(role)) throw forbidden(`This route is for the ${auth.join(' or ')} role.`);
      parsedOf(request.event).caller = { sub, role } satisfies Caller;
    },
  };
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

function parseWith<T extends z.ZodType>(schema: T, value: unknown, prefix: string, what: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw badRequest(`The ${what} is not valid.`, fieldErrors(result.error, prefix));
  return result.data;
}

/** Parses and validates body, path and query against the route's contract before the handler runs. */
export function parseRequest(contract: RouteContract): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> {
  return {
    before: async (request) => {
      const event = request.event;
      const internal = parsedOf(event);
      if (contract.params) internal.params = parseWith(contract.params, event.pathParameters ?? {}, '', 'path');
      if (contract.query) internal.query = parseWith(contract.query, event.queryStringParameters ?? {}, '', 'query string');
      if (!contract.body) return;
      const raw = event.body ?? '';
      const bytes = event.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
      if (bytes.length > MAX_BODY_BYTES) throw payloadTooLarge(`The body is larger than ${MAX_BODY_BYTES} bytes.`);
      const contentType = event.headers?.['content-type'] ?? '';
      if (!JSON_TYPE.test(contentType)) throw unsupportedMediaType();
      let parsed: unknown;
      try {
        parsed = JSON.parse(bytes.toString('utf8'));
      } catch {
        throw malformedJson();
      }
      internal.body = parseWith(contract.body, parsed, '', 'body');
    },
  };
}

/**
 * A Lambda handler for one HTTP route: middlewares first, the handler last.
 * Roles come from the route's trigger in the catalog; schemas from its contract.
 */
export function httpRoute<C extends RouteContract>(name: FunctionName, contract: C, fn: (request: RouteRequest<C>, context: Context) => Promise<HttpResponse>) {
  const trigger = functions[name].trigger;
  const auth = trigger.kind === 'http' ? trigger.auth : 'public';
  return middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(httpApiEvents())
    .use(problemDetails())
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .use(authorize(auth))
    .use(parseRequest(contract))
    .handler(async (event, context) => {
      const parsed = parsedOf(event);
      const headers: Record<string, string | undefined> = {};
      for (const [k, v] of Object.entries(event.headers ?? {})) headers[k.toLowerCase()] = v;
      return fn(
        {
          body: parsed.body as RouteRequest<C>['body'],
          params: parsed.params as RouteRequest<C>['params'],
          query: parsed.query as RouteRequest<C>['query'],
          caller: (parsed.caller as Caller | undefined) ?? { sub: 'anonymous', role: 'user' },
          headers,
          event,
        },
        context,
      );
    });
}
