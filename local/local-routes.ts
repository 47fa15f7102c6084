/**
 * The routes only the local stack has (CONTRACT.md, "Local stack only"):
 * health, tokens from the development issuer, the movable clock, the TTL
 * sweep, waiting for background work to settle (local/settle.ts) and fault
 * injection (local/faults.ts; never deployed). Errors are RFC 9457 problem
 * documents like the API's.
 */
import * as z from 'zod';
import { ROLES } from '../catalog';
import { Problem, badRequest, malformedJson, unsupportedMediaType, type FieldError } from '../functions/shared/problems';
import { faultRequest, UnknownFunctionError, type FaultInjector } from './faults';
import type { LocalRouteHandler, LocalRouteRequest, LocalRouteResponse } from './gateway';
import type { LocalIdentity } from './identity';
import type { LocalOutbox } from './outbox';
import { normaliseEmail, normalisePhone } from '../functions/core/identifiers';

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
  /** Waits until no background work is left; resolves to false when it gave up after `timeoutMs`. */
  settle(timeoutMs: number): Promise<boolean>;
  /** The health document, and whether every emulator and poller runs. */
  health(): { ok: boolean; body: Record<string, unknown> };
  /** What the stack would have sent by SMS or email (`/_local/outbox`); without it the route does not exist. */
  readonly outbox?: Pick<LocalOutbox, 'sentTo'>;
  /** Fault injection (`/_local/faults`); without it the route does not exist. */
  readonly faults?: Pick<FaultInjector, 'add' | 'clear' | 'state'>;
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
const settleRequest = z.strictObject({
  timeoutSeconds: z.number().int().min(1).max(300).default(30),
});

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

function zodErrors(error: z.ZodError): FieldError[] {
  // Never quote what was sent: zod's message for unknown keys lists them.
  return error.issues.slice(0, 50).map((issue) => ({
    path: issue.path.map(String).join('.') || '(root)',
    message: issue.code === 'unrecognized_keys' ? 'Has fields the schema does not define' : issue.message,
  }));
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

type Run = (request: LocalRouteRequest) => Promise<LocalRouteResponse>;

export function localRoutes(deps: LocalRoutesDeps): LocalRouteHandler {
  const routes: Record<string, Record<string, Run>> = {
    '/_local/health': {
      GET: async () => {
        const { ok, body } = deps.health();
        return { status: ok ? 200 : 503, body };
      },
    },
    '/_local/token': {
      POST: async (request) => {
        const claims = parse(tokenRequest, request);
        return { status: 200, body: { token: await deps.identity.issue(claims) } };
      },
    },
    '/_local/clock': {
      POST: async (request) => {
        const { advanceSeconds } = parse(clockRequest, request);
        return { status: 200, body: { now: deps.clock.advance(advanceSeconds).toISOString() } };
      },
    },
    '/_local/ttl-sweep': {
      POST: async (request) => {
        jsonBody(request); // no options yet, but a body must still be JSON
        return { status: 200, body: { deleted: await deps.sweep() } };
      },
    },
    '/_local/settle': {
      POST: async (request) => {
        const { timeoutSeconds } = parse(settleRequest, request);
        if (await deps.settle(timeoutSeconds * 1000)) return { status: 200, body: { settled: true } };
        throw new Problem(
          503,
          'not-settled',
          'Not settled',
          `Background work was still running after ${timeoutSeconds} s: a queue or stream consumer keeps failing and retrying, or work keeps arriving.`,
        );
      },
    },
  };
  const outbox = deps.outbox;
  if (outbox) {
    routes['/_local/outbox'] = {
      GET: async (request) => {
        const raw = new URLSearchParams(request.query).get('to') ?? '';
        // As the sender addresses it: a number in E.164, an address trimmed and lower-cased.
        const to = raw.includes('@') ? normaliseEmail(raw) : normalisePhone(raw);
        if (!to) throw badRequest('The query is not valid.', [{ path: 'to', message: 'A phone number in international format or an email address' }]);
        return { status: 200, body: { items: outbox.sentTo(to) } };
      },
    };
  }
  const faults = deps.faults;
  if (faults) {
    routes['/_local/faults'] = {
      GET: async () => ({ status: 200, body: faults.state() }),
      POST: async (request) => {
        if (request.body.length === 0) throw badRequest('The body is not valid.', [{ path: '(root)', message: 'A fault is required' }]);
        const fault = parse(faultRequest, request);
        try {
          return { status: 200, body: faults.add(fault) };
        } catch (error) {
          if (error instanceof UnknownFunctionError) {
            throw badRequest('The body is not valid.', [{ path: 'function', message: 'Not the catalog name of a loaded function' }]);
          }
          throw error;
        }
      },
      DELETE: async (request) => {
        jsonBody(request);
        return { status: 200, body: faults.clear() };
      },
    };
  }
  return async (request) => {
    const route = routes[request.path];
    if (!route) return undefined;
    const run = route[request.method];
    if (!run) throw methodNotAllowed(Object.keys(route).join(', '));
    return run(request);
  };
}
