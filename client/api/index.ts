/**
 * The typed client of the public API: `openapi-fetch` over the types that
 * `npm run generate:api` makes from the route contracts (./schema.ts). Paths,
 * parameters, bodies and answers are checked by the compiler; nothing about a
 * route is written here by hand.
 *
 *   const api = createApi({ baseUrl, token });
 *   const audience = await ok(api.POST('/v1/audiences', { body: { name, customerFileSource } }));
 *
 * `ok` returns the answer's data, or throws an `ApiError` carrying the
 * problem document (RFC 9457) of a 4xx or 5xx answer.
 */
import createClient, { type Client } from 'openapi-fetch';
import type { components, paths } from './schema';

// The generated types, and the values of every enum as arrays (customerFileSourceValues, ...).
export * from './schema';

/** Every named schema of the API: `Schemas['Audience']`, `Schemas['Problem']`, ... */
export type Schemas = components['schemas'];
export type Problem = Schemas['Problem'];

export type Api = Client<paths>;

export interface ApiOptions {
  /** The stack's base URL, e.g. http://127.0.0.1:3000. */
  readonly baseUrl: string;
  /** A bearer token, or a function that gives one (called once, on the first request that needs it). */
  readonly token?: string | (() => string | Promise<string>);
  /** Sends a request (default: the global fetch): a place for retries, timeouts or a test double. */
  readonly fetch?: (request: Request) => Promise<Response>;
}

/** The request each answer was for, so an error can name it (answers made up by a test double carry no URL). */
const requestOf = new WeakMap<Response, { readonly method: string; readonly path: string }>();

/** A client of the API: every call is typed by the route's contract (the generated paths, unless `P` names others). */
export function createApi<P extends object = paths>(options: ApiOptions): Client<P> {
  const api = createClient<P>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    headers: { accept: 'application/json, application/problem+json' },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  api.use({
    onResponse: ({ request, response }) => {
      requestOf.set(response, { method: request.method, path: new URL(request.url).pathname });
    },
  });
  const source = options.token;
  if (source !== undefined) {
    let token: Promise<string> | undefined;
    api.use({
      onRequest: async ({ request }) => {
        token ??= Promise.resolve(typeof source === 'string' ? source : source()).catch((error: unknown) => {
          token = undefined;
          throw error;
        });
        request.headers.set('authorization', `Bearer ${await token}`);
        return request;
      },
    });
  }
  return api;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The problem document of an error answer's body, if it is one; only its documented members are kept. */
export function problemOf(body: unknown): Problem | undefined {
  if (!isObject(body)) return undefined;
  const text = (key: string): string | undefined => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
  const errors = Array.isArray(body.errors)
    ? body.errors
        .filter(isObject)
        .map((e) => ({ path: typeof e.path === 'string' ? e.path : '', message: typeof e.message === 'string' ? e.message : 'invalid' }))
    : undefined;
  return {
    type: text('type') ?? 'about:blank',
    title: text('title') ?? '',
    status: typeof body.status === 'number' ? body.status : 0,
    detail: text('detail') ?? '',
    ...(errors ? { errors } : {}),
  };
}

/** "409 Conflict: A policy with this version exists (version: ...)": the problem's status, title, detail and first error paths. */
export function describeProblem(status: number, problem: Problem | undefined): string {
  const title = problem?.title || `HTTP ${status}`;
  const detail = problem?.detail && problem.detail !== title ? `: ${problem.detail}` : '';
  const errors = (problem?.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.path || '(body)'}: ${e.message || 'invalid'}`)
    .join('; ');
  return `${status} ${title}${detail}${errors ? ` (${errors})` : ''}`;
}

/** An answer other than 2xx, with its problem document. It never carries a request value. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
    /** The request's method and path. */
    readonly request: { readonly method?: string; readonly path?: string } = {},
  ) {
    super(describeProblem(status, problem));
  }

  toJSON(): Record<string, unknown> {
    const problem = this.problem;
    return {
      status: this.status,
      ...(problem && {
        ...(problem.type !== 'about:blank' && { type: problem.type }),
        ...(problem.title && { title: problem.title }),
        ...(problem.detail && { detail: problem.detail }),
        ...(problem.errors && { errors: problem.errors }),
      }),
    };
  }
}

interface Answer {
  readonly data?: unknown;
  readonly error?: unknown;
  readonly response: Response;
}

/** The data type of a 2xx answer; `undefined` for an answer without a body (204). */
export type DataOf<A> = A extends { data: infer D } ? ([D] extends [never] ? undefined : D) : never;

/** The data of a 2xx answer; any other answer throws its `ApiError`. */
export async function ok<A extends Answer>(answer: Promise<A>): Promise<DataOf<A>> {
  const { data, error, response } = await answer;
  if (!response.ok) throw new ApiError(response.status, problemOf(error), requestOf.get(response) ?? {});
  return data as DataOf<A>;
}
