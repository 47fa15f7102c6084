/**
 * The CLI's connection to the public API (CONTRACT.md): the typed client of
 * client/api (openapi-fetch over the generated types) with a bearer token,
 * retries with exponential backoff and jitter on 429, 5xx and network errors,
 * and a time limit per request. RFC 9457 problem documents become `ApiError`s.
 * Request bodies are never logged or echoed.
 */
import { ApiError, createApi, ok, problemOf, type Api, type Schemas } from '../client/api';
import { UsageError } from './errors';

export { ApiError };

export const DEFAULT_BASE_URL = 'http://127.0.0.1:3000';
export const DEFAULT_LOCAL_BUSINESS = 'local-business';

/** The request never got an HTTP answer (connection refused, reset, timeout), after every retry. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** A 429 whose Retry-After is longer than this is reported at once instead of retried. */
  readonly maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 20_000, maxRetryAfterMs: 300_000 };

export interface ApiClientOptions {
  readonly baseUrl: string;
  /** A bearer token, or a function that fetches one once (for the local stack). */
  readonly token: string | (() => Promise<string>);
  readonly retry?: Partial<RetryPolicy>;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Per-request time limit. */
  readonly timeoutMs?: number;
  /** Told before each retry (status or "network"), for a progress line; no request data. */
  readonly onRetry?: (info: { method: string; path: string; attempt: number; delayMs: number; reason: string }) => void;
}

export interface RequestOptions {
  /**
   * Whether the request may be repeated after an answer was possibly produced
   * (5xx, a dropped connection). Non-idempotent requests are retried only on
   * 429 and when the connection was refused.
   */
  readonly idempotent?: boolean;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function retryAfterMs(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function connectionRefused(error: unknown): boolean {
  const cause = (error as { cause?: { code?: string } } | undefined)?.cause;
  return cause?.code === 'ECONNREFUSED';
}

export class ApiClient {
  readonly baseUrl: string;
  /** The typed client; pass `fetch: client.sender(...)` to a call that is not safe to repeat (see RequestOptions). */
  readonly api: Api;
  private readonly retry: RetryPolicy;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.fetchImpl = options.fetch ?? fetch;
    this.sleep = options.sleep ?? defaultSleep;
    this.api = createApi({ baseUrl: this.baseUrl, token: options.token, fetch: this.sender() });
  }

  private backoff(attempt: number, retryAfter: number | undefined): number {
    const exponential = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = exponential / 2 + Math.random() * (exponential / 2);
    return Math.min(this.retry.maxDelayMs, Math.max(jittered, retryAfter ?? 0));
  }

  /**
   * Sends a request as the retry policy says and resolves with the last
   * answer (a 2xx, or the error answer that is not retried or came last).
   * GET, PUT and DELETE are idempotent unless the options say otherwise.
   */
  sender(options: RequestOptions = {}): (request: Request) => Promise<Response> {
    return async (request) => {
      const method = request.method;
      const path = new URL(request.url).pathname;
      const idempotent = options.idempotent ?? (method === 'GET' || method === 'PUT' || method === 'DELETE');
      // The body as sent: read once, sent as a string by every try.
      const body = request.body === null ? undefined : await request.text();
      for (let attempt = 1; ; attempt += 1) {
        const last = attempt >= this.retry.attempts;
        let response: Response;
        try {
          response = await this.fetchImpl(request.url, {
            method,
            headers: request.headers,
            ...(body !== undefined && { body }),
            signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
          });
        } catch (error) {
          const refused = connectionRefused(error);
          const reason = refused ? 'connection refused' : 'network error';
          if (last || !(idempotent || refused)) {
            throw new NetworkError(`${method} ${path}: ${reason} talking to ${this.baseUrl}${attempt > 1 ? ` (after ${attempt} tries)` : ''}`, {
              cause: error,
            });
          }
          const delayMs = this.backoff(attempt, undefined);
          this.options.onRetry?.({ method, path, attempt, delayMs, reason });
          await this.sleep(delayMs);
          continue;
        }
        const retryable = response.status === 429 || (idempotent && response.status >= 500);
        if (response.ok || last || !retryable) return response;
        const retryAfter = retryAfterMs(response.headers.get('retry-after'));
        // A limit that lasts longer than a few minutes (a daily limit, say) is reported, not waited out.
        if (retryAfter !== undefined && retryAfter > this.retry.maxRetryAfterMs) return response;
        await response.body?.cancel().catch(() => undefined);
        const delayMs = this.backoff(attempt, retryAfter);
        this.options.onRetry?.({ method, path, attempt, delayMs, reason: String(response.status) });
        await this.sleep(delayMs);
      }
    };
  }
}

/** Whether a base URL points at this machine (where the local stack's token route may be used). */
export function isLoopback(baseUrl: string): boolean {
  try {
    const host = new URL(baseUrl).hostname;
    return host === 'localhost' || host === '[::1]' || host === '::1' || /^127\./.test(host);
  } catch {
    return false;
  }
}

/** Whom a command acts as: businesses (audiences, sending) or a user (the inbox). */
export type CallerRole = 'business' | 'user';

/** Asks the local stack (`POST /_local/token`) for a token of `role` (default business); never available on a deployed stack. */
export async function fetchLocalToken(baseUrl: string, sub: string, fetchImpl: typeof fetch = fetch, role: CallerRole = 'business'): Promise<string> {
  const path = '/_local/token';
  let response: Response;
  try {
    response = await fetchImpl(`${baseUrl.replace(/\/+$/, '')}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ role, sub }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new NetworkError(`cannot reach the local stack at ${baseUrl} for a token (is \`npm start\` running?); or pass --token / set AUDIENCES_TOKEN`, {
      cause: error,
    });
  }
  if (!response.ok) throw new ApiError(response.status, problemOf(await response.json().catch(() => undefined)), { method: 'POST', path });
  const body = (await response.json()) as { token?: unknown };
  if (typeof body.token !== 'string') throw new NetworkError(`${path} answered without a token`);
  return body.token;
}

export interface ConnectionFlags {
  readonly url?: string;
  readonly token?: string;
  readonly localBusiness?: string;
  readonly localUser?: string;
}

export const DEFAULT_LOCAL_USER = 'local-user';

/** Where each role's token and local identity come from. */
const ROLE_SOURCES: Record<CallerRole, { tokenEnv: string; localEnv: string; localFlag: 'localBusiness' | 'localUser'; fallback: string }> = {
  business: { tokenEnv: 'AUDIENCES_TOKEN', localEnv: 'AUDIENCES_LOCAL_BUSINESS', localFlag: 'localBusiness', fallback: DEFAULT_LOCAL_BUSINESS },
  user: { tokenEnv: 'AUDIENCES_USER_TOKEN', localEnv: 'AUDIENCES_LOCAL_USER', localFlag: 'localUser', fallback: DEFAULT_LOCAL_USER },
};

/**
 * A client from flags, then the environment (AUDIENCES_API_URL, and per
 * role AUDIENCES_TOKEN / AUDIENCES_LOCAL_BUSINESS or AUDIENCES_USER_TOKEN /
 * AUDIENCES_LOCAL_USER), then the local stack's defaults.
 */
export function clientFrom(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
  extra: Omit<ApiClientOptions, 'baseUrl' | 'token'> = {},
  role: CallerRole = 'business',
): ApiClient {
  const baseUrl = (flags.url ?? env.AUDIENCES_API_URL ?? DEFAULT_BASE_URL).trim();
  try {
    const parsed = new URL(baseUrl);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw new UsageError(`--url must be an http(s) URL (got "${baseUrl}")`);
  }
  const source = ROLE_SOURCES[role];
  const token = flags.token ?? env[source.tokenEnv];
  if (token) return new ApiClient({ ...extra, baseUrl, token });
  const local = flags[source.localFlag] ?? env[source.localEnv];
  if (!isLoopback(baseUrl) && local === undefined) {
    throw new UsageError(`no token: pass --token or set ${source.tokenEnv} (only the local stack can issue one itself)`);
  }
  const sub = local ?? source.fallback;
  return new ApiClient({ ...extra, baseUrl, token: () => fetchLocalToken(baseUrl, sub, extra.fetch, role) });
}

// ----- Typed calls -----

export type Audience = Schemas['Audience'];
export type CustomerFileSource = Schemas['CustomerFileSource'];
export type UploadSession = Schemas['AudienceUploadSession'];
export type BatchBody = Schemas['AudienceUsersBatch'];
export type BatchReceipt = Schemas['AudienceBatchReceipt'];
export type MessageCategory = Schemas['MessageCategory'];
export type MessageReceipt = Schemas['MessageAccepted'] | Schemas['MessageStatus'];
/** Message calls (keys, sending, the inbox) are the client library's: client/messages.ts. */

export const api = {
  createAudience: (c: ApiClient, body: Schemas['AudienceCreate']) => ok(c.api.POST('/v1/audiences', { body, fetch: c.sender({ idempotent: false }) })),
  listAudiences: (c: ApiClient) => ok(c.api.GET('/v1/audiences')),
  getAudience: (c: ApiClient, id: string) => ok(c.api.GET('/v1/audiences/{id}', { params: { path: { id } } })),
  getSession: (c: ApiClient, id: string, sessionId: string | number) =>
    ok(c.api.GET('/v1/audiences/{id}/sessions/{sessionId}', { params: { path: { id, sessionId: String(sessionId) } } })),
  /** A repeated batchSeq of a session is accepted once, so a batch is safe to retry. */
  sendBatch: (c: ApiClient, id: string, operation: 'add' | 'remove', body: BatchBody) => {
    const init = { params: { path: { id } }, body, fetch: c.sender({ idempotent: true }) };
    return ok(operation === 'add' ? c.api.POST('/v1/audiences/{id}/users', init) : c.api.DELETE('/v1/audiences/{id}/users', init));
  },
  getMessage: (c: ApiClient, id: string) => ok(c.api.GET('/v1/messages/{id}', { params: { path: { id } } })),
};
