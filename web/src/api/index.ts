/**
 * The API as the web app calls it: the typed client of the client library
 * (openapi-fetch over the generated types), with the caller's token, and the
 * contract's routes the generated document lacks (./pending.ts). Which routes
 * the server has is read from its /openapi.json, once.
 */
import type { Client } from 'openapi-fetch';
import { ApiError, createApi, ok, type paths, type Schemas } from '../../../client/api';
import type { PendingPaths } from './pending';

export { ApiError, ok };
export type { Schemas };
export type { Block, RecipientKey, UserKey, Verification } from './pending';

/** The generated paths, and the pending ones for paths the generated types do not have. */
export type WebPaths = paths & Omit<PendingPaths, keyof paths>;
export type WebApi = Client<WebPaths>;

/** A route as the document names it: `PUT /v1/me/keys`. */
export type RouteKey = `${'GET' | 'PUT' | 'POST' | 'DELETE'} ${keyof WebPaths & string}`;

export interface ApiContext {
  readonly api: WebApi;
  /** Whether the server has the route (from its /openapi.json). */
  has(route: RouteKey): Promise<boolean>;
}

export function apiContext(baseUrl: string, token: string, onUnauthorized: () => void): ApiContext {
  const api = createApi<WebPaths>({ baseUrl, token });
  api.use({
    onResponse: ({ response }) => {
      if (response.status === 401) onUnauthorized();
    },
  });
  let routes: Promise<Set<string>> | undefined;
  const load = (): Promise<Set<string>> => {
    routes ??= ok(api.GET('/openapi.json'))
      .then((doc) => {
        const found = new Set<string>();
        const documented = (doc as { paths?: Record<string, Record<string, unknown>> }).paths ?? {};
        for (const [path, item] of Object.entries(documented)) {
          for (const method of Object.keys(item)) found.add(`${method.toUpperCase()} ${path}`);
        }
        return found;
      })
      .catch((error: unknown) => {
        routes = undefined;
        throw error;
      });
    return routes;
  };
  return { api, has: async (route) => (await load()).has(route) };
}

/** A problem's title and detail for people, never a request value (the API never echoes one). */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const problem = error.problem;
    const title = problem?.title || `The service answered ${error.status}`;
    const detail = problem?.detail && problem.detail !== title ? ` ${problem.detail}` : '';
    const fields = (problem?.errors ?? []).slice(0, 3).map((e) => `${e.path || 'request'}: ${e.message}`);
    return `${title}.${detail}${fields.length ? ` (${fields.join('; ')})` : ''}`.replace(/\.\./g, '.');
  }
  if (error instanceof TypeError) return 'The service could not be reached. Check your connection and try again.';
  return error instanceof Error ? error.message : 'Something went wrong.';
}

/** The problem type's last segment (`gpc-conflict`, `not-found`, ...), if the error is an API problem. */
export function problemKind(error: unknown): string | undefined {
  if (!(error instanceof ApiError) || !error.problem) return undefined;
  return error.problem.type.split('/').pop();
}
