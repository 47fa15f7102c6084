/**
 * The local API Gateway (HTTP API, payload 2.0): matches the catalog's
 * routes, runs the JWT authorizer on routes with roles, builds the event and
 * the context each function gets on AWS, enforces the function's timeout and
 * maps its result back to HTTP as API Gateway does. Whatever no route
 * matches goes to the `$default` function.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWTPayload } from 'jose';
import type { Role } from '../catalog';
import { apiCors } from '../catalog/web';
import { Problem, internalError, notFound, payloadTooLarge, unauthorized } from '../functions/shared/problems';
import { buildHttpEvent, newApiRequestId, type IncomingHttpRequest, type JwtAuthorizerContext, type RouteMatch } from './events';
import type { LocalFunction } from './functions';
import { apiGatewayClaims, tokenScopes } from './identity';
import { describeError, type StackLog } from './log';

/** API Gateway's limit on a request payload. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** Bodies beyond this are not even drained: the connection is cut. */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

export interface HttpRouteBinding {
  readonly method: string;
  /** API Gateway route path: `{name}` for one segment, `{name+}` greedy. */
  readonly path: string;
  readonly auth: readonly Role[] | 'public';
  readonly fn: LocalFunction;
}

export interface TokenVerifier {
  verify(token: string): Promise<JWTPayload>;
}

export interface LocalRouteRequest {
  readonly method: string;
  readonly path: string;
  /** The raw query string, without `?`. */
  readonly query: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
}
export interface LocalRouteResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body: unknown;
}
/** Answers the gateway's own routes (`/_local/...`), or undefined to let the API routes have the request. */
export type LocalRouteHandler = (request: LocalRouteRequest) => Promise<LocalRouteResponse | undefined>;

export interface GatewayOptions {
  readonly routes: readonly HttpRouteBinding[];
  /** The `$default` route's function. Without one, unknown routes get the gateway's own 404. */
  readonly defaultFunction?: LocalFunction;
  readonly verifier: TokenVerifier;
  readonly localRoutes?: LocalRouteHandler;
  readonly log: StackLog;
  readonly maxRequestBytes?: number;
  /** Origins allowed to call the API from a browser (the web app's), with the rules of `catalog/web.ts`; none by default. */
  readonly corsOrigins?: () => readonly string[];
}

export interface Gateway {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

type Segment = { readonly literal: string } | { readonly param: string; readonly greedy: boolean };
interface CompiledRoute {
  readonly binding: HttpRouteBinding;
  readonly routeKey: string;
  readonly segments: readonly Segment[];
  readonly literals: number;
}

function compile(binding: HttpRouteBinding): CompiledRoute {
  const segments: Segment[] = binding.path
    .split('/')
    .slice(1)
    .map((part) => {
      const param = /^\{([^}+]+)(\+)?\}$/.exec(part);
      return param ? { param: param[1] ?? '', greedy: param[2] === '+' } : { literal: part };
    });
  return {
    binding,
    routeKey: `${binding.method} ${binding.path}`,
    segments,
    literals: segments.filter((s) => 'literal' in s).length,
  };
}

const decode = (value: string): string => {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
};

function matchPath(route: CompiledRoute, parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  for (let i = 0; i < route.segments.length; i++) {
    const segment = route.segments[i];
    if (!segment) return undefined;
    if ('literal' in segment) {
      if (parts[i] !== segment.literal) return undefined;
      continue;
    }
    if (segment.greedy) {
      const rest = parts.slice(i);
      if (rest.length === 0 || rest.join('/') === '') return undefined;
      params[segment.param] = decode(rest.join('/'));
      return params;
    }
    const part = parts[i];
    if (part === undefined || part === '') return undefined;
    params[segment.param] = decode(part);
  }
  return parts.length === route.segments.length ? params : undefined;
}

/** The most specific route first, as API Gateway prefers literal paths over parameters. */
function sortRoutes(routes: CompiledRoute[]): CompiledRoute[] {
  return [...routes].sort((a, b) => b.literals - a.literals || b.segments.length - a.segments.length);
}

interface BodyRead {
  readonly body: Buffer;
  readonly tooLarge: boolean;
}

function readBody(req: IncomingMessage, limit: number): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers['content-length'] ?? 0) > limit;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge = true;
      if (size > DRAIN_LIMIT_BYTES) {
        req.destroy();
        resolve({ body: Buffer.alloc(0), tooLarge: true });
        return;
      }
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve({ body: tooLarge ? Buffer.alloc(0) : Buffer.concat(chunks), tooLarge }));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(payload.length), ...headers });
  res.end(payload);
}

function sendProblem(res: ServerResponse, problem: Problem, requestId?: string): void {
  const payload = Buffer.from(JSON.stringify(problem.toDocument()));
  res.writeHead(problem.status, {
    'content-type': 'application/problem+json',
    'content-length': String(payload.length),
    ...problem.headers,
    ...(requestId ? { 'apigw-requestid': requestId } : {}),
  });
  res.end(payload);
}

/**
 * API Gateway's mapping of a payload 2.0 result: an object with a
 * `statusCode` is a structured response; anything else is a 200 whose JSON
 * body is the result itself. A malformed structured response is a 500.
 */
export function mapFunctionResult(result: unknown): { status: number; headers: [string, string][]; body: Buffer } | undefined {
  const structured = typeof result === 'object' && result !== null && !Array.isArray(result) && 'statusCode' in result;
  if (!structured) {
    return { status: 200, headers: [['content-type', 'application/json']], body: Buffer.from(JSON.stringify(result ?? null)) };
  }
  const r = result as { statusCode?: unknown; headers?: unknown; cookies?: unknown; body?: unknown; isBase64Encoded?: unknown };
  if (typeof r.statusCode !== 'number' || !Number.isInteger(r.statusCode) || r.statusCode < 100 || r.statusCode > 599) return undefined;
  if (r.body !== undefined && r.body !== null && typeof r.body !== 'string') return undefined;
  const headers: [string, string][] = [];
  if (r.headers !== undefined && r.headers !== null) {
    if (typeof r.headers !== 'object' || Array.isArray(r.headers)) return undefined;
    for (const [name, value] of Object.entries(r.headers as Record<string, unknown>)) {
      if (value === undefined || value === null) continue;
      headers.push([name.toLowerCase(), String(value)]);
    }
  }
  if (r.cookies !== undefined && r.cookies !== null) {
    if (!Array.isArray(r.cookies)) return undefined;
    for (const cookie of r.cookies) headers.push(['set-cookie', String(cookie)]);
  }
  const text = (r.body as string | undefined | null) ?? '';
  const body = r.isBase64Encoded === true ? Buffer.from(text, 'base64') : Buffer.from(text, 'utf8');
  return { status: r.statusCode, headers, body };
}

function writeMapped(res: ServerResponse, mapped: { status: number; headers: [string, string][]; body: Buffer }, requestId: string): void {
  const grouped = new Map<string, string[]>();
  for (const [name, value] of mapped.headers) grouped.set(name, [...(grouped.get(name) ?? []), value]);
  for (const [name, values] of grouped) {
    if (name === 'content-length' || name === 'transfer-encoding' || name === 'connection') continue;
    // API Gateway's own CORS headers win over a function's.
    if (name.startsWith('access-control-') && res.hasHeader(name)) continue;
    res.setHeader(name, name === 'set-cookie' ? values : values.join(','));
  }
  res.setHeader('apigw-requestid', requestId);
  res.setHeader('content-length', String(mapped.body.length));
  res.writeHead(mapped.status);
  res.end(mapped.body);
}

const BEARER = /^Bearer[ \t]+([A-Za-z0-9_.~+/=-]+)[ \t]*$/i;

/**
 * CORS as an HTTP API with a CORS configuration applies it: the gateway itself
 * answers a preflight (`OPTIONS` with `Origin` and
 * `Access-Control-Request-Method`) on any path, before routes and
 * authorizers, and every other answer to an allowed origin carries
 * `Access-Control-Allow-Origin`. An origin not on the list gets no CORS
 * headers, so the browser refuses the answer. True when the request was a
 * preflight and has been answered.
 */
export function applyCors(req: IncomingMessage, res: ServerResponse, origins: readonly string[]): boolean {
  const origin = req.headers.origin;
  const allowed = origin !== undefined && origins.includes(origin);
  if (req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined) {
    res.writeHead(
      204,
      allowed
        ? {
            'access-control-allow-origin': origin,
            'access-control-allow-methods': apiCors.allowMethods.join(','),
            'access-control-allow-headers': apiCors.allowHeaders.join(','),
            'access-control-max-age': String(apiCors.maxAgeSeconds),
            vary: 'origin',
          }
        : { vary: 'origin' },
    );
    res.end();
    return true;
  }
  if (allowed) {
    res.setHeader('access-control-allow-origin', origin);
    res.setHeader('access-control-expose-headers', apiCors.exposeHeaders.join(','));
    res.setHeader('vary', 'origin');
  }
  return false;
}

export function startGateway(options: GatewayOptions, listen: { port: number; host: string }): Promise<Gateway> {
  const routes = sortRoutes(options.routes.map(compile));
  const maxBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const { log } = options;
  const corsOrigins = options.corsOrigins ?? (() => []);

  async function authorize(req: IncomingMessage): Promise<JwtAuthorizerContext | undefined> {
    const match = BEARER.exec(req.headers.authorization ?? '');
    if (!match?.[1]) return undefined;
    try {
      const payload = await options.verifier.verify(match[1]);
      return { jwt: { claims: apiGatewayClaims(payload), scopes: tokenScopes(payload) } };
    } catch {
      return undefined; // why a token was refused is not the caller's business
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newApiRequestId();
    const method = (req.method ?? 'GET').toUpperCase();
    const target = req.url ?? '/';
    const rawPath = target.split('?')[0] ?? '/';
    if (applyCors(req, res, corsOrigins())) {
      req.resume();
      return;
    }
    const { body, tooLarge } = await readBody(req, maxBytes);
    if (tooLarge) {
      res.setHeader('connection', 'close');
      sendProblem(res, payloadTooLarge(`The request body is larger than ${maxBytes} bytes.`), requestId);
      return;
    }

    if (options.localRoutes && rawPath.startsWith('/_local/')) {
      const headers: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(',') : value;
      try {
        const answer = await options.localRoutes({ method, path: rawPath, query: target.slice(rawPath.length + 1), headers, body });
        if (answer) {
          sendJson(res, answer.status, answer.body, answer.headers ?? {});
          return;
        }
      } catch (error) {
        if (error instanceof Problem) return sendProblem(res, error, requestId);
        throw error;
      }
    }

    const parts = rawPath.split('/').slice(1);
    let fn: LocalFunction | undefined;
    let match: RouteMatch = { routeKey: '$default' };
    let auth: HttpRouteBinding['auth'] = 'public';
    for (const route of routes) {
      if (route.binding.method !== method) continue;
      const params = matchPath(route, parts);
      if (!params) continue;
      fn = route.binding.fn;
      auth = route.binding.auth;
      match = { routeKey: route.routeKey, pathParameters: params };
      break;
    }
    fn ??= options.defaultFunction;
    if (!fn) return sendProblem(res, notFound('No route matches this method and path.'), requestId);

    let authorizer: JwtAuthorizerContext | undefined;
    if (auth !== 'public') {
      authorizer = await authorize(req);
      if (!authorizer) return sendProblem(res, unauthorized(), requestId);
    }

    const request: IncomingHttpRequest = {
      method,
      url: target,
      headers: req.headersDistinct,
      body,
      sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
      httpVersion: req.httpVersion,
      localPort: req.socket.localPort ?? 0,
    };
    const event = buildHttpEvent(request, match, authorizer, requestId);
    const outcome = await fn.invoke(event);
    if (!outcome.ok) return sendProblem(res, internalError(), requestId);
    const mapped = mapFunctionResult(outcome.result);
    if (!mapped) {
      log.error(`[${fn.functionName}] returned a malformed response; answered 500`);
      return sendProblem(res, internalError(), requestId);
    }
    writeMapped(res, mapped, requestId);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      log.error(`gateway: ${describeError(error)}`);
      if (!res.headersSent) sendProblem(res, internalError());
      else res.destroy();
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      resolve({
        server,
        port,
        url: `http://${listen.host}:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeIdleConnections();
            // Requests still running get a moment; then their connections go.
            setTimeout(() => server.closeAllConnections(), 2_000).unref();
          }),
      });
    });
  });
}
