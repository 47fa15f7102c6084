import * as z from 'zod';
import type { RouteContract } from '../shared/http';
import { DECISIONS, PURPOSES } from '../core/consent';
import { IsoTime, ProblemSchema, authErrors, bodyErrors, rateLimited } from './common';

export const Purpose = z.enum(PURPOSES).meta({ id: 'Purpose', description: 'What the phone number may be used for' });
export const Decision = z.enum(DECISIONS).meta({ id: 'Decision' });
const ConsentSource = z.enum(['notification', 'settings']).meta({ id: 'ConsentSource', description: 'Where the user decided' });
const ReceiptSource = z
  .enum(['notification', 'settings', 'gpc'])
  .meta({ id: 'ReceiptSource', description: "Where the decision came from: the user's notification or settings, or a Global Privacy Control signal (gpc)" });
const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);

const PurposeValues = z.strictObject({ ads_targeting: Decision, friend_suggestions: Decision }).meta({ id: 'Purposes' });

export const Receipt = z
  .object({
    userId: z.string().meta({ description: 'Whose decision it is (the token subject)' }),
    receiptId: z.string(),
    version: z.number().int(),
    policyVersion: z.string(),
    purposes: PurposeValues,
    source: ReceiptSource,
    recordedAt: IsoTime,
    prevHash: Sha256Hex.nullable().meta({
      description: "The hash of the user's previous receipt; null for the first (and for the first signed one after receipts recorded before signing)",
    }),
    hash: Sha256Hex.meta({ description: 'Lowercase hex SHA-256 of the RFC 8785 canonical JSON of this receipt without hash and signature' }),
    signature: z.string().nullable().meta({
      description:
        'Compact JWS (ES256) over the same canonical JSON, payload detached: <header>..<signature>, with the kid of a key in /.well-known/jwks.json. Null only on receipts recorded before receipts were signed.',
    }),
  })
  .meta({ id: 'ConsentReceipt' });

export const PublicKeyJwk = z
  .object({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: z.string(),
    y: z.string(),
    kid: z.string().meta({ description: 'RFC 7638 thumbprint of the key' }),
    alg: z.literal('ES256'),
    use: z.literal('sig'),
  })
  .meta({ id: 'ReceiptPublicKey' });

export const Jwks = z
  .object({ keys: z.array(PublicKeyJwk).meta({ description: 'Every key that signs or ever signed receipts, the current one first' }) })
  .meta({ id: 'ReceiptKeySet' });

export const getJwks = {
  summary: 'The public keys that sign consent receipts (JWKS), past ones included',
  responses: {
    200: {
      description: 'The key set (cacheable for 5 minutes)',
      schema: Jwks,
      headers: { 'Cache-Control': 'public, max-age=300: the set may be cached for 5 minutes' },
    },
  },
} satisfies RouteContract;

export const Policy = z
  .object({
    version: z.string(),
    purposes: z.array(Purpose),
    summary: z.string(),
    publishedAt: IsoTime,
  })
  .meta({ id: 'Policy' });

/** An Idempotency-Key header: 1-255 printable ASCII characters without spaces. */
export const IdempotencyKey = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'Must be 1-255 printable ASCII characters');

const verificationStarted = z
  .object({
    verificationId: z.string().meta({ description: 'Opaque; send it back with the code' }),
    expiresAt: IsoTime.meta({ description: 'When the code stops working (10 minutes after it was sent)' }),
  })
  .meta({ id: 'VerificationStarted' });

const verificationErrors = {
  ...bodyErrors,
  ...authErrors,
  429: rateLimited(
    'Too many verifications started by the account (per hour) or too many codes sent to this number or address (per day); see the Retry-After header (seconds)',
  ),
} as const;

export const startPhoneVerification = {
  summary: 'Send a 6-digit code by SMS to a number the caller wants to bind',
  body: z.strictObject({ phoneNumber: z.string().min(1).max(64) }).meta({ id: 'PhoneVerificationRequest' }),
  responses: {
    202: {
      description: 'A code is on its way. The same answer whether or not another account holds the number.',
      schema: verificationStarted,
    },
    ...verificationErrors,
  },
} satisfies RouteContract;

export const startEmailVerification = {
  summary: 'Send a 6-digit code by email to an address the caller wants to bind',
  body: z.strictObject({ email: z.string().min(1).max(320) }).meta({ id: 'EmailVerificationRequest' }),
  responses: {
    202: {
      description: 'A code is on its way. The same answer whether or not another account holds the address.',
      schema: verificationStarted,
    },
    ...verificationErrors,
  },
} satisfies RouteContract;

const VERIFY_FIRST = (route: string) => `Required: start with POST ${route} and send back its verificationId with the code it sent`;

const confirmation = (route: string, id: string) =>
  z
    .strictObject({
      verificationId: z
        .string({ error: VERIFY_FIRST(route) })
        .min(1)
        .max(128),
      code: z.string({ error: 'Required: the 6-digit code that was sent' }).regex(/^[0-9]{6}$/, 'Must be the 6-digit code that was sent'),
    })
    .meta({ id });

const confirmationErrors = {
  ...bodyErrors,
  ...authErrors,
  410: { description: 'The verification is unknown, expired, used, or its code was wrong five times: start a new one', schema: ProblemSchema },
} as const;

export const putPhone = {
  summary: 'Bind a verified number to the caller (stored in E.164); it moves from any account that held it',
  body: confirmation('/v1/me/phone/verification', 'PhoneConfirmation'),
  responses: {
    200: { description: 'The number as stored', schema: z.object({ phoneNumber: z.string() }).meta({ id: 'Phone' }) },
    ...confirmationErrors,
    400: { description: 'A wrong code (the fifth wrong code is a 410), or a body that does not match the schema (see errors)', schema: ProblemSchema },
  },
} satisfies RouteContract;

export const putEmail = {
  summary: 'Bind a verified email address to the caller (trimmed, lower-cased); it moves from any account that held it',
  body: confirmation('/v1/me/email/verification', 'EmailConfirmation'),
  responses: {
    200: { description: 'The address as stored', schema: z.object({ email: z.string() }).meta({ id: 'Email' }) },
    ...confirmationErrors,
    400: { description: 'A wrong code (the fifth wrong code is a 410), or a body that does not match the schema (see errors)', schema: ProblemSchema },
  },
} satisfies RouteContract;

export const createPolicy = {
  summary: 'Publish a privacy policy version; it becomes the current one',
  body: z
    .strictObject({
      version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'Must be 1-64 letters, digits, dots, dashes or underscores'),
      purposes: z
        .array(Purpose)
        .min(1)
        .max(PURPOSES.length)
        .refine((p) => new Set(p).size === p.length, 'Purposes must not repeat')
        .meta({ uniqueItems: true }),
      summary: z.string().trim().min(1).max(10_000),
    })
    .meta({ id: 'PolicyCreate' }),
  responses: {
    201: { description: 'The published policy', schema: Policy },
    ...bodyErrors,
    ...authErrors,
    409: { description: 'That version exists', schema: ProblemSchema },
  },
} satisfies RouteContract;

export const getCurrentPolicy = {
  summary: 'The current privacy policy',
  responses: {
    200: { description: 'The current policy', schema: Policy },
    ...authErrors,
    404: { description: 'No policy published yet', schema: ProblemSchema },
  },
} satisfies RouteContract;

export const ConsentView = z
  .object({
    policyVersion: z.string().nullable().meta({ description: 'Policy version the shown choices were made under; null if never decided' }),
    currentPolicyVersion: z.string().nullable(),
    decisionRequired: z.boolean(),
    purposes: PurposeValues,
    version: z.number().int(),
    updatedAt: IsoTime.nullable(),
  })
  .meta({ id: 'Consent' });

export const getConsent = {
  summary: "The caller's current consent",
  responses: { 200: { description: 'Current consent', schema: ConsentView }, ...authErrors },
} satisfies RouteContract;

export const putConsent = {
  summary: "Record the caller's decision under the current policy",
  headers: {
    'Sec-GPC': {
      description:
        'Global Privacy Control. With 1, every /v1/me route records a denial of ads_targeting (source gpc) if it is granted, and this route refuses to grant it (409).',
      schema: z.string().max(16),
    },
    'Idempotency-Key': {
      description: 'Optional. The same request with the same key returns the same receipt and records nothing new.',
      schema: IdempotencyKey,
    },
  },
  body: z
    .strictObject({
      policyVersion: z.string().min(1).max(64),
      purposes: z
        .strictObject({ ads_targeting: Decision.optional(), friend_suggestions: Decision.optional() })
        .meta({ description: 'A purpose left out keeps its value' }),
      source: ConsentSource,
    })
    .meta({ id: 'ConsentDecision' }),
  responses: {
    200: { description: 'The receipt of the recorded decision', schema: Receipt },
    ...bodyErrors,
    ...authErrors,
    409: {
      description:
        'policyVersion is not the current policy, a concurrent decision won, or the request grants ads_targeting with Sec-GPC: 1 (type ending gpc-conflict)',
      schema: ProblemSchema,
    },
    422: { description: 'The Idempotency-Key was used with a different request', schema: ProblemSchema },
  },
} satisfies RouteContract;

export const getConsentHistory = {
  summary: 'Every decision the caller recorded, newest first',
  responses: {
    200: { description: 'Receipts, newest first', schema: z.object({ items: z.array(Receipt) }).meta({ id: 'ConsentHistory' }) },
    ...authErrors,
  },
} satisfies RouteContract;
