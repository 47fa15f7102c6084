import * as z from 'zod';

/** Schemas shared by every area of the API. */

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem document' });

export const IsoTime = z.string().meta({ format: 'date-time', description: 'ISO 8601 UTC time' });

/** Opaque ids in paths: printable, no separators, bounded. */
export const IdParam = z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'Must be an id (1-128 letters, digits, _ or -)');

/** The standard error answers of an authenticated JSON route. */
export const authErrors = {
  401: { description: 'Missing, malformed, badly signed or expired token', schema: ProblemSchema },
  403: { description: "The token's role may not call this route", schema: ProblemSchema },
} as const;

export const bodyErrors = {
  400: { description: 'Malformed JSON or a body that does not match the schema', schema: ProblemSchema },
  413: { description: 'Body over 1 MiB', schema: ProblemSchema },
  415: { description: 'Body is not application/json', schema: ProblemSchema },
} as const;
