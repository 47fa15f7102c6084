import * as z from 'zod';
import type { FunctionName } from '../../catalog';
import type { RouteContract } from '../shared/http';
import { CUSTOMER_FILE_SOURCES, MAX_ROWS, SCHEMA_KEYS } from '../core/audiences';
import { IsoTime, PathParam, ProblemSchema, authErrors, bodyErrors, checkedFast } from './common';

/**
 * Path ids are checked by the handlers, not here: an id that is not
 * well-formed names no audience (or session), so it answers 404 exactly like
 * an unknown or another business's one, rather than a 400 that would tell
 * the two apart.
 */
const AudienceIdParam = PathParam("Audience id. An unknown, malformed or other business's id answers 404.");
const SessionIdParam = PathParam('The session.id the business chose (a non-negative integer). Unknown or malformed: 404.');

/** The longest cell a row may carry: far more than a SHA-256 in hex, or any plain phone number or email that was sent by mistake. */
export const MAX_CELL_CHARS = 1024;

export const SchemaKey = z.enum(SCHEMA_KEYS).meta({ id: 'SchemaKey', description: 'What a cell holds: the SHA-256 of a phone number or of an email address' });

export const CustomerFileSource = z
  .enum(CUSTOMER_FILE_SOURCES)
  .meta({ id: 'CustomerFileSource', description: 'Where the customer data comes from (as the large ad platforms name it)' });

const idParams = z.object({ id: AudienceIdParam });

const notFoundResponse = { 404: { description: "No such audience (or it is another business's, or deleted)", schema: ProblemSchema } } as const;

export const AudienceView = z
  .object({
    id: z.string(),
    name: z.string(),
    customerFileSource: CustomerFileSource,
    status: z.enum(['empty', 'processing', 'ready']).meta({
      description:
        '`empty` before any batch with a known cell; `processing` until its latest batch has settled (a fixed time after it was accepted, whatever matched); then `ready`',
    }),
    approximateCount: z.object({ lower: z.number().int(), upper: z.number().int() }).nullable().meta({
      description:
        'A range that contained the number of members at `countedAt`; {0, min size} below the minimum audience size. Never an exact count. Null before the first count.',
    }),
    targetable: z.boolean().nullable().meta({ description: 'Whether the audience could be targeted at `countedAt`; null before the first count' }),
    countedAt: IsoTime.nullable().meta({ description: 'When the count shown was made; null before the first' }),
    nextCountAt: IsoTime.meta({
      description:
        'The earliest time a newer count can be shown: after a change (an upload, or the day memberships of an upload expire) once it has settled, within the size-release budget',
    }),
    createdAt: IsoTime,
  })
  .meta({ id: 'Audience' });

const UploadRows = z
  .array(
    z
      .array(z.string().max(MAX_CELL_CHARS))
      .max(SCHEMA_KEYS.length)
      .meta({ description: `One cell per schema key; a row of another width is invalid. Cells of more than ${MAX_CELL_CHARS} characters: 400.` }),
  )
  .max(MAX_ROWS)
  .meta({
    description:
      `Rows of one cell per schema key: 64 lowercase hex characters (SHA-256) or "" for unknown. At most ${MAX_ROWS} rows (more: 413). ` +
      'A row with any other cell is invalid: counted, sampled by index, never stored or echoed.',
  });

/** What UploadRows accepts, in one loop: up to 10,000 rows take well under a millisecond, where the zod schema took about 25. */
function isUploadRows(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > MAX_ROWS) return false;
  for (const row of value) {
    if (!Array.isArray(row) || row.length > SCHEMA_KEYS.length) return false;
    for (const cell of row) if (typeof cell !== 'string' || cell.length > MAX_CELL_CHARS) return false;
  }
  return true;
}

const UploadBody = z
  .strictObject({
    session: z.strictObject({
      id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).meta({ description: 'Chosen by the business; one id per upload session' }),
      batchSeq: z.number().int().min(1).max(1_000_000).meta({ description: 'From 1; a repeated batchSeq is accepted once' }),
      lastBatch: z.boolean(),
      estimatedTotal: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    }),
    schema: z
      .array(SchemaKey)
      .min(1)
      .max(SCHEMA_KEYS.length)
      .refine((keys) => new Set(keys).size === keys.length, 'Keys must not repeat')
      .meta({ description: 'The keys of the cells of every row, in order', uniqueItems: true }),
    data: checkedFast(UploadRows, isUploadRows),
  })
  .meta({ id: 'AudienceUsersBatch' });

/** The contract's "at most 10,000 rows a request (more: 413)". */
const rowLimit = { data: `A request carries at most ${MAX_ROWS} rows; send the rest in further batches.` } as const;

export const BatchReceipt = z
  .object({
    sessionId: z.number().int(),
    numReceived: z.number().int(),
    numInvalid: z.number().int(),
    invalidSamples: z.array(z.number().int()).meta({ description: 'Indexes (0-based) of a few invalid rows (at most 10)' }),
  })
  .meta({ id: 'AudienceBatchReceipt' });

export const SessionView = z
  .object({
    sessionId: z.number().int(),
    stage: z.enum(['receiving', 'processing', 'done']),
    batchesReceived: z.number().int(),
    numReceived: z.number().int(),
    numInvalid: z.number().int(),
  })
  .meta({ id: 'AudienceUploadSession' });

export const createAudience = {
  summary: 'Create a custom audience',
  body: z
    .strictObject({
      name: z.string().trim().min(1).max(200),
      customerFileSource: CustomerFileSource,
    })
    .meta({ id: 'AudienceCreate' }),
  responses: {
    201: { description: 'The new, empty audience', schema: AudienceView },
    ...bodyErrors,
    ...authErrors,
    409: { description: 'The business has created as many audiences as its quota allows (deleted ones count)', schema: ProblemSchema },
  },
} satisfies RouteContract;

export const listAudiences = {
  summary: "The caller's audiences",
  responses: {
    200: { description: 'Own audiences, oldest first', schema: z.object({ items: z.array(AudienceView) }).meta({ id: 'AudienceList' }) },
    ...authErrors,
  },
} satisfies RouteContract;

export const getAudience = {
  summary: 'One audience, with a range for its size',
  params: idParams,
  responses: { 200: { description: 'The audience', schema: AudienceView }, ...authErrors, ...notFoundResponse },
} satisfies RouteContract;

export const deleteAudience = {
  summary: 'Delete an audience: it answers 404 from now on and has no members',
  params: idParams,
  responses: {
    202: { description: 'Deleted; its memberships are removed in the background', schema: z.object({ id: z.string() }) },
    ...authErrors,
    ...notFoundResponse,
  },
} satisfies RouteContract;

const uploadResponses = {
  202: { description: 'The batch was accepted (or had been: a repeated batchSeq answers the same)', schema: BatchReceipt },
  ...bodyErrors,
  ...authErrors,
  ...notFoundResponse,
  409: { description: 'The session is closed, is of the other operation, or already had its last batch', schema: ProblemSchema },
  413: { description: 'More than 10,000 rows, or a body over 1 MiB', schema: ProblemSchema },
} as const;

export const addAudienceUsers = {
  summary: 'Add hashed customers to an audience, in a batch of an upload session',
  params: idParams,
  body: UploadBody,
  payloadLimits: rowLimit,
  responses: uploadResponses,
} satisfies RouteContract;

export const removeAudienceUsers = {
  summary: 'Remove hashed customers from an audience, in a batch of an upload session',
  params: idParams,
  body: UploadBody,
  payloadLimits: rowLimit,
  responses: uploadResponses,
} satisfies RouteContract;

export const getUploadSession = {
  summary: "An upload session's stage and counters",
  params: z.object({ id: AudienceIdParam, sessionId: SessionIdParam }),
  responses: {
    200: { description: 'The session', schema: SessionView },
    ...authErrors,
    404: { description: 'No such audience or session', schema: ProblemSchema },
  },
} satisfies RouteContract;

export const getUserAudiences = {
  summary: 'The audiences a user is in now (ad delivery)',
  params: z.object({ userId: PathParam("The user's id (token subject). Malformed: 404.") }),
  responses: {
    200: {
      description: 'The audiences the user is in now; none unless the user grants ads_targeting',
      schema: z.object({ items: z.array(z.object({ audienceId: z.string(), businessId: z.string() })) }).meta({ id: 'UserAudiences' }),
    },
    ...authErrors,
    404: { description: 'Not a user id', schema: ProblemSchema },
  },
} satisfies RouteContract;

/** Request and response schemas of the audiences routes, by catalog function name. */
export const audienceContracts: Partial<Record<FunctionName, RouteContract>> = {
  createAudience,
  listAudiences,
  getAudience,
  deleteAudience,
  addAudienceUsers,
  removeAudienceUsers,
  getUploadSession,
  getUserAudiences,
};
