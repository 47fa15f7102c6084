import middy from '@middy/core';
import type { MiddlewareObj } from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { APIGatewayProxyEvent, APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import * as z from 'zod';
import type { FunctionName, Role, RuntimeRoute } from '../../catalog';
import { ROLES } from '../../catalog/types';
import { httpRoutes } from './catalog.generated';
import { errorSummary, logger, metrics, publishMetrics } from './observability';
import { Problem, badRequest, forbidden, internalError, malformedJson, payloadTooLarge, unauthorized, unsupportedMediaType } from './problems';
import { MAX_FIELD_ERRORS } from './problems';
import type { FieldError } from './problems';

/** One answer of a route, as the OpenAPI document shows it. */
export interface ResponseContract {
  readonly description: string;
  readonly schema?: z.ZodType;
  /** Response headers, by name, with their descriptions. */
  readonly headers?: Readonly<Record<string, string>>;
  /** A name under `components.responses`: the same answer shared by many routes is described once. */
  readonly component?: string;
}

/** The request and response schemas of one route: they validate requests and make the OpenAPI document. */
export interface RouteContract {
  readonly summary: string;
  /** The OpenAPI tag (area of the API); set for a whole area where the contracts are collected. */
  readonly tag?: string;
  readonly body?: z.ZodType;
  readonly params?: z.ZodObject;
  readonly query?: z.ZodObject;
  /** Request headers the route reads, documented in the OpenAPI document (the route checks them). */
  readonly headers?: Readonly<Record<string, { readonly description: string; readonly schema: z.ZodType }>>;
  /**
   * Body arrays, by dotted path, whose maximum is a size limit: over it the
   * answer is 413 with this detail rather than a 400 validation error.
   */
  readonly payloadLimits?: Readonly<Record<string, string>>;
  readonly responses: Readonly<Record<number, ResponseContract>>;
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
/** Deepest nesting of arrays and objects a JSON body may have; no schema comes near it. */
export const MAX_JSON_DEPTH = 32;

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

const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/**
 * Zod issues as `errors` entries: at most `MAX_FIELD_ERRORS`, each bounded.
 * Messages name what was expected, never the value that was sent: zod's
 * message for unknown keys quotes the keys, which the caller chose (and could
 * be anything, a phone number say), so it is replaced by one that does not.
 */
export function fieldErrors(error: z.ZodError, prefix?: string): FieldError[] {
  return error.issues.slice(0, MAX_FIELD_ERRORS).map((issue) => ({
    path: clip([prefix, ...issue.path.map(String)].filter((p) => p !== undefined && p !== '').join('.') || '(root)', 200),
    message: clip(issue.code === 'unrecognized_keys' ? 'Has fields the schema does not define; send only the documented fields' : issue.message, 200),
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

/** Whether the request carries a Global Privacy Control signal (`Sec-GPC: 1`). */
export const sendsPrivacySignal = (headers: APIGatewayProxyEventV2['headers'] | undefined): boolean => headers?.['sec-gpc']?.trim() === '1';

/**
 * Global Privacy Control (CCPA regulations §7025: an opt-out preference
 * signal is binding): on a user route under `/v1/me`, a request with
 * `Sec-GPC: 1` from a user whose `ads_targeting` is granted records a denial
 * of it. It runs after authorization and before the body is parsed, so any
 * such request counts, whatever the route does with it, reading routes
 * included. `honour` records the denial (routes that record decisions) or
 * hands the signal to `applyGpc` (shared/gpc-forward.ts).
 */
export function globalPrivacyControl(honour: (userId: string) => Promise<unknown>): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> {
  return {
    before: async (request) => {
      if (!sendsPrivacySignal(request.event.headers)) return;
      const caller = parsedOf(request.event).caller as Caller | undefined;
      if (!caller || caller.role !== 'user') return;
      await honour(caller.sub);
    },
  };
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

function parseWith<T extends z.ZodType>(schema: T, value: unknown, what: string, payloadLimits: RouteContract['payloadLimits'] = {}): z.output<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  for (const issue of issues) {
    const detail = issue.code === 'too_big' && issue.origin === 'array' ? payloadLimits[issue.path.join('.')] : undefined;
    if (detail !== undefined) throw payloadTooLarge(detail);
  }
  const listed = issues.length > MAX_FIELD_ERRORS ? ` ${issues.length} problems were found; the first ${MAX_FIELD_ERRORS} are listed.` : '';
  throw badRequest(`The ${what} is not valid.${listed}`, fieldErrors(result.error));
}

/** Whether a parsed JSON value nests arrays or objects deeper than `levels`. Recurses at most `levels` deep. */
export function nestedDeeperThan(value: unknown, levels: number): boolean {
  if (value === null || typeof value !== 'object') return false;
  if (levels === 0) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (nestedDeeperThan(item, levels - 1)) return true;
    return false;
  }
  for (const key in value) if (nestedDeeperThan((value as Record<string, unknown>)[key], levels - 1)) return true;
  return false;
}

/** Parses and validates body, path and query against the route's contract before the handler runs. */
export function parseRequest(contract: RouteContract): MiddlewareObj<APIGatewayProxyEventV2, HttpResponse> {
  return {
    before: async (request) => {
      const event = request.event;
      const internal = parsedOf(event);
      if (contract.params) internal.params = parseWith(contract.params, event.pathParameters ?? {}, 'path');
      if (contract.query) internal.query = parseWith(contract.query, event.queryStringParameters ?? {}, 'query string');
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
      if (nestedDeeperThan(parsed, MAX_JSON_DEPTH)) throw badRequest(`The body nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep.`);
      internal.body = parseWith(contract.body, parsed, 'body', contract.payloadLimits);
    },
  };
}

export interface RouteOptions {
  /**
   * How a user route under `/v1/me` honours Global Privacy Control (required
   * there): record the denial in the request (routes that record decisions)
   * or `forwardGpcSignal` (shared/gpc-forward.ts). See `globalPrivacyControl`.
   */
  readonly privacySignal?: (userId: string) => Promise<unknown>;
}

/**
 * A Lambda handler for one HTTP route: middlewares first, the handler last.
 * Roles come from the route's trigger in the catalog; schemas from its
 * contract. User routes under `/v1/me` honour Global Privacy Control.
 */
export function httpRoute<C extends RouteContract>(
  name: FunctionName,
  contract: C,
  fn: (request: RouteRequest<C>, context: Context) => Promise<HttpResponse>,
  options: RouteOptions = {},
) {
  const route: RuntimeRoute | undefined = httpRoutes[name as keyof typeof httpRoutes];
  if (!route) throw new Error(`${name} is not an HTTP route in the catalog`);
  const auth = route.auth;
  const pipeline = middy<APIGatewayProxyEventV2, HttpResponse>()
    .use(httpApiEvents())
    .use(problemDetails())
    .use(injectLambdaContext(logger, { resetKeys: true, logEvent: false }))
    .use(publishMetrics())
    .use(authorize(auth));
  if (route.userRouteOfMe) {
    if (!options.privacySignal) throw new Error(`${name} is a user route under /v1/me: it must honour Global Privacy Control (privacySignal)`);
    pipeline.use(globalPrivacyControl(options.privacySignal));
  }
  return pipeline.use(parseRequest(contract)).handler(async (event, context) => {
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
