/**
 * The routes only the local stack has (CONTRACT.md, "Local stack only"):
 * health, tokens from the development issuer, the movable clock and the TTL
 * sweep. Errors are RFC 9457 problem documents like the API's.
 */
import * as z from 'zod';
import { ROLES } from '../catalog';
import { Problem, badRequest, malformedJson, unsupportedMediaType, type FieldError } from '../functions/shared/problems';
import type { LocalRouteHandler, LocalRouteRequest, LocalRouteResponse } from './gateway';
import type { LocalIdentity } from './identity';

export interface MovableClock {
  now(): Date;
  advance(seconds: number): Date;
  offsetSeconds(): number;
}

export interface LocalRoutesDeps {
  readonly identity: Pick<LocalIdentity, 'issue'>;
  readonly clock: MovableClock;
  /** Runs the TTL sweep; resolves to the number of items deleted. */
  sweep(): Promise<number>;
  /** The health document, and whether every emulator and poller runs. */
  health(): { ok: boolean; body: Record<string, unknown> };
}

/** A hundred years: far beyond any TTL, and safely inside what a Date can hold. */
const MAX_ADVANCE_SECONDS = 100 * 365 * 24 * 3600;

const tokenRequest = z.object({
  role: z.enum(ROLES as readonly ['user', 'business', 'operator']),
  sub: z.string().min(1).max(128),
});
const clockRequest = z.object({
  advanceSeconds: z.number().int().min(0).max(MAX_ADVANCE_SECONDS),
});

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

function zodErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.') || '(root)', message: issue.message }));
}

/** The JSON body, or undefined when there is none; 415 for another content type, 400 when malformed. */
function jsonBody(request: LocalRouteRequest): unknown {
  if (request.body.length === 0) return undefined;
  if (!JSON_TYPE.test(request.headers['content-type'] ?? '')) throw unsupportedMediaType();
  try {
    return JSON.parse(request.body.toString('utf8')) as unknown;
  } catch {
    throw malformedJson();
  }
}

function parse<T extends z.ZodType>(schema: T, request: LocalRouteRequest): z.output<T> {
  const result = schema.safeParse(jsonBody(request) ?? {});
  if (!result.success) throw badRequest('The body is not valid.', zodErrors(result.error));
  return result.data;
}

const methodNotAllowed = (allowed: string) =>
  new Problem(405, 'method-not-allowed', 'Method not allowed', `Use ${allowed} on this route.`, {}, { allow: allowed });

export function localRoutes(deps: LocalRoutesDeps): LocalRouteHandler {
  const routes: Record<string, { method: string; run(request: LocalRouteRequest): Promise<LocalRouteResponse> }> = {
    '/_local/health': {
      method: 'GET',
      run: async () => {
        const { ok, body } = deps.health();
        return { status: ok ? 200 : 503, body };
      },
    },
    '/_local/token': {
      method: 'POST',
      run: async (request) => {
        const claims = parse(tokenRequest, request);
        return { status: 200, body: { token: await deps.identity.issue(claims) } };
      },
    },
    '/_local/clock': {
      method: 'POST',
      run: async (request) => {
        const { advanceSeconds } = parse(clockRequest, request);
        return { status: 200, body: { now: deps.clock.advance(advanceSeconds).toISOString() } };
      },
    },
    '/_local/ttl-sweep': {
      method: 'POST',
      run: async (request) => {
        jsonBody(request); // no options yet, but a body must still be JSON
        return { status: 200, body: { deleted: await deps.sweep() } };
      },
    },
  };
  return async (request) => {
    const route = routes[request.path];
    if (!route) return undefined;
    if (request.method !== route.method) throw methodNotAllowed(route.method);
    return route.run(request);
  };
}
