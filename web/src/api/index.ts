/**
 * The API as the web app calls it: the typed client of the client library
 * (openapi-fetch over the types generated from the served document), with
 * the caller's token; a 401 ends the session.
 */
import { ApiError, createApi, ok, type Api, type Schemas } from '../../../client/api';

export { ApiError, ok };
export type { Api, Schemas };

export function apiClient(baseUrl: string, token: string, onUnauthorized: () => void): Api {
  const api = createApi({ baseUrl, token });
  api.use({
    onResponse: ({ response }) => {
      if (response.status === 401) onUnauthorized();
    },
  });
  return api;
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

/** The problem type's last segment (`gpc-conflict`, `stale-key`, ...), if the error is an API problem. */
export function problemKind(error: unknown): string | undefined {
  if (!(error instanceof ApiError) || !error.problem) return undefined;
  return error.problem.type.split('/').pop();
}
