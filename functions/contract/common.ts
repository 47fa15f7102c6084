import * as z from 'zod';
import type { ResponseContract } from '../shared/http';
import { MAX_FIELD_ERRORS } from '../shared/problems';

/** Schemas and answers shared by every area of the API. */

export const FieldError = z
  .object({
    path: z.string().max(200).meta({ description: 'Where: dotted path into the body, path or query ("(root)" for the whole)' }),
    message: z.string().max(200).meta({ description: 'What was expected. Never repeats the value that was sent.' }),
  })
  .meta({ id: 'FieldError' });

export const ProblemSchema = z
  .looseObject({
    type: z.string().meta({ description: 'A URI reference naming the kind of problem, e.g. /problems/validation-error' }),
    title: z.string(),
    status: z.number().int().meta({ description: 'The HTTP status code' }),
    detail: z.string(),
    errors: z
      .array(FieldError)
      .max(MAX_FIELD_ERRORS)
      .optional()
      .meta({ description: `Validation errors only: the first ${MAX_FIELD_ERRORS} problems found` }),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem document (application/problem+json); it may carry further members' });

export const IsoTime = z.string().meta({ format: 'date-time', description: 'ISO 8601 UTC time' });

/** Opaque ids in paths: printable, no separators, bounded. */
export const IdParam = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'Must be an id (1-128 letters, digits, _ or -)');

/**
 * The longest path parameter any route reads. Ids that a handler checks
 * itself (answering 404 for a malformed one) are still bounded here: nothing
 * longer is anyone's id, so a 400 tells the caller nothing about what exists.
 */
export const MAX_PATH_PARAM_CHARS = 256;

/** A path parameter that the handler checks (malformed: 404), bounded in length. */
export const PathParam = (description: string) =>
  z
    .string()
    .min(1)
    .max(MAX_PATH_PARAM_CHARS)
    .meta({ description: `${description} Longer than ${MAX_PATH_PARAM_CHARS} characters: 400.` });

const problem = (description: string, extra: Partial<ResponseContract> = {}): ResponseContract => ({ description, schema: ProblemSchema, ...extra });

/** The standard error answers of an authenticated route; `component` names them once in the OpenAPI document. */
export const authErrors = {
  401: problem('Missing, malformed, badly signed or expired token', {
    component: 'Unauthorized',
    headers: { 'WWW-Authenticate': 'Bearer' },
  }),
  403: problem("The token's role may not call this route", { component: 'Forbidden' }),
} as const;

/** The standard error answers of a route that takes a JSON body. */
export const bodyErrors = {
  400: problem('Malformed JSON, JSON nested too deeply, or a body or path parameter that does not match the schema (see errors)', { component: 'BadRequest' }),
  413: problem('Body over 1 MiB', { component: 'PayloadTooLarge' }),
  415: problem('Body is not application/json', { component: 'UnsupportedMediaType' }),
} as const;

/** 429 with Retry-After. */
export const rateLimited = (description: string) => problem(description, { headers: { 'Retry-After': 'Seconds to wait before trying again' } });

/** The full schema behind each schema made by `checkedFast`: the OpenAPI document describes that one. */
export const documentedBy = new WeakMap<object, z.ZodType>();

/**
 * A schema for a large value on a hot path (an upload's rows): `accepts`
 * checks it in one plain loop, with no copy of the value, and the value is
 * passed on as it came. Only when `accepts` refuses does `full` run, so the
 * problems a client sees are exactly `full`'s; the OpenAPI document
 * describes `full` too. `full` must not transform, and `accepts` must refuse
 * everything `full` refuses (test/unit/fast-schemas.test.ts checks it).
 */
export function checkedFast<T extends z.ZodType<unknown, unknown>>(full: T, accepts: (value: unknown) => boolean): z.ZodType<z.output<T>, z.input<T>> {
  const fast = z.custom<z.output<T>>().check((ctx) => {
    if (accepts(ctx.value)) return;
    const result = full.safeParse(ctx.value);
    if (!result.success) for (const issue of result.error.issues) ctx.issues.push({ ...issue, input: ctx.value } as never);
  });
  documentedBy.set(fast, full);
  return fast as unknown as z.ZodType<z.output<T>, z.input<T>>;
}
