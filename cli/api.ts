/**
 * The HTTP client of the public API (CONTRACT.md): bearer token, JSON bodies,
 * retries with exponential backoff and jitter on 429, 5xx and network errors,
 * and RFC 9457 problem documents turned into readable errors. Request bodies
 * are never logged or echoed.
 */
import { UsageError } from './errors';

export const DEFAULT_BASE_URL = 'http://127.0.0.1:3000';
export const DEFAULT_LOCAL_BUSINESS = 'local-business';

export interface Problem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly detail?: string;
  readonly errors?: ReadonlyArray<{ readonly path?: string; readonly message?: string }>;
}

/** A non-2xx answer. Carries the problem document's fields, never a request value. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(describeProblem(status, problem));
  }

  toJSON(): Record<string, unknown> {
    return { status: this.status, ...pickProblem(this.problem) };
  }
}

/** The request never got an HTTP answer (connection refused, reset, timeout), after every retry. */
export class NetworkError extends Error {
  override readonly name = 'NetworkError';
}

const pickProblem = (problem: Problem | undefined): Problem =>
  problem
    ? {
        ...(problem.type !== undefined && { type: problem.type }),
        ...(problem.title !== undefined && { title: problem.title }),
        ...(problem.detail !== undefined && { detail: problem.detail }),
        ...(problem.errors !== undefined && { errors: problem.errors.map((e) => ({ path: e.path, message: e.message })) }),
      }
    : {};

/** "409 Conflict: A policy with this version exists (body.version: ...)". Shows the problem's title, detail and error paths. */
export function describeProblem(status: number, problem: Problem | undefined): string {
  const title = problem?.title ?? `HTTP ${status}`;
  const detail = problem?.detail && problem.detail !== title ? `: ${problem.detail}` : '';
  const errors = (problem?.errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.path || '(body)'}: ${e.message ?? 'invalid'}`)
    .join('; ');
  return `${status} ${title}${detail}${errors ? ` (${errors})` : ''}`;
}

export interface RetryPolicy {
  /** Tries in all, the first included. */
  readonly attempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 6, baseDelayMs: 500, maxDelayMs: 20_000 };

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
  private readonly retry: RetryPolicy;
  private readonly fetchImpl: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;
  private tokenValue: string | undefined;
  private tokenPromise: Promise<string> | undefined;

  constructor(private readonly options: ApiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.fetchImpl = options.fetch ?? fetch;
    this.sleep = options.sleep ?? defaultSleep;
    if (typeof options.token === 'string') this.tokenValue = options.token;
  }

  private async token(): Promise<string> {
    if (this.tokenValue !== undefined) return this.tokenValue;
    const source = this.options.token as () => Promise<string>;
    this.tokenPromise ??= source();
    this.tokenValue = await this.tokenPromise;
    return this.tokenValue;
  }

  private backoff(attempt: number, retryAfter: number | undefined): number {
    const exponential = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = exponential / 2 + Math.random() * (exponential / 2);
    return Math.min(this.retry.maxDelayMs, Math.max(jittered, retryAfter ?? 0));
  }

  /** Sends one request, retrying as the policy says; resolves with the parsed JSON body (undefined when empty). */
  async request<T>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<T> {
    const idempotent = options.idempotent ?? (method === 'GET' || method === 'PUT' || method === 'DELETE');
    const url = `${this.baseUrl}${path}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    for (let attempt = 1; ; attempt += 1) {
      const last = attempt >= this.retry.attempts;
      const token = await this.token();
      let response: Response;
      try {
        response = await this.fetchImpl(url, {
          method,
          headers: {
            accept: 'application/json, application/problem+json',
            authorization: `Bearer ${token}`,
            ...(payload !== undefined && { 'content-type': 'application/json' }),
          },
          ...(payload !== undefined && { body: payload }),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 60_000),
        });
      } catch (error) {
        const retryable = idempotent || connectionRefused(error);
        const reason = connectionRefused(error) ? 'connection refused' : 'network error';
        if (last || !retryable) {
          throw new NetworkError(`${method} ${path}: ${reason} talking to ${this.baseUrl}${attempt > 1 ? ` (after ${attempt} tries)` : ''}`, { cause: error });
        }
        const delayMs = this.backoff(attempt, undefined);
        this.options.onRetry?.({ method, path, attempt, delayMs, reason });
        await this.sleep(delayMs);
        continue;
      }
      if (response.ok) {
        const text = await response.text();
        return (text === '' ? undefined : JSON.parse(text)) as T;
      }
      const retryable = response.status === 429 || (idempotent && response.status >= 500);
      if (!last && retryable) {
        await response.body?.cancel().catch(() => undefined);
        const delayMs = this.backoff(attempt, retryAfterMs(response.headers.get('retry-after')));
        this.options.onRetry?.({ method, path, attempt, delayMs, reason: String(response.status) });
        await this.sleep(delayMs);
        continue;
      }
      throw new ApiError(method, path, response.status, await readProblem(response));
    }
  }
}

async function readProblem(response: Response): Promise<Problem | undefined> {
  try {
    const parsed: unknown = JSON.parse(await response.text());
    return parsed && typeof parsed === 'object' ? (parsed as Problem) : undefined;
  } catch {
    return undefined;
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

/** Asks the local stack (`POST /_local/token`) for a business token; never available on a deployed stack. */
export async function fetchLocalToken(baseUrl: string, sub: string, fetchImpl: typeof fetch = fetch): Promise<string> {
  const path = '/_local/token';
  let response: Response;
  try {
    response = await fetchImpl(`${baseUrl.replace(/\/+$/, '')}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ role: 'business', sub }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    throw new NetworkError(`cannot reach the local stack at ${baseUrl} for a token (is \`npm start\` running?); or pass --token / set AUDIENCES_TOKEN`, {
      cause: error,
    });
  }
  if (!response.ok) throw new ApiError('POST', path, response.status, await readProblem(response));
  const body = (await response.json()) as { token?: unknown };
  if (typeof body.token !== 'string') throw new NetworkError(`${path} answered without a token`);
  return body.token;
}

export interface ConnectionFlags {
  readonly url?: string;
  readonly token?: string;
  readonly localBusiness?: string;
}

/**
 * A client from flags, then the environment (AUDIENCES_API_URL, AUDIENCES_TOKEN,
 * AUDIENCES_LOCAL_BUSINESS), then the local stack's defaults.
 */
export function clientFrom(flags: ConnectionFlags, env: NodeJS.ProcessEnv, extra: Omit<ApiClientOptions, 'baseUrl' | 'token'> = {}): ApiClient {
  const baseUrl = (flags.url ?? env.AUDIENCES_API_URL ?? DEFAULT_BASE_URL).trim();
  try {
    const parsed = new URL(baseUrl);
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('protocol');
  } catch {
    throw new UsageError(`--url must be an http(s) URL (got "${baseUrl}")`);
  }
  const token = flags.token ?? env.AUDIENCES_TOKEN;
  if (token) return new ApiClient({ ...extra, baseUrl, token });
  const localBusiness = flags.localBusiness ?? env.AUDIENCES_LOCAL_BUSINESS;
  if (!isLoopback(baseUrl) && localBusiness === undefined) {
    throw new UsageError('no token: pass --token or set AUDIENCES_TOKEN (only the local stack can issue one itself)');
  }
  const sub = localBusiness ?? DEFAULT_LOCAL_BUSINESS;
  return new ApiClient({ ...extra, baseUrl, token: () => fetchLocalToken(baseUrl, sub, extra.fetch) });
}

// ----- Typed calls -----

export type CustomerFileSource = 'USER_PROVIDED_ONLY' | 'PARTNER_PROVIDED_ONLY' | 'BOTH_USER_AND_PARTNER_PROVIDED';
export const CUSTOMER_FILE_SOURCES: readonly CustomerFileSource[] = ['USER_PROVIDED_ONLY', 'PARTNER_PROVIDED_ONLY', 'BOTH_USER_AND_PARTNER_PROVIDED'];

export interface Audience {
  readonly id: string;
  readonly name: string;
  readonly customerFileSource: CustomerFileSource;
  readonly status: 'empty' | 'processing' | 'ready';
  readonly approximateCount: { readonly lower: number; readonly upper: number };
  readonly targetable: boolean;
  readonly createdAt: string;
}

export interface UploadSession {
  readonly sessionId: number | string;
  readonly stage: 'receiving' | 'processing' | 'done';
  readonly batchesReceived: number;
  readonly numReceived: number;
  readonly numInvalid: number;
}

export interface BatchBody {
  readonly session: { readonly id: number; readonly batchSeq: number; readonly lastBatch: boolean; readonly estimatedTotal: number };
  readonly schema: readonly string[];
  readonly data: readonly (readonly string[])[];
}

export interface BatchReceipt {
  readonly sessionId: number | string;
  readonly numReceived: number;
  readonly numInvalid: number;
  readonly invalidSamples?: readonly number[];
}

export type MessageCategory = 'receipt' | 'reservation' | 'delivery_update';
export const MESSAGE_CATEGORIES: readonly MessageCategory[] = ['receipt', 'reservation', 'delivery_update'];

export interface MessageReceipt {
  readonly messageId: string;
  readonly status: string;
  readonly acceptedAt: string;
  readonly expiresAt: string;
  readonly updatedAt?: string;
}

const seg = (id: string): string => encodeURIComponent(id);

export const api = {
  createAudience: (c: ApiClient, body: { name: string; customerFileSource: CustomerFileSource }) =>
    c.request<Audience>('POST', '/v1/audiences', body, { idempotent: false }),
  listAudiences: (c: ApiClient) => c.request<{ items: Audience[] }>('GET', '/v1/audiences'),
  getAudience: (c: ApiClient, id: string) => c.request<Audience>('GET', `/v1/audiences/${seg(id)}`),
  getSession: (c: ApiClient, id: string, sessionId: string | number) =>
    c.request<UploadSession>('GET', `/v1/audiences/${seg(id)}/sessions/${seg(String(sessionId))}`),
  /** A repeated batchSeq of a session is accepted once, so a batch is safe to retry. */
  sendBatch: (c: ApiClient, id: string, operation: 'add' | 'remove', body: BatchBody) =>
    c.request<BatchReceipt>(operation === 'add' ? 'POST' : 'DELETE', `/v1/audiences/${seg(id)}/users`, body, { idempotent: true }),
  /** Idempotent through clientMessageId, which the CLI always sends. */
  sendMessage: (c: ApiClient, body: { to: string; category: MessageCategory; ciphertext: string; clientMessageId: string }) =>
    c.request<MessageReceipt>('POST', '/v1/messages', body, { idempotent: true }),
  getMessage: (c: ApiClient, id: string) => c.request<MessageReceipt>('GET', `/v1/messages/${seg(id)}`),
};
