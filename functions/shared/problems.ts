/**
 * RFC 9457 problem documents. Domain code throws `Problem`s; one middleware
 * turns them into responses. Anything else becomes a generic 500.
 */
/** Field errors a problem document lists at most; the rest are counted in its detail. */
export const MAX_FIELD_ERRORS = 20;

export interface FieldError {
  path: string;
  message: string;
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly slug: string,
    readonly title: string,
    readonly detail: string,
    readonly extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
    this.name = 'Problem';
  }

  toDocument(): ProblemDocument {
    return { type: problemType(this.slug), title: this.title, status: this.status, detail: this.detail, ...this.extensions };
  }
}

export const problemType = (slug: string): string => (slug === 'about:blank' ? slug : `/problems/${slug}`);

export const badRequest = (detail: string, errors?: FieldError[]) =>
  new Problem(400, errors ? 'validation-error' : 'bad-request', errors ? 'Your request is not valid' : 'Bad request', detail, errors ? { errors } : {});
export const malformedJson = () => new Problem(400, 'malformed-json', 'Malformed JSON', 'The request body is not well-formed JSON.');
export const unauthorized = (detail = 'A valid bearer token is required.') =>
  new Problem(401, 'unauthorized', 'Unauthorized', detail, {}, { 'www-authenticate': 'Bearer' });
export const forbidden = (detail = 'Your role may not call this route.') => new Problem(403, 'forbidden', 'Forbidden', detail);
export const notFound = (detail = 'No such resource.') => new Problem(404, 'not-found', 'Not found', detail);
export const conflict = (slug: string, detail: string) => new Problem(409, slug, 'Conflict', detail);
export const payloadTooLarge = (detail: string) => new Problem(413, 'payload-too-large', 'Payload too large', detail);
export const unsupportedMediaType = () => new Problem(415, 'unsupported-media-type', 'Unsupported media type', 'Send the body as application/json.');
export const unprocessable = (slug: string, detail: string) => new Problem(422, slug, 'Unprocessable request', detail);
export const tooManyRequests = (retryAfterSeconds: number, options: { slug?: string; detail?: string } = {}) =>
  new Problem(
    429,
    options.slug ?? 'rate-limited',
    'Too many requests',
    `${options.detail ?? 'Slow down'}; retry after ${retryAfterSeconds} s.`,
    {},
    {
      'retry-after': String(retryAfterSeconds),
    },
  );
export const internalError = () => new Problem(500, 'internal-error', 'Internal server error', 'Something went wrong on our side. Try again later.');
